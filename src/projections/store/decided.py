"""The notification of decided commands: what a batch's transaction tells the api when it
commits (``NOTIFY laurel_outcomes``), so that a request waiting for its command's outcome
answers without polling.

Each payload is a JSON array of items. An item is ``[tenant, commandId]`` — the outcome is
stored, read it — or, for the commands of a small batch (at most :data:`WHOLE_MOST`, as when a
synchronous request arrives at an idle stream), ``[tenant, commandId, userId, status, body]``:
the stored outcome itself, so that its waiter answers without reading it back. Large batches
(a busy stream, whose commands mostly have no waiter) send only the ids: their bodies would
cost every batch much more than the reads they spare.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from projections.store.connections import dump_json
from projections.store.ports import OutcomeRow
from projections.store.reads import StoredOutcome

OUTCOMES_CHANNEL = "laurel_outcomes"
"""The channel of these notifications."""
WHOLE_MOST = 8
"""Batches deciding at most this many commands notify their outcomes whole."""
PAYLOAD_LIMIT = 7800
"""Bytes of one payload (PostgreSQL caps a NOTIFY payload at 8000)."""


def notification_payloads(outcomes: Sequence[OutcomeRow]) -> list[str]:
    """The payloads telling of ``outcomes``, each within :data:`PAYLOAD_LIMIT` bytes; an
    outcome too large for one is told by its id."""
    whole = len(outcomes) <= WHOLE_MOST
    payloads: list[str] = []
    chunk: list[bytes] = []
    size = 2  # the brackets
    for o in outcomes:
        item = dump_json([o.tenant, o.command_id, o.user_id, o.status, o.body]) if whole else b""
        if not whole or len(item) + 2 > PAYLOAD_LIMIT:
            item = dump_json([o.tenant, o.command_id])
        if chunk and size + len(item) + 1 > PAYLOAD_LIMIT:
            payloads.append(_joined(chunk))
            chunk, size = [], 2
        chunk.append(item)
        size += len(item) + 1
    if chunk:
        payloads.append(_joined(chunk))
    return payloads


def _joined(items: list[bytes]) -> str:
    return (b"[" + b",".join(items) + b"]").decode()


@dataclass(frozen=True)
class Decided:
    """What one payload told: outcomes carried whole, and the ids of those to read."""

    outcomes: list[StoredOutcome]
    ids: list[tuple[str, uuid.UUID]]


def read_payload(payload: str) -> Decided:
    """The outcomes and ids a payload of :func:`notification_payloads` carries."""
    decided = Decided([], [])
    for item in orjson.loads(payload):
        if len(item) == 5:
            tenant, command_id, user_id, status, body = item
            decided.outcomes.append(
                StoredOutcome(tenant, uuid.UUID(command_id), user_id, status, body)
            )
        else:
            decided.ids.append((item[0], uuid.UUID(item[1])))
    return decided
