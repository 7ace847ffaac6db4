"""permessage-deflate: wsfast's deflate path against websockets' and aiohttp's.

Compress and decompress JSON messages of 1 KiB and 64 KiB, with every deflate
implementation installed (zlib, zlib-ng, ISA-L). The operations, peers and
sizes are declared in wsfast/_bench/deflate.py.
"""

FAMILY = "deflate"


def test_deflate(run_bench, bench_item):
    run_bench(bench_item)
