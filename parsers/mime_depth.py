"""A linear pre-scan of raw MIME that measures nesting depth before any recursive parser runs."""
from __future__ import annotations

import re

# Python's email parser recurses once per multipart level, so a MIME bomb of 1500 nested
# parts (see tests/bugcases/30-deeply-nested-multipart.eml) exhausts the stack after about
# a second. This scan finds the depth with one regex pass and a stack of boundaries.
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_NEWLINE = re.compile(rb"\r?\n")
_CONTENT_TYPE = re.compile(rb"(?im)^content-type[ \t]*:((?:[^\r\n]*)(?:\r?\n[ \t][^\r\n]*)*)")
_BOUNDARY_PARAM = re.compile(rb"""(?i);\s*boundary\s*=\s*(?:"([^"]*)"|([^\s;"]+))""")
_DELIMITER_LINE = re.compile(rb"(?m)^--([^\r\n]*)\r?$")
# message/* types the stdlib parses as a nested message (delivery-status is header blocks)
_FLAT_MESSAGE_TYPES = (b"message/delivery-status", b"message/external-body")


class DepthExceeded(Exception):
    """Raised by measure_depth when the nesting goes past the limit."""


def _block_kind(headers: bytes) -> tuple[str, bytes | None]:
    """The header block's kind: ("multipart", boundary), ("message", None) or ("leaf", None)."""
    match = _CONTENT_TYPE.search(headers)
    if match is None:
        return "leaf", None
    value = match.group(1).strip()
    mime = value.split(b";", 1)[0].strip().lower()
    if mime.startswith(b"multipart/"):
        param = _BOUNDARY_PARAM.search(value)
        if param:
            boundary = (param.group(1) if param.group(1) is not None else param.group(2)).rstrip()
            if boundary:
                return "multipart", boundary
        return "leaf", None
    if mime.startswith(b"message/") and mime not in _FLAT_MESSAGE_TYPES:
        return "message", None
    return "leaf", None


def _match_delimiter(line: bytes, stack: list[bytes | None]) -> tuple[int, bool] | None:
    """Which open boundary (index into stack) this '--...' line closes or opens, innermost first."""
    line = line.rstrip(b"\r")
    for index in range(len(stack) - 1, -1, -1):
        boundary = stack[index]
        if boundary is None or not line.startswith(boundary):
            continue
        rest = line[len(boundary):]
        if rest.rstrip(b" \t") == b"":
            return index, False
        if rest.startswith(b"--") and rest[2:].rstrip(b" \t") == b"":
            return index, True
    return None


def measure_depth(data: bytes, limit: int) -> int:
    """Deepest nesting of multipart and message/* parts in raw bytes.

    Raises DepthExceeded as soon as the depth passes `limit`. Linear in the size of `data`.
    """
    stack: list[bytes | None] = []  # open boundaries; None marks an enclosed message/*
    deepest = 0
    pos = 0
    in_headers = True
    while True:
        if in_headers:
            if data.startswith(b"\n", pos) or data.startswith(b"\r\n", pos):
                end = _NEWLINE.match(data, pos)  # a part with no headers
            else:
                end = _HEADER_END.search(data, pos)
            headers = data[pos:end.start()] if end else data[pos:]
            kind, boundary = _block_kind(headers)
            if kind != "leaf":
                stack.append(boundary)
                deepest = max(deepest, len(stack))
                if len(stack) > limit:
                    raise DepthExceeded(f"MIME nesting deeper than {limit}")
            if end is None:
                return deepest
            pos = end.end()
            in_headers = kind == "message"  # an enclosed message starts with its own headers
            continue
        if all(boundary is None for boundary in stack):
            return deepest
        found = None
        for line in _DELIMITER_LINE.finditer(data, pos):
            hit = _match_delimiter(line.group(1), stack)
            if hit is not None:
                found = (line, hit)
                break
        if found is None:
            return deepest
        line, (index, closing) = found
        del stack[index + (0 if closing else 1):]
        pos = line.end() + 1
        in_headers = not closing
