"""No page answers 500 to what a hand-edited or stale URL, a link checker or a forged form sends.

``tests/ops/test_ops_bad_input.py`` covers the operator pages. This covers the rest a person can
reach: every admin list (each of its filters with odd values, search, ordering, paging), every
admin object page, the co-host portal, and the attendee's pages (status, unsubscribe, and the
pages Stripe and Acuity send people back to). Each gets a page, a 4xx or a redirect.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse

from notifications.tokens import status_token
from registrations.models import Registration
from tests.cohost.conftest import populate, sign_in
from tests.factories import CoHostGrantFactory
from tests.ops.scenario import build_world

pytestmark = pytest.mark.django_db

ODD = ["", "0", "-1", "999999999999999999999", "abc", "a\x00b", "<script>", "1e309", "[]", "ü", "../../etc", "x" * 3000]


def _get(client, url, params=None):
    """(status, error): a 500 (the test client raises the view's exception) becomes ``error``."""
    try:
        return client.get(url, params or {}).status_code, None
    except Exception as exc:  # noqa: BLE001 - every failure is listed at the end
        return 500, f"{type(exc).__name__}: {exc}"


def _failures(client, url, params_list):
    out = []
    for params in params_list:
        status, error = _get(client, url, params)
        if status >= 500:
            out.append((url, params if len(str(params)) < 200 else "<long value>", error))
    return out


@pytest.fixture
def superuser(client):
    user = get_user_model().objects.create_superuser("sue.super", "sue@jlf.example", "pw-sue-123")
    client.force_login(user)
    return client


def _filter_params(page: str) -> set[str]:
    """The query parameter names the admin list's own filter links use."""
    names = set()
    for href in re.findall(r'href="(\?[^"]*)"', page):
        names.update(name for name, _ in parse_qsl(urlsplit(unescape(href)).query, keep_blank_values=True))
    return names - {"e"}


def test_every_admin_list_survives_odd_filters_search_ordering_and_pages(superuser):
    build_world()
    failures = []
    for model in admin.site._registry:
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        status, error = _get(superuser, url)
        assert status == 200, (url, error)
        page = superuser.get(url).content.decode()
        names = _filter_params(page) | {"q", "o", "p", "all"}
        hierarchy = admin.site._registry[model].date_hierarchy
        if hierarchy:  # its links show only when the list has rows
            names |= {f"{hierarchy}__year", f"{hierarchy}__month", f"{hierarchy}__day"}
        failures += _failures(superuser, url, [{name: value} for name in sorted(names) for value in ODD])
    assert failures == [], "\n".join(map(repr, failures))


def test_every_admin_object_page_survives_odd_ids(superuser):
    build_world()
    failures = []
    for model in admin.site._registry:
        opts = model._meta
        prefix = f"admin:{opts.app_label}_{opts.model_name}"
        obj = model.objects.order_by("pk").first()
        ids = ["abc", "-1", "999999999", "0", "%20"] + ([str(obj.pk)] if obj is not None else [])
        for pk in ids:
            for view in ("change", "history", "delete"):
                url = reverse(f"{prefix}_{view}", args=[pk])
                failures += _failures(superuser, url, [{}, {"_changelist_filters": "abc"}])
        prefill = [{field.name: value} for field in opts.fields if field.many_to_one for value in ODD]
        failures += _failures(superuser, reverse(f"{prefix}_add"), [{}, {"_popup": "1"}, *prefill])
    assert failures == [], "\n".join(map(repr, failures))


def test_the_cohost_portal_survives_odd_input(client):
    from tests.factories import EventFactory

    event = EventFactory(slug="spring-retreat")
    from tests.cohost.conftest import map_event

    map_event(event)
    populate(event, "spring")
    cohost = CoHostGrantFactory(event=event).cohost
    reg = Registration.objects.filter(event=event).first()
    params = [{name: value} for name in ("q", "status", "page", "sort", "order", "past") for value in ODD]
    pages = [
        reverse("cohost:index"),
        reverse("cohost:event", args=[event.slug]),
        reverse("cohost:export", args=[event.slug]),
        reverse("cohost:registration", args=[event.slug, reg.reference]),
        reverse("cohost:registration", args=[event.slug, "R" + "Z" * 16]),
        reverse("cohost:registration", args=[event.slug, "not-a-reference"]),
        reverse("cohost:event", args=["no-such-event"]),
        "/cohost/calendar/" + "A" * 20 + ".ics",
    ]
    failures = []
    for signed_in in (False, True):
        if signed_in:
            sign_in(client, cohost)
        for url in pages:
            failures += _failures(client, url, params)
        for data in ({}, {"email": "not an email"}, {"email": "x" * 5000}, {"t": "abc"}, {"t": "\x00"}):
            for name in ("cohost:login", "cohost:auth"):
                try:
                    status = client.post(reverse(name), data).status_code
                except Exception as exc:  # noqa: BLE001
                    status, data = 500, {**data, "error": repr(exc)}
                if status >= 500:
                    failures.append((name, data))
        failures += _failures(client, reverse("cohost:auth"), [{"t": v} for v in ODD])
    assert failures == [], "\n".join(map(repr, failures))


def test_the_attendees_pages_survive_odd_links(client):
    world = build_world()
    reg = Registration.objects.filter(event=world.event).first()
    good = status_token(reg.pk)
    tokens = [good, good[:-3] + "abc", "abc", "-1", "ü", "x" * 500, good + "/extra"]
    failures = []
    for token in tokens:
        for url in (f"/n/status/{token}/", f"/n/unsubscribe/{token}/"):
            failures += _failures(client, url, [{}, {"channel": "abc"}, {"c": "sms"}])
            try:
                if client.post(url, {"channel": "nonsense", "confirm": "x" * 3000}).status_code >= 500:
                    failures.append((url, "POST"))
            except Exception as exc:  # noqa: BLE001
                failures.append((url, "POST", repr(exc)))
    for url, names in (("/r/paid/", ("session_id", "ref", "r")), ("/r/booked/", ("appointment", "id", "ref", "r"))):
        failures += _failures(client, url, [{name: value} for name in names for value in ODD + ["cs_test_unknown"]])
    assert failures == [], "\n".join(map(repr, failures))
