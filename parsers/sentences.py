"""Split request text into sentences and numbered/paragraph segments; drop greetings."""
from __future__ import annotations

import re
from dataclasses import dataclass

GREETING_RE = re.compile(r"^\s*(hi|hello|hiya|hey|dear|good (morning|afternoon|evening)|morning|afternoon)\b[^.?!\n]{0,40}[,!.]?\s*$",
                         re.I)
INLINE_GREETING_RE = re.compile(r"^\s*(?:hi|hello|hiya|hey|dear|good (?:morning|afternoon)|morning|afternoon)"
                                r"(?: (?:all|team|there|both|everyone|[A-Z][a-z]+))?\s*[,!]\s+(?=\S)", re.I)
_SENT_SPLIT_RE = re.compile(r"(?<=[.?!])[\"'”’)]*\s+(?=[A-Z0-9\"“(])|\n\s*\n|\n(?=\s*[-*•\d]+[.)]?\s)")
NUMBERED_RE = re.compile(r"^\s*(?:\d{1,2}[.)]|\(\d{1,2}\)|[a-e][.)])\s+", re.M)


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int


def sentences(text: str) -> list[Sentence]:
    """Sentences (and list items), with their offsets in `text`."""
    out: list[Sentence] = []
    pos = 0
    for m in _SENT_SPLIT_RE.finditer(text):
        chunk = text[pos:m.start()]
        if chunk.strip():
            out.append(Sentence(" ".join(chunk.split()), pos))
        pos = m.end()
    if text[pos:].strip():
        out.append(Sentence(" ".join(text[pos:].split()), pos))
    return out


def without_greeting(text: str) -> str:
    lines = text.split("\n")
    while lines and (not lines[0].strip() or GREETING_RE.match(lines[0])):
        lines.pop(0)
    if lines:  # 'Hi, where do I find ...' on one line: the greeting is no part of the request
        lines[0] = INLINE_GREETING_RE.sub("", lines[0], count=1)
    return "\n".join(lines)


def word_count(text: str) -> int:
    return len(re.findall(r"[A-Za-zÀ-ÿ][\w'’-]*", text))


def segments(text: str) -> tuple[list[str], bool]:
    """Candidate request segments: numbered items when there are several, else paragraphs.

    The flag says the segments are numbered items (a list of requests, see 066)."""
    items = [m.start() for m in NUMBERED_RE.finditer(text)]
    if len(items) >= 2:
        parts = [text[:items[0]]] + [text[a:b] for a, b in zip(items, items[1:] + [len(text)])]
        return [p.strip() for p in parts if p.strip()], True
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()], False
