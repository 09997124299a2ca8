"""Webhook delivery: the ``laurel webhooks`` process sends what the processor stored, signed,
retried and in order per user, only to addresses it has checked."""
