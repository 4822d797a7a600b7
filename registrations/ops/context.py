"""Context every ops page needs (the nav counter; ``read_only_mode`` comes from the
``jlf.readonly.read_only_mode`` context processor)."""

from __future__ import annotations

from ..models import ReviewItem


def open_queue_count() -> int:
    return ReviewItem.objects.filter(state=ReviewItem.State.OPEN).count()


def ops_context(request, **extra) -> dict:
    ctx = {"queue_open_count": open_queue_count()}
    ctx.update(extra)
    return ctx
