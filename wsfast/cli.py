"""The ``wsfast`` command line (placeholder: info only)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    import wsfast

    args = sys.argv[1:] if argv is None else argv
    if args[:1] != ["info"]:
        print("usage: wsfast info", file=sys.stderr)
        return 2
    print(f"wsfast {wsfast.__version__}")
    for key, value in wsfast.features().items():
        print(f"{key}: {value}")
    return 0
