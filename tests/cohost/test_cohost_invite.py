"""Operators invite co-hosts and manage their links from the admin."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse

from registrations.audit import Actor
from registrations.cohost.accounts import InviteError, invite_cohost
from registrations.models import AuditLog, CoHost, CoHostGrant
from tests.factories import EventFactory


@pytest.fixture
def operator(db):
    return User.objects.create_superuser("boss", "boss@example.net", "pw-boss-12345")


def test_invite_creates_a_passwordless_cohost_with_grants_and_mails_the_first_link(client, operator):
    event = EventFactory(name="Spring retreat")
    cohost = invite_cohost(" Carol@Example.NET ", "Carol Jones", [event], Actor.operator(operator))

    user = cohost.user
    assert user.email == "carol@example.net" and user.first_name == "Carol" and user.last_name == "Jones"
    assert not user.has_usable_password() and not user.is_staff
    grant = CoHostGrant.objects.get(cohost=cohost)
    assert grant.event == event and grant.can_see_money is False
    entry = AuditLog.objects.get(action="cohost.invited")
    assert entry.actor_user == operator and entry.event == event

    (message,) = mail.outbox
    assert message.to == ["carol@example.net"] and "invited" in message.subject
    assert "/cohost/login/" in message.body  # how to get a new link once this one expires
    token = re.search(r"/cohost/auth/\?t=(\S+)", message.body).group(1)
    assert client.post(reverse("cohost:auth"), {"t": token}).status_code == 302
    assert "Spring retreat" in client.get(reverse("cohost:index")).content.decode()


def test_inviting_again_adds_events_keeps_money_flags_and_reactivates(operator):
    first, second = EventFactory(), EventFactory()
    cohost = invite_cohost("dan@example.net", "Dan", [first], Actor.operator(operator), can_see_money=True)
    CoHost.objects.filter(pk=cohost.pk).update(is_active=False)
    again = invite_cohost("dan@example.net", "Dan", [first, second], Actor.operator(operator))
    assert again.pk == cohost.pk and CoHost.objects.get(pk=cohost.pk).is_active
    assert dict(CoHostGrant.objects.values_list("event_id", "can_see_money")) == {first.pk: True, second.pk: False}
    assert User.objects.filter(email="dan@example.net").count() == 1


def _sign_in_with_latest_link(client):
    token = re.search(r"/cohost/auth/\?t=(\S+)", mail.outbox[-1].body).group(1)
    return client.post(reverse("cohost:auth"), {"t": token})


def test_reinviting_a_deactivated_cohost_user_from_the_admin_says_so_and_the_link_signs_them_in(client, operator):
    """Deactivated in the Users admin ("Active" unticked): re-inviting used to say "Invitation sent"
    while the emailed link could never sign them in. An explicit re-invite switches access back on,
    tells the operator, and leaves an audit row."""
    event = EventFactory(name="Harvest weekend")
    cohost = invite_cohost("gus@example.net", "Gus", [event], Actor.operator(operator))
    User.objects.filter(pk=cohost.user_id).update(is_active=False)
    CoHost.objects.filter(pk=cohost.pk).update(is_active=False)
    client.force_login(operator)

    response = client.post(
        reverse("admin:registrations_cohost_invite"),
        {"email": "gus@example.net", "name": "Gus", "events": [event.pk]},
        follow=True,
    )

    body = response.content.decode()
    assert "had been switched off" in body and "switched their co-host access back on" in body
    assert User.objects.get(pk=cohost.user_id).is_active and CoHost.objects.get(pk=cohost.pk).is_active
    entry = AuditLog.objects.filter(action="cohost.invited").first()  # newest first
    assert entry.before == {"active": False, "user_active": False} and entry.after["reactivated"] is True
    assert entry.actor_user == operator
    client.logout()
    assert _sign_in_with_latest_link(client).status_code == 302
    assert "Harvest weekend" in client.get(reverse("cohost:index")).content.decode()


def test_a_new_sign_in_link_is_not_sent_to_a_deactivated_user_and_the_operator_is_told_why(client, operator, world):
    User.objects.filter(pk=world.alice.cohost.user_id).update(is_active=False)
    client.force_login(operator)
    response = client.post(
        reverse("admin:registrations_cohost_changelist"),
        {"action": "send_new_link", "_selected_action": [world.alice.cohost.pk]},
        follow=True,
    )
    body = response.content.decode()
    assert mail.outbox == [] and "Not sent" in body and "deactivated" in body and "Sign-in link sent" not in body


@pytest.mark.parametrize("email", ["boss@example.net", "not-an-email"])
def test_invite_refuses_operator_accounts_and_bad_addresses(operator, email):
    with pytest.raises(InviteError):
        invite_cohost(email, "", [EventFactory()], Actor.operator(operator))
    assert not CoHost.objects.exists() and mail.outbox == []


def test_admin_invite_button_and_form(client, operator):
    event = EventFactory(name="Forest day")
    client.force_login(operator)
    changelist = client.get(reverse("admin:registrations_cohost_changelist")).content.decode()
    assert reverse("admin:registrations_cohost_invite") in changelist
    url = reverse("admin:registrations_cohost_invite")
    assert client.get(url).status_code == 200
    response = client.post(url, {"email": "erin@example.net", "name": "Erin", "events": [event.pk]})
    cohost = CoHost.objects.get(user__email="erin@example.net")
    assert response.status_code == 302 and response["Location"].endswith(f"/{cohost.pk}/change/")
    assert len(mail.outbox) == 1


def test_admin_invite_shows_the_reason_for_a_refused_address(client, operator):
    client.force_login(operator)
    response = client.post(
        reverse("admin:registrations_cohost_invite"), {"email": "boss@example.net", "events": [EventFactory().pk]}
    )
    assert response.status_code == 200 and "operator account" in response.content.decode()


def test_admin_action_emails_a_new_sign_in_link(client, operator, world):
    client.force_login(operator)
    client.post(
        reverse("admin:registrations_cohost_changelist"),
        {"action": "send_new_link", "_selected_action": [world.alice.cohost.pk]},
    )
    assert [m.to for m in mail.outbox] == [["alice@example.net"]]


def test_admin_regenerate_calendar_link_asks_first_then_revokes(client, operator, world):
    client.force_login(operator)
    cohost = world.alice.cohost
    old = cohost.calendar_token
    changelist = reverse("admin:registrations_cohost_changelist")
    ask = client.post(changelist, {"action": "regenerate_calendar_link", "_selected_action": [cohost.pk]})
    assert ask.status_code == 200 and "stop working immediately" in ask.content.decode()
    assert CoHost.objects.get(pk=cohost.pk).calendar_token == old

    client.post(changelist, {"action": "regenerate_calendar_link", "_selected_action": [cohost.pk], "confirm": "yes"})
    new = CoHost.objects.get(pk=cohost.pk).calendar_token
    assert new != old
    assert client.get(reverse("cohost:calendar", args=[old])).status_code == 404
    entry = AuditLog.objects.get(action="cohost.calendar_link_regenerated")
    assert entry.actor_user == operator and new not in str(entry.after) and old not in str(entry.after)


def test_staff_who_may_only_view_cohosts_cannot_send_links_or_revoke_calendars(client, world):
    from django.contrib.auth.models import Permission

    viewer = User.objects.create_user("viewer", "viewer@example.net", "pw-viewer-12345", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_cohost"))
    client.force_login(viewer)
    cohost = world.alice.cohost
    old = cohost.calendar_token
    changelist = reverse("admin:registrations_cohost_changelist")
    assert "send_new_link" not in client.get(changelist).content.decode()
    client.post(changelist, {"action": "send_new_link", "_selected_action": [cohost.pk]})
    client.post(changelist, {"action": "regenerate_calendar_link", "_selected_action": [cohost.pk], "confirm": "yes"})
    assert mail.outbox == [] and CoHost.objects.get(pk=cohost.pk).calendar_token == old


def test_admin_invite_with_mail_down_keeps_the_cohost_and_says_how_to_resend(client, operator, settings):
    settings.EMAIL_BACKEND = "tests.cohost.test_cohost_digest.FailingBackend"
    client.force_login(operator)
    response = client.post(
        reverse("admin:registrations_cohost_invite"),
        {"email": "fay@example.net", "events": [EventFactory().pk]},
        follow=True,
    )
    assert CoHost.objects.filter(user__email="fay@example.net").exists()
    body = response.content.decode()
    assert "is queued" in body and "Email a new sign-in link" in body
