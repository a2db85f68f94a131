"""Pure, deterministic ticket model: safe to import inside the Temporal workflow sandbox."""
