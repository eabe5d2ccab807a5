"""The requester: From header, plus team and phone from the signature (never request fields)."""
from __future__ import annotations

import re

from .fields import find_phones, flip_name, is_person_name
from .model import ParsedMessage, Requester

TEAM_WORDS_RE = re.compile(r"\b(team|service|hub|unit|adult care|children's services|early help|locality|directorate|"
                           r"department|business support|safeguarding)\b", re.I)
JOB_WORDS_RE = re.compile(r"\b(worker|officer|manager|practitioner|therapist|assessor|adviser|advisor|coordinator|assistant|"
                          r"lead|director|head of|nurse|administrator|apprentice|professional|analyst)\b", re.I)


def find_team(signature: str) -> str | None:
    """The team named in a signature ('Social Worker | Fostering Team (Lincoln)' -> 'Fostering Team (Lincoln)')."""
    for line in signature.split("\n")[:8]:
        if re.search(r"@|\d{4}|https?:", line):
            continue
        for part in re.split(r"\s*[|,]\s*", line):
            part = part.strip()
            if TEAM_WORDS_RE.search(part) and not JOB_WORDS_RE.search(part) and len(part.split()) <= 8:
                return part
    return None


def name_in_signature(signature: str) -> str | None:
    """The first signature line that reads as a person's name (for a From header without one)."""
    for line in signature.split("\n")[:4]:
        line = re.sub(r"\s*\(.*?\)", "", line).strip()
        if line and is_person_name(line):
            return line
    return None


def find_requester(msg: ParsedMessage, signature: str) -> Requester:
    """The sender from the From header; team and phone (and a missing name) from the signature."""
    phones = find_phones(signature)
    name = flip_name(msg.sender.name) or name_in_signature(signature)
    return Requester(email=msg.sender.email, name=name,
                     team=find_team(signature), phone=phones[0][0] if phones else None)
