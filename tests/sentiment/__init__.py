"""Tests of the sentiment model, its corpus, artifacts and CLI."""
