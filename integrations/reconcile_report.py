"""The reconciliation report: counts per event and provider, as a table and as one line."""

from __future__ import annotations

from .models import ReconcileRun

COUNT_KEYS = ("seen", "known", "new", "changed", "errors")


def _empty_counts() -> dict:
    return dict.fromkeys(COUNT_KEYS, 0)


def totals(run: ReconcileRun) -> dict:
    out = _empty_counts()
    for providers in (run.counts or {}).values():
        for counts in providers.values():
            for k in COUNT_KEYS:
                out[k] += counts.get(k, 0)
    return out


def summary_line(run: ReconcileRun) -> str:
    t = totals(run)
    return (
        f"run #{run.pk} {run.kind}{' (dry run)' if run.dry_run else ''}: {run.get_status_display().lower()}; "
        f"{t['seen']} seen, {t['known']} known, {t['new']} new, {t['changed']} changed, {t['errors']} errors"
    )


def format_report(run: ReconcileRun) -> str:
    """The summary table printed at the end of a run."""
    header = ("event", "provider", *COUNT_KEYS)
    rows = []
    for slug in sorted(run.counts or {}):
        for provider in sorted(run.counts[slug]):
            c = run.counts[slug][provider]
            rows.append((slug, provider, *(str(c.get(k, 0)) for k in COUNT_KEYS)))
    t = totals(run)
    rows.append(("total", "", *(str(t[k]) for k in COUNT_KEYS)))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row):
        cells = zip(row, widths, strict=True)
        return "  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(cells))

    took = ""
    if run.finished_at:
        took = f", {(run.finished_at - run.started_at).total_seconds():,.1f} s"
    dry = ", dry run: nothing was changed" if run.dry_run else ""
    title = f"Reconciliation run #{run.pk} ({run.kind}{dry}) — {run.get_status_display()}{took}"
    lines = [title, "", fmt(header), fmt(["-" * w for w in widths])]
    lines += [fmt(r) for r in rows[:-1]]
    if len(rows) > 1:
        lines.append(fmt(["-" * w for w in widths]))
    lines.append(fmt(rows[-1]))
    if not run.counts:
        lines.append("(no mapped events: map a Stripe payment link or an Acuity appointment type to an event)")
    for slug in (run.options or {}).get("unmapped_events") or []:
        lines.append(f"{slug}: nothing to check (no Stripe payment link or Acuity appointment type is mapped to it)")
    if run.errors:
        lines += ["", "Errors:"]
        for e in run.errors:
            where = " ".join(x for x in (e.get("provider"), e.get("event")) if x and x != "-")
            lines.append(f"  {where + ': ' if where else ''}{e.get('message', '')}")
    lines += [
        "",
        "seen = records listed by the provider; known = already recorded and unchanged; new = missed by "
        "webhooks and now applied; changed = recorded but out of date (refund, cancellation, new time).",
    ]
    return "\n".join(lines)
