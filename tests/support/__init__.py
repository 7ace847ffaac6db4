"""Code the tests, the benchmarks and the examples share; not part of wsfast."""
