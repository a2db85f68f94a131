"""`python -m ticketflow` runs the CLI."""

from ticketflow.cli import main

raise SystemExit(main())
