"""What the processor and the ranker count, for Prometheus: each in a registry of its process's
own (the webhooks process's are in :mod:`processors.webhooks.metrics`). Serving them is the
composition root's work."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from processors.projector import BatchReport
from projections.store.projection_schemas import PartitionLag

BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)
SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ProcessorMetrics:
    """The processor's instruments: what its batches did and how far behind it is."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.received = Counter(
            "laurel_processor_records",
            "Records of the commands topic taken into a batch (redeliveries included).",
            registry=registry,
        )
        self.skipped = Counter(
            "laurel_processor_records_skipped",
            "Records skipped as at or below the partition's checkpoint (already applied).",
            registry=registry,
        )
        self.applied = Counter(
            "laurel_processor_commands_applied",
            "Commands decided and stored with their outcome (accepted or rejected), once each.",
            registry=registry,
        )
        self.dead_lettered = Counter(
            "laurel_processor_dead_letters",
            "Records sent to the dead-letter topic (undecodable, invalid or refused).",
            registry=registry,
        )
        self.failures = Counter(
            "laurel_processor_batch_failures",
            "Batch transactions that failed and were retried (nothing acknowledged).",
            registry=registry,
        )
        self.batch_size = Histogram(
            "laurel_processor_batch_records",
            "Records per batch transaction.",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.batch_duration = Histogram(
            "laurel_processor_batch_duration_seconds",
            "Time to load, fold and commit one batch (retries of a failed transaction included).",
            buckets=SECONDS_BUCKETS,
            registry=registry,
        )
        self.last_batch = Gauge(
            "laurel_processor_last_batch_timestamp_seconds",
            "When this worker last committed a batch (Unix time).",
            registry=registry,
        )
        self.lag = Gauge(
            "laurel_processor_lag_records",
            "Records of an assigned partition not yet applied: the high watermark minus the "
            "projection's own checkpoint.",
            ["partition"],
            registry=registry,
        )
        self.checkpoint = Gauge(
            "laurel_processor_checkpoint_offset",
            "The last offset of an assigned partition the projection applied.",
            ["partition"],
            registry=registry,
        )
        self.assigned = Gauge(
            "laurel_processor_partitions_assigned",
            "Partitions of the commands topic this worker holds.",
            registry=registry,
        )
        self.scheduler_rounds = Counter(
            "laurel_scheduler_rounds",
            "Scheduler rounds run by the group's leader, by result.",
            ["result"],
            registry=registry,
        )
        self.scheduler_ticks = Counter(
            "laurel_scheduler_ticks",
            "Ticks the scheduler published for users with something due.",
            registry=registry,
        )
        self.scheduler_due = Gauge(
            "laurel_scheduler_due_users",
            "Users found due in the last round (its backlog; a round sends at most a batch).",
            registry=registry,
        )

    def batch(self, report: BatchReport, seconds: float, at: float) -> None:
        """One committed batch: its report, how long it took, and when (Unix time) it ended."""
        self.received.inc(report.received)
        self.skipped.inc(report.skipped)
        self.applied.inc(report.applied)
        self.dead_lettered.inc(report.dead_lettered)
        self.batch_size.observe(report.received)
        self.batch_duration.observe(seconds)
        self.last_batch.set(at)

    def lags(self, lags: Iterable[PartitionLag]) -> None:
        """The assigned partitions' lag now (partitions no longer assigned disappear)."""
        found = list(lags)
        self.lag.clear()
        self.checkpoint.clear()
        for lag in found:
            self.lag.labels(str(lag.partition)).set(lag.lag)
            self.checkpoint.labels(str(lag.partition)).set(lag.last_offset)
        self.assigned.set(len(found))

    def scheduled(self, due: int, sent: int) -> None:
        """One scheduler round that found ``due`` users due and sent ``sent`` ticks."""
        self.scheduler_rounds.labels("ok").inc()
        self.scheduler_ticks.inc(sent)
        self.scheduler_due.set(due)


class RankerMetrics:
    """The ranker process's instruments: its rounds, what they did, and whether it leads."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.rounds = Counter(
            "laurel_ranker_rounds",
            "Rounds run while leading, by part (ranker, announcer) and result.",
            ["part", "result"],
            registry=registry,
        )
        self.duration = Histogram(
            "laurel_ranker_round_duration_seconds",
            "Time per round, by part.",
            ["part"],
            buckets=SECONDS_BUCKETS,
            registry=registry,
        )
        self.observed = Counter(
            "laurel_ranker_entries_observed",
            "Leaderboard entries whose rank a round observed after they changed.",
            registry=registry,
        )
        self.moved = Counter(
            "laurel_ranker_rank_changes",
            "Rank changes written (leaderboard.rank_changed).",
            registry=registry,
        )
        self.finalised = Counter(
            "laurel_ranker_runs_finalised",
            "Leaderboard runs finalised (leaderboard.finished).",
            registry=registry,
        )
        self.held = Gauge(
            "laurel_ranker_rank_changes_held",
            "Rank changes held back by LAUREL_RANK_CHANGE_EVERY_S (the ranker's backlog).",
            registry=registry,
        )
        self.leader = Gauge(
            "laurel_ranker_leader", "1 while this process leads, else 0.", registry=registry
        )
