"""Compatibility modules for code written against other accelerators' APIs."""
