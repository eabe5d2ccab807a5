"""screen(msg) -> "auto_reply" | "bounce" | "bulk" | None: machine mail that is never answered."""
from __future__ import annotations

from .model import ParsedMessage, ParseOptions


def screen(msg: ParsedMessage, options: ParseOptions) -> str | None:
    auto = (msg.header("auto-submitted") or "no").strip().lower()
    if auto != "no":
        return "auto_reply"
    if (msg.header("precedence") or "").strip().lower() in ("bulk", "list", "junk"):
        return "bulk"
    return None
