"""Text and HTML body parts -> Unicode text (charset fallbacks; HTML rendered by inscriptis)."""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from email.message import Message

from inscriptis import get_annotated_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

from .decoding import decode_bytes, decoded_payload

log = logging.getLogger(__name__)

# rendering cost grows with the HTML; past this the rest is not the sender's request anyway
MAX_HTML_CHARS = 300_000
# only to learn the charset of an HTML part whose MIME header names none
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.I)
_BLANK_RUNS = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")
# "strict" CSS: no indentation for <div> (Outlook wraps every line in divs)
# <blockquote> spans are annotated so quoted history gets '> ' markers, as in plain text
_HTML_CONFIG = ParserConfig(css=CSS_PROFILES["strict"], table_cell_separator="  ",
                            annotation_rules={"blockquote": ["quote"]})


def part_text(part: Message) -> tuple[str, bool]:
    """A text leaf's decoded text and whether its declared charset had to be abandoned.

    The declared charset is applied whatever the transfer encoding, so 7bit ISO-2022-JP
    decodes (see tests/bugcases/03-iso2022jp-html-body.eml). Never raises.
    """
    data = decoded_payload(part)
    try:
        declared = part.get_content_charset()
    except Exception:  # noqa: BLE001 - malformed RFC 2231 charset parameter
        declared = None
    if declared is None and part.get_content_type() == "text/html":
        meta = _META_CHARSET.search(data[:4096])
        declared = meta.group(1).decode("ascii") if meta else None
    text, fell_back = decode_bytes(data, declared)
    if _param(part, "format").lower() == "flowed":
        text = unflow(text, delsp=_param(part, "delsp").lower() == "yes")
    return text, fell_back


def _param(part: Message, name: str) -> str:
    try:
        value = part.get_param(name)
    except Exception:  # noqa: BLE001 - malformed parameters
        return ""
    return value if isinstance(value, str) else ""


def unflow(text: str, delsp: bool = False) -> str:
    """Join RFC 3676 format=flowed soft line breaks (a line ending in a space continues).

    Apple Mail and Thunderbird wrap long lines this way; joined, an ID or a sentence is no
    longer split across lines. Quoted lines join only with lines of the same quote depth.
    """
    out: list[str] = []
    carry: str | None = None
    carry_depth = 0
    for line in text.replace("\r\n", "\n").split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        if body.startswith(" "):  # space-stuffing (RFC 3676 4.4)
            body = body[1:]
        if carry is not None and depth == carry_depth:
            body = carry + body
        elif carry is not None:
            out.append(">" * carry_depth + (" " if carry_depth else "") + carry)
        carry = None
        if body.endswith(" ") and body != "-- ":
            carry, carry_depth = (body[:-1] if delsp else body), depth
            continue
        out.append(">" * depth + (" " if depth and body else "") + body)
    if carry is not None:
        out.append(">" * carry_depth + (" " if carry_depth else "") + carry)
    return "\n".join(out)


def html_to_text(html: str, on_defect: Callable[[str], None] | None = None) -> str:
    """Readable text from HTML: tables as aligned rows, lists as bullets. Never raises."""
    if len(html) > MAX_HTML_CHARS:
        html = html[:MAX_HTML_CHARS]
        if on_defect:
            on_defect("HtmlTruncatedDefect")
    try:
        rendered = get_annotated_text(html.replace("\x00", ""), _HTML_CONFIG)
    except Exception as exc:  # noqa: BLE001 - lxml/inscriptis on hostile markup
        log.info("HTML part not rendered: %s", type(exc).__name__)
        if on_defect:
            on_defect("HtmlConversionDefect")
        return ""
    text = _mark_quotes(rendered["text"], [(a, b) for a, b, _ in rendered.get("label", ())])
    # per line, not a regex: '[ \t]+\n' backtracks quadratically over a long run of spaces
    text = "\n".join(line.rstrip(" \t") for line in text.replace("\xa0", " ").split("\n"))
    return _BLANK_RUNS.sub("\n\n", text).strip("\n")


def _mark_quotes(text: str, spans: list[tuple[int, int]]) -> str:
    """Prefix each line inside <blockquote> spans with '>' once per nesting level."""
    if not spans:
        return text
    out: list[str] = []
    pos = 0
    for line in text.split("\n"):
        depth = sum(1 for start, end in spans if start <= pos < end and line.strip())
        out.append(">" * depth + (" " if depth else "") + line)
        pos += len(line) + 1
    return "\n".join(out)
