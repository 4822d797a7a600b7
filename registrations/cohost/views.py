"""Co-host portal views. Read-only: the only POSTs are signing in and out.

Sign-in is a two-step magic link:
1. ``login``: the co-host types their address. Whatever the address, the answer is the same page
   with the same status, and it takes at least ``COHOST_LOGIN_MIN_SECONDS`` so that sending a
   mail is not visible in the timing. Requests are rate-limited per client IP and per salted hash
   of the address (429, saying when to try again, identical for known and unknown addresses).
2. ``auth``: the emailed link opens a page with a "Sign in" button. A GET never validates or
   consumes the token, because mail scanners open links before people do; the POST does.

Reusing a link: links are not single-use (a scanner's visit would burn a one-time link), so the
same link signs in again within its 15 minutes, also after signing out. A link only ever signs in
the co-host it was made for, and every page is scoped to that co-host's grants.
"""

from __future__ import annotations

import csv
import logging
import time

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import ratelimit
from ..audit import audit
from ..identity import normalise_email
from ..models import CoHost, Event
from ..search import SEARCH_HINT_COLUMN
from . import access
from .accounts import SCOPE, cohost_actor, link_minutes, send_sign_in_link
from .attendees import CANCELLED_OR_REFUNDED, INCOMPLETE, build_row, build_rows, registrations_for, status_counts
from .calendar import build_feed
from .forms import AttendeeFilterForm, LoginForm, TokenForm

log = logging.getLogger(__name__)

PAGE_SIZE = 100
REASONS = {
    "idle": "You were signed out after a period without activity. Request a new link to continue.",
    "expired": "For safety, a sign-in lasts at most a few days, however active. Request a new link to continue.",
    "signed_out": "You are signed out.",
}


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response


def _too_many(request, decision):
    response = render(
        request,
        "cohost/rate_limited.html",
        {"minutes": decision.retry_after_minutes},
        status=429,
    )
    response["Retry-After"] = str(decision.retry_after)
    return _no_store(response)


def _active_cohost_for(email: str) -> CoHost | None:
    return (
        CoHost.objects.filter(
            user__email__iexact=email,
            is_active=True,
            user__is_active=True,
            user__is_staff=False,
            user__is_superuser=False,
        )
        .select_related("user")
        .order_by("pk")
        .first()
    )


@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request):
    reason = REASONS.get(request.GET.get("reason", ""), "")
    if request.method == "GET":
        return render(request, "cohost/login.html", {"form": LoginForm(), "reason": reason})

    started = time.monotonic()
    form = LoginForm(request.POST)
    if not form.is_valid():
        return render(request, "cohost/login.html", {"form": form}, status=400)
    email = normalise_email(form.cleaned_data["email"])

    for decision in (
        ratelimit.take(
            ratelimit.hashed("cohost-login-ip", ratelimit.client_ip(request)),
            settings.COHOST_LOGIN_PER_IP_PER_HOUR,
        ),
        ratelimit.take(ratelimit.hashed("cohost-login-email", email), settings.COHOST_LOGIN_PER_EMAIL_PER_HOUR),
    ):
        if not decision.allowed:
            return _too_many(request, decision)

    cohost = _active_cohost_for(email)
    if cohost is not None:
        try:
            send_sign_in_link(cohost)
        except Exception:
            # Same answer either way; the operator sees the failure in the logs.
            log.exception("Could not send a co-host sign-in link (co-host %s)", cohost.pk)

    remaining = settings.COHOST_LOGIN_MIN_SECONDS - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)
    return render(request, "cohost/login_sent.html", {"minutes": link_minutes()})


@never_cache
@require_http_methods(["GET", "POST"])
def auth_view(request):
    if request.method == "GET":
        form = TokenForm(initial={"t": request.GET.get("t", "")})
        if not request.GET.get("t"):
            return render(request, "cohost/auth_invalid.html", status=400)
        response = render(request, "cohost/auth_confirm.html", {"form": form})
        # The token is in this page's URL: never send it to anyone in a Referer header.
        response["Referrer-Policy"] = "no-referrer"
        return response

    form = TokenForm(request.POST)
    user = None
    if form.is_valid():
        # What sesame.utils.get_user(token, scope=…, max_age=…) does, but with the request
        # passed to authenticate(): django-axes (first backend) refuses calls without one.
        # last_login is updated once, by login() below.
        user = authenticate(
            request,
            sesame=form.cleaned_data["t"],
            scope=SCOPE,
            max_age=settings.COHOST_LINK_MAX_AGE,
        )
    cohost = None
    if user is not None and not (user.is_staff or user.is_superuser):
        cohost = CoHost.objects.filter(user=user, is_active=True).first()
    if cohost is None:
        return render(request, "cohost/auth_invalid.html", status=400)

    login(request, user)
    access.start_session(request)
    audit("cohost.signed_in", actor=cohost_actor(cohost, "magic-link"), obj=cohost)
    return redirect("cohost:index")


@require_POST
def logout_view(request):
    logout(request)
    return redirect(f"{redirect('cohost:login').url}?reason=signed_out")


@require_GET
@access.cohost_required
def index(request):
    now = timezone.now()
    events = list(
        Event.objects.filter(cohost_grants__cohost=request.cohost)
        .annotate(
            n_total=Count("registrations"),
            n_complete=Count("registrations", filter=Q(registrations__status="complete")),
            n_incomplete=Count("registrations", filter=Q(registrations__status__in=INCOMPLETE)),
            n_cancelled=Count("registrations", filter=Q(registrations__status__in=CANCELLED_OR_REFUNDED)),
        )
        .order_by("starts_at")
    )
    upcoming = [e for e in events if (e.ends_at or e.starts_at) >= now]
    past = [e for e in events if (e.ends_at or e.starts_at) < now][::-1]
    calendar_url = request.build_absolute_uri(reverse("cohost:calendar", args=[request.cohost.calendar_token]))
    return render(
        request,
        "cohost/index.html",
        {
            "upcoming": upcoming,
            "past": past,
            "calendar_url": calendar_url,
            "webcal_url": "webcal://" + calendar_url.split("://", 1)[1],
        },
    )


@require_GET
@access.cohost_required
def event_detail(request, slug):
    event = access.get_event_for_cohost(request, slug)
    q, show = AttendeeFilterForm(request.GET).values()
    page = Paginator(registrations_for(event, show=show, q=q), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = build_rows(page.object_list, event, event.can_see_money)
    query = urlencode({k: v for k, v in {"q": q, "show": show if show != "all" else ""}.items() if v})
    return render(
        request,
        "cohost/event.html",
        {
            "event": event,
            "rows": rows,
            "page": page,
            "q": q,
            "show": show,
            "query": query,
            "counts": status_counts(event),
            "can_see_money": event.can_see_money,
        },
    )


def _cell(value) -> str:
    """CSV cell that a spreadsheet will not run as a formula (=, +, -, @ at the start)."""
    value = "" if value is None else str(value)
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@require_GET
@access.cohost_required
def export_csv(request, slug):
    event = access.get_event_for_cohost(request, slug)
    q, show = AttendeeFilterForm(request.GET).values()
    money = event.can_see_money
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="{event.slug}-attendees-{stamp}.csv"'
    _no_store(response)
    response.write("\ufeff")  # BOM: Excel opens UTF-8 names (é, ñ) correctly
    writer = csv.writer(response)
    # SEARCH_HINT_COLUMN: why a search found the row when not by its current details (an address
    # or number used before a merge), in the operators' export's words; empty otherwise.
    header = ["Name", "Email", "Phone", "Status", "Missing", "Booked for", "Booking note", "Registered", "Seats",
              SEARCH_HINT_COLUMN]  # fmt: skip
    if money:
        header += ["Paid", "Refunded"]
    writer.writerow([*header, "Intake answers"])
    for reg in registrations_for(event, show=show, q=q):
        row = build_row(reg, event, money)
        cells = [row.name, row.email, row.phone, row.status_label, row.missing_text, row.booked_for,
                 row.booking_note, row.registered_at, row.seats, row.matched]  # fmt: skip
        if money:
            cells += [row.paid, row.refunded]
        cells.append("; ".join(f"{label}: {value}" for label, value in row.intake))
        writer.writerow([_cell(c) for c in cells])
    return response


@require_GET
@access.cohost_required
def registration_detail(request, slug, reference):
    registration = access.get_registration_for_cohost(request, slug, reference)
    event = registration.event
    reg = registrations_for(event).get(pk=registration.pk)
    return render(
        request,
        "cohost/registration.html",
        {"event": event, "row": build_row(reg, event, event.can_see_money), "can_see_money": event.can_see_money},
    )


@require_GET
def calendar_feed(request, token):
    cohost = access.get_cohost_for_calendar(token)
    response = HttpResponse(build_feed(cohost), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="jlf-cohost.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response
