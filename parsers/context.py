"""What a field extractor reads: the request text and the message facts around it."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .model import Cue, ParseOptions


@dataclass(frozen=True)
class Context:
    """One request's text (a whole message, or one segment of it) and its message's facts."""

    text: str
    subject: str = ""
    date: datetime | None = None
    sender_name: str | None = None  # 'Lauren Pike', as the sender signs
    sender_email: str | None = None
    signature: str = ""
    whole_text: str = ""  # the whole request text, when `text` is one segment of it
    forwarded_signature: str = ""  # the signature of a forwarded message's author
    options: ParseOptions = field(default_factory=ParseOptions)


class Found:
    """Collects field values and the cue behind each one."""

    def __init__(self, source: str = "") -> None:
        self.source = source  # the text the values come from, for the cue's line number
        self.fields: dict = {}
        self.cues: list[Cue] = []
        self.notes: list[str] = []

    def set(self, name: str, value, rule: str, text: str = "") -> None:
        if value in (None, "", [], {}):
            return
        self.fields[name] = value
        snippet = str(text or (value if isinstance(value, str) else ""))
        at = self.source.find(snippet[:40]) if snippet else -1
        line = self.source.count("\n", 0, at) + 1 if at >= 0 else None
        self.cues.append(Cue(name, rule, snippet[:80], line))
