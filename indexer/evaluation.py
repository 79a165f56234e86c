"""Retrieval evaluation on BEIR-like folders: the full Casewise pipeline and its baselines.

A folder holds `queries.jsonl` ({"id", "text"}) and `qrels.tsv` (query, doc,
relevance); `corpus.jsonl` ({"id", "title", "text"}) lies in the folder or its
parent. Corpus documents are imported as resolved tickets into a throwaway
Casewise database, indexed, and each query is answered by the same suggestion
code the service uses.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from indexer.embedder import Embedder
from indexer.index import SearchIndex
from indexer.search import FUSION_WEIGHTS, suggest
from kb.db import Database
from kb.errors import InvalidInput
from kb.tickets import import_resolved_tickets
from kb.visibility import Viewer

KS = (1, 5, 10)
EVAL_VIEWER = Viewer(name="eval", role="agent")


@dataclass(frozen=True)
class EvalSet:
    """Documents, queries and relevance judgements."""

    corpus: list[dict]
    queries: list[dict]
    qrels: dict[str, dict[str, int]]


def load_eval_set(folder: Path) -> EvalSet:
    """Read a BEIR-like folder; corpus.jsonl may sit in the parent (split folders such as dev/)."""
    corpus_path = next((p for p in (folder / "corpus.jsonl", folder.parent / "corpus.jsonl") if p.exists()), None)
    for needed, path in (("corpus.jsonl", corpus_path), ("queries.jsonl", folder / "queries.jsonl"),
                         ("qrels.tsv", folder / "qrels.tsv")):
        if path is None or not path.exists():
            raise InvalidInput(f"{folder}: {needed} not found (expected a BEIR-like folder)")
    return EvalSet(corpus=_read_jsonl(corpus_path), queries=_read_jsonl(folder / "queries.jsonl"),
                   qrels=_read_qrels(folder / "qrels.tsv"))


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise InvalidInput(f"{path.name} line {number}: malformed JSON ({error.msg})") from None
    return rows


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.strip().split("\t")
        if len(parts) >= 3 and parts[2].lstrip("-").isdigit():
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return qrels


def metrics(rankings: Mapping[str, list[str]], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    """recall@k, hit@k, MRR@10 and nDCG@10 averaged over queries with a relevant doc."""
    judged = [q for q, docs in qrels.items() if any(r > 0 for r in docs.values())]
    totals = {f"{name}@{k}": 0.0 for name in ("recall", "hit") for k in KS} | {"mrr@10": 0.0, "ndcg@10": 0.0}
    for query in judged:
        relevant = {d: r for d, r in qrels[query].items() if r > 0}
        ranking = list(dict.fromkeys(rankings.get(query, [])))
        for k in KS:
            found = sum(1 for d in ranking[:k] if d in relevant)
            totals[f"recall@{k}"] += found / len(relevant)
            totals[f"hit@{k}"] += 1.0 if found else 0.0
        first = next((rank for rank, d in enumerate(ranking[:10], start=1) if d in relevant), None)
        totals["mrr@10"] += 1 / first if first else 0.0
        totals["ndcg@10"] += _ndcg(ranking[:10], relevant)
    return {name: round(value / max(len(judged), 1), 4) for name, value in totals.items()}


def _ndcg(ranking: list[str], relevant: Mapping[str, int]) -> float:
    dcg = sum((2 ** relevant.get(d, 0) - 1) / math.log2(rank + 1) for rank, d in enumerate(ranking, start=1))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    best = sum((2 ** r - 1) / math.log2(rank + 1) for rank, r in enumerate(ideal, start=1))
    return dcg / best if best else 0.0


def corpus_as_tickets(corpus: Iterable[dict]) -> list[dict]:
    """Eval documents as resolved-ticket import records (a doc without title uses its text)."""
    records = []
    for doc in corpus:
        title, text = (doc.get("title") or "").strip(), (doc.get("text") or "").strip()
        records.append({"id": doc["id"], "title": title or text, "description": text if title else "",
                        "resolution": "(evaluation document)"})
    return records


class EvalInstance:
    """A throwaway database + index holding one corpus, for one embedder."""

    def __init__(self, eval_set: EvalSet, embedder: Embedder, workdir: Path,
                 progress: Callable[[int, int], None] | None = None, english: Embedder | None = None,
                 extra: Embedder | None = None, chinese: Embedder | None = None) -> None:
        self.database = Database(workdir / "eval.db")
        records = corpus_as_tickets(eval_set.corpus)
        self.database.write(lambda db: import_resolved_tickets(db, records, "eval", "EV"))
        self.index = SearchIndex.open(self.database, embedder, workdir / "index", progress, english=english,
                                      extra=extra, chinese=chinese)
        self.doc_of_ticket = dict(self.database.read(
            lambda db: [(r[0], r[1].removeprefix("import:")) for r in db.execute("SELECT id, external_ref FROM tickets")]
        ))

    def rank(self, text: str, weights: Mapping[str, float], k: int = 10) -> list[str]:
        """Doc ids for a query, best first, through the suggestion pipeline."""
        hits = suggest(self.index, text, k, EVAL_VIEWER, weights=weights).cases
        return [self.doc_of_ticket[hit.entity_id] for hit in hits]

    def close(self) -> None:
        self.database.close()


# the weights of each baseline; Casewise itself is fused with the weights `evaluate` is given
SYSTEMS: dict[str, Mapping[str, float]] = {
    "bm25": {"keyword": 1.0},
    "dense": {"dense": 1.0},
    "dense_extra": {"dense_extra": 1.0},
}


def evaluate(
    eval_set: EvalSet, embedders: list[Embedder], progress: Callable[[str, int, int], None] | None = None,
    english: Embedder | None = None, extra: Embedder | None = None, chinese: Embedder | None = None,
    weights: Mapping[str, float] = FUSION_WEIGHTS,
) -> dict[str, dict[str, float]]:
    """Metrics per system: Casewise (first embedder and the companions, fused with `weights`), BM25 alone,
    and each model alone."""
    rankings = system_rankings(eval_set, embedders, progress, english, extra, chinese, weights)
    return {system: metrics(ranking, eval_set.qrels) for system, ranking in rankings.items()}


def system_rankings(
    eval_set: EvalSet, embedders: list[Embedder], progress: Callable[[str, int, int], None] | None = None,
    english: Embedder | None = None, extra: Embedder | None = None, chinese: Embedder | None = None,
    weights: Mapping[str, float] = FUSION_WEIGHTS,
) -> dict[str, dict[str, list[str]]]:
    """Top-10 doc ids per query for each system: Casewise, BM25 alone, each model alone.

    The first embedder (with `english`, `extra` and `chinese`, if given) makes up Casewise, fused with
    `weights`; the others are baselines.
    """
    results: dict[str, dict[str, list[str]]] = {}
    for position, (embedder, companions) in enumerate(_instances(embedders, english, extra, chinese)):
        with tempfile.TemporaryDirectory(prefix="casewise-eval-") as workdir:
            step = (lambda done, total, name=embedder.name: progress(f"indexing ({name})", done, total)) \
                if progress else None
            instance = EvalInstance(eval_set, embedder, Path(workdir), step, *companions)
            try:
                _, extra_of_this, _ = companions
                for system, used in _systems_for(position, embedder, extra_of_this, weights).items():
                    results[system] = _run(instance, eval_set, used, system, progress)
            finally:
                instance.close()
    return results


def _instances(embedders: list[Embedder], english: Embedder | None, extra: Embedder | None,
               chinese: Embedder | None) -> list[tuple[Embedder, tuple[Embedder | None, ...]]]:
    """(primary model, its (english, extra, chinese) companions) of each index the evaluation builds.

    Casewise's own comes first. In it, a language's model holds only its language's texts, so as a
    baseline each language model gets an index of its own, reading every text as the only model.
    """
    alone: tuple[Embedder | None, ...] = (None, None, None)
    baselines = [model for model in (english, chinese) if model is not None] + embedders[1:]
    return [(embedders[0], (english, extra, chinese))] + [(model, alone) for model in baselines]


def _systems_for(position: int, embedder: Embedder, extra: Embedder | None,
                 casewise: Mapping[str, float]) -> dict[str, Mapping[str, float]]:
    systems = {f"dense:{embedder.name}": SYSTEMS["dense"]}
    if position == 0:
        systems = {"casewise": casewise, "bm25": SYSTEMS["bm25"], **systems}
    if extra is not None:  # the extra model reads every text in Casewise's own index already
        systems[f"dense:{extra.name}"] = SYSTEMS["dense_extra"]
    return systems


def _run(instance: EvalInstance, eval_set: EvalSet, weights: Mapping[str, float], label: str,
         progress: Callable[[str, int, int], None] | None) -> dict[str, list[str]]:
    rankings = {}
    for query in eval_set.queries:
        rankings[query["id"]] = instance.rank(query["text"], weights)
        if progress:
            progress(label, 1, len(eval_set.queries))
    return rankings


def hit_curve(rankings: Mapping[str, list[str]], qrels: Mapping[str, Mapping[str, int]],
              depth: int = 10) -> list[float]:
    """hit@k for k = 1..depth (share of judged queries with a relevant doc in the top k)."""
    judged = [q for q, docs in qrels.items() if any(r > 0 for r in docs.values())]
    firsts = []
    for query in judged:
        ranking = rankings.get(query, [])
        firsts.append(next((rank for rank, d in enumerate(ranking, start=1) if qrels[query].get(d, 0) > 0), None))
    return [sum(1 for f in firsts if f is not None and f <= k) / max(len(judged), 1)
            for k in range(1, depth + 1)]
