"""Activities: every side effect of a ticket (store writes, and later triage, devices, care)."""
