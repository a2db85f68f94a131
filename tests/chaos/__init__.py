"""Chaos tests: tickets driven over HTTP while processes die and the database goes away."""
