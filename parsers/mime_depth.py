"""A linear pre-scan of raw MIME that measures nesting depth before any recursive parser runs."""
from __future__ import annotations

import re

# Python's email parser recurses once per multipart level, so a MIME bomb of 1500 nested
# parts (see tests/bugcases/30-deeply-nested-multipart.eml) exhausts the stack after about
# a second. This scan finds the depth with one regex pass and a stack of boundaries.
_NEWLINE = re.compile(rb"\r?\n")
# email.feedparser.headerRE: what the stdlib accepts as a header or continuation line
_HEADER_LINE = re.compile(rb"From |[\041-\071\073-\176]*:|[\t ]")
_CONTENT_TYPE = re.compile(rb"(?im)^content-type[ \t]*:((?:[^\r\n]*)(?:\r?\n[ \t][^\r\n]*)*)")
_BOUNDARY_PARAM = re.compile(rb"""(?i);\s*boundary(\*0?\*?)?\s*=\s*(?:"([^"]*)"|([^\s;"]*))""")
_DELIMITER_LINE = re.compile(rb"(?m)^--([^\r\n]*)\r?$")
# message/* types the stdlib parses as a nested message (delivery-status is header blocks)
_FLAT_MESSAGE_TYPES = (b"message/delivery-status", b"message/external-body")


def _header_block_end(data: bytes, pos: int) -> int:
    """Where a header block starting at `pos` ends, as the stdlib feedparser decides: at the
    first empty line, or at the first line that is neither a header nor a continuation."""
    while pos < len(data):
        newline = data.find(b"\n", pos)
        stop = len(data) if newline < 0 else newline
        line = data[pos:stop]
        if line in (b"", b"\r") or not _HEADER_LINE.match(line):
            return pos
        if newline < 0:
            break
        pos = newline + 1
    return len(data)


class DepthExceeded(Exception):
    """Raised by measure_depth when the nesting goes past the limit (or a Content-Type
    header is too long to hand to the stdlib parser)."""


MAX_CONTENT_TYPE = 65_536


def _block_kind(headers: bytes) -> tuple[str, bytes | None]:
    """The header block's kind: ("multipart", boundary), ("message", None) or ("leaf", None)."""
    match = _CONTENT_TYPE.search(headers)
    if match is None:
        return "leaf", None
    value = match.group(1).strip()
    if len(value) > MAX_CONTENT_TYPE:
        # the stdlib parses parameters quadratically while building the tree: 1 MB takes 7 s
        raise DepthExceeded(f"Content-Type header longer than {MAX_CONTENT_TYPE} bytes")
    mime = value.split(b";", 1)[0].strip().lower()
    if mime.startswith(b"multipart/"):
        param = _BOUNDARY_PARAM.search(value)
        if param:
            star, quoted, bare = param.groups()
            boundary = quoted if quoted is not None else bare
            if star and boundary.count(b"'") >= 2:  # RFC 2231: charset'language'value
                boundary = boundary.split(b"'", 2)[2]
            return "multipart", boundary.rstrip()  # an empty boundary is still one
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


def _skip_repeated_delimiters(data: bytes, pos: int, boundary: bytes | None) -> int:
    """The stdlib skips delimiter lines of the same boundary (open or close) that directly
    follow an opening one; the part starts after them."""
    while True:
        line = _DELIMITER_LINE.match(data, pos)
        if line is None or _match_delimiter(line.group(1), [boundary]) is None:
            return pos
        pos = line.end() + 1


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
            end = _header_block_end(data, pos)
            kind, boundary = _block_kind(data[pos:end])
            if kind != "leaf":
                stack.append(boundary)
                deepest = max(deepest, len(stack))
                if len(stack) > limit:
                    raise DepthExceeded(f"MIME nesting deeper than {limit}")
            if end >= len(data):
                return deepest
            blank = _NEWLINE.match(data, end)
            pos = blank.end() if blank else end
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
        if not closing:
            pos = _skip_repeated_delimiters(data, pos, stack[index])
        in_headers = not closing
