"""Small field finders with normalised output: postcodes, phones, emails, addresses, names."""
from __future__ import annotations

import re

# UK postcode: outward code (A9, A99, A9A, AA9, AA99, AA9A) + inward code (9AA); spacing/case as people type
POSTCODE_RE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?)\s*(\d[ABD-HJLNP-UW-Z]{2})\b", re.I)
# UK phone numbers as written: '01522 555178', '07700 900342', '(01522) 555 178', '+44 1522 555178'
PHONE_RE = re.compile(r"(?<![\d/])(?:\+44\s?\(?0?\)?\s?|\(?0)\d{2,4}\)?[\s-]?\d{3,4}[\s-]?\d{3,4}(?![\d/])")
EMAIL_RE = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.I)
STREET_WORDS = (r"(?:Road|Rd|Street|St|Lane|Ln|Close|Cl|Row|Way|Avenue|Ave|Drive|Dr|Court|Ct|Crescent|Cres|Place|Pl|"
                r"Gardens|Gdns|Grove|Terrace|Walk|Square|Hill|Park|View|Rise|Mews|Green|Parade|Gate|Yard|Fields|"
                r"Meadows?|Chase|Croft|Wharf|Bank|End|Side|Dyke|Lodge|Cottages)")
# '3 Chapel Row, Kirton, Boston' or 'Flat 2, Mercer House, 41 Spital Street' (see 002, 066)
INLINE_ADDRESS_RE = re.compile(
    r"\b((?:(?:Flat|Apartment|Unit|Room)\s+\d+[A-Za-z]?,?\s+)?(?:[A-Z][\w'-]+(?: [A-Z][\w'-]+)*,\s+)?(?:\d{1,4}[A-Za-z]?,?\s+)?"
    r"(?:[A-Z][a-z'-]+\s+){0,3}" + STREET_WORDS + r"\b(?:,?\s*(?!(?:and|but|so|if|who|which|it)\b)[A-Z][a-z'-]+(?: [A-Z][a-z'-]+)*){0,3})")
BEFORE_POSTCODE_RE = re.compile(r"\b(?:at|to|is|address:?)\s+((?:the\s+)?[A-Z0-9][^.;:\n]{3,80}?),?\s*"
                                r"(?=[A-Z]{1,2}\d[A-Z\d]?\s*\d[ABD-HJLNP-UW-Z]{2}\b)")
LOWER_ADDRESS_RE = re.compile(r"\b(\d{1,4}[a-z]?\s+(?:[a-z][\w'-]*\s+){1,3}" + STREET_WORDS.lower()
                              + r"\b(?:,?\s*(?!(?:and|but|so|pls|please)\b)[a-z][\w'-]*){0,3}),?\s*(?=[a-z]{1,2}\d[a-z\d]?\s*\d[a-z]{2}\b)",
                              re.I)
# the inline form needs a number somewhere: a house number or a flat/unit number
INLINE_NEEDS_NUMBER_RE = re.compile(r"\d")
ADDRESS_LABEL_RE = re.compile(r"^[ \t]*(?:new |home |full )?address[ \t]*(?:is)?(?:[ \t]*:[ \t]*|[ \t]{2,}|\t)(\S.*)$", re.I | re.M)
STREET_ONLY_RE = re.compile(r"\b(?:on|at|in|is)\s+((?:[A-Z][a-z'-]+\s+){1,3}" + STREET_WORDS
                            + r"\b(?:,\s*[A-Z][a-z'-]+(?: [A-Z][a-z'-]+)*){0,2})")
ADDRESS_LINE_LABEL_RE = re.compile(r"^[ \t]*(?:address line \d|address \d|line \d|street|house(?: number and street)?|"
                                   r"village|town(?:/city)?|city)(?:[ \t]*:[ \t]*|[ \t]{2,}|\t)(\S.*)$", re.I | re.M)
ADDRESS_IS_RE = re.compile(r"\baddress(?: is| will be| now)?\s*:?[ \t]*(?!\n)((?:Flat|Unit|Apartment|\d)[^\n]+)", re.I)
NAME_TOKEN = r"[A-Z][a-zà-ÿ'’-]+(?:-[A-Z][a-zà-ÿ'’]+)?"
TITLE = r"(?:Dr|Mr|Mrs|Ms|Miss|Mx|Prof|Sr|Rev)\.?"
_CAP = r"(?:[A-ZÀ-Þ][a-zà-ÿ]+(?:[-'’][A-ZÀ-Þ][a-zà-ÿ]+)?(?:['’]s\b)?|[A-ZÀ-Þ]['’][A-ZÀ-Þ][a-zà-ÿ]+|Mc[A-Z][a-z]+|Ní|Ó|Nic)"
# two or three capitalised words, with any title: 'Dr Helena Marsh', 'Siobhán Ní Bhriain', 'Kerry-Ann Mitchell'
# surname particles people write in lower case: 'Sam de Souza', 'Ellie van der Berg'
_PARTICLE = r"(?:de|van|der|von|da|di|du|del|della|le|la|al|bin|ap|dos|das)"
PERSON_NAME_RE = re.compile(rf"(?<![\w'’-])(?:{_CAP})(?:[ \t]+(?:{_PARTICLE}[ \t]+)*(?:{_CAP}))+(?![\w'’-])")
NOT_NAME_WORDS = {
    "mosaic", "team", "the", "please", "thanks", "hi", "hello", "dear", "could", "can", "would", "mr", "mrs",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february",
    "march", "april", "june", "july", "august", "september", "october", "november", "december", "council",
    "service", "services", "hub", "care", "adult", "children", "children's", "hospital", "house", "road",
    "street", "lane", "surgery", "school", "academy", "centre", "trust", "nhs", "duty", "emergency", "it",
    "helpdesk", "help", "desk", "social", "worker", "manager", "support", "business", "officer", "id", "pid",
    "step", "assessment", "review", "record", "records", "i", "she", "he", "they", "we", "my", "our", "his",
    "her", "their", "this", "that", "new", "old", "form", "list", "email", "phone", "mobile", "tel", "and",
    "or", "of", "in", "on", "at", "for", "to", "from", "with", "is", "was", "be", "as", "senior", "practitioner",
    "county", "example", "locality", "office", "offices", "safeguarding", "fostering", "leaving", "case",
    "note", "type", "unit", "flat", "room", "policy", "restricted", "conference", "discussion", "strategy",
    "good", "afternoon", "morning", "evening", "regards", "kind", "many", "best", "wishes", "cheers", "yes", "no",
    "she's", "he's", "they're", "i'm", "i've", "we've", "it's", "that's", "there's", "can't", "won't", "don't",
    "gp", "dr", "urgent", "re", "fw", "fwd", "sent", "subject", "attached", "screenshot", "thank", "thanks",
    "also", "separately", "just", "still", "both", "all", "some", "any", "every", "each", "when", "if",
    "while", "since", "after", "before", "as", "so", "but", "because", "ward", "surgery", "practice",
    "primary", "academy", "health", "centre", "mental", "approved", "learning", "disabilities", "team's",
    "name", "surname", "title", "says", "said", "shows", "showing", "occupational", "therapist", "practitioner", "assessor", "adviser", "advisor", "coordinator", "assistant",
    "lead", "director", "nurse", "visitor", "consultant", "teacher", "head", "deputy", "principal", "matron",
    "senco", "dsl", "paediatrician", "psychiatrist", "psychologist", "administrator", "apprentice",
}


# words that end an organisation's name: the capitalised words before them are no person's name
ORG_BREAK = {"form", "practice", "surgery", "school", "academy", "centre", "hospital", "trust", "house", "home", "team",
             "service", "services", "hub", "council", "group", "unit", "college", "nursery", "pharmacy", "clinic"}


def find_postcode(text: str) -> str | None:
    """The first UK postcode, upper-case with one space ('ln6 9tg' -> 'LN6 9TG')."""
    for m in POSTCODE_RE.finditer(text):
        outward, inward = m.group(1).upper(), m.group(2).upper()
        if re.fullmatch(r"[A-Z]{1,2}\d[A-Z\d]?", outward):
            return f"{outward} {inward}"
    return None


def find_postcodes(text: str) -> list[tuple[str, int, int]]:
    return [(f"{m.group(1).upper()} {m.group(2).upper()}", m.start(), m.end()) for m in POSTCODE_RE.finditer(text)]


def find_phones(text: str) -> list[tuple[str, int]]:
    """(phone as written, position) for UK-style numbers."""
    out = []
    for m in PHONE_RE.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 10 <= len(digits) <= 13:
            out.append((" ".join(m.group(0).split()), m.start()))
    return out


def find_phone(text: str) -> str | None:
    found = find_phones(text)
    return found[0][0] if found else None


def find_emails(text: str) -> list[str]:
    return [e.lower().rstrip(".") for e in EMAIL_RE.findall(text)]


def find_email(text: str) -> str | None:
    found = find_emails(text)
    return found[0] if found else None


# where a written-out address starts inside a sentence: a flat or a house number before a street name
HOUSE_START_RE = re.compile(r"\b(?:Flat|Unit|Apartment|Room)\s+\d|\b\d{1,4}[A-Za-z]?,?\s+[A-Z]")
# a word of a sentence (not of a house name): the request's own words before the address
SENTENCE_WORD_RE = re.compile(r"\b(?!the\b)[a-z]{2,}\b")


def tidy(value: str) -> str:
    """Trim white space and trailing punctuation from a value taken out of a sentence."""
    value = " ".join(value.split())
    value = value.strip(" ,;:.-–—\"'“”‘’()")
    # 'Business Support (Boston)': the strip must not eat a bracket the value opened (see p2-29)
    return value + ")" if value.count("(") == value.count(")") + 1 and value.rfind("(") > value.rfind(")") else value


def _address_block(text: str) -> tuple[str, str | None] | None:
    """Consecutive short lines ending in a postcode line (a written-out address, see 003, 004)."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        pm = POSTCODE_RE.search(line)
        if not pm:
            continue
        postcode = f"{pm.group(1).upper()} {pm.group(2).upper()}"
        before = re.split(r"[:.?!]\s+|\s+-\s+", line[:pm.start()])[-1].strip(" ,")  # 'New address for PID 1: 3 Mill Lane'
        before = re.sub(r"^.*?\b(?:at|is|to|address)\s+(?=(?:Flat|Unit|Apartment)\b|\d)", "", before)  # 'Their office is at 8 ...'
        start = HOUSE_START_RE.search(before)  # 'Can you add 22 Tennyson Close, Lincoln' (see p2-12)
        if start and start.start() and SENTENCE_WORD_RE.search(before[:start.start()]):
            before = before[start.start():]
        elif not start and (at := list(re.finditer(r"\b(?:at|to|is|on)\s+(?=[A-Z])", before))) \
                and SENTENCE_WORD_RE.search(before[:at[-1].start()]):
            before = before[at[-1].end():]  # 'It opened in January at Northfield Road, Grantham' (p2-62)
        if len(before) > 50:
            continue
        block: list[str] = [before] if before else []
        j = i - 1
        while j >= 0 and lines[j].strip() and len(lines[j]) <= 45 and not lines[j].rstrip().endswith((":", "?", ".")) \
                and ":" not in lines[j] and len(block) < 5:
            block.insert(0, lines[j].strip(" ,"))
            j -= 1
        if block and (len(block) >= 2 or any(ch.isdigit() for ch in block[0])
                      or re.search(r"\b" + STREET_WORDS + r"\b,", block[0])):  # 'Travelodge, Lincoln Road, Newark' (p2-58)
            return ", ".join(block), postcode
    return None


def _address_lines_after_colon(text: str) -> str | None:
    """'... to her record:' then address lines without a postcode (thread 01 '27 Bell Lane / Horncastle')."""
    m = re.search(r"(?:address|record|to)[^\n]*:\s*\n((?:[^\n]{2,45}\n?){1,5})", text, re.I)
    if not m:
        return None
    lines = [ln.strip(" ,") for ln in m.group(1).split("\n") if ln.strip()]
    taken = []
    for ln in lines:
        if re.search(r"[.?!]$", ln) or len(ln.split()) > 6 or POSTCODE_RE.search(ln) or ":" in ln:
            break
        taken.append(ln)
    if taken and re.match(r"(Flat |Apartment )?\d", taken[0]) and len(taken) >= 2:
        return ", ".join(taken)
    return None


def _address_line_labels(text: str) -> str | None:
    """'Address line 1: ...', 'Address line 2: ...', 'Town: ...' form fields joined in order."""
    parts = [tidy(m.group(1)) for m in ADDRESS_LINE_LABEL_RE.finditer(text)]
    parts = [p for p in parts if p and not POSTCODE_RE.fullmatch(p)]
    return ", ".join(parts) if parts and any(ch.isdigit() for ch in parts[0]) else None


def find_address(text: str) -> str | None:
    """Street lines and town, without the postcode: labelled, a block of lines, or inline."""
    lines = _address_line_labels(text)
    if lines:
        return lines
    m = ADDRESS_LABEL_RE.search(text)
    if m:
        value = POSTCODE_RE.sub("", m.group(1))
        if value.strip(" ,"):
            return tidy(value)
    block = _address_block(text)
    if block:
        return tidy(block[0])
    lines_after = _address_lines_after_colon(text)
    if lines_after:
        return lines_after
    m = ADDRESS_IS_RE.search(text)
    if m:
        value = m.group(1)
        post = POSTCODE_RE.search(value)
        value = value[:post.start()] if post else re.split(r"\s+(?:and|but|so)\s+|[.;(](?:\s|$)", value)[0]
        if re.search(r"\d", value) and value.strip(" ,"):
            return tidy(value)
    for m in INLINE_ADDRESS_RE.finditer(text):
        if INLINE_NEEDS_NUMBER_RE.search(m.group(1)):
            return tidy(POSTCODE_RE.sub("", m.group(1)))
    m = BEFORE_POSTCODE_RE.search(text)  # 'at the Premier Hotel, 10 Ropewalk, Lincoln LN5 7XX'
    if m and re.search(r"\d", m.group(1)):
        return tidy(re.sub(r"^the\s+", "", m.group(1), flags=re.I))
    m = LOWER_ADDRESS_RE.search(text)  # phone mail in lower case: '2 elm rd, spalding pe11 2aa'
    return tidy(m.group(1)) if m else None


def find_street(text: str) -> str | None:
    """A street and town without a house number ('on Church Lane, Saxilby'): enough for an organisation."""
    m = STREET_ONLY_RE.search(text)
    return tidy(m.group(1)) if m else None


def person_names(text: str) -> list[tuple[str, int]]:
    """Capitalised two/three-word names with any title, as written ('Dr Helena Marsh')."""
    out: list[tuple[str, int]] = []
    for run in PERSON_NAME_RE.finditer(text):
        words = [(re.sub(r"['’]s$", "", w.group(0)), run.start() + w.start()) for w in re.finditer(r"\S+", run.group(0))]
        current: list[tuple[str, int]] = []
        title: tuple[str, int] | None = None
        for word, pos in words + [("", -1)]:
            is_title = bool(word) and re.fullmatch(TITLE, word) is not None
            if word and not is_title and (word.lower() not in NOT_NAME_WORDS or re.fullmatch(_PARTICLE, word)):
                current.append((word, pos))
                continue
            # 'Nettleham Medical' in 'Nettleham Medical Practice' is an organisation, not a person
            while current and re.fullmatch(_PARTICLE, current[-1][0]):
                current.pop()
            if 2 <= len([w for w, _ in current if not re.fullmatch(_PARTICLE, w)]) <= 3 and word.lower() not in ORG_BREAK \
                    and current[-1][0].lower() not in ORG_BREAK:
                first = title if title and title[1] + len(title[0]) + 1 == current[0][1] else None
                name = " ".join(w for w, _ in ([first] if first else []) + current)
                out.append((name, (first or current[0])[1]))
            current = []
            title = (word, pos) if is_title else None
    return out


def is_person_name(text: str) -> bool:
    """True where the whole text reads as one person's name ('Dan Wood', not "Children's Services")."""
    found = person_names(text.strip())
    return len(found) == 1 and found[0][0] == " ".join(text.split())


def flip_name(name: str | None) -> str | None:
    """'Pike, Lauren' -> 'Lauren Pike' (Outlook display names)."""
    if not name:
        return name
    name = re.sub(r"\s*\(.*?\)\s*", " ", name).strip()
    if name.count(",") == 1:
        last, first = (p.strip() for p in name.split(","))
        if first and last and len(first.split()) <= 3:
            return f"{first} {last}"
    return name
