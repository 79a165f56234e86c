"""FAISS vector indexes, one per kind of chunk, with chunk ids as vector ids.

Small indexes are exact (`IndexFlatIP` under an id map). From
`APPROXIMATE_FROM` vectors on, a kind switches to an inverted-file index
(`IndexIVFScalarQuantizer` with float16 lists, which keeps our ids and supports
removal), trained on a sample and retrained when it has grown fourfold; `nprobe`
is set for recall@10 of at least 0.98 against exact search (checked by
`casewise bench ann`). Its lists hold float16 vectors: a search is bound by
reading the lists from memory, and half the bytes made it twice as fast (200k
x 512 at 100k tickets, 8 queries together: 3.6-3.9 against 7.2-8.0 ms, the
same 100 nearest for 99.97 % of them), in half the memory. An index saved with
float32 lists (`IndexIVFFlat`, before session 16) is converted when loaded.

Saved atomically in two steps. `stage` writes each index to a temporary file
while the caller keeps the store unchanged (straight to a file: at 200k tickets
0.2-0.4 s, where serialising 411 MB into memory first took 1.9-2.6 s and a
second copy of it). `commit` then fsyncs and renames them to a new generation,
and replaces the manifest naming those files the same way. The manifest is the
commit point; a crash at any moment leaves the previous complete generation
loadable, and leftover temporary files are removed by the next commit.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import faiss
import numpy as np

from indexer.crowding import Crowding

KINDS = ("ticket", "article")
CROWDING_DEPTH = 3  # an approximate kind ranks by crowding among this many times k nearest by cosine
APPROXIMATE_FROM = 50_000
TRAINING_POINTS_PER_LIST = 40
MANIFEST = "manifest.json"
CROWDING = "-crowding"
FORMAT_VERSION = 1
PRODUCT_BLOCK_BYTES = 1 << 17  # stored vectors per block of an exact search's product (see _inner_products)


@dataclass
class Manifest:
    """What a saved index holds; compared with the database and model on load."""

    model: str
    dim: int
    counts: dict[str, int]
    last_outbox_id: int
    last_chunk_id: int = 0  # the newest chunk id when saved: a full rechunk changes it, not the outbox
    database_id: str = ""
    files: dict[str, str] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    generation: int = 0


@dataclass(frozen=True)
class Staged:
    """A store's indexes written to temporary files at one moment, not yet committed."""

    folder: Path
    files: dict[str, Path]
    counts: dict[str, int]

    def discard(self) -> None:
        """Remove the temporary files (a save that is no longer needed)."""
        for path in self.files.values():
            path.unlink(missing_ok=True)


class VectorStore:
    """Inner-product search over normalised vectors, per kind, ids = chunk ids."""

    def __init__(self, dim: int, crowded: bool = True) -> None:
        """`crowded`: keep each chunk's crowding (indexer/crowding.py); without it every r is 0."""
        self.dim = dim
        self.crowded = crowded
        self.indexes: dict[str, faiss.Index] = {kind: self._exact() for kind in KINDS}
        self.crowding: dict[str, Crowding] = {kind: Crowding(dim) for kind in KINDS}
        self.converted = False  # loaded from files of an older layout (float32 lists): worth saving again

    def _exact(self) -> faiss.IndexIDMap2:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def add(self, kind: str, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under the given chunk ids; may switch the kind to an approximate index."""
        if len(ids):
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            self.indexes[kind].add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
            self._maybe_retrain(kind)
            self._update_crowding(kind, np.asarray(ids, dtype=np.int64), vectors)

    def _update_crowding(self, kind: str, ids: np.ndarray, vectors: np.ndarray) -> None:
        if not self.crowded:
            return
        crowding = self.crowding[kind]
        if crowding.needs_resample(self.count(kind)):
            crowding.resample(*_all_vectors(self.indexes[kind]))
        else:
            crowding.update(ids, vectors)

    def crowding_of(self, kind: str, ids: np.ndarray) -> np.ndarray:
        """Each chunk's neighbourhood crowding r (indexer/crowding.py), 0 for ids not held."""
        return self.crowding[kind].scores(ids)

    def remove(self, kind: str, ids: np.ndarray) -> None:
        """Remove vectors by chunk id (unknown ids are ignored)."""
        if len(ids):
            self.indexes[kind].remove_ids(np.asarray(ids, dtype=np.int64))

    def ids(self, kind: str) -> np.ndarray:
        """All chunk ids held for a kind."""
        index = self.indexes[kind]
        if isinstance(index, faiss.IndexIVF):
            return _ivf_ids(index)
        return faiss.vector_to_array(index.id_map).astype(np.int64)

    def count(self, kind: str) -> int:
        """Number of vectors held for a kind."""
        return int(self.indexes[kind].ntotal)

    def vectors_of(self, kind: str, ids: Sequence[int]) -> tuple[list[int], np.ndarray]:
        """The stored vectors (float32, n x dim) of those of `ids` the kind holds, with their ids in order.

        Both index types look an id up directly: the exact one by its id map, the inverted-file one by
        its hash-table direct map (`_half_ivf`), so a few vectors cost a few lookups.
        """
        index = self.indexes[kind]
        keys = np.asarray(ids, dtype=np.int64)
        try:  # one call for ids all held (a dense list's candidates)
            return keys.tolist(), index.reconstruct_batch(keys)
        except RuntimeError:  # FAISS raises for an id it does not hold: look them up one by one
            pass
        found, rows = [], []
        for chunk_id in keys.tolist():
            try:
                rows.append(index.reconstruct(chunk_id))
            except RuntimeError:
                continue
            found.append(chunk_id)
        return found, np.array(rows, dtype=np.float32).reshape(len(rows), self.dim)

    def cosines(self, kind: str, vector: np.ndarray, ids: Sequence[int], found_from: np.ndarray) -> np.ndarray:
        """`vector`'s cosine with each of `ids` (held by the kind), which a search from `found_from` returned.

        An exact kind reads those vectors by id. An inverted-file kind scans the lists that search visited
        for those ids only: FAISS decoded float16 vectors one by one at about 1.2 us each (200 ids at 200k
        vectors: 0.25-0.6 ms), where scanning the 8 visited lists took 0.1-0.27 ms.
        """
        index = self.indexes[kind]
        ids = np.asarray(ids, dtype=np.int64)
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        if not isinstance(index, faiss.IndexIVF) or not len(ids):
            return self.vectors_of(kind, ids)[1] @ query[0]
        lists, distances = _visited_lists(index, found_from)
        scores = np.empty((1, len(ids)), dtype=np.float32)
        labels = np.empty((1, len(ids)), dtype=np.int64)
        visited_only = faiss.SearchParametersIVF(sel=faiss.IDSelectorBatch(ids), nprobe=index.nprobe)
        index.search_preassigned_c(1, faiss.swig_ptr(query), len(ids), faiss.swig_ptr(lists),
                                   faiss.swig_ptr(distances), faiss.swig_ptr(scores), faiss.swig_ptr(labels), False,
                                   visited_only)
        found = dict(zip(labels[0].tolist(), scores[0].tolist(), strict=True))
        missing = [chunk_id for chunk_id in ids.tolist() if chunk_id not in found]
        if missing:  # not in the visited lists (not found from `found_from`): read by id
            found |= dict(zip(missing, (self.vectors_of(kind, missing)[1] @ query[0]).tolist(), strict=True))
        return np.array([found[chunk_id] for chunk_id in ids.tolist()], dtype=np.float32)

    def is_approximate(self, kind: str) -> bool:
        """Whether the kind is searched with the inverted-file index."""
        return isinstance(self.indexes[kind], faiss.IndexIVF)

    def search(self, kind: str, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k nearest chunk ids with their cosine scores, best first.

        The caller must keep the store from changing meanwhile (SearchIndex's lock does).
        """
        return self.search_many(kind, np.asarray(query, dtype=np.float32).reshape(1, -1), k)[0]

    def search_many(self, kind: str, queries: np.ndarray, k: int,
                    crowding: float = 0.0) -> list[list[tuple[int, float]]]:
        """`search` for each row of `queries` (n x dim) in one pass over the vectors.

        With `crowding`, chunks are ranked (and scored) by cosine - crowding x their neighbourhood's
        crowding r (indexer/crowding.py): exactly for exact kinds, and for approximate ones among
        `CROWDING_DEPTH` x k nearest by cosine.
        """
        index = self.indexes[kind]
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        if index.ntotal == 0 or k <= 0 or not len(queries):
            return [[] for _ in queries]
        if not isinstance(index, faiss.IndexIVF):
            return _exact_search(index, queries, k, crowding, self.crowding[kind])
        scores, ids = index.search(queries, min(k * CROWDING_DEPTH if crowding else k, index.ntotal))
        if crowding:
            scores = scores - np.float32(crowding) * self.crowding[kind].scores(ids.ravel()).reshape(ids.shape)
            best = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            scores, ids = np.take_along_axis(scores, best, axis=1), np.take_along_axis(ids, best, axis=1)
        return [[(i, s) for i, s in zip(row_ids, row_scores, strict=True) if i >= 0]
                for row_ids, row_scores in zip(ids.tolist(), scores.tolist(), strict=True)]

    def _maybe_retrain(self, kind: str) -> None:
        index = self.indexes[kind]
        size = index.ntotal
        if isinstance(index, faiss.IndexIVF):
            trained_for = index.nlist ** 2  # the size its number of lists was chosen for
            if size <= 4 * trained_for:
                return
        elif size < APPROXIMATE_FROM:
            return
        self.indexes[kind] = _build_ivf(self.dim, *_all_vectors(index))


    def stage(self, folder: Path) -> Staged:
        """Write every kind's index to a temporary file in `folder`, without fsync.

        The caller keeps the store unchanged meanwhile and holds the folder's lock until the
        files are committed or discarded (a commit removes temporary files it finds).
        """
        folder.mkdir(parents=True, exist_ok=True)
        files: dict[str, Path] = {}
        try:
            for kind, index in self.indexes.items():
                files[kind] = _temporary(folder, kind, ".faiss")
                faiss.write_index(index, str(files[kind]))
                if self.crowded:
                    files[_crowding_key(kind)] = _temporary(folder, kind, ".crowding")
                    files[_crowding_key(kind)].write_bytes(self.crowding[kind].to_bytes())
        except BaseException:
            Staged(folder, files, {}).discard()
            raise
        return Staged(folder, files, {kind: self.count(kind) for kind in KINDS})

    @staticmethod
    def commit(staged: Staged, manifest: Manifest) -> Manifest:
        """Make staged files the folder's new generation: fsync, rename, then switch the manifest atomically."""
        folder = staged.folder
        previous = load_manifest(folder)
        generation = (previous.generation if previous else 0) + 1
        files = {}
        for key, temporary in staged.files.items():
            name = f"{key}-{generation:06d}{'.npz' if key.endswith(CROWDING) else '.faiss'}"
            _fsync_file(temporary)
            os.replace(temporary, folder / name)
            files[key] = name
        _fsync_folder(folder)
        manifest.files, manifest.generation = files, generation
        manifest.counts = dict(staged.counts)
        _atomic_write(folder / MANIFEST, json.dumps(asdict(manifest), indent=2).encode())
        _remove_stale_files(folder, keep=set(files.values()))
        return manifest

    def save(self, folder: Path, manifest: Manifest) -> Manifest:
        """Stage and commit at once (the caller holds the folder's lock and keeps the store unchanged)."""
        return self.commit(self.stage(folder), manifest)

    @classmethod
    def load(cls, folder: Path, crowded: bool = True) -> tuple[VectorStore, Manifest] | None:
        """Load the generation the manifest names; None if there is none or it is damaged."""
        manifest = load_manifest(folder)
        if manifest is None or manifest.format_version != FORMAT_VERSION:
            return None
        store = cls(manifest.dim, crowded)
        try:
            for kind in KINDS:
                data = np.frombuffer((folder / manifest.files[kind]).read_bytes(), dtype=np.uint8)
                index = faiss.deserialize_index(data)
                if isinstance(index, faiss.IndexIVFFlat):
                    index, store.converted = _with_half_lists(index), True
                if isinstance(index, faiss.IndexIVF):
                    index.nprobe = nprobe_for(index.nlist)
                    _with_direct_map(index)  # saved before it kept one
                store.indexes[kind] = index
        except (OSError, KeyError, RuntimeError):
            return None
        if any(store.count(k) != manifest.counts.get(k) for k in KINDS):
            return None
        for kind in KINDS if crowded else ():
            store.crowding[kind] = _load_crowding(folder, manifest, kind, store.indexes[kind])
        return store, manifest


def _temporary(folder: Path, kind: str, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{kind}.", suffix=f"{suffix}.tmp")
    os.close(fd)
    return Path(name)


def _crowding_key(kind: str) -> str:
    return f"{kind}{CROWDING}"


def _load_crowding(folder: Path, manifest: Manifest, kind: str, index: faiss.Index) -> Crowding:
    """The saved crowding of a kind; worked out from its vectors when the generation has none
    (saved before it existed) or the file is unreadable."""
    name = manifest.files.get(_crowding_key(kind))
    if name:
        try:
            crowding = Crowding.from_bytes((folder / name).read_bytes(), manifest.dim)
            if crowding.sampled_from or not index.ntotal:
                return crowding
        except (OSError, ValueError):
            pass
    crowding = Crowding(manifest.dim)
    if index.ntotal:
        crowding.resample(*_all_vectors(index))
    return crowding


def _exact_search(index: faiss.IndexIDMap2, queries: np.ndarray, k: int, crowding: float = 0.0,
                  neighbourhoods: Crowding | None = None) -> list[list[tuple[int, float]]]:
    """Exact top k of each query by a numpy matrix product over FAISS's own storage (no copy).

    For a single query this is about 5x faster than IndexFlatIP.search here (10k x 512:
    0.19 vs 1.1 ms p50, same results); FAISS's flat search pays off for large batches. The scan
    is bound by memory bandwidth, so queries searched together share it (on a slower machine,
    2.9 ms for one query, 0.8 ms per query for 8 together), block by block (_inner_products):
    at 100k tickets, in process, a batch of 8 bench queries took 121.8-140.1 ms against
    130.0-144.0 with one product (four rounds alternated, lower in each).
    """
    count = index.ntotal
    flat = faiss.downcast_index(index.index)
    vectors = faiss.rev_swig_ptr(flat.get_xb(), count * flat.d).reshape(count, flat.d)
    ids = faiss.rev_swig_ptr(index.id_map.data(), count)
    scores = _inner_products(queries, vectors)
    if crowding and neighbourhoods is not None:
        scores -= np.float32(crowding) * neighbourhoods.scores(ids)
    return [_top_k(ids, row, k) for row in scores]


def _inner_products(queries: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """queries @ vectors.T; for several queries, over blocks of about `PRODUCT_BLOCK_BYTES` of vectors.

    With a few queries (a busy server's batch) OpenBLAS's one big product was far slower than its
    single-query product: it copies the whole stored matrix into its packed layout first. Block by
    block the stored vectors are read once, from the cache (one thread, 10,380 x 512, 8 queries:
    2.0-2.1 against 4.5-4.8 ms; 2 queries 1.0 against 3.8; 7,000 x 384, 8 queries: 0.8 against 2.3).
    A single query keeps the one product (a matrix-vector product, already at memory speed).
    """
    if len(queries) == 1:
        return queries @ vectors.T
    rows = max(1, PRODUCT_BLOCK_BYTES // vectors.strides[0])
    products = np.empty((len(vectors), len(queries)), dtype=np.float32)
    columns = np.ascontiguousarray(queries.T)
    for start in range(0, len(vectors), rows):
        np.matmul(vectors[start:start + rows], columns, out=products[start:start + rows])
    return np.ascontiguousarray(products.T)


def _top_k(ids: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    if len(scores) > k:
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
    else:
        top = np.argsort(-scores, kind="stable")
    return list(zip(ids[top].tolist(), scores[top].tolist(), strict=True))


def single_threaded_vector_search() -> None:
    """Make FAISS searches called from this thread run on it alone (OpenMP's thread count is per thread)."""
    faiss.omp_set_num_threads(1)


def _visited_lists(index: faiss.IndexIVF, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lists a search from `vector` visits (1 x nprobe ids) and the vector's inner products with them."""
    distances, lists = index.quantizer.search(np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1),
                                              index.nprobe)
    return np.ascontiguousarray(lists), np.ascontiguousarray(distances)


def _lists_for(size: int) -> int:
    return max(64, int(math.sqrt(size)))


def nprobe_for(lists: int) -> int:
    """Lists visited per query: 1/32 of them (at least 8).

    `casewise bench ann` at 1M x 512 (632 lists): 1/16 gave recall@10 0.998 at p95 6.2 ms,
    1/24 0.998 at 5.5 ms, 1/32 0.997 at 4.1 ms.
    """
    return max(8, lists // 32)


def _build_ivf(dim: int, ids: np.ndarray, vectors: np.ndarray) -> faiss.IndexIVFScalarQuantizer:
    lists = _lists_for(len(ids))
    index = _half_ivf(faiss.IndexFlatIP(dim), dim, lists)
    sample_size = min(len(ids), lists * TRAINING_POINTS_PER_LIST)
    sample = np.random.default_rng(0).choice(len(ids), size=sample_size, replace=False)
    index.cp.max_points_per_centroid = TRAINING_POINTS_PER_LIST
    index.train(vectors[np.sort(sample)])
    index.add_with_ids(vectors, ids)
    index.nprobe = nprobe_for(lists)
    return index


def _half_ivf(quantizer: faiss.Index, dim: int, lists: int) -> faiss.IndexIVFScalarQuantizer:
    """An empty inverted-file index over `quantizer`'s lists that stores float16 vectors (see the module
    docstring); inner products, not residuals (a float16 vector needs no residual to be exact enough).
    It keeps a direct map from id to vector (`_with_direct_map`)."""
    index = faiss.IndexIVFScalarQuantizer(quantizer, dim, lists, faiss.ScalarQuantizer.QT_fp16,
                                          faiss.METRIC_INNER_PRODUCT, False)
    return _with_direct_map(index)


def _with_direct_map(index: faiss.IndexIVF) -> faiss.IndexIVF:
    """Keep a hash table from id to list position (saved with the index), so `VectorStore.vectors_of`
    reads a chunk's vector without a scan. Per million vectors: 28.5 MiB of memory, 15.3 MiB in the file
    (against about 985 MiB for the float16 lists of 512 dimensions)."""
    if index.direct_map.type != faiss.DirectMap.Hashtable:
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
    return index


def _with_half_lists(index: faiss.IndexIVFFlat) -> faiss.IndexIVFScalarQuantizer:
    """The same lists (same centroids, same ids in each) with float16 vectors: an index saved before
    the lists were float16 is converted on load instead of embedding every chunk again."""
    half = _half_ivf(faiss.clone_index(index.quantizer), index.d, index.nlist)
    half.train(np.zeros((1, index.d), dtype=np.float32))  # float16 needs no training; the centroids are kept
    ids, vectors = _ivf_contents(index)
    if len(ids):
        half.add_with_ids(vectors, ids)
    return half


def _all_vectors(index: faiss.Index) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) held by an exact or IVF index."""
    if isinstance(index, faiss.IndexIVF):
        return _ivf_contents(index)
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    return ids, index.index.reconstruct_n(0, index.ntotal)


def _ivf_contents(index: faiss.IndexIVF) -> tuple[np.ndarray, np.ndarray]:
    """Ids and vectors (float32) of an inverted-file index, read list by list: its codes are the
    vectors themselves, float32 (IndexIVFFlat) or float16 (_half_ivf)."""
    lists = index.invlists
    stored = np.float32 if isinstance(index, faiss.IndexIVFFlat) else np.float16
    ids, vectors = [], []
    for n in range(index.nlist):
        size = lists.list_size(n)
        if size:
            ids.append(faiss.rev_swig_ptr(lists.get_ids(n), size).copy())
            codes = faiss.rev_swig_ptr(lists.get_codes(n), size * lists.code_size)
            vectors.append(codes.view(stored).reshape(size, index.d).astype(np.float32))  # astype copies
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros((0, index.d), dtype=np.float32)
    return np.concatenate(ids).astype(np.int64), np.vstack(vectors)


def _ivf_ids(index: faiss.IndexIVF) -> np.ndarray:
    lists = index.invlists
    parts = [faiss.rev_swig_ptr(lists.get_ids(n), lists.list_size(n)).copy()
             for n in range(index.nlist) if lists.list_size(n)]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


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
    _fsync_folder(path.parent)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make renames in the folder durable."""
    _fsync_file(folder)


def _remove_stale_files(folder: Path, keep: set[str]) -> None:
    for path in folder.iterdir():
        stale_index = path.suffix in (".faiss", ".npz") and path.name not in keep
        if stale_index or path.name.endswith(".tmp"):
            path.unlink(missing_ok=True)
