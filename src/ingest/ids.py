"""Identifiers of commands."""

from __future__ import annotations

import os
import time
import uuid


def new_command_id() -> uuid.UUID:
    """A time-ordered UUID (version 7, RFC 9562): millisecond time, then 74 random bits."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)
