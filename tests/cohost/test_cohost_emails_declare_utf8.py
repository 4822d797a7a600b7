"""The co-host sign-in link and the co-host digest leave as whole HTML documents that declare
their character set (<meta charset="utf-8"> in a <head>), so a mail app never guesses the
encoding and a co-host called Zoë is not greeted as "ZoÃ«" (as reminder emails since 46eb779)."""

from __future__ import annotations

import re
from html import unescape

from django.core import mail

from registrations.cohost.accounts import send_sign_in_link
from registrations.cohost.digest import send_daily_digests
from registrations.models import CoHost

FIRST, LAST = "Zoë", "Ñúñez-Łukasiewicz"


def _sent_html(message) -> str:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return html


def assert_declares_utf8(html: str, subject: str):
    assert html.lower().startswith("<!doctype html>")
    head = re.search(r"<head\b[^>]*>(.*?)</head>", html, re.S | re.I)
    assert head, html[:300]
    assert '<meta charset="utf-8">' in head.group(1)
    assert len(re.findall(r"<meta\b[^>]*charset", html, re.I)) == 1
    assert 'name="viewport"' in head.group(1)
    assert unescape(re.search(r"<title>(.*?)</title>", head.group(1), re.S).group(1)) == subject
    assert html.lower().index("</head>") < html.lower().index("<body")
    assert html.lower().count("<body") == 1 and html.lower().count("<html") == 1


def _accented(cohost: CoHost) -> CoHost:
    cohost.user.first_name, cohost.user.last_name = FIRST, LAST
    cohost.user.save()
    return cohost


def test_the_sign_in_email_declares_utf8_for_an_accented_co_host_name(world):
    send_sign_in_link(_accented(world.alice.cohost), invited=True)

    [message] = mail.outbox
    html = _sent_html(message)
    assert_declares_utf8(html, message.subject)
    assert f"Hello {FIRST} {LAST}," in unescape(html)


def test_the_co_host_digest_declares_utf8_for_an_accented_co_host_name(world):
    cohost = _accented(world.alice.cohost)
    CoHost.objects.filter(pk=cohost.pk).update(daily_digest=True)

    assert send_daily_digests()["sent"] == 1

    [message] = mail.outbox
    html = _sent_html(message)
    assert_declares_utf8(html, message.subject)
    assert f"Hello {FIRST} {LAST}," in unescape(html)
