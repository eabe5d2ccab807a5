"""The pure parser: raw message bytes -> ParseResult. No files, sockets, database or config."""
from __future__ import annotations

from collections.abc import Sequence

from .model import (Address, Attachment, Cue, ParsedMessage, ParseOptions, ParseResult,
                    Request, Requester)
from .sensitive import mask_sensitive

__all__ = ["parse", "reparse_conversation", "mask_sensitive", "Address", "Attachment", "Cue",
           "ParsedMessage", "ParseOptions", "ParseResult", "Request", "Requester"]


def parse(data: bytes, options: ParseOptions | None = None) -> ParseResult:
    """Parse one raw RFC 5322 message into typed requests.

    Never raises for bad input: a message that cannot be read gets `error` set and no
    requests (the worker turns that into a triage ticket).
    """
    from .pipeline import run_parse  # local import keeps `import parsers` cheap

    return run_parse(data, options or ParseOptions())


def reparse_conversation(messages: Sequence[bytes], options: ParseOptions | None = None,
                         ticket_type: str | None = None) -> ParseResult:
    """Re-read a ticket from all its inbound messages, oldest first.

    Each message's request text (quoted history and signature removed) is joined in order
    and read as one request. With `ticket_type`, the type is kept and only the fields,
    missing fields and action are recomputed. Pure: no files, sockets or database.
    """
    from .pipeline import run_conversation

    return run_conversation(list(messages), options or ParseOptions(), ticket_type)
