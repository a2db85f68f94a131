"""HTTP API (FastAPI): thin views that read projections and send changes to workflows."""
