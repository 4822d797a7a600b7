"""Signing in: neutral answers, rate limits, the two-step link, idle sign-out."""

from __future__ import annotations

import re
import time

import pytest
from django.core import mail
from django.urls import reverse
from sesame.utils import get_token

from registrations.cohost.access import SESSION_LAST_SEEN, SESSION_STARTED
from registrations.models import AuditLog, RateLimitBucket

from .conftest import sign_in

LOGIN = "/cohost/login/"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def neutral(body: bytes) -> str:
    return CSRF.sub("", body.decode())


def link_from(message) -> str:
    return re.search(r"https?://\S+/cohost/auth/\?t=\S+", message.body).group(0)


def test_login_page_is_at_cohost_login(client, db):
    response = client.get(LOGIN)
    assert response.status_code == 200
    assert b"Email me a sign-in link" in response.content


def test_known_and_unknown_addresses_get_the_same_answer(client, world):
    known = client.post(LOGIN, {"email": "Alice@Example.net "})
    unknown = client.post(LOGIN, {"email": "nobody@example.net"}, REMOTE_ADDR="10.0.0.2")
    assert known.status_code == unknown.status_code == 200
    assert neutral(known.content) == neutral(unknown.content)
    assert [m.to for m in mail.outbox] == [["alice@example.net"]]


def test_staff_and_switched_off_addresses_get_the_same_answer_and_no_mail(client, world):
    world.alice.cohost.is_active = False
    world.alice.cohost.save()
    answers = [client.post(LOGIN, {"email": email}) for email in ("alice@example.net", "operator@example.net")]
    unknown = client.post(LOGIN, {"email": "nobody@example.net"})
    assert {neutral(a.content) for a in answers} == {neutral(unknown.content)}
    assert mail.outbox == []


def test_the_answer_takes_the_same_minimum_time_with_or_without_a_mail(client, world, settings):
    settings.COHOST_LOGIN_MIN_SECONDS = 0.2
    durations = []
    for email in ("alice@example.net", "nobody@example.net"):
        started = time.monotonic()
        client.post(LOGIN, {"email": email})
        durations.append(time.monotonic() - started)
    assert all(d >= 0.2 for d in durations)
    assert len(mail.outbox) == 1


def test_a_malformed_address_is_a_400_with_a_message(client, db):
    response = client.post(LOGIN, {"email": "not an address"})
    assert response.status_code == 400
    assert b"valid email" in response.content


def test_the_link_mail_carries_a_working_link_valid_for_15_minutes(client, world):
    client.post(LOGIN, {"email": "alice@example.net"})
    message = mail.outbox[0]
    assert "15 minutes" in message.body
    url = link_from(message)
    assert url.startswith("https://jlf.example/cohost/auth/?t=")  # PUBLIC_BASE_URL, not the Host header
    token = url.split("?t=", 1)[1]
    assert sign_in(client, world.alice.cohost, token).status_code == 302
    assert AuditLog.objects.filter(action="cohost.link_sent").count() == 1


def test_a_forged_host_header_does_not_end_up_in_the_link(client, world, settings):
    settings.ALLOWED_HOSTS = ["*"]
    client.post(LOGIN, {"email": "alice@example.net"}, HTTP_HOST="evil.example")
    assert "evil.example" not in mail.outbox[0].body


def test_requests_per_address_are_limited_with_a_429_saying_when_to_retry(client, world, settings):
    settings.COHOST_LOGIN_PER_EMAIL_PER_HOUR = 3
    for i in range(3):
        assert client.post(LOGIN, {"email": "alice@example.net"}, REMOTE_ADDR=f"10.0.1.{i}").status_code == 200
    limited = client.post(LOGIN, {"email": "alice@example.net"}, REMOTE_ADDR="10.0.1.99")
    assert limited.status_code == 429
    assert b"try again in 20 minutes" in limited.content
    assert limited["Retry-After"] == "1200"
    assert len(mail.outbox) == 3


def test_the_limit_looks_the_same_for_known_and_unknown_addresses(client, world, settings):
    settings.COHOST_LOGIN_PER_EMAIL_PER_HOUR = 1
    answers = {}
    for email in ("alice@example.net", "nobody@example.net"):
        client.post(LOGIN, {"email": email}, REMOTE_ADDR="10.0.2.1")
        answers[email] = client.post(LOGIN, {"email": email}, REMOTE_ADDR="10.0.2.2")
    known, unknown = answers.values()
    assert known.status_code == unknown.status_code == 429
    assert neutral(known.content) == neutral(unknown.content)


def test_requests_per_ip_are_limited_whatever_the_address(client, db, settings):
    settings.COHOST_LOGIN_PER_IP_PER_HOUR = 2
    codes = [client.post(LOGIN, {"email": f"x{i}@example.net"}).status_code for i in range(3)]
    assert codes == [200, 200, 429]
    # Another client is not affected.
    assert client.post(LOGIN, {"email": "y@example.net"}, REMOTE_ADDR="10.9.9.9").status_code == 200


def test_rate_limit_keys_never_hold_the_address_or_ip_in_clear(client, db):
    client.post(LOGIN, {"email": "private@example.net"}, REMOTE_ADDR="192.0.2.7")
    keys = " ".join(RateLimitBucket.objects.values_list("key", flat=True))
    assert "private" not in keys and "192.0.2.7" not in keys


def test_opening_the_link_shows_a_button_and_does_not_sign_in(client, world):
    user = world.alice.cohost.user
    token = get_token(user, scope="cohost")
    response = client.get(reverse("cohost:auth") + f"?t={token}")
    assert response.status_code == 200
    assert b'id="sign-in"' in response.content and token.encode() in response.content
    assert response["Referrer-Policy"] == "no-referrer"
    assert "_auth_user_id" not in client.session
    user.refresh_from_db()
    assert user.last_login is None
    assert not AuditLog.objects.filter(action="cohost.signed_in").exists()


def test_an_expired_link_shows_a_friendly_page_with_a_way_to_get_a_new_one(client, world, old_token):
    response = sign_in(client, world.alice.cohost, old_token(world.alice.cohost.user, 16 * 60))
    assert response.status_code == 400
    assert b"no longer works" in response.content and LOGIN.encode() in response.content
    assert "_auth_user_id" not in client.session


def test_a_link_14_minutes_old_still_works(client, world, old_token):
    assert sign_in(client, world.alice.cohost, old_token(world.alice.cohost.user, 14 * 60)).status_code == 302


@pytest.mark.parametrize("token", ["", "garbage", "A" * 600])
def test_a_mangled_link_is_a_friendly_400(client, db, token):
    assert client.post(reverse("cohost:auth"), {"t": token}).status_code == 400
    assert client.get(reverse("cohost:auth") + f"?t={token}").status_code in (200, 400)


def test_a_cohost_scoped_token_for_an_operator_never_opens_a_session(client, world):
    response = sign_in(client, None, get_token(world.staff, scope="cohost"))
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_a_switched_off_cohost_cannot_sign_in_with_a_fresh_link(client, world):
    token = get_token(world.alice.cohost.user, scope="cohost")
    world.alice.cohost.is_active = False
    world.alice.cohost.save()
    assert sign_in(client, world.alice.cohost, token).status_code == 400


def test_switching_a_cohost_off_ends_their_session_at_the_next_click(client, world):
    sign_in(client, world.alice.cohost)
    world.alice.cohost.is_active = False
    world.alice.cohost.save()
    response = client.get(reverse("cohost:index"))
    assert response.status_code == 403 and b"switched off" in response.content
    assert "_auth_user_id" not in client.session


def test_an_idle_session_is_signed_out(client, world, settings):
    sign_in(client, world.alice.cohost)
    assert client.session.get_expiry_age() == settings.COHOST_IDLE_TIMEOUT
    session = client.session
    session[SESSION_LAST_SEEN] = int(time.time()) - settings.COHOST_IDLE_TIMEOUT - 5
    session.save()
    response = client.get(reverse("cohost:index"))
    assert response.status_code == 302 and response["Location"] == f"{LOGIN}?reason=idle"
    assert "_auth_user_id" not in client.session
    assert b"without activity" in client.get(response["Location"]).content


def test_activity_keeps_the_session_alive(client, world, settings):
    sign_in(client, world.alice.cohost)
    session = client.session
    session[SESSION_LAST_SEEN] = int(time.time()) - settings.COHOST_IDLE_TIMEOUT + 60
    session.save()
    assert client.get(reverse("cohost:index")).status_code == 200
    assert client.session[SESSION_LAST_SEEN] >= int(time.time()) - 5


def test_a_busy_session_still_ends_after_its_absolute_limit(client, world, settings):
    sign_in(client, world.alice.cohost)
    session = client.session
    session[SESSION_STARTED] = int(time.time()) - settings.COHOST_SESSION_MAX_AGE - 5
    session[SESSION_LAST_SEEN] = int(time.time()) - 30  # active half a minute ago
    session.save()
    response = client.get(reverse("cohost:index"))
    assert response.status_code == 302 and response["Location"] == f"{LOGIN}?reason=expired"
    assert "_auth_user_id" not in client.session
    assert b"Request a new link" in client.get(response["Location"]).content


def test_the_session_cookie_never_outlives_the_absolute_limit(client, world, settings):
    sign_in(client, world.alice.cohost)
    session = client.session
    session[SESSION_STARTED] = int(time.time()) - settings.COHOST_SESSION_MAX_AGE + 600
    session[SESSION_LAST_SEEN] = int(time.time()) - 120
    session.save()
    assert client.get(reverse("cohost:index")).status_code == 200
    assert client.session.get_expiry_age() <= 600


def test_a_session_opened_before_the_absolute_limit_existed_keeps_working(client, world, settings):
    sign_in(client, world.alice.cohost)
    session = client.session
    del session[SESSION_STARTED]  # as a session signed in before the limit was deployed
    session[SESSION_LAST_SEEN] = int(time.time()) - 120
    session.save()
    assert client.get(reverse("cohost:index")).status_code == 200
    assert client.session[SESSION_STARTED] <= int(time.time()) - 119  # counted from its last request


def test_a_session_not_opened_by_the_link_is_not_trusted(client, world):
    client.force_login(world.alice.cohost.user)
    assert client.get(reverse("cohost:index")).status_code == 302


def test_signing_out_is_a_post_and_ends_the_session(client, world):
    sign_in(client, world.alice.cohost)
    assert client.get(reverse("cohost:logout")).status_code == 405
    response = client.post(reverse("cohost:logout"))
    assert response.status_code == 302
    assert client.get(reverse("cohost:index")).status_code == 302


def test_a_signed_in_non_cohost_user_gets_403(client, db, django_user_model):
    user = django_user_model.objects.create_user("someone", "someone@example.net", "pw-12345678")
    client.force_login(user)
    response = client.get(reverse("cohost:index"))
    assert response.status_code == 403 and b"not a co-host account" in response.content
