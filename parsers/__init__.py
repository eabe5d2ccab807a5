"""The pure parser: raw message bytes -> ParseResult. No files, sockets, database or config."""
from __future__ import annotations

from .model import (Address, Attachment, Cue, ParsedMessage, ParseOptions, ParseResult,
                    Request, Requester)

__all__ = ["parse", "Address", "Attachment", "Cue", "ParsedMessage", "ParseOptions",
           "ParseResult", "Request", "Requester"]


def parse(data: bytes, options: ParseOptions | None = None) -> ParseResult:
    """Parse one raw RFC 5322 message into typed requests.

    Never raises for bad input: a message that cannot be read gets `error` set and no
    requests (the worker turns that into a triage ticket).
    """
    from .pipeline import run_parse  # local import keeps `import parsers` cheap

    return run_parse(data, options or ParseOptions())
