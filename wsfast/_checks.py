"""Argument checks shared by the codec and deflate: one rule, one message."""

from __future__ import annotations

__all__ = ["check_flag", "check_int"]


def check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """An int (a bool is not one) in ``low..high``; TypeError or ValueError otherwise."""
    if type(value) is bool or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if high is None:
        if value < low:
            raise ValueError(f"{name} must be >= {low}, not {value}")
    elif not low <= value <= high:
        raise ValueError(f"{name} must be in {low}..{high}, not {value}")
    return int(value)


def check_flag(name: str, value: object) -> bool:
    """A bool, not merely something truthy."""
    if type(value) is not bool:
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
    return value
