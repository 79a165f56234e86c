"""Snippets that show why a hit matched: the best window with matched terms marked."""

from __future__ import annotations

import html
from dataclasses import dataclass

SNIPPET_CHARS = 160


@dataclass(frozen=True)
class Snippet:
    """Plain snippet text, the same with <mark> around matches (HTML-escaped), and the terms."""

    text: str
    html: str
    matched_terms: list[str]


def find_matches(text: str, terms: list[str]) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, term) spans of the terms in the text, longest terms first."""
    lowered = text.lower()
    taken = [False] * len(text)
    spans = []
    for term in sorted(set(terms), key=len, reverse=True):
        start = lowered.find(term)
        while start != -1 and term:
            end = start + len(term)
            if not any(taken[start:end]):
                spans.append((start, end, term))
                taken[start:end] = [True] * (end - start)
            start = lowered.find(term, end)
    return sorted(spans)


def _best_window(spans: list[tuple[int, int, str]], length: int, width: int) -> int:
    """Start offset of the window of `width` chars holding the most distinct terms."""
    if not spans or length <= width:
        return 0
    best_start, best_score = 0, -1
    for start, _, _ in spans:
        window_start = max(0, min(start - width // 4, length - width))
        inside = {t for s, e, t in spans if s >= window_start and e <= window_start + width}
        if len(inside) > best_score:
            best_start, best_score = window_start, len(inside)
    return best_start


def make_snippet(text: str, terms: list[str], width: int = SNIPPET_CHARS) -> Snippet:
    """The part of `text` that best shows the matched terms, plain and marked up."""
    flat = " ".join(text.split())
    spans = find_matches(flat, terms)
    start = _best_window(spans, len(flat), width)
    end = min(len(flat), start + width)
    prefix, suffix = ("…" if start > 0 else ""), ("…" if end < len(flat) else "")
    inside = [(s, e, t) for s, e, t in spans if s >= start and e <= end]
    parts, cursor = [], start
    for s, e, _ in inside:
        parts.append(html.escape(flat[cursor:s]))
        parts.append(f"<mark>{html.escape(flat[s:e])}</mark>")
        cursor = e
    parts.append(html.escape(flat[cursor:end]))
    matched = list(dict.fromkeys(t for _, _, t in inside))
    return Snippet(prefix + flat[start:end] + suffix, prefix + "".join(parts) + suffix, matched)
