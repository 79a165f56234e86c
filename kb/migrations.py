"""Numbered schema migrations, each applied in its own transaction."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

from kb.lifecycle_defaults import DEFAULT_PRIORITY_MATRIX, DEFAULT_SLA_POLICIES, DEFAULT_TRANSITIONS
from kb.permissions import DEFAULT_ROLE_PERMISSIONS

MIGRATIONS = Migrations("casewise")


def _run_each(db: sqlite_utils.Database, script: str) -> None:
    """Execute statements one by one: `executescript` would COMMIT the migration's transaction."""
    for statement in _split_statements(script):
        db.execute(statement)


def _split_statements(script: str) -> list[str]:
    statements, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current).strip()
        inside_trigger = text.upper().startswith("CREATE TRIGGER") and not text.upper().endswith("END;")
        if text.endswith(";") and not inside_trigger:
            statements.append(text)
            current = []
    if "".join(current).strip():
        statements.append("\n".join(current))
    return statements


@MIGRATIONS(name="0001_initial")
def m0001_initial(db: sqlite_utils.Database) -> None:
    """Tickets, articles and versions, chunks, the index outbox and the audit trail."""
    _run_each(
        db,
        """
        CREATE TABLE tickets (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            number TEXT NOT NULL UNIQUE,
            external_ref TEXT UNIQUE,
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            product TEXT,
            module TEXT,
            version TEXT,
            category TEXT,
            problem_type TEXT,
            priority TEXT NOT NULL DEFAULT 'normal',
            impact TEXT,
            urgency TEXT,
            status TEXT NOT NULL DEFAULT 'new',
            channel TEXT,
            requester TEXT,
            contact TEXT,
            organisation TEXT,
            asset_model TEXT,
            asset_serial TEXT,
            error_codes TEXT NOT NULL DEFAULT '[]',
            team TEXT,
            assignee TEXT,
            escalated INTEGER NOT NULL DEFAULT 0,
            onsite_visit INTEGER NOT NULL DEFAULT 0,
            language TEXT,
            resolution TEXT,
            root_cause TEXT,
            satisfaction INTEGER,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            resolved_at TEXT,
            closed_at TEXT
        );
        CREATE INDEX tickets_status ON tickets(status);
        CREATE TABLE ticket_sequences (
            day TEXT PRIMARY KEY,
            last_value INTEGER NOT NULL
        );
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            slug TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL,
            product TEXT,
            category TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            language TEXT,
            status TEXT NOT NULL DEFAULT 'draft',
            audience TEXT NOT NULL DEFAULT 'public',
            body TEXT NOT NULL,
            current_version INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE article_versions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            article_id INTEGER NOT NULL REFERENCES articles(id),
            version INTEGER NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            front_matter TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            UNIQUE(article_id, version)
        );
        CREATE TABLE chunks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('ticket', 'article')),
            entity_id INTEGER NOT NULL,
            position INTEGER NOT NULL,
            heading_path TEXT NOT NULL DEFAULT '[]',
            anchor TEXT,
            line_start INTEGER,
            line_end INTEGER,
            text TEXT NOT NULL,
            terms TEXT NOT NULL
        );
        CREATE INDEX chunks_entity ON chunks(kind, entity_id);
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            entity_type TEXT NOT NULL CHECK (entity_type IN ('ticket', 'article')),
            entity_id INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE index_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE audit_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            entity_type TEXT NOT NULL,
            entity_id INTEGER NOT NULL,
            action TEXT NOT NULL,
            actor TEXT NOT NULL,
            at TEXT NOT NULL,
            changes TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX audit_entity ON audit_events(entity_type, entity_id);
        CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
        CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
        INSERT INTO index_state (key, value) VALUES ('database_id', lower(hex(randomblob(16))));
        """,
    )


@MIGRATIONS(name="0002_chunk_latin_share")
def m0002_chunk_latin_share(db: sqlite_utils.Database) -> None:
    """Share of Latin letters per chunk: only chunks with English text get English-model vectors."""
    db.execute("ALTER TABLE chunks ADD COLUMN latin_share REAL NOT NULL DEFAULT 0")


@MIGRATIONS(name="0003_ticket_lifecycle")
def m0003_ticket_lifecycle(db: sqlite_utils.Database) -> None:
    """Intake fields, SLA clocks, teams and rules, transitions as data, comments, visits, surveys."""
    _run_each(db, _TICKET_COLUMNS + _LIFECYCLE_TABLES)
    _seed_lifecycle(db)


_TICKET_COLUMNS = """
ALTER TABLE tickets ADD COLUMN happened_at TEXT;
ALTER TABLE tickets ADD COLUMN environment TEXT;
ALTER TABLE tickets ADD COLUMN steps_to_reproduce TEXT;
ALTER TABLE tickets ADD COLUMN last_service_at TEXT;
ALTER TABLE tickets ADD COLUMN created_by TEXT;
ALTER TABLE tickets ADD COLUMN priority_reason TEXT;
ALTER TABLE tickets ADD COLUMN tier TEXT;
ALTER TABLE tickets ADD COLUMN reopen_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN waiting_reason TEXT;
ALTER TABLE tickets ADD COLUMN waiting_note TEXT;
ALTER TABLE tickets ADD COLUMN escalation_reason TEXT;
ALTER TABLE tickets ADD COLUMN rnd_request TEXT;
ALTER TABLE tickets ADD COLUMN close_reason TEXT;
ALTER TABLE tickets ADD COLUMN cancel_reason TEXT;
ALTER TABLE tickets ADD COLUMN merged_into INTEGER REFERENCES tickets(id);
ALTER TABLE tickets ADD COLUMN first_response_at TEXT;
ALTER TABLE tickets ADD COLUMN response_due_at TEXT;
ALTER TABLE tickets ADD COLUMN resolution_due_at TEXT;
ALTER TABLE tickets ADD COLUMN sla_paused_minutes REAL NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN sla_paused_since TEXT;
ALTER TABLE tickets ADD COLUMN response_sla TEXT;
ALTER TABLE tickets ADD COLUMN resolution_sla TEXT;
ALTER TABLE tickets ADD COLUMN shown_suggestions TEXT;
ALTER TABLE audit_events ADD COLUMN data TEXT NOT NULL DEFAULT '{}';
CREATE INDEX tickets_team ON tickets(team);
CREATE INDEX tickets_assignee ON tickets(assignee);
CREATE INDEX tickets_created ON tickets(created_at);
"""

_LIFECYCLE_TABLES = """
CREATE TABLE transitions (
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    roles TEXT NOT NULL,
    requires TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (from_status, to_status)
);
CREATE TABLE priority_matrix (
    impact TEXT NOT NULL,
    urgency TEXT NOT NULL,
    priority TEXT NOT NULL,
    PRIMARY KEY (impact, urgency)
);
CREATE TABLE sla_policies (
    priority TEXT PRIMARY KEY,
    response_minutes REAL NOT NULL CHECK (response_minutes > 0),
    resolution_minutes REAL NOT NULL CHECK (resolution_minutes > 0)
);
CREATE TABLE teams (
    name TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    tier TEXT NOT NULL CHECK (tier IN ('L1', 'L2', 'RND')),
    escalates_to TEXT REFERENCES teams(name) DEFERRABLE INITIALLY DEFERRED
);
CREATE TABLE members (
    username TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    team TEXT NOT NULL REFERENCES teams(name),
    products TEXT NOT NULL DEFAULT '[]',
    categories TEXT NOT NULL DEFAULT '[]',
    work_start TEXT NOT NULL DEFAULT '09:00',
    work_end TEXT NOT NULL DEFAULT '18:30',
    available INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE assignment_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    product TEXT,
    category TEXT,
    team TEXT NOT NULL REFERENCES teams(name)
);
CREATE TABLE triage_proposals (
    ticket_id INTEGER PRIMARY KEY REFERENCES tickets(id),
    proposal TEXT NOT NULL,
    created_at TEXT NOT NULL,
    decision TEXT,
    decided_by TEXT,
    decided_at TEXT
);
CREATE TABLE comments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    author TEXT NOT NULL,
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'internal')),
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX comments_ticket ON comments(ticket_id);
CREATE TABLE visits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    scheduled_at TEXT NOT NULL,
    place TEXT NOT NULL,
    engineer TEXT NOT NULL,
    tools TEXT NOT NULL DEFAULT '[]',
    spare_parts TEXT NOT NULL DEFAULT '[]',
    outcome TEXT,
    service_record TEXT,
    signed_by TEXT,
    signed_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX visits_ticket ON visits(ticket_id);
CREATE TABLE surveys (
    ticket_id INTEGER PRIMARY KEY REFERENCES tickets(id),
    score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE followups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    due_at TEXT NOT NULL,
    assignee TEXT,
    done_at TEXT,
    notes TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE ticket_articles (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    article_id INTEGER NOT NULL REFERENCES articles(id),
    relation TEXT NOT NULL DEFAULT 'solved_by',
    created_at TEXT NOT NULL,
    PRIMARY KEY (ticket_id, article_id, relation)
);
CREATE TABLE attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    stored_as TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""


def _seed_lifecycle(db: sqlite_utils.Database) -> None:
    """Default transitions, priority matrix and SLA policies (from the support manuals)."""
    db.table("transitions").insert_all(DEFAULT_TRANSITIONS)
    db.table("priority_matrix").insert_all(DEFAULT_PRIORITY_MATRIX)
    db.table("sla_policies").insert_all(DEFAULT_SLA_POLICIES)


@MIGRATIONS(name="0004_article_workflow")
def m0004_article_workflow(db: sqlite_utils.Database) -> None:
    """Article owner, review-by date and reviewer; article moves as data; usage signals; deflections."""
    from kb.article_workflow import DEFAULT_ARTICLE_TRANSITIONS

    _run_each(db, _ARTICLE_WORKFLOW)
    db.table("article_transitions").insert_all(DEFAULT_ARTICLE_TRANSITIONS)


_ARTICLE_WORKFLOW = """
ALTER TABLE articles ADD COLUMN owner TEXT;
ALTER TABLE articles ADD COLUMN review_by TEXT;
ALTER TABLE articles ADD COLUMN reviewer TEXT;
CREATE INDEX articles_status ON articles(status);
CREATE INDEX articles_owner ON articles(owner);
CREATE TABLE article_transitions (
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    roles TEXT NOT NULL,
    requires TEXT NOT NULL DEFAULT '[]',
    distinct_reviewer INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (from_status, to_status)
);
CREATE TABLE article_signals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id INTEGER NOT NULL REFERENCES articles(id),
    kind TEXT NOT NULL CHECK (kind IN ('suggested', 'opened', 'solved_it')),
    viewer TEXT NOT NULL,
    ticket_id INTEGER REFERENCES tickets(id),
    created_at TEXT NOT NULL
);
CREATE INDEX article_signals_article ON article_signals(article_id, kind);
CREATE TABLE deflections (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    viewer TEXT NOT NULL,
    query TEXT NOT NULL DEFAULT '',
    article_id INTEGER NOT NULL REFERENCES articles(id),
    ticket_id INTEGER REFERENCES tickets(id)
);
CREATE INDEX deflections_created ON deflections(created_at);
CREATE INDEX ticket_articles_article ON ticket_articles(article_id, relation);
"""


@MIGRATIONS(name="0005_users_and_access")
def m0005_users_and_access(db: sqlite_utils.Database) -> None:
    """Users with roles, hashed API tokens, web sessions, and role permissions as data."""
    _run_each(db, _USERS_AND_ACCESS)
    db.table("role_permissions").insert_all(DEFAULT_ROLE_PERMISSIONS)


_USERS_AND_ACCESS = """
CREATE TABLE users (
    username TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    organisation TEXT,
    password_hash TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL REFERENCES users(username),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE web_sessions (
    id_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users(username),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX audit_actor ON audit_events(actor, entity_type, entity_id);
CREATE TABLE role_permissions (
    role TEXT NOT NULL,
    permission TEXT NOT NULL,
    PRIMARY KEY (role, permission)
);
"""
