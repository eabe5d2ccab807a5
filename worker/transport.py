"""Reply transport edge: `Transport` protocol; SMTP in production, a Maildir for the demo."""
from __future__ import annotations

from typing import Protocol


class PermanentSendError(Exception):
    """The server rejected the reply for good (5xx): record it, do not retry."""


class TemporarySendError(Exception):
    """The reply could not be sent now (4xx, connection refused, timeout): retry later."""


class Transport(Protocol):
    """One connection reused for a whole outbox run: use as a context manager."""

    def __enter__(self) -> "Transport": ...

    def __exit__(self, *exc: object) -> None: ...

    def send(self, data: bytes, sender: str, recipients: list[str]) -> None:
        """Send one rendered reply; raises PermanentSendError or TemporarySendError."""
        ...
