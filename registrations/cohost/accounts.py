"""Co-host accounts, operator side: invite, email a sign-in link, rotate the calendar link.

A co-host is a Django user without a usable password (they can never use the admin's password
form) plus a ``CoHost`` row and one ``CoHostGrant`` per event. They sign in only through
short-lived django-sesame links scoped "cohost". Operators (staff) are never co-hosts: a magic
link must never open an operator session, so invitations to staff addresses are refused.
"""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from sesame.utils import get_query_string

from notifications.render import html_document

from ..audit import Actor, audit
from ..identity import normalise_email
from ..models import AuditLog, CoHost, CoHostGrant
from .mail import send_cohost_email

log = logging.getLogger(__name__)

SCOPE = "cohost"


class InviteError(ValueError):
    """The invitation cannot be made (bad address, operator account); the message says why."""


class InviteMailError(Exception):
    """The co-host was saved but the invitation email could not be sent."""

    def __init__(self, cohost, cause):
        super().__init__(str(cause))
        self.cohost = cohost


def cohost_actor(cohost: CoHost, source: str = "") -> Actor:
    return Actor(AuditLog.ActorType.COHOST, cohost.user, source)


def absolute_url(path: str) -> str:
    # Links in mail use the configured public URL, never the request's Host header (a forged
    # Host would otherwise put an attacker's domain in front of a valid token).
    return f"{settings.PUBLIC_BASE_URL}{path}"


def sign_in_url(cohost: CoHost) -> str:
    return absolute_url(reverse("cohost:auth") + get_query_string(cohost.user, scope=SCOPE))


def link_minutes() -> int:
    return max(1, settings.COHOST_LINK_MAX_AGE // 60)


def send_sign_in_link(cohost: CoHost, *, invited: bool = False, actor: Actor | None = None) -> bool:
    """Email a fresh sign-in link. True when the provider accepted it, False when it is queued for
    an automatic retry; raises on a permanent failure (callers decide)."""
    user = cohost.user
    context = {
        "cohost": cohost,
        "name": user.get_full_name() or user.email,
        "url": sign_in_url(cohost),
        "login_url": absolute_url(reverse("cohost:login")),
        "minutes": link_minutes(),
        "invited": invited,
    }
    subject = "You're invited to the JLF co-host portal" if invited else "Your JLF co-host sign-in link"
    accepted = send_cohost_email(
        user.email,
        subject,
        render_to_string("cohost/email/sign_in.txt", context),
        html_document(render_to_string("cohost/email/sign_in.html", context), subject),
    )
    audit(
        "cohost.link_sent",
        actor=actor or Actor.system("cohost.login"),
        obj=cohost,
        after={"invited": invited, "queued": not accepted},
    )
    return bool(accepted)


def _split_name(name: str) -> tuple[str, str]:
    first, _, last = (name or "").strip().partition(" ")
    return first[:150], last.strip()[:150]


def invite_cohost(email: str, name: str, events, actor: Actor, *, can_see_money: bool = False) -> CoHost:
    """Create (or extend) a co-host for ``events`` and email them their first sign-in link.

    Idempotent: inviting an existing co-host again adds any missing grants (existing grants keep
    their money flag), reactivates the account, and sends a new link. "Reactivates" covers both
    switches: ``CoHost.is_active`` and the Django user's ``is_active`` (the Users admin's
    "Active"), since a link for an inactive user cannot sign anyone in. The returned co-host
    carries ``reactivated`` (True when either was off) so the caller can say so; the audit row
    records both before/after.
    Raises ``InviteError`` for an invalid address or an operator's address (nothing saved), and
    ``InviteMailError`` when the co-host was saved but the email could not be sent.
    """
    email = normalise_email(email)
    try:
        validate_email(email)
    except ValidationError:
        raise InviteError(f"“{email}” is not a valid email address.")
    events = list(events)
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).order_by("pk").first()
        if user is None:
            user = User.objects.filter(username__iexact=email[:150]).order_by("pk").first()
        if user is not None and (user.is_staff or user.is_superuser):
            raise InviteError(
                f"{email} belongs to an operator account. Operators see every event in /ops/; "
                "co-host sign-in links are never issued for operator accounts."
            )
        created_user = user is None
        if created_user:
            first, last = _split_name(name)
            user = User(username=email[:150], email=email, first_name=first, last_name=last)
            user.set_unusable_password()
            user.save()
        cohost, created = CoHost.objects.get_or_create(user=user)
        was_active = created or cohost.is_active
        if not was_active:
            cohost.is_active = True
            cohost.save(update_fields=["is_active"])
        user_was_active = user.is_active
        if not user_was_active:
            # An explicit invitation is the operator granting access again; without this the
            # email goes out but its link is refused (sesame never signs in an inactive user).
            user.is_active = True
            user.save(update_fields=["is_active"])
        reactivated = not (was_active and user_was_active)
        added = []
        for event in events:
            _, new = CoHostGrant.objects.get_or_create(
                cohost=cohost, event=event, defaults={"can_see_money": can_see_money}
            )
            if new:
                added.append(event.slug)
        audit(
            "cohost.invited",
            actor=actor,
            obj=cohost,
            event=events[0] if len(events) == 1 else None,
            before=None if created and user_was_active else {"active": was_active, "user_active": user_was_active},
            after={
                "email": email,
                "new_user": created_user,
                "events_added": added,
                "can_see_money": can_see_money,
                **({"reactivated": True} if reactivated else {}),
            },
        )
    cohost.reactivated = reactivated
    # After commit: a failed send leaves a valid co-host the operator can re-send a link to.
    try:
        cohost.invite_queued = not send_sign_in_link(cohost, invited=True, actor=actor)
    except Exception as exc:
        log.exception("Invitation email to co-host %s failed", cohost.pk)
        raise InviteMailError(cohost, exc) from exc
    return cohost


def regenerate_calendar_token(cohost: CoHost, actor: Actor) -> str:
    """Revoke the co-host's calendar feed URL and issue a new one (the old URL answers 404)."""
    with transaction.atomic():
        cohost = CoHost.objects.select_for_update().get(pk=cohost.pk)
        cohost.calendar_token = secrets.token_urlsafe()
        cohost.save(update_fields=["calendar_token"])
        # The token itself is never written to the audit trail.
        audit("cohost.calendar_link_regenerated", actor=actor, obj=cohost)
    return cohost.calendar_token
