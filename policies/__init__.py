"""Who may do what: roles now; the Casbin field-level model comes with the access issue."""
