"""Knowledge capture (知识总结): an article draft made from one or more resolved tickets.

The draft is prefilled with the symptom, cause, solution steps and products of the
tickets, with personal data taken out (names, phone numbers, e-mail addresses via
`kb.pii`, and the customer's organisation); the author gets the list of what was
removed. The draft is linked back to its tickets (`ticket_articles`, relation 'source').
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from kb.article_workflow import create_article
from kb.desk import iso
from kb.errors import Forbidden, InvalidInput
from kb.pii import strip_pii
from kb.ticket_access import visible_ticket
from kb.tickets import INDEXABLE_STATUSES
from kb.visibility import Viewer

MAX_SOURCE_TICKETS = 20
SOURCE_RELATION = "source"
TEXT_FIELDS = ("title", "description", "root_cause", "resolution")
HEADINGS = {
    "zh": ("症状", "原因", "解决步骤", "适用范围"),
    "en": ("Symptoms", "Cause", "Solution", "Applies to"),
    "mixed": ("症状 / Symptoms", "原因 / Cause", "解决步骤 / Solution", "适用范围 / Applies to"),
}
TO_FILL = {"zh": "（待补充）", "en": "(to be filled in)", "mixed": "（待补充 / to be filled in）"}
ORGANISATION = {"zh": "[客户单位]", "en": "[organisation]"}
SENTENCE_END = re.compile(r"(?<=[。；！？;!?])|(?<=\.)\s+(?=[A-Z0-9])")


@dataclass(frozen=True)
class Removed:
    """One piece of personal data left out of the draft, and where it came from."""

    ticket: str  # ticket number
    field: str
    kind: str  # email | phone | name | organisation
    text: str


@dataclass(frozen=True)
class ComposedDraft:
    """Article fields made from tickets, and what was removed from them."""

    fields: dict[str, Any]
    removed: list[Removed]


def clean_ticket(ticket: dict[str, Any], staff_names: Iterable[str]) -> tuple[dict[str, str], list[Removed]]:
    """The ticket's text fields without personal data, and each removal.

    Two passes: a name found by context in one field (客户张琳反映 ...) is removed from every field,
    also where no context gives it away (我是张琳).
    """
    names = [n for n in (ticket.get("requester"), ticket.get("contact"), *staff_names)
             if n and not re.search(r"[\d@]", n)]
    found = {r.text for field in TEXT_FIELDS for r in strip_pii(ticket.get(field) or "", names).removals
             if r.kind == "name"}
    names += sorted(found - set(names))
    cleaned, removed = {}, []
    for field in TEXT_FIELDS:
        stripped = strip_pii(ticket.get(field) or "", names)
        removed += [Removed(ticket["number"], field, r.kind, r.text) for r in stripped.removals]
        cleaned[field], found = _without_organisation(stripped.text, ticket.get("organisation"))
        removed += [Removed(ticket["number"], field, "organisation", text) for text in found]
    return cleaned, removed


def _without_organisation(text: str, organisation: str | None) -> tuple[str, list[str]]:
    if not organisation or len(organisation.strip()) < 2 or organisation not in text:
        return text, []
    placeholder = ORGANISATION["zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"]
    return text.replace(organisation, placeholder), [organisation] * text.count(organisation)


def compose_draft(tickets: Sequence[dict[str, Any]], staff_names: Iterable[str] = ()) -> ComposedDraft:
    """Article fields (title, body, product, category, tags, language) from resolved tickets."""
    staff = list(staff_names)
    cleaned, removed = [], []
    for ticket in tickets:
        text, found = clean_ticket(ticket, staff)
        cleaned.append(text)
        removed += found
    language = _language(tickets)
    title = cleaned[0]["title"].strip()
    body = _body(title, tickets, cleaned, language)
    tags = list(dict.fromkeys([*(c for t in tickets for c in t.get("error_codes") or []),
                               *(t["problem_type"] for t in tickets if t.get("problem_type"))]))
    fields = {"title": title, "body": body, "product": _most_common(tickets, "product"),
              "category": _most_common(tickets, "category"), "tags": tags[:20],
              "language": language}
    return ComposedDraft(fields=fields, removed=removed)


def _body(title: str, tickets: Sequence[dict[str, Any]], cleaned: list[dict[str, str]], language: str) -> str:
    symptom, cause, solution, scope = HEADINGS[language]
    symptoms = [f"- {_one_line(c['description'] or c['title'])}" for c in cleaned]
    codes = list(dict.fromkeys(code for t in tickets for code in t.get("error_codes") or []))
    if codes:
        symptoms.append(f"- {'错误代码' if language != 'en' else 'Error codes'}: {', '.join(f'`{c}`' for c in codes)}")
    causes = list(dict.fromkeys(_one_line(c["root_cause"]) for c in cleaned if c["root_cause"].strip()))
    steps = list(dict.fromkeys(s for c in cleaned for s in split_steps(c["resolution"])))
    applies = list(dict.fromkeys(v for t in tickets for v in (t.get("product"), t.get("module"), t.get("version"),
                                                             t.get("asset_model")) if v))
    lines = [f"# {title}", "", f"## {symptom}", "", *symptoms, "", f"## {cause}", "",
             *([f"- {c}" for c in causes] or [TO_FILL[language]]), "", f"## {solution}", "",
             *([f"{n}. {s}" for n, s in enumerate(steps, 1)] or [TO_FILL[language]]), "", f"## {scope}", "",
             *([f"- {a}" for a in applies] or [TO_FILL[language]])]
    return "\n".join(lines) + "\n"


def split_steps(resolution: str) -> list[str]:
    """A resolution text as steps: one per sentence (Chinese or English punctuation)."""
    parts = (p.strip(" \n\t；;") for p in SENTENCE_END.split(resolution or ""))
    return [_one_line(p) for p in parts if p]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _language(tickets: Sequence[dict[str, Any]]) -> str:
    counts = Counter(t.get("language") for t in tickets if t.get("language") in HEADINGS)
    if not counts:
        return "mixed"
    (top, n), *rest = counts.most_common()
    return top if not rest or n > rest[0][1] else "mixed"


def _most_common(tickets: Sequence[dict[str, Any]], field: str) -> str | None:
    counts = Counter(t.get(field) for t in tickets if t.get(field))
    return counts.most_common(1)[0][0] if counts else None


def draft_from_tickets(db: sqlite_utils.Database, ticket_ids: Sequence[int], actor: Viewer, now: datetime,
                       audience: str = "internal") -> dict[str, Any]:
    """Create a draft from resolved tickets; returns the article, its tickets and what was removed.

    The draft is `internal` unless asked otherwise: a reviewer decides whether customers see it.
    """
    if not actor.can("articles.write"):
        raise Forbidden(f"role {actor.role} cannot write articles")
    ids = list(dict.fromkeys(ticket_ids))
    if not 1 <= len(ids) <= MAX_SOURCE_TICKETS:
        raise InvalidInput(f"give 1 to {MAX_SOURCE_TICKETS} ticket ids; got {len(ids)}")
    tickets = [visible_ticket(db, ticket_id, actor) for ticket_id in ids]
    unresolved = [f"{t['number']} ({t['status']})" for t in tickets if t["status"] not in INDEXABLE_STATUSES]
    if unresolved:
        raise InvalidInput(f"only resolved or closed tickets can become an article: {', '.join(unresolved)}")
    composed = compose_draft(tickets, _known_people(db, tickets))
    summary = dict(Counter(r.kind for r in composed.removed))
    article = create_article(db, {**composed.fields, "audience": audience}, actor, now, action="drafted",
                             data={"tickets": [t["number"] for t in tickets], "removed": summary})
    for ticket in tickets:
        db.table("ticket_articles").insert({"ticket_id": ticket["id"], "article_id": article["id"],
                                            "relation": SOURCE_RELATION, "created_at": iso(now)}, replace=True)
    return {"article": article, "tickets": [{"id": t["id"], "number": t["number"], "title": t["title"]}
                                            for t in tickets],
            "removed": [asdict(r) for r in composed.removed], "removed_counts": summary}


def _known_people(db: sqlite_utils.Database, tickets: Sequence[dict[str, Any]]) -> list[str]:
    """Names of the staff, and of the accounts the tickets name (requester, creator, assignee)."""
    usernames = sorted({t.get(k) for t in tickets for k in ("requester", "created_by", "assignee") if t.get(k)})
    rows = db.execute("SELECT display_name FROM members UNION SELECT display_name FROM users"
                      f" WHERE username IN ({','.join('?' * len(usernames))})", usernames)
    return [r[0] for r in rows if r[0]]
