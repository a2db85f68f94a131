"""Form schemas: validating JSON Schema form definitions and the data submitted against them."""
