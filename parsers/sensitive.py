"""Sensitive data in a message (NHS/NI numbers, dates of birth, screenshots) and masking."""
from __future__ import annotations

import re

from .model import Attachment

# 10 digits, spaced 3-3-4 or not (see 004 '612 334 9087', 035 '4011234567')
NHS_RE = re.compile(r"(?<![\d-])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?![\d-])")
# National Insurance number: two letters, six digits, A-D (HMRC rules exclude some prefixes)
NI_RE = re.compile(r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z])\s?(\d{2})\s?(\d{2})\s?(\d{2})\s?([A-D])\b",
                   re.I)
DOB_RE = re.compile(r"\b(d\.?o\.?b\.?|date of birth|born on|born)\b[\s:]*(?:(?:is|was|of)\s+)?\d", re.I)
NHS_LABEL_RE = re.compile(r"\bnhs\s*(no|number|num)?\b", re.I)
SCREENSHOT_RE = re.compile(r"\bscreen\s?shot|\bscreen\s?grab|\bsnip\b", re.I)


def is_nhs_number(digits: str) -> bool:
    """True where ten digits pass the NHS mod-11 check digit."""
    digits = re.sub(r"\D", "", digits)
    if len(digits) != 10:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1)))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def _labelled(text: str, start: int) -> bool:
    """Ten digits just after "NHS (number)": an NHS number even with a mistyped check digit."""
    return bool(NHS_LABEL_RE.search(text[max(0, start - 30):start]))


def find_nhs_numbers(text: str) -> list[str]:
    out = []
    for m in NHS_RE.finditer(text):
        raw = m.group(0)
        digits = "".join(m.groups())
        if digits.startswith("0"):  # UK phone numbers start with 0; NHS numbers never do
            continue
        if is_nhs_number(digits) or _labelled(text, m.start()):
            out.append(digits)
    return out


def find_ni_numbers(text: str) -> list[str]:
    return ["".join(m.groups()).upper() for m in NI_RE.finditer(text)]


def sensitive_kinds(text: str, attachments: tuple[Attachment, ...] = (),
                    service_user_names: bool = False) -> tuple[str, ...]:
    """Kinds of sensitive data the text (and attachments) carry, in a stable order."""
    kinds = []
    if find_nhs_numbers(text):
        kinds.append("nhs_number")
    if find_ni_numbers(text):
        kinds.append("ni_number")
    if DOB_RE.search(text):
        kinds.append("date_of_birth")
    if service_user_names:
        kinds.append("service_user_name")
    images = [a for a in attachments if a.content_type.startswith("image/")]
    if images and (SCREENSHOT_RE.search(text) or images):
        kinds.append("screenshot")
    return tuple(kinds)


def mask_sensitive(text: str) -> str:
    """Mask NHS and National Insurance numbers to their last three characters."""
    def mask_nhs(m: re.Match) -> str:
        digits = "".join(m.groups())
        if digits.startswith("0"):
            return m.group(0)
        if not (is_nhs_number(digits) or _labelled(text, m.start())):
            return m.group(0)
        return "*******" + digits[-3:]

    def mask_ni(m: re.Match) -> str:
        value = "".join(m.groups()).upper()
        return "******" + value[-3:]

    return NI_RE.sub(mask_ni, NHS_RE.sub(mask_nhs, text))
