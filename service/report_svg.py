"""Small self-contained SVG charts for reports: vertical bars, horizontal bars and lines. No JavaScript."""

from __future__ import annotations

from html import escape

PALETTE = ("#2f6fb0", "#e07b39", "#3a9a5b", "#c2423f", "#8a62b8", "#7f7f7f", "#c9a227", "#2aa3a3")
FONT = "font-family='Helvetica, Arial, sans-serif'"


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:.1f}"


def _frame(width: int, height: int, title: str, body: list[str]) -> str:
    head = (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
            f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title, quote=True)}'>")
    caption = f"<text x='8' y='16' {FONT} font-size='13' font-weight='bold'>{escape(title)}</text>"
    return "\n".join([head, f"<title>{escape(title)}</title>", caption, *body, "</svg>"])


def bar_chart(title: str, labels: list[str], values: list[float], width: int = 560, height: int = 220,
              color: str = PALETTE[0]) -> str:
    """Vertical bars with the value above each bar; crowded labels are thinned out."""
    left, right, top, bottom = 36, 10, 28, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(values, default=0) or 1
    slot = plot_w / max(len(values), 1)
    every = max(1, round(len(labels) / 14))
    body = [f"<line x1='{left}' y1='{top + plot_h}' x2='{width - right}' y2='{top + plot_h}' stroke='#999'/>"]
    for i, (label, value) in enumerate(zip(labels, values)):
        bar_h = plot_h * value / peak
        x, y = left + i * slot + slot * 0.15, top + plot_h - bar_h
        body.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{slot * 0.7:.1f}' height='{bar_h:.1f}' fill='{color}'>"
                    f"<title>{escape(label)}: {_number(value)}</title></rect>")
        if value:
            body.append(f"<text x='{x + slot * 0.35:.1f}' y='{y - 3:.1f}' {FONT} font-size='10' "
                        f"text-anchor='middle'>{_number(value)}</text>")
        if i % every == 0:
            body.append(f"<text x='{x + slot * 0.35:.1f}' y='{top + plot_h + 14}' {FONT} font-size='10' "
                        f"text-anchor='middle'>{escape(label)}</text>")
    return _frame(width, height, title, body)


def hbar_chart(title: str, labels: list[str], values: list[float], width: int = 560,
               color: str = PALETTE[1]) -> str:
    """Horizontal bars, one row per label, the value at the end of each bar."""
    row, top, label_w = 20, 28, 170
    height = top + row * max(len(labels), 1) + 8
    peak = max(values, default=0) or 1
    plot_w = width - label_w - 50
    body = []
    for i, (label, value) in enumerate(zip(labels, values)):
        y = top + i * row
        bar_w = plot_w * value / peak
        body.append(f"<text x='{label_w - 6}' y='{y + 13}' {FONT} font-size='11' text-anchor='end'>"
                    f"{escape(label[:28])}</text>")
        body.append(f"<rect x='{label_w}' y='{y + 3}' width='{bar_w:.1f}' height='{row - 6}' fill='{color}'/>")
        body.append(f"<text x='{label_w + bar_w + 4:.1f}' y='{y + 13}' {FONT} font-size='10'>{_number(value)}</text>")
    return _frame(width, height, title, body)


def line_chart(title: str, labels: list[str], series: dict[str, list[float]], width: int = 560,
               height: int = 240) -> str:
    """One line per series over shared x labels, with a legend below."""
    left, right, top, bottom = 36, 10, 28, 34 + 16 * ((len(series) + 2) // 3)
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((v for values in series.values() for v in values), default=0) or 1
    step = plot_w / max(len(labels) - 1, 1)
    body = [f"<line x1='{left}' y1='{top + plot_h}' x2='{width - right}' y2='{top + plot_h}' stroke='#999'/>",
            f"<text x='{left - 4}' y='{top + 4}' {FONT} font-size='10' text-anchor='end'>{_number(peak)}</text>"]
    for i, label in enumerate(labels):
        body.append(f"<text x='{left + i * step:.1f}' y='{top + plot_h + 14}' {FONT} font-size='10' "
                    f"text-anchor='middle'>{escape(label[-3:])}</text>")
    for n, (name, values) in enumerate(series.items()):
        color = PALETTE[n % len(PALETTE)]
        points = " ".join(f"{left + i * step:.1f},{top + plot_h - plot_h * v / peak:.1f}" for i, v in enumerate(values))
        body.append(f"<polyline points='{points}' fill='none' stroke='{color}' stroke-width='2'/>")
        lx, ly = left + (n % 3) * (plot_w / 3), top + plot_h + 30 + 16 * (n // 3)
        body.append(f"<rect x='{lx:.1f}' y='{ly - 9}' width='10' height='10' fill='{color}'/>")
        body.append(f"<text x='{lx + 14:.1f}' y='{ly}' {FONT} font-size='11'>{escape(name[:24])}</text>")
    return _frame(width, height, title, body)
