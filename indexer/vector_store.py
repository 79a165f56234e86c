"""FAISS vector indexes, one per kind of chunk, with chunk ids as vector ids.

Saved atomically: each index goes to a new generation file (temp, fsync,
rename), then the manifest naming those files is replaced the same way. The
manifest is the commit point; a crash at any moment leaves the previous
complete generation loadable.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import faiss
import numpy as np

KINDS = ("ticket", "article")
MANIFEST = "manifest.json"
FORMAT_VERSION = 1


@dataclass
class Manifest:
    """What a saved index holds; compared with the database and model on load."""

    model: str
    dim: int
    counts: dict[str, int]
    last_outbox_id: int
    database_id: str = ""
    files: dict[str, str] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    generation: int = 0


class VectorStore:
    """Inner-product search over normalised vectors, per kind, ids = chunk ids."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.indexes: dict[str, faiss.IndexIDMap2] = {kind: self._empty() for kind in KINDS}

    def _empty(self) -> faiss.IndexIDMap2:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def add(self, kind: str, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under the given chunk ids."""
        if len(ids):
            self.indexes[kind].add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
            )

    def remove(self, kind: str, ids: np.ndarray) -> None:
        """Remove vectors by chunk id (unknown ids are ignored)."""
        if len(ids):
            self.indexes[kind].remove_ids(np.asarray(ids, dtype=np.int64))

    def ids(self, kind: str) -> np.ndarray:
        """All chunk ids held for a kind."""
        return faiss.vector_to_array(self.indexes[kind].id_map).astype(np.int64)

    def count(self, kind: str) -> int:
        """Number of vectors held for a kind."""
        return int(self.indexes[kind].ntotal)

    def search(self, kind: str, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k nearest chunk ids with their cosine scores, best first."""
        index = self.indexes[kind]
        if index.ntotal == 0 or k <= 0:
            return []
        scores, ids = index.search(np.asarray(query, dtype=np.float32).reshape(1, -1), min(k, index.ntotal))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def save(self, folder: Path, manifest: Manifest) -> Manifest:
        """Write a new generation of index files, then atomically switch the manifest to it."""
        folder.mkdir(parents=True, exist_ok=True)
        previous = load_manifest(folder)
        generation = (previous.generation if previous else 0) + 1
        files = {}
        for kind, index in self.indexes.items():
            name = f"{kind}-{generation:06d}.faiss"
            _atomic_write(folder / name, faiss.serialize_index(index).tobytes())
            files[kind] = name
        manifest.files, manifest.generation = files, generation
        manifest.counts = {kind: self.count(kind) for kind in KINDS}
        _atomic_write(folder / MANIFEST, json.dumps(asdict(manifest), indent=2).encode())
        _remove_stale_files(folder, keep=set(files.values()))
        return manifest

    @classmethod
    def load(cls, folder: Path) -> tuple[VectorStore, Manifest] | None:
        """Load the generation the manifest names; None if there is none or it is damaged."""
        manifest = load_manifest(folder)
        if manifest is None or manifest.format_version != FORMAT_VERSION:
            return None
        store = cls(manifest.dim)
        try:
            for kind in KINDS:
                data = np.frombuffer((folder / manifest.files[kind]).read_bytes(), dtype=np.uint8)
                index = faiss.deserialize_index(data)
                if not isinstance(index, faiss.IndexIDMap2):
                    index = faiss.downcast_index(index)
                store.indexes[kind] = index
        except (OSError, KeyError, RuntimeError):
            return None
        if any(store.count(k) != manifest.counts.get(k) for k in KINDS):
            return None
        return store, manifest


def load_manifest(folder: Path) -> Manifest | None:
    """The saved manifest, or None when missing or unreadable."""
    try:
        return Manifest(**json.loads((folder / MANIFEST).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _atomic_write(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, rename over `path`, fsync the folder."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _remove_stale_files(folder: Path, keep: set[str]) -> None:
    for path in folder.iterdir():
        stale_index = path.suffix == ".faiss" and path.name not in keep
        if stale_index or path.name.endswith(".tmp"):
            path.unlink(missing_ok=True)
