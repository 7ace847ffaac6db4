"""Masking: wsfast (both backends) against every installed peer and a plain copy.

The operations, peers, sizes and issue-2 targets are declared in
wsfast/_bench/mask.py; ``python bench/report.py`` prints the targets' ratios.
"""

FAMILY = "mask"


def test_mask(run_bench, bench_item):
    run_bench(bench_item)
