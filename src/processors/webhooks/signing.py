"""The headers that sign a message: the Standard Webhooks three (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of id.timestamp.body>``
per secret, space-separated, keyed with the secret's decoded bytes) and Trophy's
``X-Trophy-Signature`` (base64 HMAC-SHA256 of the raw body, keyed with the current secret
string as shown), so that receivers written for either verify."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook


def trophy_signature(secret: str, body: bytes) -> str:
    """``X-Trophy-Signature``: what Trophy's receivers compute."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signed_headers(
    message_id: str, body: bytes, secrets: Sequence[str], at: datetime
) -> dict[str, str]:
    """The signature headers of ``body``; ``secrets[0]`` is the current secret, any other one
    is being rotated out and signs alongside it."""
    text = body.decode()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(Webhook(s).sign(message_id, at, text) for s in secrets),
        "X-Trophy-Signature": trophy_signature(secrets[0], body),
    }
