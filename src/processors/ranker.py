"""The ranker: where participants stand, observed after their entries change.

A user's value on a board is folded from their own commands; their rank depends on everyone
else, so it cannot be part of that fold. The ranker (a leader-only task of the processor, like
the scheduler) follows ``leaderboard_entries`` the way the API's rankings do — from the oldest
transaction running at its previous read, a position it commits with what it writes — and
observes the rank of every changed entry and of the participants in the first ``WATCHED``
places of its group (those a mover may have passed, or pushed off a full board). When an
observed rank differs from the last one stored, it writes:

* the rank (``leaderboard_ranks``) and, for a participant whose own value changed, the rank on
  their latest history day;
* a ``leaderboard_rank_changes`` outcome, ready for ``leaderboard.rank_changed`` webhooks.

Like Trophy's webhook, a participant's rank change is written at most once per
``rank_change_every`` (15 minutes) per board: a change inside that window waits, in memory, and
is written with the rank as it stands when the window ends (a restart forgets what waited; the
participant's next change brings it back). The first rank of an entry is written at once.

Once a run is over everywhere (12 hours after its last day ends in UTC) the ranker stores the
top 10 of each breakdown group in ``leaderboard_results``, ready for ``leaderboard.finished``.
"""

from __future__ import annotations

import heapq
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from ingest.clock import Clock
from projections.core.leaderboards import Leaderboard
from projections.core.model import ConfigHistory
from projections.store.config_history import ConfigCache, cached_config, read_epochs
from projections.store.connections import active_schema_and_xmin
from projections.store.ranking import group_values
from projections.store.ranking_cache import (
    GroupKey,
    RankingCache,
    StoredEntry,
    entries_since,
    read_only_snapshot,
)
from projections.store.ranks import (
    EntryKey,
    Observation,
    RankChange,
    RankStore,
    StoredRank,
)
from projections.store.trophy_json import board_json, user_json
from projections.store.webhook_messages import (
    finished_messages,
    rank_changed_message,
    rankings_message,
)
from projections.store.webhooks import Subscriptions, announce, current_subscriptions

log = logging.getLogger(__name__)
TOP = 10
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # entries re-observed only for their rank
WATCHED = 1000
"""The places (from the top) where participants passed by a mover get a rank change too."""


RANK_MESSAGES = ("leaderboard.rank_changed", "leaderboard.changed")
"""The messages a round's rank changes may announce."""

Results = list[tuple[str, list[dict[str, Any]]]]
"""A finalised run's top of each breakdown group (by stored group key)."""


class ChangeWindows:
    """``leaderboard.changed`` at most once per ``every`` per group: when each was last sent,
    and the groups that moved inside their window, waiting for its end. Kept in
    ``laurel.leaderboard_change_windows``: :meth:`load` reads them once, :meth:`save` writes
    what :meth:`due` changed in the transaction that announces, and :meth:`forget` drops the
    memory after a rollback (the next round loads again)."""

    def __init__(self, every: timedelta) -> None:
        self.every = every
        self._sent: dict[GroupKey, datetime] = {}
        self._waiting: dict[GroupKey, datetime] = {}
        self._changed: set[GroupKey] = set()
        self._loaded = False

    def due(self, moved: set[GroupKey], now: datetime) -> list[GroupKey]:
        """The groups to announce now (marked sent): those that moved outside their window,
        and those whose window ended with a change waiting."""
        for key in moved:
            last = self._sent.get(key)
            if key not in self._waiting:
                self._waiting[key] = now if last is None else last + self.every
                self._changed.add(key)
        ready = sorted((k for k, at in self._waiting.items() if at <= now), key=str)
        for key in ready:
            del self._waiting[key]
            self._sent[key] = now
        self._changed.update(ready)
        return ready

    def tenants(self) -> set[str]:
        """The tenants with a change waiting (their configuration is needed at its end)."""
        return {key.tenant for key in self._waiting}

    async def load(self, conn: AsyncConnection[Any]) -> None:
        """Read the stored windows (once; again after :meth:`forget`)."""
        if self._loaded:
            return
        cur = await conn.execute(
            "SELECT tenant, board_id, run, grp, sent, waiting_until "
            "FROM laurel.leaderboard_change_windows"
        )
        for tenant, board_id, run, grp, sent, waiting_until in await cur.fetchall():
            key = GroupKey(tenant, board_id, run, grp)
            if sent is not None:
                self._sent[key] = sent
            if waiting_until is not None:
                self._waiting[key] = waiting_until
        self._loaded = True

    async def save(self, conn: AsyncConnection[Any], now: datetime) -> None:
        """Write what changed since the last save, and drop the windows that no longer hold
        anything back."""
        if self._changed:
            keys = sorted(self._changed, key=str)
            await conn.execute(
                "INSERT INTO laurel.leaderboard_change_windows AS w (tenant, board_id, run, grp, "
                "sent, waiting_until) SELECT * FROM unnest(%s::text[], %s::uuid[], %s::date[], "
                "%s::text[], %s::timestamptz[], %s::timestamptz[]) ON CONFLICT (tenant, "
                "board_id, run, grp) DO UPDATE SET sent = EXCLUDED.sent, "
                "waiting_until = EXCLUDED.waiting_until",
                (
                    [k.tenant for k in keys],
                    [k.board_id for k in keys],
                    [k.run for k in keys],
                    [k.group for k in keys],
                    [self._sent.get(k) for k in keys],
                    [self._waiting.get(k) for k in keys],
                ),
            )
            self._changed.clear()
        expired = now - self.every
        for key in [k for k, at in self._sent.items() if at < expired and k not in self._waiting]:
            del self._sent[key]
        await conn.execute(
            "DELETE FROM laurel.leaderboard_change_windows WHERE waiting_until IS NULL "
            "AND sent < %s",
            (expired,),
        )

    def forget(self) -> None:
        """Drop what is in memory (a transaction that would have saved it rolled back)."""
        self._sent.clear()
        self._waiting.clear()
        self._changed.clear()
        self._loaded = False


@dataclass(frozen=True)
class RankerReport:
    """How many entries one round observed, how many ranks moved, how many runs it finalised."""

    observed: int
    moved: int
    finalised: int


MAX_REMEMBERED = 2_000_000


class Ranker:
    """Observes ranks after entries change and finalises runs; one round at a time (see the module's
    docstring)."""

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        clock: Clock,
        rank_change_every: timedelta = timedelta(minutes=15),
    ) -> None:
        self.pool = pool
        self.clock = clock
        self.every = rank_change_every
        self.cache = RankingCache(pool)
        self._waiting: dict[EntryKey, tuple[GroupKey, datetime]] = {}
        """Rank changes held back by the window: the entry's group and when it may be written."""
        self._queue: list[tuple[datetime, EntryKey]] = []
        """The same, as a heap by when they may be written."""
        self._stored: dict[EntryKey, StoredRank | None] = {}
        """What ``leaderboard_ranks`` holds, for the entries looked up so far (``None``: no
        row), so that a round reads only the entries it has not met before."""
        self._schema: str | None = None
        self._windows = ChangeWindows(rank_change_every)
        """When each group's ``leaderboard.changed`` may next be sent."""
        self._configs = ConfigCache()
        """The tenants' configuration, read again only when a tenant's epoch moves: a round
        needs every tenant with an open run, and loading them all each round was most of an
        idle round's work."""

    def held(self) -> int:
        """Rank changes held back by the window, waiting to be written."""
        return len(self._waiting)

    async def run_once(self) -> RankerReport:
        """Observe every entry written since the last round, and finalise the runs now over."""
        now = self.clock()
        async with self.pool.connection() as conn:
            async with conn.transaction():  # what changed, in one snapshot
                await read_only_snapshot(conn)
                schema, xmin = await active_schema_and_xmin(conn)
                if schema != self._schema or len(self._stored) > MAX_REMEMBERED:
                    self._stored.clear()  # a replay switched schemas (or memory is full)
                    self._waiting.clear()
                    self._queue.clear()
                    self._schema = schema
                ranks = RankStore(conn, schema)
                since = await ranks.position()
                changed = await entries_since(conn, schema, since)
                open_runs = await ranks.open_runs(now.date())
                tenants = {e.tenant for e in changed} | {r[0] for r in open_runs}
                tenants |= {key[0] for key in self._waiting}
                await self._windows.load(conn)
                tenants |= self._windows.tenants()
                epochs = await read_epochs(conn, tenants) if tenants else {}
                config = await cached_config(conn, self._configs, epochs, tenants, now)
            boards = {(b.tenant, b.id): b for t in tenants for b in config.leaderboards_at(t, now)}
            await self.cache.refresh()  # as new as that snapshot, or newer
            observed = [
                Observation(e, await self._rank(boards.get((e.tenant, e.board_id)), e))
                for e in changed
            ]
            observed += await self._passed(boards, changed)
            observed += await self._due(boards, now)
            # Written in READ COMMITTED: the processor may update the same history rows
            # meanwhile, and a REPEATABLE READ write would fail on them round after round.
            try:
                async with conn.transaction():
                    subscribed = await current_subscriptions(conn)
                    announced = bool(subscribed.tenants_wanting(RANK_MESSAGES))
                    last = await ranks.last_rank_change() if announced and observed else 0
                    moved, waiting = await ranks.observe(observed, now, self.every, self._stored)
                    moves = await ranks.rank_changes_after(last) if announced and moved else []
                    await self._announce_rank_changes(ranks, moves, boards, config, subscribed, now)
                    await self._announce_changed_boards(
                        ranks, moves, observed, boards, config, subscribed, now
                    )
                    finalised = 0
                    for tenant, board_id, run in open_runs:
                        board = boards.get((tenant, board_id))
                        results = await self._finalise(ranks, board, tenant, board_id, run, now)
                        if board is not None and results is not None:
                            finalised += 1
                            await self._announce_finished(
                                ranks, board, run, results, config, subscribed, now
                            )
                    await ranks.advance(xmin)
                    if changed or moved or finalised:
                        await ranks.announce()
            except BaseException:
                self._stored.clear()  # they may hold writes that were rolled back
                self._windows.forget()
                raise
            for key, (group, allowed) in waiting.items():
                if key not in self._waiting:
                    self._waiting[key] = (group, allowed)
                    heapq.heappush(self._queue, (allowed, key))
        if moved or finalised:
            log.info(
                "ranker: %d entries observed, %d moved, %d runs final",
                len(observed),
                moved,
                finalised,
            )
        return RankerReport(len(observed), moved, finalised)

    async def _rank(self, board: Leaderboard | None, entry: StoredEntry) -> int | None:
        if board is None or entry.group is None:
            return None
        key = GroupKey(entry.tenant, entry.board_id, entry.run, entry.group)
        ranking = await self.cache.ranking(key, board.max_participants, refresh=False)
        return ranking.rank(entry.user_id)

    async def _passed(
        self, boards: dict[tuple[str, uuid.UUID], Leaderboard], changed: list[StoredEntry]
    ) -> list[Observation]:
        """The participants in the first ``WATCHED`` places of each changed group (and as many
        again as entries changed there, for those pushed off a full board): the ones a mover
        may have passed. Their ranks are stored only where they differ."""
        movers: dict[GroupKey, set[str]] = {}
        for change in changed:
            if change.group is not None and (change.tenant, change.board_id) in boards:
                key = GroupKey(change.tenant, change.board_id, change.run, change.group)
                movers.setdefault(key, set()).add(change.user_id)
        out = []
        for key, users in movers.items():
            board = boards[(key.tenant, key.board_id)]
            ranking = await self.cache.ranking(key, board.max_participants, refresh=False)
            watched = min(board.max_participants or WATCHED, WATCHED) + len(users)
            for user_id, value, rank in ranking.places(0, watched):
                if user_id not in users:
                    entry = StoredEntry(
                        key.tenant, key.board_id, key.run, user_id, key.group, value, _NEVER
                    )
                    out.append(Observation(entry, rank, moved=False))
        return out

    async def _due(
        self, boards: dict[tuple[str, uuid.UUID], Leaderboard], now: datetime
    ) -> list[Observation]:
        """The held-back rank changes whose window has ended, observed again now."""
        out = []
        while self._queue and self._queue[0][0] <= now:
            _, key = heapq.heappop(self._queue)
            group, _ = self._waiting.pop(key)
            board = boards.get((group.tenant, group.board_id))
            if board is None:
                continue
            ranking = await self.cache.ranking(group, board.max_participants, refresh=False)
            value = ranking.value_of(key[3])
            if value is not None:  # (otherwise the entry moved group: it is a mover again)
                entry = StoredEntry(*key, group.group, value, _NEVER)
                out.append(Observation(entry, ranking.rank(key[3]), moved=False))
        return out

    async def _announce_rank_changes(
        self,
        ranks: RankStore,
        moves: list[RankChange],
        boards: Mapping[tuple[str, uuid.UUID], Leaderboard],
        config: ConfigHistory,
        subscribed: Subscriptions,
        now: datetime,
    ) -> None:
        """``leaderboard.rank_changed`` for each rank this round moved (a first rank is not a
        change: after a replay every entry's rank is observed afresh, and nothing is sent).
        The id names the stored change and its schema, so no two changes share one."""
        changes = [
            c
            for c in moves
            if subscribed.wanted(c.tenant, "leaderboard.rank_changed")
            and (c.tenant, c.board_id) in boards
        ]
        if not changes:
            return
        profiles = await ranks.profiles(sorted({(c.tenant, c.user_id) for c in changes}))
        messages = []
        for c in changes:
            profile = profiles.get((c.tenant, c.user_id))
            user = user_json(c.user_id, profile) if profile else {"id": c.user_id}
            body = board_json(boards[(c.tenant, c.board_id)], config, now)
            cause = f"{self._schema}/leaderboard.rank_changed/{c.id}"
            moved = (c.rank, c.value, c.previous_rank, c.previous_value)
            messages.append(rank_changed_message(cause, c.tenant, user, body, moved, now))
        await announce(ranks.conn, messages)

    async def _announce_changed_boards(
        self,
        ranks: RankStore,
        moves: list[RankChange],
        observed: list[Observation],
        boards: Mapping[tuple[str, uuid.UUID], Leaderboard],
        config: ConfigHistory,
        subscribed: Subscriptions,
        now: datetime,
    ) -> None:
        """``leaderboard.changed`` for each group whose ranks moved, at most once per
        ``every``: a change inside the window waits (:class:`ChangeWindows`) for its end, and
        is sent with the rankings as they stand then. First ranks alone are not a change (see
        :meth:`_announce_rank_changes`)."""
        group_of = {
            (o.entry.tenant, o.entry.board_id, o.entry.run, o.entry.user_id): o.entry.group
            for o in observed
        }
        moved = {
            GroupKey(c.tenant, c.board_id, c.run, group_of.get(entry) or "")
            for c in moves
            if (entry := (c.tenant, c.board_id, c.run, c.user_id)) in group_of
        }
        for key in self._windows.due(moved, now):
            board = boards.get((key.tenant, key.board_id))
            run = board.run_at(key.run) if board is not None else None
            if board is None or run is None:
                continue
            if not subscribed.wanted(key.tenant, "leaderboard.changed"):
                continue
            top = await self._top(key, board)
            names = await ranks.user_names(key.tenant, [t["userId"] for t in top])
            kind = "leaderboard.changed"
            cause = f"{self._schema}/{kind}/{key.board_id}/{key.run}/{key.group}/{now.isoformat()}"
            body = board_json(board, config, now)
            group = group_values(key.group) if board.breakdown else None
            message = rankings_message(kind, cause, board, body, run, group, top, names, now)
            await announce(ranks.conn, [message])
        await self._windows.save(ranks.conn, now)

    async def _announce_finished(
        self,
        ranks: RankStore,
        board: Leaderboard,
        run_start: date,
        results: Results,
        config: ConfigHistory,
        subscribed: Subscriptions,
        now: datetime,
    ) -> None:
        """``leaderboard.finished`` for each group of a run just finalised, if anyone wants it."""
        run = board.run_at(run_start)
        if run is None or not subscribed.wanted(board.tenant, "leaderboard.finished"):
            return
        users = sorted({t["userId"] for _, top in results for t in top})
        names = await ranks.user_names(board.tenant, users) if users else {}
        body = board_json(board, config, now)
        groups = [(group_values(grp), top) for grp, top in results]
        await announce(ranks.conn, finished_messages(board, body, run, groups, names, now))

    async def _top(self, key: GroupKey, board: Leaderboard) -> list[dict[str, Any]]:
        """The first :data:`TOP` places of a group, as results and webhooks show them."""
        ranking = await self.cache.ranking(key, board.max_participants, refresh=False)
        return [
            {"userId": s.user_id, "rank": s.rank, "value": s.value} for s in ranking.page(0, TOP)
        ]

    async def _finalise(
        self,
        ranks: RankStore,
        board: Leaderboard | None,
        tenant: str,
        board_id: uuid.UUID,
        run_start: date,
        now: datetime,
    ) -> Results | None:
        """Store the results of a run that is over (or close one whose board is gone); the
        results, or ``None`` when the run is not over or had no board to rank."""
        run = board.run_at(run_start) if board is not None else None
        if board is not None and run is not None and not run.finalised(now):
            return None
        results: Results = []
        if board is not None and run is not None:
            for grp in await ranks.groups(tenant, board_id, run_start):
                top = await self._top(GroupKey(tenant, board_id, run_start, grp), board)
                results.append((grp, top))
        await ranks.finalise(tenant, board_id, run_start, results, now)
        return results if board is not None and run is not None else None
