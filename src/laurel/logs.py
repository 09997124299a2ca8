"""How every Laurel process logs: readable text by default, or one JSON object per line
(``LAUREL_LOG_FORMAT=json``) for a log shipper.

A line that concerns a request or a command says which: the api adds the request id of the
request being served (:mod:`api.request_ids`), and the processors pass ``extra=`` with the ids a
line is about. Those fields, when present, are top-level keys of the JSON object and a bracketed
suffix of the text line.
"""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

LogFormat = Literal["text", "json"]

CONTEXT_FIELDS = (
    "request_id",
    "command_id",
    "tenant",
    "partition",
    "offset",
    "message_id",
    "endpoint_id",
    "route",
    "status",
)
"""The record attributes a line may carry about what it concerns (never a secret)."""


def _context(record: logging.LogRecord) -> dict[str, object]:
    return {
        name: value for name in CONTEXT_FIELDS if (value := getattr(record, name, None)) is not None
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the context
    fields it carries, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_context(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """``time level logger message [context]``: for people reading a terminal or a file."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as text, its context fields appended in brackets."""
        text = super().format(record)
        context = _context(record)
        if not context:
            return text
        fields = " ".join(f"{k}={v}" for k, v in context.items())
        head, newline, rest = text.partition("\n")  # keep a traceback below the line
        return f"{head} [{fields}]{newline}{rest}"


def logging_config(
    fmt: LogFormat, level: str = "INFO", filters: Sequence[str] = ()
) -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` configuration sending every logger's records to
    stderr in ``fmt``, through the :class:`logging.Filter` classes named (dotted paths) in
    ``filters``. Faust's worker and uvicorn take it as theirs, so their own lines come out in
    the same form."""
    formatter = "laurel.logs.JsonFormatter" if fmt == "json" else "laurel.logs.TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"laurel": {"()": formatter}},
        "filters": {f"f{i}": {"()": path} for i, path in enumerate(filters)},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "laurel",
                "filters": [f"f{i}" for i in range(len(filters))],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["default"]},
        # uvicorn's loggers propagate to the root rather than keep handlers of their own
        "loggers": {
            name: {"handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def configure_logging(fmt: LogFormat, filters: Sequence[str] = ()) -> None:
    """Configure this process's logging as :func:`logging_config` says."""
    logging.config.dictConfig(logging_config(fmt, filters=filters))
