"""Backdating an achievement: when one is activated (or an active one edited), every existing
user gets a command, through the user-keyed topic, that completes it silently if they already
qualify. The run's progress is kept in ``laurel.achievement_backdates``."""

from __future__ import annotations

import asyncio
import logging

from ingest.ids import new_command_id
from ingest.service import Ingest
from projections.core.commands import CompleteAchievement
from projections.store.documents import BackdateLog, StoredDocument

log = logging.getLogger(__name__)
BACKDATE_CHUNK = 1000


class Backdating:
    """Runs backdates in the background of the api process, one task per achievement version."""

    def __init__(self, ingest: Ingest, log_: BackdateLog) -> None:
        self.ingest = ingest
        self.log = log_
        self._tasks: set[asyncio.Task[None]] = set()

    async def after_write(
        self, tenant: str, before: StoredDocument | None, after: StoredDocument
    ) -> None:
        """After a write of an achievement: start backdating its new version if it is active and
        changed."""
        if after.body.get("status") != "active":
            return
        if before is not None and before.body == after.body:
            return
        await self.log.start(tenant, after.id, after.updated)
        task = asyncio.create_task(self._run(tenant, after))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, tenant: str, doc: StoredDocument) -> None:
        queued, after = 0, ""
        try:
            while True:
                users = await self.ingest.reader.user_ids(tenant, after, BACKDATE_CHUNK)
                if not users:
                    break
                now = self.ingest.clock()
                await self.ingest.publisher.publish_many(
                    [
                        CompleteAchievement(new_command_id(), tenant, u, now, doc.id, backdate=True)
                        for u in users
                    ]
                )
                queued += len(users)
                after = users[-1]
                await self.log.progress(tenant, doc.id, doc.updated, queued, False)
            await self.log.progress(tenant, doc.id, doc.updated, queued, True)
        except Exception:
            log.exception("backdating achievement %s stopped after %d users", doc.id, queued)
