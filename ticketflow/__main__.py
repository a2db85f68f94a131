"""`python -m ticketflow` runs the CLI."""

from ticketflow.cli import run_and_exit

run_and_exit()
