"""/ops/events/<slug>/walk-in/: record someone who pays at the door (cash, card in person or
complimentary). Calls ``services.enter_walk_in``; a one-time token in the form makes a double
submit harmless (the second is recognised and nothing is entered twice)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from ..audit import Actor
from ..identity import find_attendee, names_similar
from ..models import Event, Registration
from ..services import enter_walk_in
from .access import staff_required
from .context import ops_context
from .forms import WalkInForm, new_token

SESSION_KEY = "ops_walkin_tokens"
KEEP_TOKENS = 50


def _seen(request, token: str) -> bool:
    return token in request.session.get(SESSION_KEY, [])


def _remember(request, token: str) -> None:
    tokens = [t for t in request.session.get(SESSION_KEY, []) if t != token]
    request.session[SESSION_KEY] = (tokens + [token])[-KEEP_TOKENS:]


@require_http_methods(["GET", "POST"])
@staff_required
def walk_in(request, slug):
    event = get_object_or_404(Event, slug=slug)
    if request.method == "POST":
        form = WalkInForm(request.POST, currency=event.currency)
        if form.is_valid():
            d = form.cleaned_data
            if _seen(request, d["token"]):
                messages.info(request, "That walk-in was already entered; nothing was added twice.")
                return redirect(reverse("ops:walk_in", args=[event.slug]))
            owner = find_attendee(d["email"])
            if owner is not None and _someone_else(owner, d["name"]) and not d["same_person"]:
                # The walk-in would land on this person (their payments, bookings, messages):
                # ask first, instead of adding a stranger's cash to their registration.
                form.email_owner = owner
                form.add_error(
                    "email",
                    f"This address belongs to {owner.name}, not {d['name']}. If {owner.name} is who came, "
                    f"tick “Same person” and enter again; otherwise type {d['name']}’s own address.",
                )
            else:
                existing = Registration.objects.filter(event=event, attendee=owner).exists() if owner else False
                try:
                    entered = enter_walk_in(
                        event=event,
                        email=d["email"],
                        name=d["name"],
                        phone=d["phone"],
                        method=d["method"],
                        amount=d["amount"],
                        actor=Actor.operator(request.user),
                        note=d["note"],
                    )
                except ValueError as exc:
                    form.add_error(None, str(exc))
                else:
                    _remember(request, d["token"])
                    note = " (added to their existing registration)" if existing else ""
                    messages.success(
                        request,
                        f"Walk-in entered: {entered.attendee}{note} — now {entered.get_status_display().lower()}.",
                    )
                    if ended_on := _ended_on(event):
                        # Cash entered after the fact is legitimate: recorded, but said plainly.
                        messages.warning(
                            request, f"This event ended on {ended_on}; the walk-in is recorded for the record."
                        )
                    return redirect(reverse("ops:walk_in", args=[event.slug]))
        status = 400
    else:
        form = WalkInForm(initial={"token": new_token(), "method": "cash"}, currency=event.currency)
        status = 200
    recent = (
        Registration.objects.filter(event=event, source="walk_in")
        .select_related("attendee")
        .order_by("-created_at")[:10]
    )
    context = ops_context(request, nav="events", event=event, form=form, recent=recent, ended_on=_ended_on(event))
    return render(request, "ops/walk_in.html", context, status=status)


def _ended_on(event: Event) -> str | None:
    """The day the event ended ("2 Dec 2026", in its time zone), if it is over; else None."""
    end = event.ends_at or event.starts_at
    if end is None or end > timezone.now():
        return None
    day = end.astimezone(event.zone)
    return f"{day.day} {day:%b %Y}"


def _someone_else(owner, typed_name: str) -> bool:
    """The address's owner has a name, and it is not (nearly) the one typed."""
    return bool(owner.name and typed_name and not names_similar(owner.name, typed_name))
