"""Request text: drop quoted history, signatures and footers; keep a forwarded request."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from mailparser_reply import EmailReplyParser

from .model import ParsedMessage

# Languages whose "On ... wrote:" / "From:/Sent:" headers mail-parser-reply should know.
REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl", "pt", "sv"]

FORWARD_SUBJECT_RE = re.compile(r"^\s*((re|aw|sv)\s*:\s*)*(fw|fwd|wg|tr)\s*:", re.I)
# the top of a forward that hands the request below on (see 008, 040, 057)
FORWARD_CUE_RE = re.compile(
    r"\bforwarding\b|\bforwarded (below|e-?mail|message|request|on)\b|\bsee (the )?([\w']+ ){0,3}below\b|\bplease action the below\b"
    r"|\bbelow from\b|\b(request|email|details) below\b", re.I)
FORWARD_MARKER_RE = re.compile(
    r"^\s*(-{2,}\s*(forwarded message|original message|weitergeleitete nachricht|message transf[ée]r[ée])"
    r"\s*-*|begin forwarded message:?)\s*$", re.I)
MOBILE_FOOTER_RE = re.compile(
    r"^\s*(sent from (my )?[\w\s.]{0,30}|get outlook for \w+|sent from mail for windows.*"
    r"|sent from outlook.*|envoy[ée] de mon \w+|von meinem \w+ gesendet)\s*$", re.I)
SIGN_OFF_RE = re.compile(
    r"^\s*(many thanks|thanks( very much| so much| again| in advance| all)?|thank you( very much)?"
    r"|kind(est)? regards|best regards|warm(est)? regards|regards|best wishes|best|cheers|ta"
    r"|with thanks|yours sincerely|yours faithfully|all the best|thanks & regards|thx|many thanks again"
    r"|dzi[eę]kuj[eę]( / thanks)?|merci|danke|mit freundlichen gr[üu](ß|ss)en)\b[\s,.!/]*([A-Z][\w'-]*)?\s*$",
    re.I)
DISCLAIMER_RE = re.compile(
    r"(confidential|privileged).{0,200}(intended|addressee|recipient)|this e-?mail and any files"
    r"|may monitor the content|not necessarily those of|registered (in england|office)"
    r"|company (registration )?number", re.I | re.S)
CARD_LINE_RE = re.compile(r"\b(tel|mob|mobile|phone|ext)\b|\b0\d{3,4}\s?\d{3}\s?\d{3,4}\b|@|\b(worker|officer|manager|practitioner|"
                          r"therapist|assessor|adviser|coordinator|assistant|lead|director|nurse|team|service)\b", re.I)
RULE_LINE_RE = re.compile(r"^\s*([*=_~#-])\1{5,}\s*$")
LONG_BLANKS_RE = re.compile(r"[ \t]{9,}")
TRAILING_BLANKS_RE = re.compile(r"[ \t\r]+$", re.M)
BLANK_LINES_RE = re.compile(r"\n{3,}")
# a request is read from the first part of a very long body only (the rest is pasted logs/history)
MAX_TEXT = 60_000
QUOTED_LINE_RE = re.compile(r"^[ \t]*>.*$\n?|^[ \t]*On .{5,120}wrote:[ \t]*$\n?", re.M)
QUOTE_PREFIX_RE = re.compile(r"^\s*(>\s?)+", re.M)


@dataclass(frozen=True)
class Sections:
    """The parts of a body: what the sender wrote, their signature, and any forwarded request."""

    body: str
    signature: str
    forwarded: str = ""
    forwarded_subject: str = ""
    forwarded_from: str = ""
    # the forwarded author's signature: a professional's details often sit only there (h110)
    forwarded_signature: str = ""

    @property
    def request_text(self) -> str:
        parts = [self.body.strip(), self.forwarded.strip()]
        return "\n\n".join(p for p in parts if p)


@lru_cache(maxsize=1)
def _reply_parser() -> EmailReplyParser:
    return EmailReplyParser(languages=REPLY_LANGUAGES)


def clean_lines(text: str) -> str:
    """Strip each line (HTML-derived text is indented) and collapse runs of blank lines."""
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").replace("\xa0", " ").split("\n")]
    out: list[str] = []
    for ln in lines:
        if not ln and (not out or not out[-1]):
            continue
        out.append(ln)
    return "\n".join(out).strip()


def split_replies(text: str) -> list[tuple[str, str]]:
    """(header, body) of each reply in a thread, newest first; the first header is ''."""
    # the library's patterns are slow on long runs of blanks; column layouts need only a few
    text = LONG_BLANKS_RE.sub("        ", text)
    text = BLANK_LINES_RE.sub("\n\n", TRAILING_BLANKS_RE.sub("", text))[:MAX_TEXT]
    try:
        replies = _reply_parser().read(text).replies
    except Exception:  # noqa: BLE001 - the library's regexes must not take the parse down
        return [("", text)]
    out: list[tuple[str, str]] = []
    for rep in replies:
        body = rep.full_body or ""
        if not rep.headers and out:
            out[-1] = (out[-1][0], out[-1][1] + "\n" + body)
            continue
        out.append((rep.headers or "", body))
    return out or [("", text)]


def header_value(header: str, names: tuple[str, ...]) -> str:
    for line in header.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in names:
            return value.strip()
    return ""


def _person_tokens(name: str | None) -> tuple[str, ...]:
    if not name:
        return ()
    name = re.sub(r"\(.*?\)|<.*?>", " ", name)
    if "," in name:  # "Pike, Lauren" -> "Lauren Pike"
        last, _, first = name.partition(",")
        name = f"{first} {last}"
    return tuple(t.lower() for t in re.findall(r"[^\W\d_][\w'-]*", name))


def _is_name_line(line: str, tokens: tuple[str, ...]) -> bool:
    words = re.findall(r"[^\W\d_][\w'-]*", line)
    if not words or len(words) > 4 or re.search(r"[?:;@]|\d", line):
        return False
    low = [w.lower() for w in words]
    if not tokens:
        return False
    if len(tokens) > 1 and tokens[-1] in low:  # 'Lauren Pike', 'Pike, Lauren'
        return True
    # a first name alone, as people sign ('Abi' for Abigail, 'Jo' for Joanne); not 'Sam Brown' from Sam Lord
    first = tokens[0]
    return len(low) == 1 and len(low[0]) >= 2 and (low[0][:3] == first[:3] or first.startswith(low[0]))


def split_signature(text: str, sender_name: str | None = None) -> tuple[str, str]:
    """Split a reply's text into (body, signature); footers and mobile taglines are dropped."""
    lines = [ln for ln in clean_lines(text).split("\n")
             if not MOBILE_FOOTER_RE.match(ln) and not FORWARD_MARKER_RE.match(ln)]
    lines = _drop_disclaimers(lines)
    tokens = _person_tokens(sender_name)
    cut = None
    content_seen = 0
    last = ""
    for i, line in enumerate(lines):
        if not line:
            continue
        if last.endswith(":"):  # "my details for your records:" introduces a block (020)
            last = line
            content_seen += 1
            continue
        if content_seen and SIGN_OFF_RE.match(line) and len(line.split()) <= 5:
            cut = i
            break
        if content_seen and _is_name_line(line, tokens) and (i == 0 or not lines[i - 1]
                                                             or SIGN_OFF_RE.match(lines[i - 1])):
            cut = i
            break
        if line.startswith("-- ") or line == "--":
            cut = i
            break
        content_seen += 1
        last = line
    if cut is None:
        cut = _trailing_card(lines)
    if cut is None:
        return "\n".join(lines).strip(), ""
    return "\n".join(lines[:cut]).strip(), "\n".join(lines[cut:]).strip()


def _trailing_card(lines: list[str]) -> int | None:
    """Where an unsigned-off signature card starts: a last block of short lines opening with a
    name and holding a phone, e-mail or job title ('Jo Bloggs / Social Worker / 01522 555123')."""
    end = len(lines)
    while end and not lines[end - 1]:
        end -= 1
    start = end
    while start and lines[start - 1]:
        start -= 1
    block = lines[start:end]
    if start == 0 or not 2 <= len(block) <= 8 or any(len(ln.split()) > 10 for ln in block):
        return None
    opens_with_name = re.fullmatch(r"(?:[A-Z][\w'’-]+\s+){1,3}[A-Z][\w'’-]+(?:\s*\(.*\))?", block[0]) is not None
    card = any(CARD_LINE_RE.search(ln) for ln in block[1:])
    return start if opens_with_name and card else None


def _drop_disclaimers(lines: list[str]) -> list[str]:
    out: list[str] = []
    para: list[str] = []
    for line in lines + [""]:
        if line and not RULE_LINE_RE.match(line):
            para.append(line)
            continue
        if para and not DISCLAIMER_RE.search(" ".join(para)):
            out.extend(para)
        para = []
        if not line and out and out[-1]:
            out.append("")
    return out


def sections_of(msg: ParsedMessage) -> Sections:
    """Split a message into the sender's own text, signature, and the request it forwards."""
    replies = split_replies(msg.text or "")
    own = QUOTED_LINE_RE.sub("", replies[0][1])  # bottom-posted or interleaved replies keep '>' lines
    body, signature = split_signature(own, msg.sender.name)
    forwarded = fsubject = ffrom = fsignature = ""
    is_forward = bool(FORWARD_SUBJECT_RE.match(msg.subject or "")) or bool(
        FORWARD_CUE_RE.search(body)) or bool(FORWARD_MARKER_RE.search(msg.text or ""))
    if is_forward:
        for header, text in replies[1:]:
            text = QUOTE_PREFIX_RE.sub("", text)
            ffrom = header_value(header, ("from", "von", "de", "van", "od"))
            fbody, fsig = split_signature(text, ffrom)
            if fbody.strip():
                forwarded, fsignature = fbody, fsig
                fsubject = header_value(header, ("subject", "betreff", "objet", "onderwerp", "temat"))
                break
    for fmsg in msg.forwarded:  # forward-as-attachment (message/rfc822), see 028
        inner = sections_of(fmsg)
        text = inner.request_text
        if text:
            forwarded = "\n\n".join(p for p in (forwarded, text) if p)
            fsubject = fsubject or fmsg.subject
    return Sections(body=body, signature=signature, forwarded=forwarded,
                    forwarded_subject=fsubject, forwarded_from=ffrom, forwarded_signature=fsignature)


def request_text_of(msg: ParsedMessage) -> str:
    """The part read for the request: quoted history and signature removed."""
    return sections_of(msg).request_text
