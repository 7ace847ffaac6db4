"""Write the seed corpus tests/fuzz/corpus/: valid streams made by the Encoder.

    python tests/fuzz/make_corpus.py [OUT_DIR]

Each file is a whole fuzz input (see differential.py): a stream the Encoder
produced, then the settings and chunk plan that make the fuzzer (and
tests/test_fuzz_corpus.py) decode it. Masking keys come from a seeded
generator, so the files are the same on every run with the same zlib.
Keep the corpus small: libFuzzer mutates from these, and the test suite
replays every file on every backend.
"""

from __future__ import annotations

import os
import random
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import differential
from differential import Scenario, write_scenario

from wsfast import _codec_py
from wsfast.deflate import PerMessageDeflate

RNG = random.Random(6455)
# Deterministic masking keys: the Encoder draws them from os.urandom.
_codec_py.os.urandom = lambda n: RNG.randbytes(n)  # type: ignore[attr-defined]

TEXTS = [
    "",
    "Hello",
    "é",
    "ü€😀",
    "日本語のテキスト",
    "a" * 125,
    "Zürich 😀 " * 15,
    "x" * 15 + "€" + "y" * 30 + "😀" * 5,
]

PLANS = {
    "whole": [],
    "bytes1": [(1, 0)] * 32,
    "mixed": [(3, 1), (0, 0), (7, 2), (1, 3), (40, 4), (2, 6), (129, 1), (5, 2)],
    "tiny": [(2, 0), (1, 2), (2, 3), (1, 4)] * 8,
    "bad": [(5, 0), (4, 5), (6, 1), (1, 5), (300 % 256, 2)],
}


def encoder(role: str, deflate: dict[str, Any] | None = None) -> Any:
    pmd = None if deflate is None else PerMessageDeflate(**deflate)
    return _codec_py.Encoder(role=role, deflate=pmd)


def peer(server: bool) -> str:
    """The role that sends what a decoder of the other role receives."""
    return "client" if server else "server"


def decoder_seeds() -> dict[str, bytes]:
    seeds: dict[str, bytes] = {}

    def add(name: str, sc: Scenario) -> None:
        seeds[name] = write_scenario(sc)

    for server in (True, False):
        role = "server" if server else "client"
        enc = encoder(peer(server))
        conversation = (
            enc.text("Hello")
            + enc.ping(b"p")
            + enc.binary(b"\x00\xff" * 20)
            + enc.text(TEXTS[3])
            + enc.pong()
            + enc.close(1000, "bye")
        )
        add(
            f"decoder-{role}-conversation",
            Scenario("decoder", server=server, stream=conversation, plan=PLANS["mixed"]),
        )
        # Control frames between the fragments of a message, cut inside code points.
        key = RNG.randbytes(4) if server else None
        text = TEXTS[6].encode()
        fragmented = b"".join(
            [
                _codec_py.encode_frame(1, text[:7], fin=False, mask=key),
                enc.ping(b"between"),
                _codec_py.encode_frame(0, text[7:40], fin=False, mask=key),
                enc.pong(b"and"),
                _codec_py.encode_frame(0, text[40:], mask=key),
            ]
        )
        add(
            f"decoder-{role}-fragmented-text",
            Scenario(
                "decoder",
                server=server,
                stream=enc.text(TEXTS[6], fragment_size=5),
                plan=PLANS["tiny"],
            ),
        )
        add(
            f"decoder-{role}-control-between",
            Scenario(
                "decoder", server=server, stream=fragmented, plan=PLANS["bytes1"], decode_text=False
            ),
        )
        add(
            f"decoder-{role}-limit-200",
            Scenario(
                "decoder",
                server=server,
                limit=200,
                stream=enc.binary(bytes(range(200)), fragment_size=64) + enc.text("é" * 100),
                plan=PLANS["mixed"],
            ),
        )
        add(
            f"decoder-{role}-16bit-length",
            Scenario(
                "decoder",
                server=server,
                limit=1000,
                stream=enc.binary(b"z" * 300),
                plan=PLANS["tiny"],
            ),
        )
        add(
            f"decoder-{role}-64bit-length-partial",
            Scenario("decoder", server=server, stream=enc.binary(b"q" * 70000)[:200], plan=[]),
        )
        add(
            f"decoder-{role}-close-empty",
            Scenario(
                "decoder",
                server=server,
                stream=enc.text("x") + enc.close(None) + enc.text("after close"),
                plan=PLANS["whole"],
            ),
        )
        add(
            f"decoder-{role}-big",
            Scenario(
                "decoder",
                server=server,
                big=True,
                stream=enc.text("é!") + enc.binary(b"b" * 130),
                plan=PLANS["mixed"],
            ),
        )
        add(
            f"decoder-{role}-bad-buffers",
            Scenario(
                "decoder",
                server=server,
                stream=enc.text(TEXTS[7]) + enc.binary(b"ab"),
                plan=PLANS["bad"],
            ),
        )

    # permessage-deflate: both directions, window sizes, context takeover.
    configs = [
        {
            "server_no_context_takeover": False,
            "client_no_context_takeover": False,
            "server_max_window_bits": 15,
            "client_max_window_bits": 15,
        },
        {
            "server_no_context_takeover": True,
            "client_no_context_takeover": True,
            "server_max_window_bits": 9,
            "client_max_window_bits": 9,
        },
        {
            "server_no_context_takeover": False,
            "client_no_context_takeover": True,
            "server_max_window_bits": 8,
            "client_max_window_bits": 12,
        },
    ]
    for i, config in enumerate(configs):
        for server in (True, False):
            role = "server" if server else "client"
            enc = encoder(peer(server), config)
            stream = (
                enc.text(TEXTS[6])
                + enc.text(TEXTS[6])
                + enc.ping(b"!")
                + enc.binary(bytes(range(256)) * 2, fragment_size=100)
                + enc.text(TEXTS[4], fragment_size=3)
                + enc.text("")
            )
            add(
                f"deflate{i}-{role}",
                Scenario(
                    "decoder",
                    server=server,
                    deflate=config,
                    stream=stream,
                    plan=PLANS["mixed" if i % 2 else "tiny"],
                    decode_text=bool(i % 2),
                ),
            )
        enc = encoder("client", config)
        add(
            f"deflate{i}-server-limit-1000",
            Scenario(
                "decoder",
                server=True,
                deflate=config,
                limit=1000,
                stream=enc.binary(b"A" * 1000) + enc.text("ok"),
                plan=PLANS["whole"],
            ),
        )
    # A message sent uncompressed (RSV1 clear) on a deflate connection.
    enc = encoder(
        "client",
        {
            "server_no_context_takeover": False,
            "client_no_context_takeover": False,
            "server_max_window_bits": 15,
            "client_max_window_bits": 15,
        },
    )
    enc._deflater = None  # the Encoder's private switch: send plain frames
    add(
        "deflate-uncompressed-message",
        Scenario(
            "decoder",
            server=True,
            deflate=configs[0],
            stream=enc.text("plain") + enc.binary(b"b"),
            plan=PLANS["bytes1"],
        ),
    )
    return seeds


def frame_seeds() -> dict[str, bytes]:
    seeds: dict[str, bytes] = {}
    for server in (True, False):
        role = "server" if server else "client"
        key = RNG.randbytes(4) if server else None
        frames = b"".join(
            [
                _codec_py.encode_frame(1, b"fragment ", fin=False, mask=key),
                _codec_py.encode_frame(0, b"end", rsv1=True, rsv3=True, mask=key),
                _codec_py.encode_frame(2, bytes(130), rsv2=True, mask=key),
                _codec_py.encode_frame(9, b"ping", mask=key),
                _codec_py.encode_frame(8, b"\x03\xe8", mask=key),
            ]
        )
        seeds[f"frames-{role}-rsv"] = write_scenario(
            Scenario("frames", server=server, allow_rsv=7, stream=frames, plan=PLANS["mixed"])
        )
        seeds[f"frames-{role}-limit-125"] = write_scenario(
            Scenario(
                "frames",
                server=server,
                limit=125,
                stream=_codec_py.encode_frame(2, bytes(125), mask=key) * 2,
                plan=PLANS["tiny"],
            )
        )
    return seeds


def utf8_seeds() -> dict[str, bytes]:
    seeds: dict[str, bytes] = {}
    for i, text in enumerate(TEXTS[1:]):
        plan = list(PLANS.values())[i % len(PLANS)]
        seeds[f"utf8-{i}"] = write_scenario(
            Scenario("utf8", kernel=i, stream=text.encode(), plan=plan)
        )
    # Around the SIMD block widths (16, 32, 64), a 4-byte code point across each.
    for width in (16, 32, 64):
        data = ("a" * (width - 2) + "😀" + "b" * (width - 1) + "é").encode()
        seeds[f"utf8-edge-{width}"] = write_scenario(
            Scenario("utf8", kernel=width, stream=data, plan=[(width - 1, 0), (3, 1)])
        )
    seeds["utf8-big"] = write_scenario(
        Scenario("utf8", big=True, stream="a€😀é".encode(), plan=PLANS["tiny"])
    )
    return seeds


def mask_seeds() -> dict[str, bytes]:
    seeds: dict[str, bytes] = {}
    for i, size in enumerate((0, 1, 3, 15, 33, 100, 300)):
        seeds[f"mask-{size}"] = write_scenario(
            Scenario(
                "mask",
                kernel=i,
                key=RNG.getrandbits(32),
                key_kind=i % 4,
                offset=differential.OFFSETS[i],
                stream=RNG.randbytes(size),
                plan=list(PLANS.values())[i % len(PLANS)],
            )
        )
    seeds["mask-big"] = write_scenario(
        Scenario("mask", big=True, key=0xDEADBEEF, stream=bytes(range(7)), plan=PLANS["mixed"])
    )
    seeds["mask-bad-key"] = write_scenario(
        Scenario("mask", key=0x01020304, key_kind=4, stream=b"abcdef", plan=PLANS["tiny"])
    )
    return seeds


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    os.makedirs(out, exist_ok=True)
    seeds = {**decoder_seeds(), **frame_seeds(), **utf8_seeds(), **mask_seeds()}
    for name, data in seeds.items():
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(data)
    total = sum(map(len, seeds.values()))
    print(f"{len(seeds)} seeds, {total} bytes, in {out}")


if __name__ == "__main__":
    main()
