"""The event page (/ops/events/<slug>/): the registrations table with status filter, search,
sort and pagination; a row opens the registration's timeline in place; manual "mark paid" /
"mark booked" with a required reason.

One view serves the page and its fragments: an htmx request for the table gets
``ops/event.html#registrations``; the timeline comes as ``ops/registration.html#timeline_row``.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import OuterRef, Q, Subquery, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from ..audit import Actor
from ..models import Booking, Event, Payment, Registration, ReviewItem
from ..resolutions import ResolutionError, mark_booked_manually, mark_paid_manually
from .access import staff_required
from .charts import growth_chart, status_bar
from .context import ops_context
from .forms import MarkBookedForm, MarkPaidForm, RegistrationFilterForm, new_token
from .stats import cumulative_series, event_stats
from .timeline import registration_timeline

log = logging.getLogger(__name__)
PAGE_SIZE = 50
SORT_COLUMNS = [
    ("name", "Name"),
    ("email", "Contact"),
    ("status", "Status"),
    ("", "Paid"),
    ("", "Booked for"),
    ("created", "Registered"),
]


def handoff_links(event: Event) -> dict:
    """The exact Stripe Payment Link redirect URL and Acuity confirmation link to paste into the
    providers (``integrations.handoff.redirect_urls``; guarded: the page works without it)."""
    try:
        from integrations.handoff import redirect_urls
    except ImportError:
        return {}
    try:
        return dict(redirect_urls(event) or {})
    except Exception:  # an optional helper must never break the event page
        log.exception("integrations.handoff.redirect_urls failed for %s", event.slug)
        return {}


def annotated_registrations(event: Event):
    paid = (
        Payment.objects.filter(registration=OuterRef("pk"), state=Payment.State.PAID)
        .exclude(method=Payment.Method.GROUP_SEAT)
        .order_by()
        .values("registration")
    )
    next_booking = (
        Booking.objects.filter(registration=OuterRef("pk"), cancelled=False).order_by("starts_at").values("starts_at")
    )
    return (
        Registration.objects.filter(event=event)
        .select_related("attendee")
        .annotate(
            paid_cents=Subquery(paid.annotate(s=Sum("amount")).values("s")[:1]),
            refunded_cents=Subquery(paid.annotate(s=Sum("amount_refunded")).values("s")[:1]),
            booking_at=Subquery(next_booking[:1]),
        )
    )


def _event_or_404(slug: str) -> Event:
    return get_object_or_404(Event, slug=slug)


def _registration_or_404(event: Event, pk: int) -> Registration:
    qs = annotated_registrations(event).prefetch_related("payments__refunds", "payments__disputes", "bookings")
    return get_object_or_404(qs, pk=pk)


@require_GET
@vary_on_headers("HX-Request", "HX-Target")
@staff_required
def event_page(request, slug):
    event = _event_or_404(slug)
    form = RegistrationFilterForm(request.GET or None)
    qs = form.filter(annotated_registrations(event))
    paginator = Paginator(qs, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    sort_params = params.copy()
    sort_params.pop("sort", None)
    context = ops_context(
        request,
        nav="events",
        event=event,
        form=form,
        page=page,
        query=params.urlencode(),
        filtered=bool(request.GET.get("status") or request.GET.get("q")),
        sort_query=sort_params.urlencode(),
        sort_columns=SORT_COLUMNS,
        current_sort=request.GET.get("sort") or "name",
    )
    if request.htmx and request.htmx.target == "registrations":
        return render(request, "ops/event.html#registrations", context)
    stats = event_stats([event])[event.pk]
    context.update(
        stats=stats,
        status_chart=status_bar(stats.status_rows),
        growth_chart=growth_chart(cumulative_series(stats.per_day, event.starts_at.date())),
        handoff=handoff_links(event),
    )
    return render(request, "ops/event.html", context)


def _timeline_context(request, event, reg, **extra):
    live_paid = any(p.is_paid and not p.fully_refunded for p in reg.payments.all())
    live_booking = any(not b.cancelled for b in reg.bookings.all())
    ctx = ops_context(
        request,
        event=event,
        reg=reg,
        entries=registration_timeline(reg),
        can_mark_paid=not live_paid,
        can_mark_booked=not live_booking,
        # The queue cases holding this registration (either side of a pair), to resolve from here.
        open_items=list(
            ReviewItem.objects.filter(Q(registration=reg) | Q(counterpart=reg), state=ReviewItem.State.OPEN).order_by(
                "created_at", "pk"
            )
        ),
        paid_form=extra.pop("paid_form", None) or MarkPaidForm(initial={"token": new_token()}, currency=event.currency),
        booked_form=extra.pop("booked_form", None) or MarkBookedForm(initial={"token": new_token()}),
    )
    ctx.update(extra)
    return ctx


@require_GET
@vary_on_headers("HX-Request")
@staff_required
def registration_page(request, slug, pk):
    """The timeline of one registration: in place under its table row (htmx) or as a page."""
    event = _event_or_404(slug)
    reg = _registration_or_404(event, pk)
    if request.htmx:
        if request.GET.get("close"):
            return render(request, "ops/registration.html#timeline_slot", {"reg": reg})
        return render(request, "ops/registration.html#timeline_row", _timeline_context(request, event, reg))
    return render(request, "ops/registration.html", _timeline_context(request, event, reg))


def _after_mark(request, event, reg, form_name, form, ok_message):
    """Answer a mark-paid / mark-booked POST: the refreshed timeline (and, out of band, the
    table row with its new status) for htmx; a redirect with a message otherwise."""
    if ok_message is not None:
        reg = _registration_or_404(event, reg.pk)
        if not request.htmx:
            messages.success(request, ok_message)
            return redirect(reverse("ops:registration", args=[event.slug, reg.pk]))
        ctx = _timeline_context(request, event, reg, notice=ok_message, oob_row=True)
        return render(request, "ops/registration.html#timeline_response", ctx)
    ctx = _timeline_context(request, event, reg, **{form_name: form})
    template = "ops/registration.html#timeline_row" if request.htmx else "ops/registration.html"
    return render(request, template, ctx, status=200 if request.htmx else 400)


@require_POST
@staff_required
def mark_paid(request, slug, pk):
    event = _event_or_404(slug)
    reg = _registration_or_404(event, pk)
    form = MarkPaidForm(request.POST, currency=event.currency)
    if not form.is_valid():
        return _after_mark(request, event, reg, "paid_form", form, None)
    d = form.cleaned_data
    try:
        mark_paid_manually(reg, d["amount"], d["method"], d["reason"], Actor.operator(request.user), key=d["token"])
    except ResolutionError as exc:
        form.add_error(None, str(exc))
        return _after_mark(request, event, reg, "paid_form", form, None)
    return _after_mark(request, event, reg, "paid_form", form, f"{reg.attendee} is marked paid.")


@require_POST
@staff_required
def mark_booked(request, slug, pk):
    event = _event_or_404(slug)
    reg = _registration_or_404(event, pk)
    form = MarkBookedForm(request.POST)
    if not form.is_valid():
        return _after_mark(request, event, reg, "booked_form", form, None)
    d = form.cleaned_data
    try:
        mark_booked_manually(reg, d["reason"], Actor.operator(request.user), key=d["token"])
    except ResolutionError as exc:
        form.add_error(None, str(exc))
        return _after_mark(request, event, reg, "booked_form", form, None)
    return _after_mark(request, event, reg, "booked_form", form, f"{reg.attendee} is marked booked.")
