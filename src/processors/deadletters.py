"""Publishing dead letters to Kafka: the record's own key and bytes, the reason in headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from projections.store.ports import DeadLetter

Send = Callable[..., Awaitable[Any]]


class KafkaDeadLetterSink:
    """Sends each dead letter to the dead-letter topic and waits for the broker's ack.

    Headers: ``laurel-reason`` (UTF-8 text), ``laurel-source`` (``topic/partition/offset``), so a
    dead letter published twice after a crash can be recognised as one.
    """

    def __init__(self, send_and_wait: Send, topic: str) -> None:
        self._send_and_wait = send_and_wait
        self.topic = topic

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        """Publish each letter with its original key and bytes and the ``laurel-reason`` and
        ``laurel-source`` headers; return once the broker holds them."""
        for letter in letters:
            record = letter.record
            source = f"{record.topic}/{record.partition}/{record.offset}"
            await self._send_and_wait(
                self.topic,
                record.key,
                record.value,
                None,
                None,
                [("laurel-reason", letter.reason.encode()), ("laurel-source", source.encode())],
            )
