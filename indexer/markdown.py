"""Markdown with markdown-it-py: split articles into heading sections, render safe HTML."""

from __future__ import annotations

from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token

MAX_SECTION_CHARS = 1200


@dataclass(frozen=True)
class Section:
    """A part of an article under one heading; lines are 0-based and end-exclusive."""

    heading_path: list[str]
    anchor: str
    line_start: int
    line_end: int
    text: str


def _parser() -> MarkdownIt:
    # commonmark with raw HTML off: tags in the source are shown as text, never run.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.enable("strikethrough")
    return md


_MD = _parser()


def heading_anchor(line_start: int) -> str:
    """The element id of the heading that starts at a 0-based source line."""
    return f"L{line_start + 1}"


def render_html(body: str) -> str:
    """Render markdown to HTML with raw HTML escaped and unsafe link schemes refused.

    Headings get ids (`heading_anchor`) so a hit can open the article at its section.
    """
    tokens = _MD.parse(body)
    for token in tokens:
        if token.type == "heading_open" and token.map:
            token.attrSet("id", heading_anchor(token.map[0]))
    return _MD.renderer.render(tokens, _MD.options, {})


def sections(body: str) -> list[Section]:
    """Split a markdown body at its headings, keeping each section's heading path and lines."""
    lines = body.splitlines()
    headings = _headings(_MD.parse(body))
    result: list[Section] = []
    path: list[tuple[int, str]] = []
    starts = [h[1] for h in headings] + [len(lines)]
    if not headings or headings[0][1] > 0:
        result += _section_parts([], 0, starts[0], lines, anchor="")
    for index, (level, line, title) in enumerate(headings):
        path = [p for p in path if p[0] < level] + [(level, title)]
        end = starts[index + 1]
        result += _section_parts([t for _, t in path], line, end, lines, heading_anchor(line))
    return result


def _headings(tokens: list[Token]) -> list[tuple[int, int, str]]:
    found = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.map:
            title = tokens[index + 1].content.strip()
            found.append((int(token.tag[1]), token.map[0], title))
    return found


def _section_parts(
    path: list[str], start: int, end: int, lines: list[str], anchor: str
) -> list[Section]:
    """The section's text without its heading line, in parts of at most MAX_SECTION_CHARS.

    Parts break at blank lines, so a paragraph is never cut; one longer paragraph stays whole.
    """
    first = start + 1 if path else start
    parts: list[Section] = []
    part_start, buffer = first, []
    for number, paragraph in _paragraphs(lines, first, end):
        size = sum(len(text) for _, text in buffer) + len(paragraph)
        if buffer and size > MAX_SECTION_CHARS:
            parts.append(_part(path, anchor, part_start, number, buffer))
            part_start, buffer = number, []
        buffer.append((number, paragraph))
    if buffer:
        parts.append(_part(path, anchor, part_start, end, buffer))
    return parts


def _paragraphs(lines: list[str], start: int, end: int) -> list[tuple[int, str]]:
    """(first line, text) of each blank-line separated block between start and end."""
    blocks, current, current_start = [], [], start
    for number in range(start, end):
        if lines[number].strip():
            if not current:
                current_start = number
            current.append(lines[number])
        elif current:
            blocks.append((current_start, "\n".join(current)))
            current = []
    if current:
        blocks.append((current_start, "\n".join(current)))
    return blocks


def _part(path: list[str], anchor: str, start: int, end: int, buffer: list[tuple[int, str]]) -> Section:
    return Section(path, anchor, start, end, "\n\n".join(text for _, text in buffer).strip())
