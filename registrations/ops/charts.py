"""Small inline SVG charts drawn on the server: no JavaScript chart library, no CDN, no inline
style (colours come from classes in static/ops/ops.css, so a strict CSP needs no exception).
Every chart has a text alternative (``aria-label`` and ``<title>``)."""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe


def status_bar(status_rows: list[tuple[str, str, int]]) -> SafeString:
    """One stacked bar: a segment per status, width proportional to its count."""
    total = sum(n for _, _, n in status_rows)
    summary = ", ".join(f"{n} {label.lower()}" for _, label, n in status_rows if n) or "no registrations"
    if not total:
        return format_html(
            '<svg class="chart status-bar" viewBox="0 0 100 6" preserveAspectRatio="none" role="img" '
            'aria-label="Registrations by status: {}"><rect class="seg st-empty" x="0" y="0" width="100" '
            'height="6"/></svg>',
            summary,
        )
    x = 0.0
    parts = []
    for value, label, n in status_rows:
        if not n:
            continue
        w = 100.0 * n / total
        parts.append((f"{x:.3f}", f"{w:.3f}", value, f"{label}: {n}"))
        x += w
    rects = format_html_join(
        "",
        '<rect class="seg st-{}" x="{}" y="0" width="{}" height="6"><title>{}</title></rect>',
        ((value, xs, ws, title) for xs, ws, value, title in parts),
    )
    return format_html(
        '<svg class="chart status-bar" viewBox="0 0 100 6" preserveAspectRatio="none" role="img" '
        'aria-label="Registrations by status: {}">{}</svg>',
        summary,
        rects,
    )


def growth_chart(series, width: int = 240, height: int = 56) -> SafeString:
    """Cumulative registrations per day as an area + line."""
    if not series:
        return format_html(
            '<svg class="chart growth" viewBox="0 0 {} {}" role="img" aria-label="No registrations yet">'
            '<line class="axis" x1="0" y1="{}" x2="{}" y2="{}"/></svg>',
            width,
            height,
            height - 1,
            width,
            height - 1,
        )
    top = max(n for _, n in series) or 1
    steps = max(len(series) - 1, 1)
    pad = 2
    points = []
    for i, (_, n) in enumerate(series):
        px = width * i / steps
        py = height - pad - (height - 2 * pad) * n / top
        points.append(f"{px:.1f},{py:.1f}")
    if len(points) == 1:
        points.append(f"{width:.1f},{points[0].split(',')[1]}")
    line = " ".join(points)
    area = f"M0,{height} L" + " L".join(points) + f" L{width},{height} Z"
    first_day, _ = series[0]
    last_day, last_n = series[-1]
    label = f"Registrations over time: {last_n} by {last_day:%d %b %Y}, counted from {first_day:%d %b %Y}"
    return format_html(
        '<svg class="chart growth" viewBox="0 0 {} {}" preserveAspectRatio="none" role="img" aria-label="{}">'
        "<title>{}</title>"
        '<path class="area" d="{}"/><polyline class="line" points="{}"/>'
        '<line class="axis" x1="0" y1="{}" x2="{}" y2="{}"/></svg>',
        width,
        height,
        label,
        label,
        mark_safe(area),  # numbers only
        mark_safe(line),  # numbers only
        height - 0.5,
        width,
        height - 0.5,
    )
