"""SQLAlchemy models and keyword-only query functions; callers own the transaction."""
