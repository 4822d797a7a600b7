"""Who may open /ops/: the permission matrix on every URL.

anonymous → the admin login page with ?next=; a signed-in user who is not staff → 403; a
co-host (even one wrongly flagged staff) → 403; the operator → the page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from registrations.models import Registration, ReviewItem

pytestmark = pytest.mark.django_db


def urls(world):
    event = world.event
    reg = Registration.objects.filter(event=event).order_by("pk").first()
    item = world.items[ReviewItem.Kind.DISPUTE]
    get = [
        reverse("ops:dashboard"),
        reverse("ops:event", args=[event.slug]),
        reverse("ops:walk_in", args=[event.slug]),
        reverse("ops:export", args=[event.slug, "csv"]),
        reverse("ops:export", args=[event.slug, "xlsx"]),
        reverse("ops:registration", args=[event.slug, reg.pk]),
        reverse("ops:queue"),
        reverse("ops:queue_card", args=[item.pk]),
    ]
    post = [
        reverse("ops:walk_in", args=[event.slug]),
        reverse("ops:mark_paid", args=[event.slug, reg.pk]),
        reverse("ops:mark_booked", args=[event.slug, reg.pk]),
    ] + [reverse("ops:queue_action", args=[item.pk, name]) for name in ("acknowledge", "dismiss", "refund")]
    return get, post


def test_anonymous_visitors_are_sent_to_the_login_page_from_every_ops_url(client, world):
    get, post = urls(world)
    for url in get:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/?next="), url
    for url in post:
        response = client.post(url, {"note": "x"})
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/?next="), url
    assert ReviewItem.objects.filter(state=ReviewItem.State.OPEN).count() == len(world.items)


def test_an_htmx_request_after_the_session_expired_redirects_the_whole_page_to_login(client, world, htmx_headers):
    response = client.get(reverse("ops:queue_card", args=[world.items["dispute"].pk]), headers=htmx_headers())
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/admin/login/?next=")


@pytest.mark.parametrize("persona", ["plain_user", "cohost_user", "staff_cohost_user"])
def test_non_operators_get_403_on_every_ops_url_and_change_nothing(client, world, persona, request):
    client.force_login(request.getfixturevalue(persona))
    get, post = urls(world)
    for url in get:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "This area is for JLF staff" in response.content.decode()
    for url in post:
        assert client.post(url, {"note": "x", "reason": "x"}).status_code == 403, url
    assert ReviewItem.objects.filter(state=ReviewItem.State.OPEN).count() == len(world.items)


def test_an_inactive_staff_account_gets_no_access(client, world, operator):
    operator.is_active = False
    operator.save()
    client.force_login(operator)
    assert client.get(reverse("ops:dashboard")).status_code in (302, 403)


def test_operators_can_open_every_ops_page(ops_client, world):
    get, _ = urls(world)
    for url in get:
        response = ops_client.get(url)
        assert response.status_code == 200, url


def test_every_post_form_on_the_pages_carries_a_csrf_token(client, world, operator):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)
    item = world.items[ReviewItem.Kind.DISPUTE]
    response = strict.post(reverse("ops:queue_action", args=[item.pk, "acknowledge"]), {"note": "evidence sent"})
    assert response.status_code == 403  # no token → refused
    page = strict.get(reverse("ops:queue")).content.decode()
    assert page.count('name="csrfmiddlewaretoken"') >= page.count('method="post"') > 0
    assert 'hx-headers=\'{"x-csrftoken": "' in page
