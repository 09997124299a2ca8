"""One ranker leads: an advisory lock held by its session; a standby takes over when the
leader's session ends."""

from __future__ import annotations

import psycopg
import pytest

from projections.store.leadership import AdvisoryLeadership
from tests.support.infra import Namespace

pytestmark = pytest.mark.integration

KEY = 4242


async def test_one_leads_and_a_standby_takes_over_when_its_session_ends(
    namespace: Namespace,
) -> None:
    first = AdvisoryLeadership(namespace.database_url, KEY, "first")
    second = AdvisoryLeadership(namespace.database_url, KEY, "second")
    try:
        assert await first.leads()
        assert not await second.leads()
        assert await first.leads()  # still its session's
        # the leader's session dies (its process is killed): the server releases the lock
        with psycopg.connect(namespace.database_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                "WHERE locktype = 'advisory' AND objid = %s AND granted",
                (KEY,),
            )
        assert not await first.leads()  # it notices, and stops leading
        assert await second.leads()
        assert not await first.leads()
    finally:
        await first.close()
        await second.close()
