"""Every co-host URL × every kind of visitor: only their own data is ever shown, nothing changes.

All URLs point at alice's event (the "Spring retreat"). Visitors:

* own           — alice, signed in through her link
* other         — bob, a co-host of another event, signed in through his link
* anonymous     — nobody signed in
* expired_link  — someone posting alice's link 16 minutes after it was made (it fails)
* reused_link   — alice's link used, signed out, then used again. Links are not single-use on
                  purpose (mail scanners open links before people do and would burn a one-time
                  link), so reuse within 15 minutes signs alice in again — and only ever alice.
* other_scope   — alice's user with a sesame token made for another scope ("" and "other")
* staff         — an operator signed in with a password: an operator is not a co-host (403,
                  pointer to /ops/).

The calendar feed is reached by its secret URL, not by a session: whoever holds alice's feed
URL gets alice's feed (event dates and places only), whatever session they have.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.urls import reverse
from sesame.utils import get_token

from registrations.models import AuditLog, RateLimitBucket

from .conftest import sign_in

SESSION_PAGES = {"index", "event", "event_incomplete", "event_search", "export", "registration"}

URLS = {
    "index": lambda w: reverse("cohost:index"),
    "event": lambda w: reverse("cohost:event", args=[w.alice.event.slug]),
    "event_incomplete": lambda w: reverse("cohost:event", args=[w.alice.event.slug]) + "?show=incomplete",
    "event_search": lambda w: reverse("cohost:event", args=[w.alice.event.slug]) + "?q=spring",
    "export": lambda w: reverse("cohost:export", args=[w.alice.event.slug]),
    "registration": lambda w: reverse("cohost:registration", args=[w.alice.event.slug, w.alice.registration.reference]),
    "calendar": lambda w: reverse("cohost:calendar", args=[w.alice.cohost.calendar_token]),
    "login": lambda w: reverse("cohost:login"),
    "auth_link": lambda w: reverse("cohost:auth") + "?t=" + get_token(w.alice.cohost.user, scope="cohost"),
}


def _own(client, w, old_token):
    assert sign_in(client, w.alice.cohost).status_code == 302


def _other(client, w, old_token):
    assert sign_in(client, w.bob.cohost).status_code == 302


def _anonymous(client, w, old_token):
    pass


def _expired_link(client, w, old_token):
    response = sign_in(client, w.alice.cohost, token=old_token(w.alice.cohost.user, 16 * 60))
    assert response.status_code == 400


def _reused_link(client, w, old_token):
    token = get_token(w.alice.cohost.user, scope="cohost")
    assert sign_in(client, w.alice.cohost, token).status_code == 302
    client.post(reverse("cohost:logout"))
    assert "_auth_user_id" not in client.session
    assert sign_in(client, w.alice.cohost, token).status_code == 302


def _other_scope(client, w, old_token):
    for scope in ("", "other"):
        assert sign_in(client, w.alice.cohost, token=get_token(w.alice.cohost.user, scope=scope)).status_code == 400


def _staff(client, w, old_token):
    client.force_login(w.staff)


PERSONAS = {
    "own": _own,
    "other": _other,
    "anonymous": _anonymous,
    "expired_link": _expired_link,
    "reused_link": _reused_link,
    "other_scope": _other_scope,
    "staff": _staff,
}
SIGNED_IN_AS = {"own": "alice", "reused_link": "alice", "other": "bob"}


def expected_status(url: str, persona: str) -> int:
    if url in ("calendar", "login", "auth_link"):
        return 200
    who = SIGNED_IN_AS.get(persona)
    if who == "alice":
        return 200
    if who == "bob":
        return 200 if url == "index" else 404
    if persona == "staff":
        return 403
    return 302  # to the sign-in page


def snapshot():
    """Every domain row (except rate-limit buckets) and every user except last_login."""
    rows = {}
    for model in apps.get_app_config("registrations").get_models():
        if model is not RateLimitBucket:
            rows[model.__name__] = list(model.objects.order_by("pk").values())
    rows["users"] = list(User.objects.order_by("pk").values(*[f.attname for f in User._meta.concrete_fields
                                                              if f.name != "last_login"]))  # fmt: skip
    from django_q.models import OrmQ

    rows["queued_tasks"] = OrmQ.objects.count()
    return rows


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("url", URLS)
def test_each_visitor_sees_only_their_own_data_and_nothing_changes(client, world, old_token, url, persona):
    PERSONAS[persona](client, world, old_token)
    user_before = client.session.get("_auth_user_id")
    before = snapshot()

    response = client.get(URLS[url](world))

    assert response.status_code == expected_status(url, persona), response.content[:500]
    body = response.content.decode()
    # bob's attendees never appear: every URL here points at alice's event.
    for email in world.bob.emails:
        assert email not in body
    # alice's attendees appear only to alice, on pages that list attendees.
    if SIGNED_IN_AS.get(persona) != "alice" or url in ("index", "calendar", "login", "auth_link"):
        for email in world.alice.emails:
            assert email not in body
    if SIGNED_IN_AS.get(persona) == "alice" and url in ("event", "export"):
        assert all(email in body for email in world.alice.emails)
    if response.status_code == 404:
        assert world.alice.event.name not in body
    if url == "calendar":
        assert world.alice.event.name in body and world.bob.event.name not in body
    if expected_status(url, persona) == 302:
        assert response["Location"].startswith(reverse("cohost:login"))
    if persona == "staff" and url in SESSION_PAGES:
        assert "/ops/" in body

    # Nothing changed: no domain row, no user (last_login aside), no audit entry, no task; and a
    # GET never signs anyone in or out (the link page only shows a button).
    assert snapshot() == before
    assert client.session.get("_auth_user_id") == user_before


def test_sign_in_writes_one_audit_entry_by_the_cohost(client, world):
    before = AuditLog.objects.count()
    response = sign_in(client, world.alice.cohost)
    assert response.status_code == 302 and response["Location"] == reverse("cohost:index")
    entry = AuditLog.objects.get(action="cohost.signed_in")
    assert AuditLog.objects.count() == before + 1
    assert entry.actor_type == AuditLog.ActorType.COHOST
    assert entry.actor_user == world.alice.cohost.user
    world.alice.cohost.user.refresh_from_db()
    assert world.alice.cohost.user.last_login is not None


def test_alices_link_signs_in_alice_even_when_bob_was_signed_in(client, world):
    sign_in(client, world.bob.cohost)
    sign_in(client, world.alice.cohost)
    assert client.session["_auth_user_id"] == str(world.alice.cohost.user.pk)
    body = client.get(reverse("cohost:index")).content.decode()
    assert world.alice.event.name in body and world.bob.event.name not in body


@pytest.mark.parametrize("url", ["event", "export", "registration"])
def test_bob_gets_404_for_alices_event_even_with_a_guessed_reference(client, world, url):
    sign_in(client, world.bob.cohost)
    assert client.get(URLS[url](world)).status_code == 404


def test_bob_cannot_reach_alices_registration_through_his_own_event_slug(client, world):
    sign_in(client, world.bob.cohost)
    url = reverse("cohost:registration", args=[world.bob.event.slug, world.alice.registration.reference])
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("url", sorted(SESSION_PAGES | {"calendar"}))
def test_no_cohost_page_accepts_a_write_method(client, world, url, method):
    sign_in(client, world.alice.cohost)
    before = snapshot()
    response = getattr(client, method)(URLS[url](world))
    assert response.status_code == 405
    assert snapshot() == before


def test_a_mangled_person_link_with_a_nul_byte_is_a_bad_request_not_a_server_error(client, world):
    sign_in(client, world.alice.cohost)
    url = reverse("cohost:event", args=[world.alice.event.slug]) + "people/R%00X/"
    assert client.get(url).status_code == 400  # jlf.middleware.NulByteMiddleware, before the view


def test_a_link_sent_before_the_cohosts_address_changed_no_longer_signs_in(client, world):
    cohost = world.alice.cohost
    token = get_token(cohost.user, scope="cohost")
    cohost.user.email = "alice.new@example.net"
    cohost.user.save()
    assert sign_in(client, cohost, token).status_code == 400
    assert sign_in(client, cohost).status_code == 302  # a link to the new address works
