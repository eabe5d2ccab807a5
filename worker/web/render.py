"""Showing mail safely: HTML only through nh3 (inert), text escaped with field sources marked."""
from __future__ import annotations

import re
from typing import Any

import nh3
from markupsafe import Markup, escape

# structure and text only: no forms, no media, no style attributes, no classes or ids
ALLOWED_TAGS = frozenset(nh3.ALLOWED_TAGS - {"area", "map"})
ALLOWED_ATTRIBUTES = {
    "a": {"href"}, "img": {"src", "alt", "width", "height"}, "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"}, "ol": {"start"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto", "data"})
MIN_NEEDLE = 3


def _keep_attribute(tag: str, attr: str, value: str) -> str | None:
    """Images only as inline data (never fetched from anywhere); links only to web or mail."""
    if tag == "img" and attr == "src":
        return value if value.lower().startswith("data:image/") else None
    if tag == "a" and attr == "href" and value.lower().startswith("data:"):
        return None
    return value


def sanitise_html(html: str) -> Markup:
    """The message's HTML made inert: no script, style, forms, event handlers or remote images."""
    clean = nh3.clean(html, tags=set(ALLOWED_TAGS), attributes=ALLOWED_ATTRIBUTES,
                      clean_content_tags={"script", "style", "title", "head", "template",
                                          "noscript", "textarea", "select", "option", "iframe",
                                          "object", "embed", "svg", "math"},
                      url_schemes=set(URL_SCHEMES), attribute_filter=_keep_attribute,
                      link_rel="noopener noreferrer nofollow", strip_comments=True)
    return Markup(clean)  # noqa: S704 - nh3's output is the sanitised fragment


def needles_of(fields: dict[str, Any], cues: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(field, text) pairs to find in the message: each field's value and each cue's words."""
    out: list[tuple[str, str]] = []

    def add(name: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                add(f"{name}.{k}", v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                add(name, v)
        elif isinstance(value, str) and len(value.strip()) >= MIN_NEEDLE:
            out.append((name, value.strip()))
            # an address the parser joined with commas is written on several lines in mail
            parts = [p.strip() for p in value.split(",")]
            if len(parts) > 1:
                out.extend((name, p) for p in parts if len(p) >= MIN_NEEDLE)

    for name, value in fields.items():
        add(name, value)
    for cue in cues:
        text = cue.get("text")
        if isinstance(text, str) and len(text.strip()) >= MIN_NEEDLE:
            out.append((str(cue.get("target") or "type"), text.strip()))
    return out


def _pattern(needle: str) -> re.Pattern[str]:
    """Case-insensitive, any run of white space matching any other (mail rewraps lines), and
    whole words only: "home" is not marked inside "Homes"."""
    body = r"\s+".join(re.escape(p) for p in needle.split())
    start = r"(?<!\w)" if needle[:1].isalnum() else ""
    end = r"(?!\w)" if needle[-1:].isalnum() else ""
    return re.compile(start + body + end, re.I)


def highlight(text: str, needles: list[tuple[str, str]], limit: int = 200) -> Markup:
    """`text` escaped, with each occurrence of a needle wrapped in <mark title="field">."""
    spans: list[tuple[int, int, str]] = []
    for name, needle in needles:
        for m in _pattern(needle).finditer(text):
            spans.append((m.start(), m.end(), name))
            if len(spans) > limit:
                break
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    out: list[str] = []
    pos = 0
    for start, end, name in spans:
        if start < pos:
            continue  # overlaps an earlier, longer mark
        out.append(str(escape(text[pos:start])))
        out.append(f'<mark class="source" title="{escape(name)}">{escape(text[start:end])}</mark>')
        pos = end
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))  # noqa: S704 - every piece above is escaped
