"""Opening a Casewise instance: the database, the embedder and the search index."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from threadpoolctl import threadpool_limits

from indexer.analysis import warm_up
from indexer.embedder import Embedder, cpu_has_bf16
from indexer.index import Progress, SearchIndex
from indexer.search import fusion_weights
from indexer.vector_store import single_threaded_vector_search
from kb.calendar import parse_calendar
from kb.db import Database
from kb.desk import DeskRules
from service.auth import TokenCache
from service.ratelimit import RateLimiter
from service.settings import Settings
from service.suggest_batch import SuggestBatcher


@dataclass
class Runtime:
    """Everything a request or command needs; created once per process."""

    settings: Settings
    database: Database
    index: SearchIndex
    search_pool: ThreadPoolExecutor = field(init=False)
    search_helpers: ThreadPoolExecutor = field(init=False)
    weights: Mapping[str, float] = field(init=False)
    suggester: SuggestBatcher = field(init=False)
    rules: DeskRules = field(init=False)
    suggest_limiter: RateLimiter = field(init=False)
    token_cache: TokenCache = field(init=False)

    def __post_init__(self) -> None:
        self.search_pool = ThreadPoolExecutor(self.settings.search_threads, "casewise-search",
                                              initializer=one_thread_per_search)
        # a lone query's other models and vector search, while the server has nothing else to do
        # (indexer.search.suggest_many)
        self.search_helpers = ThreadPoolExecutor(self.settings.search_threads, "casewise-search-helper",
                                                 initializer=one_thread_per_search)
        self.weights = fusion_weights(self.settings.feedback_weight)
        self.suggester = SuggestBatcher(self.index, self.search_pool, helper=self.search_helpers,
                                        weights=self.weights)
        self.rules = desk_rules(self.settings)
        self.suggest_limiter = RateLimiter(self.settings.suggest_rate_per_minute, "CASEWISE_SUGGEST_RATE_PER_MINUTE")
        self.token_cache = TokenCache(self.settings.token_cache_seconds)

    def close(self) -> None:
        """Stop the search threads and close the database connections."""
        self.search_pool.shutdown(wait=True)
        self.search_helpers.shutdown(wait=True)
        self.database.close()


def desk_rules(settings: Settings) -> DeskRules:
    """The lifecycle rules (calendar, reopen window, SLA warning and escalation) from the settings."""
    calendar = parse_calendar(settings.timezone, settings.business_hours, settings.business_days,
                              settings.holidays, settings.extra_workdays)
    return DeskRules(calendar=calendar, ticket_prefix=settings.ticket_prefix,
                     reopen_window_days=settings.reopen_window_days, sla_warning_share=settings.sla_warning_share,
                     escalate_on_breach=settings.escalate_on_breach)


def one_blas_thread() -> None:
    """Let numpy's BLAS (OpenBLAS) run on the calling thread only, for the whole process.

    Parallelism comes from serving requests side by side on the search threads; BLAS's own
    threads spin-waited between calls and took the other core (measured on the 100k-ticket
    bench: 21.4 ms of CPU per suggestion with two BLAS threads, 12.8 ms with one, for about the
    same latency). The models pin their own threads (USE: threads=1).
    """
    threadpool_limits(1, user_api="blas")


def one_tokenizer_thread() -> None:
    """Let the Hugging Face tokenizers (MiniLM, e5) tokenize on the calling thread, for the whole process.

    By default they split each batch of texts over a pool of their own (rayon, one thread per core) and
    block until it is done. Tokenizing a batch of 8 queries takes about 0.3 ms either way, but on a busy
    server that pool's threads wait for a core the other server process holds: at 100k tickets under 16
    bench clients, a search thread spent 8 % of its time blocked on them (py-spy, native frames).
    A TOKENIZERS_PARALLELISM set in the environment is kept.
    """
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def one_thread_per_search() -> None:
    """Let the torch models (MiniLM, e5) and FAISS's inverted-file searches run on the calling thread only.

    Each search thread and search helper thread is set up with this: parallelism comes from the
    search threads (and sibling server processes), and by default torch used one thread per core
    for every call, so two busy search threads ran four on two cores. A small matrix product that took 4.2 s 2,000
    times on a search thread took 13.6 s with torch's two threads, the other core being busy.
    FAISS's OpenMP threads (its own pool, one per core, set per calling thread) likewise split each
    batch's IVF search and then spun, waiting for more, on the core the other process needs: at
    100k tickets, 16 bench clients got 150.8-154.1 answers a second with one, 145.8-147.4 without
    (runs alternated).
    The main thread, where commands build the index, keeps both defaults.
    """
    import torch

    torch.set_num_threads(1)
    single_threaded_vector_search()


def open_database(settings: Settings) -> Database:
    """Open (creating and migrating) the database."""
    return Database(settings.database_path)


def open_embedder(settings: Settings) -> Embedder:
    """Load the configured embedding model."""
    return _embedder(settings.embedding_model, settings)


def open_english_embedder(settings: Settings) -> Embedder | None:
    """Load the optional English model (None when the setting is empty)."""
    return _optional_embedder(settings.english_embedding_model, settings)


def open_chinese_embedder(settings: Settings) -> Embedder | None:
    """Load the optional Chinese model (None when the setting is empty)."""
    return _optional_embedder(settings.chinese_embedding_model, settings)


def open_extra_embedder(settings: Settings) -> Embedder | None:
    """Load the optional second model for every chunk (None when the setting is empty)."""
    return _optional_embedder(settings.extra_embedding_model, settings)


def _optional_embedder(spec: str, settings: Settings) -> Embedder | None:
    return _embedder(spec, settings) if spec else None


def _embedder(spec: str, settings: Settings) -> Embedder:
    bf16 = settings.torch_bf16 == "on" or (settings.torch_bf16 == "auto" and cpu_has_bf16())
    return Embedder(spec, settings.model_cache_dir, settings.search_threads, bf16=bf16)


def open_runtime(
    settings: Settings,
    progress: Progress | None = None,
    embedder_factory: Callable[[Settings], Embedder] = open_embedder,
    rebuild: bool = False,
    english_factory: Callable[[Settings], Embedder | None] = open_english_embedder,
    extra_factory: Callable[[Settings], Embedder | None] = open_extra_embedder,
    chinese_factory: Callable[[Settings], Embedder | None] = open_chinese_embedder,
) -> Runtime:
    """Open the database and models, then load and catch up (or rebuild) the index."""
    one_blas_thread()
    one_tokenizer_thread()
    warm_up()
    database = open_database(settings)
    try:
        index = SearchIndex.open(database, embedder_factory(settings), settings.index_dir, progress, rebuild,
                                 english_factory(settings), settings.index_save_interval_seconds,
                                 extra_factory(settings), chinese_factory(settings))
    except BaseException:
        database.close()
        raise
    return Runtime(settings=settings, database=database, index=index)


def settle_heap() -> None:
    """Put what is loaded now (the index above all) out of the cyclic garbage collector's reach.

    For a server process, whose index lives as long as it does. At 200k chunks the index holds
    about 0.5M container objects, and each full collection walked them all: 240 ms, during
    which the process answered nothing (16 clients on one worker: p99 363-389 ms, 135-161 ms
    with the freeze). After the freeze a full collection took under 0.1 ms. Frozen objects
    that later form unreachable cycles are never freed, so short-lived processes (tests,
    commands) do not call this.
    """
    gc.collect()
    gc.freeze()
