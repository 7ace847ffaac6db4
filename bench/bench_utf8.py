"""UTF-8 validation: wsfast (both backends) against wsaccel, autobahn, bytes.decode
and the codecs incremental decoder, on ASCII, European, CJK and emoji text.

The corpora, contenders, sizes and issue-3 targets are declared in
wsfast/_bench/utf8.py; ``python bench/report.py`` prints the targets' ratios.
"""

FAMILY = "utf8"


def test_utf8(run_bench, bench_item):
    run_bench(bench_item)
