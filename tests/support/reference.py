"""The reference fold: the whole topic folded in memory by the same core, to compare with
what the processor left in PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from processors.projector import project_batch
from projections.core.fold import DailyKey
from projections.core.model import UserKey, UserState
from projections.store.codecs import points_state_json, streak_state_json
from projections.store.config_history import load_config
from projections.store.memory import MemoryProjectionStore
from projections.store.ports import DeadLetter
from projections.store.ranking import group_key
from tests.support.infra import Namespace
from tests.support.kafka import end_offsets, read_all
from tests.support.waiting import wait_for_change

FAR_PAST = datetime(1970, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


class DiscardSink:
    """A dead-letter sink that keeps nothing (the reference fold publishes no letters)."""

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        return None


async def reference_fold(
    bootstrap: str,
    topic: str,
    database_url: str,
    tenants: Sequence[str] = ("",),
    through: Mapping[int, int] | None = None,
) -> MemoryProjectionStore:
    """A fold of the whole topic, or of each partition ``through`` the offset given."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        config = await load_config(conn, tenants, FAR_PAST, FAR_FUTURE)
    store = MemoryProjectionStore(config)
    records = [
        r
        for r, _ in await read_all(bootstrap, topic)
        if through is None or r.offset <= through.get(r.partition, -1)
    ]
    for partition in sorted({r.partition for r in records}):
        await project_batch(store, [r for r in records if r.partition == partition], DiscardSink())
    return store


def fold_of_applied_topic(ns: Namespace) -> MemoryProjectionStore:
    """Once the live processor has applied the whole topic: a reference fold of what it had
    applied then."""
    applied = wait_until_applied(ns)
    return asyncio.run(
        reference_fold(ns.bootstrap_servers, ns.commands_topic, ns.database_url, through=applied)
    )


def active_query(database_url: str, query: str) -> list[tuple[Any, ...]]:
    """The rows of ``query`` run with the active projection schema first on the search path."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        schema = conn.execute("SELECT schema_name FROM laurel.active_projection").fetchone()
        assert schema is not None
        conn.execute(f'SET search_path TO "{schema[0]}", laurel')
        return conn.execute(query.encode()).fetchall()


def active_rows(database_url: str, columns: str, table: str) -> list[tuple[Any, ...]]:
    """``columns`` of every row of ``table`` in the active projection schema."""
    return active_query(database_url, f"SELECT {columns} FROM {table}")


def projected_totals(database_url: str) -> dict[tuple[UserKey, Any], float]:
    rows = active_rows(database_url, "tenant, user_id, metric_id, total", "metric_totals")
    return {((t, u), m): total for t, u, m, total in rows}


def projected_daily(database_url: str) -> dict[DailyKey, float]:
    rows = active_rows(database_url, "tenant, user_id, metric_id, day, change", "metric_daily")
    return {(t, u, m, d): c for t, u, m, d, c in rows}


def reference_totals(store: MemoryProjectionStore) -> dict[tuple[UserKey, Any], float]:
    return {
        (key, metric_id): total
        for key, state in store.data.users.items()
        for metric_id, total in state.totals.items()
    }


def wait_until_applied(ns: Namespace) -> dict[int, int]:
    """Wait until the live projection has applied every record the topic holds; the last
    offset applied, by partition.

    The topic's end is read again, after the checkpoints, whenever they have reached the end
    last read: the scheduler may append a tick at any time, and a checkpoint that passed an
    end read once would never equal it. (An end only grows: while a checkpoint is short of
    the last one read, the topic need not be asked.)
    """
    last: dict[int, int] = {}
    looked: list[str] = []

    def caught_up() -> tuple[dict[int, int]] | None:  # in a tuple: an empty topic's {} is falsy
        applied = dict(active_rows(ns.database_url, "partition, last_offset", "checkpoints"))
        if not last or all(applied.get(p, -1) >= offset for p, offset in last.items()):
            ends = asyncio.run(end_offsets(ns.bootstrap_servers, ns.commands_topic))
            last.clear()
            last.update((partition, end - 1) for partition, end in ends.items() if end > 0)
        looked[:] = [f"applied {applied}, last on the topic {last}"]
        return (applied,) if applied == last else None

    try:
        found = wait_for_change(
            ns.database_url, caught_up, what="the processor to apply the whole topic"
        )
    except AssertionError as timed_out:
        raise AssertionError(f"{timed_out} (at the last look: {looked[0]})") from None
    assert found is not None  # wait_for returns only what is truthy
    return found[0]


def projected_states(database_url: str, table: str) -> dict[str, Any]:
    """Each user's stored state in ``table`` (``streaks`` or ``user_points``), by user id."""
    return dict(active_rows(database_url, "user_id, state", table))


def reference_states(store: MemoryProjectionStore, table: str) -> dict[str, Any]:
    """The same from a reference fold."""
    as_json: Callable[[UserState], dict[str, Any]] = {
        "streaks": lambda s: streak_state_json(s.streak),
        "user_points": lambda s: points_state_json(s.points),
    }[table]
    return {
        key[1]: as_json(state)
        for key, state in store.data.users.items()
        if state.profile is not None
    }


def tick_outbox(database_url: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(user id, kind, body) of the outbox rows that scheduler ticks wrote, in order."""
    return active_query(
        database_url,
        "SELECT o.user_id, o.kind, o.body FROM outbox o JOIN command_outcomes c "
        "USING (tenant, command_id) WHERE c.body->>'kind' = 'user.tick' "
        "ORDER BY o.occurred, o.command_id, o.seq",
    )


def projected_entries(database_url: str) -> dict[tuple[str, str], tuple[Any, ...]]:
    """Each user's entry in the latest run of each board: (user id, board id) → (run, group,
    value, reached at)."""
    rows = active_query(
        database_url,
        "SELECT DISTINCT ON (user_id, leaderboard_id) user_id, leaderboard_id::text, run, grp, "
        "value, reached_at FROM leaderboard_entries ORDER BY user_id, leaderboard_id, run DESC",
    )
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


def reference_entries(store: MemoryProjectionStore) -> dict[tuple[str, str], tuple[Any, ...]]:
    """The same from a reference fold."""
    return {
        (key[1], str(board_id)): (e.run, group_key(e.group), e.value, e.reached_at)
        for key, state in store.data.users.items()
        for board_id, e in state.leaderboards.items()
    }
