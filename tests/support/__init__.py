"""Code the tests and the examples share; not part of wsfast."""
