"""Sentiment of customers' messages: model, corpus, artifacts, training (never in workflows)."""
