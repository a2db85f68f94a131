"""Revision scripts; a package so that installed copies ship them."""
