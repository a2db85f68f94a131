"""Ticketflow: every ticket is a durable Temporal workflow."""
