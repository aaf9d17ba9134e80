"""Small SVG plots written by hand: grouped bars of rates, and a labelled scatter plot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#c0392b", "#2471a3", "#229954", "#b7950b", "#7d3c98", "#566573")
_FONT = 'font-family="Helvetica, Arial, sans-serif"'


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>'
            f'<text x="{width / 2:.0f}" y="22" text-anchor="middle" font-size="15" '
            f'font-weight="bold" {_FONT}>{escape(title)}</text>' + "".join(body) + "</svg>\n")


def bar_chart(title: str, categories: Sequence[str],
              series: Mapping[str, Sequence[float | None]], *, ylabel: str = "rate") -> str:
    """Grouped vertical bars of rates in [0, 1], one group per category; a missing rate
    (None) draws no bar. Values are printed as percentages above the bars."""
    left, right, top, bottom = 60, 20, 40, 80
    group = max(60, 22 * len(series) + 24)
    width = left + right + group * len(categories)
    height = 340
    plot_h = height - top - bottom
    body = [f'<text x="16" y="{top + plot_h / 2:.0f}" font-size="12" {_FONT} '
            f'transform="rotate(-90 16 {top + plot_h / 2:.0f})" text-anchor="middle">'
            f'{escape(ylabel)}</text>']
    for tick in range(0, 101, 25):
        y = top + plot_h * (1 - tick / 100)
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                    f'stroke="#dddddd"/><text x="{left - 6}" y="{y + 4:.1f}" font-size="11" '
                    f'text-anchor="end" {_FONT}>{tick}%</text>')
    bar = (group - 24) / max(1, len(series))
    for c, category in enumerate(categories):
        x0 = left + c * group + 12
        for s, (name, values) in enumerate(series.items()):
            value = values[c]
            if value is None:
                continue
            h = plot_h * max(0.0, min(1.0, value))
            x, y = x0 + s * bar, top + plot_h - h
            body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar - 2:.1f}" '
                        f'height="{max(h, 0.5):.1f}" fill="{PALETTE[s % len(PALETTE)]}">'
                        f'<title>{escape(name)}: {value:.1%}</title></rect>'
                        f'<text x="{x + (bar - 2) / 2:.1f}" y="{y - 3:.1f}" font-size="9" '
                        f'text-anchor="middle" {_FONT}>{value * 100:.0f}</text>')
        body.append(f'<text x="{x0 + (group - 24) / 2:.1f}" y="{top + plot_h + 16}" '
                    f'font-size="11" text-anchor="middle" {_FONT}>{escape(category)}</text>')
    body.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" '
                f'y2="{top + plot_h}" stroke="#333333"/>')
    body += _legend(list(series), left, height - 30)
    return _svg(width, height, body, title)


def scatter(title: str, points: Sequence[tuple[str, float, float]], *,
            xlabel: str, ylabel: str) -> str:
    """Labelled points (label, x, y) with both axes as rates in [0, 1]."""
    left, top, size = 70, 40, 360
    width, height = left + size + 230, top + size + 60
    body = []
    for tick in range(0, 101, 25):
        x = left + size * tick / 100
        y = top + size * (1 - tick / 100)
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + size}" '
                    f'stroke="#eeeeee"/><line x1="{left}" x2="{left + size}" y1="{y:.1f}" '
                    f'y2="{y:.1f}" stroke="#eeeeee"/>'
                    f'<text x="{x:.1f}" y="{top + size + 16}" font-size="11" '
                    f'text-anchor="middle" {_FONT}>{tick}%</text>'
                    f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
                    f'{_FONT}>{tick}%</text>')
    body.append(f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" '
                f'stroke="#333333"/>'
                f'<text x="{left + size / 2}" y="{top + size + 36}" font-size="12" '
                f'text-anchor="middle" {_FONT}>{escape(xlabel)}</text>'
                f'<text x="18" y="{top + size / 2}" font-size="12" text-anchor="middle" '
                f'transform="rotate(-90 18 {top + size / 2})" {_FONT}>{escape(ylabel)}</text>')
    for i, (label, x, y) in enumerate(points):
        px, py = left + size * x, top + size * (1 - y)
        colour = PALETTE[i % len(PALETTE)]
        body.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="6" fill="{colour}">'
                    f'<title>{escape(label)}: {x:.1%}, {y:.1%}</title></circle>'
                    f'<text x="{px + 9:.1f}" y="{py + 4 + (i % 2) * 10:.1f}" font-size="10" '
                    f'{_FONT}>{i + 1}</text>')
        ly = top + 10 + 18 * i
        body.append(f'<circle cx="{left + size + 20}" cy="{ly}" r="5" fill="{colour}"/>'
                    f'<text x="{left + size + 30}" y="{ly + 4}" font-size="11" {_FONT}>'
                    f'{i + 1}. {escape(label)}</text>')
    return _svg(width, height, body, title)


def _legend(names: Sequence[str], x: int, y: int) -> list[str]:
    out = []
    for i, name in enumerate(names):
        out.append(f'<rect x="{x}" y="{y}" width="12" height="12" '
                   f'fill="{PALETTE[i % len(PALETTE)]}"/><text x="{x + 18}" '
                   f'y="{y + 10}" font-size="12" {_FONT}>{escape(name)}</text>')
        x += 40 + 7 * len(name)
    return out
