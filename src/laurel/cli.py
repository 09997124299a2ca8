"""The ``laurel`` command: the local stack, migrations, and each process's entry point."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from laurel.errors import LaurelError
from laurel.logs import configure_logging
from laurel.settings import Settings, load_settings

if TYPE_CHECKING:
    from laurel.local import ServiceStatus


def _up(settings: Settings, args: argparse.Namespace) -> int:
    from laurel.local import LocalStack

    stack = LocalStack(settings, brokers=args.brokers, processors=args.processors)
    started = time.monotonic()
    statuses = stack.up(install_prereqs=args.install_prereqs)
    elapsed = time.monotonic() - started
    if args.json:
        print(json.dumps({"services": [service.as_json() for service in statuses]}))
        return 0
    _print_services(statuses)
    print(f"Laurel is up in {elapsed:.1f}s. API: {stack.api_url}  (logs: {stack.logs_dir()})")
    print(f"  Application API: {stack.api_url}/v1   Admin API: {stack.api_url}/admin/v1")
    print(f"  Dashboard: {stack.api_url}/dashboard   Metrics: {stack.api_url}/metrics")
    print(f"  Admin API key (X-API-KEY): {stack.admin_key()}   (kept in {stack.admin_key_file})")
    return 0


def _print_services(statuses: Sequence[ServiceStatus]) -> None:
    for service in statuses:
        state = "up" if service.healthy else ("running, unready" if service.pid else "down")
        metrics = f"  metrics {service.metrics}" if service.metrics else ""
        print(f"  {service.name:<12} {state:<16} pid {service.pid!s:<8} {service.address}{metrics}")


def _down(settings: Settings, args: argparse.Namespace) -> int:
    from laurel.local import LocalStack

    stopped = LocalStack(settings).down()
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def _status(settings: Settings, args: argparse.Namespace) -> int:
    from laurel.local import LocalStack

    stack = LocalStack(settings)
    statuses = stack.status()
    try:
        lags: list[dict[str, object]] | str = [
            {
                "partition": lag.partition,
                "highWatermark": lag.high_watermark,
                "lastOffset": lag.last_offset,
                "lag": lag.lag,
                "lastBatch": lag.updated.isoformat() if lag.updated else None,
            }
            for lag in stack.lags()
        ]
    except Exception as exc:  # Kafka or PostgreSQL down: the services above say which
        lags = f"unavailable ({type(exc).__name__}: {exc})"
    if args.json:
        print(json.dumps({"services": [s.as_json() for s in statuses], "partitions": lags}))
    else:
        _print_services(statuses)
        if isinstance(lags, str):
            print(f"partitions of {settings.commands_topic}: {lags}")
        else:
            print(f"partitions of {settings.commands_topic} (lag: high watermark - checkpoint):")
            for row in lags:
                print(
                    f"  {row['partition']!s:>4}  lag {row['lag']!s:<8} "
                    f"high watermark {row['highWatermark']!s:<10} "
                    f"last batch {row['lastBatch'] or 'never'}"
                )
    return 0 if all(service.healthy for service in statuses) else 3


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from laurel.local import LocalStack
    from projections.store.migrate import migrate

    applied = migrate(LocalStack(settings).database_url())
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    return 0


def _api(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from laurel.api import REQUEST_ID_FILTER, create_app
    from laurel.logs import logging_config
    from projections.store.migrate import migrate

    migrate(settings.require_database_url())
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=logging_config(settings.log_format, filters=[REQUEST_ID_FILTER]),
        access_log=False,
    )
    return 0


def _processor(settings: Settings, args: argparse.Namespace) -> int:
    from laurel.processor import run_processor
    from projections.store.migrate import migrate

    migrate(settings.require_database_url())
    run_processor(settings)
    return 0


def _webhooks(settings: Settings, args: argparse.Namespace) -> int:
    from laurel.webhooks import run_webhooks
    from projections.store.migrate import migrate

    migrate(settings.require_database_url())
    asyncio.run(run_webhooks(settings))
    return 0


def _ranker(settings: Settings, args: argparse.Namespace) -> int:
    from laurel.ranker import run_ranker
    from projections.store.migrate import migrate

    migrate(settings.require_database_url())
    asyncio.run(run_ranker(settings))
    return 0


def _replay(settings: Settings, args: argparse.Namespace) -> int:
    from laurel.local import LocalStack
    from processors.replay import Progress, Replay, ReplayFailed

    def show(progress: Progress) -> None:
        eta = f"{progress.eta_s:.0f}s" if progress.eta_s is not None else "?"
        print(
            f"  replayed {progress.applied} records, {progress.events_per_s:,.0f}/s, "
            f"lag {progress.lag}, ETA {eta}",
            flush=True,
        )

    replay = Replay(
        LocalStack(settings).database_url(),
        settings.bootstrap_servers,
        settings.commands_topic,
        on_progress=show,
    )
    try:
        result = asyncio.run(replay.run(switch=not args.no_switch))
    except ReplayFailed as exc:
        print(f"laurel replay: {exc}", file=sys.stderr)
        return 1
    verb = "switched reads to" if result.switched else "built (reads unchanged)"
    print(
        f"replay {verb} {result.schema}: {result.records} records in {result.seconds:.1f}s; "
        f"previous projection {result.previous} kept"
    )
    return 0


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    import uuid

    from laurel.local import LocalStack
    from projections.store.connections import connection_pool
    from projections.store.keys import KeyStore

    async def run() -> int:
        pool = connection_pool(LocalStack(settings).database_url(), max_size=1)
        await pool.open(wait=True)
        try:
            keys = KeyStore(pool)
            if args.action == "list":
                for key in await keys.list_keys():
                    scope = "" if key.user_id is None else f" user {key.user_id!r}"
                    tenant = f" tenant {key.tenant!r}" if key.tenant else ""
                    print(
                        f"{key.id}  {key.prefix:<14} {key.kind:<12} {key.status:<8}"
                        f"{scope}{tenant}  created {key.created:%Y-%m-%d %H:%M}"
                    )
                return 0
            if args.action == "create-admin":
                key, full = await keys.create("admin")
                print(f"{key.id}  {full}\n(shown once: store it now)")
                return 0
            status = "revoked" if args.action == "revoke" else "active"
            changed = await keys.set_status(uuid.UUID(args.id), status, "admin")
            if changed is None:
                print(f"laurel keys: no admin key {args.id}", file=sys.stderr)
                return 1
            print(f"{changed.id}  {changed.prefix}  {changed.status}")
            return 0
        finally:
            await pool.close()

    return asyncio.run(run())


Command = Callable[[Settings, argparse.Namespace], int]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="laurel", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser(
        "up",
        help="start Kafka, PostgreSQL, the api, the processor, the webhooks process and the ranker",
    )
    up.add_argument(
        "--install-prereqs",
        action="store_true",
        help="install missing Java, Maven or PostgreSQL with apt (root only)",
    )
    up.add_argument("--json", action="store_true", help="print the status as JSON")
    up.add_argument(
        "--brokers",
        type=int,
        choices=range(1, 6),
        metavar="N",
        help="run a Kafka cluster of N nodes (KRaft; topics get min(N, 3) replicas); a home "
        "keeps the size it was first started with (LAUREL_KAFKA_BROKERS)",
    )
    up.add_argument(
        "--processors",
        type=int,
        choices=range(1, 65),
        metavar="N",
        help="run N processor workers in one consumer group (LAUREL_PROCESSORS)",
    )
    up.set_defaults(run=_up)
    sub.add_parser("down", help="stop everything `up` started").set_defaults(run=_down)
    status = sub.add_parser("status", help="what runs where; exit 3 if anything is down")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(run=_status)
    sub.add_parser("migrate", help="apply pending schema migrations").set_defaults(run=_migrate)
    sub.add_parser("api", help="run the HTTP API in the foreground").set_defaults(run=_api)
    sub.add_parser("processor", help="run the stream processor in the foreground").set_defaults(
        run=_processor
    )
    sub.add_parser(
        "webhooks", help="deliver webhooks in the foreground (several may run)"
    ).set_defaults(run=_webhooks)
    sub.add_parser(
        "ranker",
        help="observe ranks, finalise leaderboard runs and announce timed webhooks in the "
        "foreground (several may run; one leads)",
    ).set_defaults(run=_ranker)
    replay = sub.add_parser(
        "replay",
        help="rebuild every projection from the start of the topic into a fresh schema, "
        "verify it against the live one and switch reads to it",
    )
    replay.add_argument("--no-switch", action="store_true", help="build and keep reads as they are")
    replay.set_defaults(run=_replay)
    keys = sub.add_parser(
        "keys",
        help="admin API keys: list, create-admin, revoke ID, activate ID "
        "(rotate = create-admin, deploy it, revoke the old one)",
    )
    keys.add_argument("action", choices=["list", "create-admin", "revoke", "activate"])
    keys.add_argument("id", nargs="?", help="the key's id (for revoke and activate)")
    keys.set_defaults(run=_keys)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``laurel`` command with ``argv``; return its exit status (2 for an error Laurel
    names)."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_format)
        run: Command = args.run
        if args.command == "keys" and args.action in ("revoke", "activate") and not args.id:
            print("laurel keys: revoke and activate take the key's id", file=sys.stderr)
            return 2
        if args.command == "processor":
            sys.argv = [sys.argv[0], "worker"]  # Faust's worker parses argv itself
        return run(settings, args)
    except LaurelError as exc:
        print(f"laurel: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
