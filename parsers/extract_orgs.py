"""Field extractors for organisations and professionals: create or change, names, contacts, changes."""
from __future__ import annotations

import re

from .classify import PROFESSIONS
from .context import Context, Found
from .extract_people import _label, _other_names, find_changes, sender_full_name
from .fields import EMAIL_RE, TITLE, find_address, find_email, find_phones, find_postcode, find_street, tidy

ORG_NOUNS = (r"(?:Health Services|Healthcare|Health Care|Offending Service|Youth Service|Food Bank|Project|Network|Sixth Form|Police|Constabulary|Protection Unit|Surgery|Supported Living|Nursery|Pre-School|Hospice|Agency|Foundation|Association|Charity|Medical Group|Health Group|Group Practice|Medical Practice|Practice|Health Centre|Medical Centre|Primary School|Secondary School|Infant School|"
             r"Junior School|School|Academy|College|Children's Home|Care Home|Nursing Home|House|Home|Pharmacy|Trust|Hospital|"
             r"Clinic|Centre|Partnership|Neighbourhood Team|Ltd|Limited)")
# 'Saxilby Church of England Primary School': capitalised words, with the small words names use
ORG_RE = re.compile(r"\b((?:[A-Z][\w'’&-]*[ \t]+(?:(?:of|and|on|upon|de|la)[ \t]+)?){1,5}" + ORG_NOUNS + r")\b")
NAMED_FOR_CREATION_RE = re.compile(r"\b(?:can|could|please|would)\s+(?:you\s+)?(?:please\s+)?(?:the\s+)?((?:[A-Z][\w'’&-]*\s+){1,6}?)"
                                   r"(?:please\s+)?(?:be\s+)?(?:created|set up|added)\b[^.?!\n]{0,25}\bas (?:an|a new) organisation")
ORG_EXCLUDE_BEFORE = re.compile(r"\b(joined|part of|run by|member of|of the|operated by|formerly|now)\s+(the\s+)?$", re.I)
RENAME_RE = re.compile(r"\b(?:name is now|renamed(?: to| as)?|new name is|now (?:called|known as)|will be known as|"
                       r"has become|will become|is becoming|"
                       r"name (?:has )?changed to|changing (?:our|its) name to)\s+(?:the\s+)?"
                       r"((?:[A-Z][\w'’&-]*(?:\s+(?:of|and|on|upon|in)(?=\s+[A-Z]))?\s*){1,8})")
ORG_TYPES = re.compile(r"\b(?:a|an|new|is a|as a)\s+(?:new\s+)?(GP surgery|GP practice|children's home|care home|nursing home|residential home|pharmacy|dental practice|"
                       r"health centre|primary school|secondary school|school|academy|hospice|supported living)\b", re.I)
# 'new main phone number: ...', 'new office email is ...' (see p2-13)
NEW_VALUE_CUE = re.compile(r"\b(change to|changed to|is now|will be|new (?:[a-z]+ ){0,2}(?:number|phone|telephone|email|e-mail|line)"
                           r"(?: number)?(?: is)?|now)\b", re.I)


def _org_names(text: str) -> list[str]:
    out = []
    for m in ORG_RE.finditer(text):
        name = re.sub(r"^(?:A|An|Our|His|Her|Their|New|Please|Could|Can|Dear|Hi)\s+", "", m.group(1))
        two = re.match(r"(.+?\b" + ORG_NOUNS + r")\s+and\s+", name)  # 'Welton Surgery and Nettleham Surgery'
        name = two.group(1) if two else name
        if ORG_EXCLUDE_BEFORE.search(text[max(0, m.start() - 20):m.start()]) or len(name.split()) < 2:
            continue
        out.append(name.strip())
    return list(dict.fromkeys(out))


# 'has changed its phone number to 01205 444555' (see p2-33)
CHANGED_TO_RE = re.compile(r"\b(changed|changing|change|updated?|moved)\b[^.?!\n]{0,60}\bto\s*:?\s*$", re.I)


def _new_phone(text: str) -> str | None:
    """The phone number a change introduces: after 'change to'/'is now', never the old one."""
    for phone, pos in find_phones(text):
        before = text[max(0, pos - 40):pos]
        if re.search(r"\bold\b|\bprevious\b|\bcurrent\b", before, re.I) and not NEW_VALUE_CUE.search(before[-15:]):
            continue
        if NEW_VALUE_CUE.search(before) or CHANGED_TO_RE.search(text[max(0, pos - 90):pos]):
            return phone
    return None


def extract_organisation(ctx: Context) -> Found:
    found = Found(ctx.text)
    text = ctx.text
    rename = RENAME_RE.search(text)
    create = re.search(r"\b(creat\w*|set up|add(ed)?|new)\b|\bnot (yet )?on mosaic|isn'?t on mosaic", text, re.I)
    change = rename or re.search(r"\b(change|changed|update|updated|amend|amended|will change|is now|has moved|"
                                 r"(will|is|are) (be )?(mov|relocat)\w*|relocat\w+|new premises)\b", text, re.I)
    create_strong = re.search(r"\b(creat\w*|set up)\b|isn'?t on mosaic|not (yet )?on mosaic|\bnew organisation\b", text, re.I)
    action = "change" if change and (rename or not create_strong) else "create" if create else "change"
    found.set("action", action, "action cue")
    name = _label("organisation_name", text)
    new_name = tidy(rename.group(1)) if rename else None
    if not name and (named := NAMED_FOR_CREATION_RE.search(text)):  # 'can X be created as an organisation'
        name = tidy(named.group(1))
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
        address = find_address(text) or find_street(text)
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
        if re.search(r"\b(moved|moving|relocat\w*|new address|address (is|will be) now|update the (organisation's )?address|"
                     r"change of address)\b", text, re.I):
            address, postcode = find_address(text), find_postcode(text)
            if address:
                changes["address"] = address
            if postcode:
                changes["postcode"] = postcode
        found.set("changes", changes, "change values")
    return found


SELF_PROFESSIONAL_RE = re.compile(r"\bI(?:'m| am) (?:an? |the )?(?:" + PROFESSIONS + r")\b|\bmy (?:email|e-mail|phone|number|details) on "
                                  r"(?:your|the) professional record\b|\bmy professional record\b", re.I)
GP_PLACE_RE = re.compile(r"\b(Surgery|(Medical|Family|Group|Health) (Practice|Group|Centre)|Health Centre|GP practice)\b")
PROFESSION_RE = re.compile(r"\b" + PROFESSIONS + r"\b", re.I)
# the organisation may not exist in Mosaic yet (see 020): the acknowledgement says one is needed
ORG_NEEDED_RE = re.compile(r"\b(?:couldn'?t|could not|can'?t|cannot) (?:find|see)\b[^.?!\n]{0,50}\b(organisations?|on mosaic|in mosaic|"
                           r"on the system)\b|"
                           r"\b(?:organisation|surgery|practice|team|school|centre|home|trust)\b[^.?!\n]{0,30}\b(?:isn'?t|is not|not|"
                           r"doesn'?t seem to be|does not seem to be)( yet)? (on|in) mosaic|"
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


def _professional_name(text: str, names: list[str]) -> str | None:
    """The named person most like a professional: 'Dr ...', then the one beside a profession, then any."""
    def rank(item: tuple[int, str]) -> tuple[int, int]:
        order, name = item
        at = text.find(name)
        near = any(abs(m.start() - at) <= len(name) + 40 for m in PROFESSION_RE.finditer(text)) if at >= 0 else False
        doctor = name.startswith(("Dr ", "Dr. ", "Prof "))
        service_user = bool(re.match(r"(Mr|Mrs|Ms|Miss|Master)\b", name)) and not near
        return (0 if doctor else 1 if near else 3 if service_user else 2, order)
    return min(enumerate(names), key=rank)[1] if names else None


def extract_professional(ctx: Context) -> Found:
    found = Found(ctx.text)
    text = ctx.text
    if ctx.forwarded_signature and ctx.text == ctx.whole_text:
        # 'details in her signature below': the forwarded author is the professional (see h110)
        text = f"{text}\n\n{ctx.forwarded_signature}"
    create = re.search(r"\b(add|added|set up|create|created|new)\b", text, re.I)
    change = re.search(r"\b(update\w*|change|changed|is now|has changed|has moved|new (number|email|phone))\b", text, re.I)
    action = "change" if change and not (create and re.search(r"\b(add|set up|create)\w*\b[^.?!\n]{0,40}\bprofessional", text, re.I)) \
        and not re.search(r"\bnew (health visitor|gp|teacher|professional|doctor)", text, re.I) else "create"
    found.set("action", action, "action cue")
    name = _label("name", text) or _professional_name(text, _other_names(ctx, text))
    if not name and (titled := re.search(r"\b(?:Dr|Prof)\.? [A-Z][a-z'’-]+\b", text)):
        name = titled.group(0)  # 'Dr Lewis at Sleaford Medical Group': a doctor named by title and surname
    if not name and SELF_PROFESSIONAL_RE.search(text):
        name = sender_full_name(ctx)  # 'I am a GP at ...': the professional writes about themself (heldout 018)
    found.set("professional_name", name, "professional name")
    profession = _label("profession", text) or _profession_near(text, name)
    if not profession and (m := PROFESSION_RE.search(ctx.subject)):
        profession = m.group(0)  # 'Subject: Update GP number' (probe: the body names only 'Dr X')
    if not profession and name and name.startswith("Dr") and GP_PLACE_RE.search(text):
        profession = "GP"  # a doctor at a surgery or medical practice is the GP
    found.set("profession", profession, "profession")
    org = _label("workplace", text)
    if org:
        org = re.split(r",\s*(?=[A-Z][a-z]+$)", org)[0]  # 'Smile Dental Care, Boston' -> the name, not the town
    m = None if org else re.search(r"\b(?:at|linked to|from|with|based at|works for)[ \t]+(?:the[ \t]+)?((?:[A-Z][\w'’&-]*[ \t]+){0,4}"
                                   + ORG_NOUNS + r")\b", text)
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
        changes = {k: v for k, v in find_changes(text).items()
                   if k in ("phone", "mobile", "email", "surname", "first_name", "title")}
        moved = re.search(r"\b(?:moved|moving|transferred|gone) (?:from [^.?!\n]{0,60}? )?to (?:the )?((?:[A-Z][\w'’&-]*[ \t]+){0,4}"
                          + ORG_NOUNS + r")\b", text)
        if moved:  # 'has moved from Ruskington Primary to Sleaford Academy'
            changes["organisation_name"] = moved.group(1)
        if "phone" not in changes and (phone := _new_phone(text)):
            changes["phone"] = phone
        if "email" not in changes:
            m = re.search(r"\be-?mail(?: address)?\b[^.?!\n@]{0,30}?(?:changed to|is now|to|new e-?mail(?: address)?[,:]?)\s*("
                          + EMAIL_RE.pattern + r")|\bnew (?:e-?mail(?: address)?|one|address)(?: is| will be)?[,:]?\s*("
                          + EMAIL_RE.pattern + ")", text, re.I)
            if m:
                changes["email"] = (m.group(1) or m.group(2)).lower()
        found.set("changes", changes, "change values")
    if ORG_NEEDED_RE.search(ctx.whole_text or text):
        found.notes.append("organisation_request_needed")
    return found
