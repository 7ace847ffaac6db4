"""Frames and messages: wsfast's Decoder/FrameDecoder/Encoder (both backends)
against aiohttp (compiled reader_c), websockets and wsproto.

The operations, peers, sizes and issue-4 targets are declared in
wsfast/_bench/frames.py; ``python bench/report.py`` prints the targets' ratios.

    python -m pytest bench/bench_frames.py --benchmark-json=frames.json && python bench/report.py frames.json
"""

FAMILY = "frames"


def test_frames(run_bench, bench_item):
    run_bench(bench_item)
