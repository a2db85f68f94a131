"""Temporal workflows: deterministic, no I/O; they import only temporalio.workflow and domain."""
