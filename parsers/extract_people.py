"""Field extractors for people and organisations: worker account/details, organisation, professional."""
from __future__ import annotations

import re

from .classify import PROFESSIONS
from .context import Context, Found
from .dates import find_date_after, find_dates, iso
from .fields import (EMAIL_RE, NAME_TOKEN, TITLE, find_address, find_email, find_phones, find_postcode,
                     person_names, tidy)
from .sentences import sentences

_NAME = rf"((?:{TITLE}\s+)?{NAME_TOKEN}(?:\s+{NAME_TOKEN}){{1,2}})"
LABEL_RE = {
    key: re.compile(rf"^\s*[-*•]?\s*(?:{pattern})\s*:\s*(.+)$", re.I | re.M) for key, pattern in {
        "name": r"(?:full |worker(?:'s)? |staff |employee )?name",
        "job_title": r"job title|role|post|position",
        "team": r"team|service",
        "start_date": r"start(?:ing)? date|starts|start",
        "end_date": r"end date|leaving date|last (?:working )?day|finish(?:ing)? date",
        "email": r"e-?mail(?: address)?",
        "line_manager": r"(?:line )?manager",
        "organisation_name": r"organi[sz]ation(?: name)?|name of (?:the )?organi[sz]ation|provider(?: name)?|name",
        "organisation_type": r"(?:organi[sz]ation )?type",
        "phone": r"tel(?:ephone)?|phone(?: number)?|main (?:tele)?phone",
        "profession": r"profession|role|job title|occupation|position",
    }.items()}
TEAM_RE = re.compile(r"\b(?:in|to|join(?:ing|s)?|with|into|for) (?:the |our )?((?:[A-Z][\w'’&-]*\s+){0,6}(?:Team|Service|Hub|Unit)"
                     r"(?:\s+(?:\([A-Z][\w\s]*\)|[A-Z][\w'-]*)){0,3})")
JOB_TITLE_RE = re.compile(r"\b(?:he|she|they)(?:'s|’s| is| are| will be)\s+(?:an? |the )?((?:[A-Z][\w-]*\s?){1,4})"
                          r"|\bas (?:an? |the )?((?:[A-Z][\w-]*\s?){1,4})(?=\b)")
ROLE_WORDS = re.compile(r"\b(worker|officer|manager|practitioner|therapist|assessor|adviser|advisor|coordinator|co-ordinator|"
                        r"assistant|lead|director|head|nurse|administrator|apprentice|student|consultant|analyst|"
                        r"professional|reviewer|mentor|visitor|psychologist)\b", re.I)
START_RE = re.compile(r"\b(start(s|ing)?|join(s|ing)?|commenc\w+|first day|from)\b", re.I)
END_RE = re.compile(r"\b(leav(es|ing)|last (working )?day|finish(es|ing)?|end date|until|final day|from|effective)\b", re.I)
MANAGER_RE = re.compile(rf"\bmanager(?: there)? (?:is|will be)\s+{_NAME}|\breports? to\s+{_NAME}|\bmanaged by\s+{_NAME}")


def sender_full_name(ctx: Context) -> str | None:
    """The sender's name as they sign it (signature line matching the From name), else the From name."""
    name = ctx.sender_name
    if not name:
        return None
    tokens = [t.lower() for t in name.split()]
    for line in ctx.signature.split("\n"):
        words = re.sub(r"\(.*?\)", "", line).split()
        if 2 <= len(words) <= 4 and tokens and words[-1].lower() == tokens[-1] and not re.search(r"[\d@|:]", line):
            return " ".join(words)
    return name


def _label(key: str, text: str) -> str | None:
    m = LABEL_RE[key].search(text)
    return tidy(re.sub(r"\((?:me|myself)\)", "", m.group(1), flags=re.I)) if m else None


def _other_names(ctx: Context, text: str) -> list[str]:
    """Person names in `text` that are not the sender's own."""
    own = {t.lower() for t in (ctx.sender_name or "").split()}
    out = []
    for name, _pos in person_names(text):
        words = [w.lower() for w in name.split()]
        if own and words[-1] in own and len(own & set(words)) >= 2:
            continue
        out.append(name)
    return out


def _worker_action(text: str) -> str:
    if re.search(r"\bdual role|\bsecond (role|account)|\badditional role", text, re.I):
        return "dual_role"
    if re.search(r"\bleaver\b|\bnotice\b|\bleav(es|ing) (us|the council|the team)|\blast (working )?day|\bfinal working day|"
                 r"\b(clos|end|disabl|deactivat)\w* (down )?(her|his|their|the) (mosaic )?account|account (can|should|needs to|to) be (closed|ended)",
                 text, re.I):
        return "end"
    if re.search(r"\bnew starter|\bstarting with us|\bjoin(ing|s) (us|the)|\b(set up|create|new) [^.?!\n]{0,30}(account|login|user)\b"
                 r"|\bnew (social worker|member of staff|staff member|worker)\b", text, re.I):
        return "add"
    return "change"


def extract_worker_account(ctx: Context) -> Found:
    found = Found()
    text = ctx.text
    action = _worker_action(text)
    found.set("action", action, "action cue")
    own = re.search(r"\b(I've|I have|I'm|I am|I've been|my)\b[^.?!\n]{0,20}\b(moved|moving|appointed|promoted|details|"
                    r"job title|role|team)\b", text, re.I)
    name = _label("name", text)
    if not name:
        others = _other_names(ctx, text)
        third_person = bool(others) and re.search(r"\b(her|his|their|him|them|he|she)\b", text, re.I)
        if action == "change" and own and not third_person:
            name = sender_full_name(ctx)
        elif others:
            name = others[0]
        elif own:
            name = sender_full_name(ctx)
    found.set("worker_name", name, "worker name")
    team = _label("team", text)
    if not team and action in ("add", "dual_role"):
        m = TEAM_RE.search(text)
        team = tidy(m.group(1)) if m else None
    if action in ("add", "dual_role"):
        found.set("team", team, "team")
    if action == "add":
        title = _label("job_title", text)
        if not title:
            for m in JOB_TITLE_RE.finditer(text):
                cand = tidy(m.group(1) or m.group(2) or "")
                if cand and ROLE_WORDS.search(cand):
                    title = cand
                    break
        found.set("job_title", title, "job title")
        label = _label("start_date", text)
        dates = find_dates(label, ctx.date) if label else []
        start = dates[0] if dates else find_date_after(text, START_RE, ctx.date, window=80)
        if start:
            found.set("start_date", iso(start.value), "start date", start.text)
    if action == "end":
        label = _label("end_date", text)
        dates = find_dates(label, ctx.date) if label else []
        end = dates[0] if dates else find_date_after(text, END_RE, ctx.date, window=40)
        if end:
            found.set("end_date", iso(end.value), "end date", end.text)
    if action == "change":
        detail = [s.text for s in sentences(text)
                  if re.search(r"\b(moved|moving|move|transferr|appointed|promoted|job title|role|team|base|post|account|"
                               r"reactivat\w*|suspend\w*|status|permissions?|access)\b", s.text, re.I)]
        if detail:
            found.set("details", " ".join(detail[:2]), "change sentence", detail[0])
    manager = _label("line_manager", text)
    if not manager:
        m = MANAGER_RE.search(text)
        manager = next((g for g in m.groups() if g), None) if m else None
    found.set("line_manager", manager, "line manager")
    email = _label("email", text)
    email_m = EMAIL_RE.search(email or "") or re.search(r"\bemail (?:address )?(?:will be|is)\s+(" + EMAIL_RE.pattern + ")",
                                                        text, re.I)
    if email_m:
        found.set("worker_email", email_m.group(0).split()[-1].lower().rstrip("."), "worker email")
    return found


TITLES = r"(Mr|Mrs|Ms|Miss|Mx|Dr|Prof)"
DETAIL_PATTERNS = [
    ("title", re.compile(rf"\btitle\b[^.?!\n]{{0,30}}?\b(?:to|is now|should be|:)\s+{TITLES}\b", re.I)),
    ("first_name", re.compile(r"\bfirst name\b[^.?!\n]{0,20}?\b(?:to|is now|should be|:)\s+([A-Z][\w'-]+)")),
    ("surname", re.compile(r"\b(?:surname|last name|family name)\b[^.?!\n]{0,60}?\b(?:to|is now|will be|should be|:)\s+"
                           r"(?!Mosaic\b)([A-Z][\w'’-]+(?:-[A-Z][\w'-]+)?)")),
    ("mobile", re.compile(r"\bmobile(?: number| no\.?)?\b[^.?!\n\d]{0,25}?(?:to|is now|is|:)\s*((?:\+44\s?|0)7\d{3}\s?\d{3}\s?\d{3})", re.I)),
    ("phone", re.compile(r"\b(?:desk phone|phone|telephone|landline|direct line|work number|number)\b[^.?!\n\d]{0,25}?"
                         r"(?:to|is now|is|:)\s*((?:\+44\s?|0)\d{2,4}\s?\d{3,4}\s?\d{3,4})", re.I)),
    ("email", re.compile(r"\be-?mail(?: address)?\b[^.?!\n@]{0,30}?(?:to|is now|is|:)\s*(" + EMAIL_RE.pattern + ")", re.I)),
]
FROM_TO_RE = re.compile(rf"\bfrom {_NAME} to {_NAME}")
UNDER_RE = re.compile(rf"\b(?:under|as|on behalf of|for)\s+{_NAME}")


def find_changes(text: str) -> dict[str, str]:
    """Field -> new value for the contact/name changes a text asks for."""
    changes: dict[str, str] = {}
    for key, pattern in DETAIL_PATTERNS:
        m = pattern.search(text)
        if m and key not in changes:
            value = m.group(1).strip()
            changes[key] = value.lower() if key == "email" else value
    if "mobile" in changes and changes.get("phone") == changes["mobile"]:
        del changes["phone"]
    return changes


def extract_worker_details(ctx: Context) -> Found:
    found = Found()
    text = ctx.text
    changes = find_changes(text)
    name = None
    m = FROM_TO_RE.search(text)
    if m:
        old, new = m.group(1).split(), m.group(2).split()
        name = m.group(1)
        if old[:-1] == new[:-1]:
            changes.setdefault("surname", new[-1])
        elif old[-1] == new[-1]:
            changes.setdefault("first_name", " ".join(new[:-1]))
    if not name:
        m = UNDER_RE.search(text)
        name = m.group(1) if m else None
    if not name:
        others = _other_names(ctx, text)
        own = re.search(r"\b(my|I've|I have|I'm)\b", text)
        name = others[0] if others and not (own and not re.search(r"\b(her|his|their)\b", text)) else None
    if not name:
        name = sender_full_name(ctx)
    found.set("worker_name", name, "worker name")
    found.set("changes", changes, "change values")
    return found


ORG_NOUNS = (r"(?:Surgery|Medical Practice|Practice|Health Centre|Medical Centre|Primary School|Secondary School|Infant School|"
             r"Junior School|School|Academy|College|Children's Home|Care Home|Nursing Home|House|Home|Pharmacy|Trust|Hospital|"
             r"Clinic|Centre|Partnership|Neighbourhood Team|Ltd|Limited)")
ORG_RE = re.compile(r"\b((?:[A-Z][\w'’&-]*\s+){1,4}" + ORG_NOUNS + r")\b")
ORG_EXCLUDE_BEFORE = re.compile(r"\b(joined|part of|run by|member of|of the|operated by|formerly|now)\s+(the\s+)?$", re.I)
RENAME_RE = re.compile(r"\b(?:name is now|renamed(?: to| as)?|new name is|now (?:called|known as)|will be known as|"
                       r"name (?:has )?changed to|changing (?:our|its) name to)\s+(?:the\s+)?((?:[A-Z][\w'’&-]*\s*){1,6})")
ORG_TYPES = re.compile(r"\b(GP surgery|GP practice|children's home|care home|nursing home|residential home|pharmacy|dental practice|"
                       r"health centre|primary school|secondary school|school|academy|hospice|supported living)\b", re.I)
NEW_VALUE_CUE = re.compile(r"\b(change to|changed to|is now|will be|new (?:number|phone|email)(?: is)?|now)\b", re.I)


def _org_names(text: str) -> list[str]:
    out = []
    for m in ORG_RE.finditer(text):
        name = re.sub(r"^(?:A|An|Our|His|Her|Their|New|Please|Could|Can|Dear|Hi)\s+", "", m.group(1))
        if ORG_EXCLUDE_BEFORE.search(text[max(0, m.start() - 20):m.start()]) or len(name.split()) < 2:
            continue
        out.append(name.strip())
    return list(dict.fromkeys(out))


def _new_phone(text: str) -> str | None:
    """The phone number a change introduces: after 'change to'/'is now', never the old one."""
    for phone, pos in find_phones(text):
        before = text[max(0, pos - 40):pos]
        if re.search(r"\bold\b|\bprevious\b|\bcurrent\b", before, re.I) and not NEW_VALUE_CUE.search(before[-15:]):
            continue
        if NEW_VALUE_CUE.search(before):
            return phone
    return None


def extract_organisation(ctx: Context) -> Found:
    found = Found()
    text = ctx.text
    rename = RENAME_RE.search(text)
    create = re.search(r"\b(create|created|set up|add(ed)?|new)\b|\bnot (yet )?on mosaic|isn'?t on mosaic", text, re.I)
    change = rename or re.search(r"\b(change|changed|update|updated|will change|is now|has moved)\b", text, re.I)
    action = "change" if change and (rename or not re.search(r"\b(create|set up)\b|isn'?t on mosaic|not (yet )?on mosaic",
                                                                  text, re.I)) else "create" if create else "change"
    found.set("action", action, "action cue")
    name = _label("organisation_name", text)
    new_name = tidy(rename.group(1)) if rename else None
    if not name:
        names = [n for n in _org_names(text) if n != new_name]
        name = names[0] if names else None
    found.set("organisation_name", name, "organisation name")
    otype = _label("organisation_type", text)
    if not otype:
        m = ORG_TYPES.search(re.sub(re.escape(name), " ", text) if name else text)
        otype = m.group(1) if m else None
    found.set("organisation_type", otype, "organisation type")
    if action == "create":
        address = find_address(text)
        if address and name and address.lower().startswith(name.lower()):
            address = address[len(name):].lstrip(" ,") or None  # the name line heads the address block
        found.set("address", address, "address")
        found.set("postcode", find_postcode(text), "postcode")
        label = _label("phone", text)
        phones = find_phones(label or text)
        found.set("phone", phones[0][0] if phones else None, "phone")
    else:
        changes: dict[str, str] = {}
        if new_name:
            changes["organisation_name"] = new_name
        phone = _new_phone(text)
        if phone:
            changes["phone"] = phone
        email = re.search(r"\be-?mail[^.?!\n@]{0,30}?(?:to|is now|:)\s*(" + EMAIL_RE.pattern + ")", text, re.I)
        if email:
            changes["email"] = email.group(1).lower()
        if re.search(r"\b(moved|moving|new address|address (is|will be) now)\b", text, re.I):
            address, postcode = find_address(text), find_postcode(text)
            if address:
                changes["address"] = address
            if postcode:
                changes["postcode"] = postcode
        found.set("changes", changes, "change values")
    return found


PROFESSION_RE = re.compile(r"\b" + PROFESSIONS + r"\b", re.I)
ORG_NEEDED_RE = re.compile(r"\bcouldn'?t find (?:her|his|their|the)\b[^.?!\n]{0,40}\b(organisations?|on mosaic)\b|"
                           r"\b(?:organisation|surgery|practice|team|school)\b[^.?!\n]{0,30}\b(?:isn'?t|is not|not) on mosaic|"
                           r"\bmay not (?:exist|be on mosaic)|\bnot sure (?:if|whether) (?:the|her|his) [^.?!\n]{0,30}\bexists?\b",
                           re.I)


def _profession_near(text: str, name: str | None) -> str | None:
    if name and name in text:
        at = text.index(name)
        paren = re.match(r"\s*\(([^)]{2,40})\)", text[at + len(name):])
        if paren and PROFESSION_RE.search(paren.group(1)):
            return tidy(paren.group(1))
        found = [(abs(m.start() - at), m.group(0)) for m in PROFESSION_RE.finditer(text)]
        if found:
            return min(found)[1]
    m = PROFESSION_RE.search(text)
    return m.group(0) if m else None


def extract_professional(ctx: Context) -> Found:
    found = Found()
    text = ctx.text
    create = re.search(r"\b(add|added|set up|create|created|new)\b", text, re.I)
    change = re.search(r"\b(update|change|changed|is now|has changed|new (number|email|phone))\b", text, re.I)
    action = "change" if change and not (create and re.search(r"\b(add|set up|create)\w*\b[^.?!\n]{0,40}\bprofessional", text, re.I)) \
        and not re.search(r"\bnew (health visitor|gp|teacher|professional|doctor)", text, re.I) else "create"
    found.set("action", action, "action cue")
    names = _other_names(ctx, text)
    titled = [n for n in names if re.match(TITLE, n)]
    name = (titled or names or [None])[0]
    found.set("professional_name", name, "professional name")
    found.set("profession", _label("profession", text) or _profession_near(text, name), "profession")
    org = None
    m = re.search(r"\b(?:at|linked to|from|with|based at|works for)\s+(?:the\s+)?((?:[A-Z][\w'’&-]*\s+){0,4}" + ORG_NOUNS + r")\b", text)
    if m:
        org = m.group(1)
    if not org:
        for line_no, line in enumerate(lines := text.split("\n")):
            if PROFESSION_RE.fullmatch(line.strip()) and line_no + 1 < len(lines):
                nxt = lines[line_no + 1].strip()
                if nxt and nxt[0].isupper() and not re.search(r"\d|@|:", nxt):
                    org = nxt
                break
    if not org:
        orgs = _org_names(text)
        org = orgs[0] if orgs else None
    found.set("organisation_name", org, "organisation")
    if action == "create":
        phones = find_phones(text)
        found.set("phone", phones[0][0] if phones else None, "phone")
        found.set("email", find_email(text), "email")
    else:
        changes = {k: v for k, v in find_changes(text).items() if k in ("phone", "mobile", "email")}
        if "phone" not in changes and (phone := _new_phone(text)):
            changes["phone"] = phone
        if "email" not in changes:
            m = re.search(r"\be-?mail(?: address)?\b[^.?!\n@]{0,30}?(?:changed to|is now|to)\s*(" + EMAIL_RE.pattern + ")", text, re.I)
            if m:
                changes["email"] = m.group(1).lower()
        found.set("changes", changes, "change values")
    if ORG_NEEDED_RE.search(ctx.whole_text or text):
        found.notes.append("organisation_request_needed")
    return found
