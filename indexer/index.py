"""The search index: FAISS vectors + BM25 keywords, kept equal to the database.

The database is the source of truth; this is a rebuildable cache. On open the
saved vectors are loaded and caught up, or rebuilt when the manifest disagrees
with the database or the model.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer import sync
from indexer.embedder import Embedder
from indexer.keyword_index import KeywordIndex
from indexer.vector_store import KINDS, Manifest, Staged, VectorStore, load_manifest
from kb import outbox
from kb.db import Database

log = logging.getLogger("casewise.index")

EMBED_BATCH = 64
ENGLISH_FOLDER = "en"
CHINESE_FOLDER = "zh"
EXTRA_FOLDER = "extra"
# The texts (chunks and queries) each language's model reads, as a closed range of their share of
# Latin letters among Latin and CJK letters (indexer.analysis.latin_share); other spaces read every text.
# The English model reads no Chinese, and the Chinese model is the costliest encode: skipping the
# texts of the other language keeps indexing and a busy server fast. A text of both languages
# (a share between 0.3 and 0.7) is read by both.
LATIN_SHARES = {"dense_en": (0.3, 1.0), "dense_zh": (0.0, 0.7)}
ALL_TEXTS = (0.0, 1.0)
Progress = Callable[[int, int], None]  # (done in this step, total) callback


@dataclass(frozen=True)
class Drift:
    """How far the index is from the database (all zero when healthy)."""

    missing: dict[str, int]
    extra: dict[str, int]
    pending_outbox: int
    manifest_behind: int

    @property
    def healthy(self) -> bool:
        """True when nothing is missing, extra or pending."""
        return not (any(self.missing.values()) or any(self.extra.values())
                    or self.pending_outbox or self.manifest_behind)


@dataclass
class DenseSpace:
    """One embedding model's vectors: the model, its FAISS store and the folder it is saved in."""

    name: str
    embedder: Embedder
    folder: Path
    store: VectorStore

    @property
    def latin_shares(self) -> tuple[float, float]:
        """The range of Latin-letter shares of the texts this space reads."""
        return latin_shares(self.name)

    def reads(self, latin_share: float) -> bool:
        """Whether this space's model reads a text (a query) with this share of Latin letters."""
        return reads(self.name, latin_share)


def latin_shares(space: str) -> tuple[float, float]:
    """The range of Latin-letter shares of the texts the space named `space` reads (LATIN_SHARES)."""
    return LATIN_SHARES.get(space, ALL_TEXTS)


def reads(space: str, latin_share: float) -> bool:
    """Whether the space named `space` reads a text with this share of Latin letters."""
    low, high = latin_shares(space)
    return low <= latin_share <= high


class SearchIndex:
    """Vectors (one space per embedding model) and keywords for tickets and article sections."""

    def __init__(self, database: Database, embedder: Embedder, folder: Path,
                 english: Embedder | None = None, save_interval: float = 0.0,
                 extra: Embedder | None = None, chinese: Embedder | None = None) -> None:
        self.database = database
        self.folder = folder
        self.spaces = [DenseSpace("dense", embedder, folder, VectorStore(embedder.dim))]
        if english is not None:
            # no crowding correction in the English space: it cost banking77 0.7 points of hit@1
            self.spaces.append(DenseSpace("dense_en", english, folder / ENGLISH_FOLDER,
                                          VectorStore(english.dim, crowded=False)))
        if chinese is not None:
            self.spaces.append(DenseSpace("dense_zh", chinese, folder / CHINESE_FOLDER, VectorStore(chinese.dim)))
        if extra is not None:
            self.spaces.append(DenseSpace("dense_extra", extra, folder / EXTRA_FOLDER, VectorStore(extra.dim)))
        self.keywords = {kind: KeywordIndex() for kind in KINDS}
        # chunk id -> entity id, so ranking can group chunks by ticket/article without a query
        self.chunk_entity: dict[str, dict[int, int]] = {kind: {} for kind in KINDS}
        # Only sync changes vectors and keywords, under the sync lock; the search lock keeps searches
        # from seeing a change half made. Saving only reads the vectors: it holds just the sync lock.
        self.search_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self.rebuilt_reason: str | None = None
        self._rechunk_requested = False
        # (outbox row, newest chunk id) the memory reflects: every chunk rewrite advances one of them
        self._reconciled: tuple[int, int] = (-1, -1)
        # Saving rewrites every vector (hundreds of MB at 100k tickets), so a server saves at most once
        # per interval; the database stays the source of truth and a restart catches up from the manifest.
        self._save_interval = save_interval
        self._last_saved = time.monotonic()
        self._unsaved = False
        self._layout_outdated = False  # a saved space was loaded from an older file layout (see _load_saved)
        self._saver = ThreadPoolExecutor(1, "casewise-index-save")
        self._saving: Future[None] | None = None

    @property
    def embedder(self) -> Embedder:
        """The primary (multilingual) embedding model."""
        return self.spaces[0].embedder

    @property
    def store(self) -> VectorStore:
        """The primary model's vectors."""
        return self.spaces[0].store

    @classmethod
    def open(cls, database: Database, embedder: Embedder, folder: Path,
             progress: Progress | None = None, rebuild: bool = False,
             english: Embedder | None = None, save_interval: float = 0.0,
             extra: Embedder | None = None, chinese: Embedder | None = None) -> SearchIndex:
        """Load the saved index (or start empty) and bring it level with the database (and saved).

        `rebuild` ignores the saved vectors and rewrites every chunk from the database.
        `save_interval`: later syncs save changed vectors at most once per this many seconds.
        """
        index = cls(database, embedder, folder, english, save_interval, extra, chinese)
        index._rechunk_requested = rebuild
        if not rebuild:
            for space in index.spaces:
                index._load_saved(space)
        else:
            index.rebuilt_reason = "rebuild requested"
        index.sync(progress)  # the first sync reconciles everything, keywords included
        index.flush()  # saved at once; later saves wait for the save interval
        index.warm_up()
        return index

    def warm_up(self) -> None:
        """Do the lazy work now (each model's first call, the keyword postings as arrays), not in the first query.

        Measured on the 100k-ticket bench: the first suggestion after a start took 3.3 s without this.
        """
        for space in self.spaces:
            space.embedder.encode_queries(["warm-up"])
        with self.search_lock:
            for keywords in self.keywords.values():
                keywords.prepare()

    def _load_saved(self, space: DenseSpace) -> None:
        loaded = VectorStore.load(space.folder, crowded=space.store.crowded)
        reason = self._reject_reason(space, loaded[1] if loaded else None)
        if loaded and reason is None:
            space.store = loaded[0]
            if space.store.converted:  # to the current layout on load: saved again, or every start converts it
                self._unsaved = self._layout_outdated = True
        else:
            self.rebuilt_reason = reason

    def _reject_reason(self, space: DenseSpace, manifest: Manifest | None) -> str | None:
        embedder = space.embedder
        if manifest is None:
            return "no saved index" if load_manifest(space.folder) is None else "saved index unreadable"
        if manifest.model != embedder.identity or manifest.dim != embedder.dim:
            return f"model changed ({manifest.model}/{manifest.dim} -> {embedder.identity}/{embedder.dim})"
        if manifest.database_id != self.database.identity():
            return "index belongs to another database"
        if manifest.last_outbox_id > self.database.read(sync.chunked_through):
            return "index is ahead of the database"
        return None

    def sync(self, progress: Progress | None = None) -> int:
        """Drain the outbox, embed new chunks, drop stale ones; save changes when the save interval allows.

        Returns the number of vectors added or removed. Several processes may sync the same
        database and folder (the workers of one server, a CLI command): the outbox is drained in
        database transactions, each process reconciles its own copy in memory, and only the
        chunker upgrade and the file writes take the folder's lock, so one process's save never
        delays another's catching up.
        """
        with self._sync_lock:
            sync.rechunk_pending(self.database)
            if self._rechunk_requested or sync.chunker_outdated(self.database):
                with self._file_lock():
                    sync.rechunk_all_if_outdated(self.database, force=self._rechunk_requested)
            state = self.database.read(sync.chunk_state)
            if state == self._reconciled and not self._rechunk_requested:
                self._save_if_due(force=False)
                return 0  # nothing changed since the last reconcile: skip the full id comparison
            self._rechunk_requested = False
            started = time.perf_counter()
            changed = sum(self._reconcile(kind, progress) for kind in KINDS)
            self._reconciled = state
            log.info("index caught up to outbox row %d: %d vectors added or removed in %.2f s",
                     state[0], changed, time.perf_counter() - started)
            self._unsaved = self._unsaved or bool(changed) or not self._saved_since(state)
            self._save_if_due(force=False)
            return changed

    def flush(self) -> None:
        """Save vectors not saved yet, and wait for a save in progress (opening does this; so does a stopping server)."""
        with self._sync_lock:
            self._wait_for_save()
            self._save_if_due(force=True)
            self._wait_for_save()

    def _save_if_due(self, force: bool) -> None:
        """Write the vectors, at most once per save interval (at once when forced).

        One process saves a folder at a time (its lock is held from staging to commit). A server
        (with an interval) does not wait for another process's save: it tries again next round,
        and usually finds that state, or a later one, saved by then. Searches go on while it
        stages the files; it fsyncs and commits them on a background thread, so the sync thread
        soon goes back to catching up. Without an interval (the CLI) it is synchronous.
        """
        if not self._unsaved or (not force and time.monotonic() - self._last_saved < self._save_interval):
            return
        if self._saving is not None and not self._saving.done():
            return  # one save at a time; this state is saved by a later round
        background = bool(self._save_interval) and not force
        lock = FolderLock(self.folder)
        if not lock.acquire(blocking=not background):
            return
        state = self._reconciled
        try:
            staged = None if self._saved_since(state) and not self._layout_outdated else self._stage()
        except Exception:
            lock.release()
            self._save_failed(background)
            return
        self._unsaved = self._layout_outdated = False
        self._last_saved = time.monotonic()
        if staged is None:
            lock.release()  # another process saved this state or a later one
        elif background:
            self._saving = self._saver.submit(self._commit, state, staged, lock, True)
        else:
            self._commit(state, staged, lock, False)

    def _stage(self) -> list[tuple[DenseSpace, Staged]]:
        """Write every space's vectors to temporary files (the caller holds the sync lock).

        Only syncing changes the vectors, under the sync lock, so this needs no search lock:
        searches only read them too and go on meanwhile (at 200k tickets staging takes 0.3-0.9 s).
        """
        staged: list[tuple[DenseSpace, Staged]] = []
        try:
            for space in self.spaces:
                staged.append((space, space.store.stage(space.folder)))
        except BaseException:
            for _, files in staged:
                files.discard()
            raise
        return staged

    def _save_failed(self, background: bool) -> None:
        """Called while handling a failed save: the database still has everything, so the next round
        saves again; a synchronous (CLI) save re-raises the error."""
        self._unsaved = True
        if not background:
            raise
        log.exception("saving the index failed; the next sync round tries again")

    def _wait_for_save(self) -> None:
        if self._saving is not None:
            self._saving.result()

    def _commit(self, state: tuple[int, int], staged: list[tuple[DenseSpace, Staged]], lock: FolderLock,
                background: bool) -> None:
        """Commit each space's staged files with a manifest naming the chunk state they hold; release the lock."""
        try:
            started = time.perf_counter()
            for space, files in staged:
                manifest = Manifest(model=space.embedder.identity, dim=space.embedder.dim, counts={},
                                    last_outbox_id=state[0], last_chunk_id=state[1],
                                    database_id=self.database.identity())
                space.store.commit(files, manifest)
            log.info("index saved in %.2f s", time.perf_counter() - started)
        except Exception:
            for _, files in staged:
                files.discard()
            self._save_failed(background)
        finally:
            lock.release()

    def _saved_since(self, state: tuple[int, int]) -> bool:
        """Whether every space's saved files hold this (outbox row, newest chunk id) state or a later one.

        Both numbers only grow, so a saved state at least as far on both holds every change this one does.
        """
        return all((saved := load_manifest(space.folder)) is not None
                   and saved.last_outbox_id >= state[0] and saved.last_chunk_id >= state[1]
                   for space in self.spaces)

    def _reconcile(self, kind: str, progress: Progress | None) -> int:
        db_ids = self.database.read(lambda db: sync.chunk_ids(db, kind))
        with self.search_lock:
            for chunk_id in self.keywords[kind].ids() - db_ids:
                self.keywords[kind].remove(chunk_id)
                self.chunk_entity[kind].pop(chunk_id, None)
        self._add_keywords(kind, sorted(db_ids - self.keywords[kind].ids()))
        plan = [(space, *sync.missing_and_extra(self._wanted(space, kind, db_ids), space.store.ids(kind).tolist()))
                for space in self.spaces]
        total = sum(len(missing) for _, missing, _ in plan)  # one progress bar over every space
        for space, missing, extra in plan:
            with self.search_lock:
                space.store.remove(kind, np.asarray(extra, dtype=np.int64))
            for start in range(0, len(missing), EMBED_BATCH * 8):
                self._add_vectors(space, kind, missing[start:start + EMBED_BATCH * 8], total, progress)
        return sum(len(missing) + len(extra) for _, missing, extra in plan)

    def _wanted(self, space: DenseSpace, kind: str, db_ids: set[int]) -> set[int]:
        """The chunks a space should hold: all of them, or those of the language its model reads."""
        if space.latin_shares == ALL_TEXTS:
            return db_ids
        return self.database.read(lambda db: sync.chunk_ids(db, kind, space.latin_shares))

    def _add_keywords(self, kind: str, ids: list[int]) -> None:
        for start in range(0, len(ids), 5000):
            rows = self.database.read(lambda db, part=ids[start:start + 5000]: sync.chunk_texts(db, part))
            with self.search_lock:
                for chunk_id, entity_id, _, terms in rows:
                    self.keywords[kind].add(chunk_id, terms.split())
                    self.chunk_entity[kind][chunk_id] = entity_id

    def _add_vectors(self, space: DenseSpace, kind: str, ids: list[int], total: int,
                     progress: Progress | None) -> None:
        rows = self.database.read(lambda db: sync.chunk_texts(db, ids))
        vectors = space.embedder.encode_documents([text for _, _, text, _ in rows], batch_size=EMBED_BATCH)
        with self.search_lock:
            space.store.add(kind, np.asarray([r[0] for r in rows], dtype=np.int64), vectors)
        if progress:
            progress(len(rows), total)

    def pending_outbox(self) -> int:
        """Outbox rows not yet turned into chunks (cheap: two indexed lookups)."""
        return self.database.read(outbox.last_id) - self.database.read(sync.chunked_through)

    def drift(self) -> Drift:
        """Compare the index in memory with the database."""
        with self.search_lock:
            held = {space.name: {kind: space.store.ids(kind).tolist() for kind in KINDS}
                    for space in self.spaces}
        return compute_drift(self.database, held, [space.folder for space in self.spaces])


    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        """One process at a time writes the index folder (server workers and CLI commands may all run)."""
        lock = FolderLock(self.folder)
        lock.acquire(blocking=True)
        try:
            yield
        finally:
            lock.release()


class FolderLock:
    """The index folder's lock file (flock). It may be released by another thread than the one that took it."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._handle = open(folder / ".lock", "w")  # noqa: SIM115 - closed by release()

    def acquire(self, blocking: bool) -> bool:
        """Take the lock; without `blocking`, give up (False) when another holder has it."""
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            self._handle.close()
            return False
        return True

    def release(self) -> None:
        """Unlock and close."""
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()


def compute_drift(database: Database, held: dict[str, dict[str, list[int]]], folders: list[Path]) -> Drift:
    """Missing/extra chunk ids per space and kind, outbox rows not yet chunked, and saved-manifest lag."""
    missing, extra = {}, {}
    for kind in KINDS:
        for space, ids in held.items():
            shares = latin_shares(space)
            db_ids = database.read(lambda db, kind=kind, shares=shares: sync.chunk_ids(db, kind, shares))
            label = kind if space == "dense" else f"{kind}:{space}"
            absent, stale = sync.missing_and_extra(db_ids, ids[kind])
            missing[label], extra[label] = len(absent), len(stale)
    through = database.read(sync.chunked_through)
    last = database.read(outbox.last_id)
    saved = [load_manifest(folder) for folder in folders]
    behind = max(through - (m.last_outbox_id if m else 0) for m in saved)
    return Drift(missing=missing, extra=extra, pending_outbox=last - through, manifest_behind=max(behind, 0))


def verify_saved(database: Database, folder: Path, with_english: bool = False,
                 with_extra: bool = False, with_chinese: bool = False) -> tuple[Drift, Manifest | None]:
    """Drift between the index saved on disk and the database, without loading any model."""
    spaces = ([("dense", folder)] + ([("dense_en", folder / ENGLISH_FOLDER)] if with_english else [])
              + ([("dense_zh", folder / CHINESE_FOLDER)] if with_chinese else [])
              + ([("dense_extra", folder / EXTRA_FOLDER)] if with_extra else []))
    folders = [path for _, path in spaces]
    held = {}
    manifest = None
    for name, path in spaces:
        loaded = VectorStore.load(path, crowded=False)  # only its ids are compared
        held[name] = {kind: (loaded[0].ids(kind).tolist() if loaded else []) for kind in KINDS}
        manifest = manifest or (loaded[1] if loaded else None)
    return compute_drift(database, held, folders), manifest
