"""A reminder email's HTML is a whole document that says its character set (<meta charset>), so
a mail app never guesses the encoding and an attendee called Zoë is not greeted as "ZoÃ«" —
with the default wording, with an event's own HTML wording (a fragment or a whole page), and in
the admin preview."""

import re
from html import unescape

import pytest
from django.core import mail

from notifications.render import render_reminder
from notifications.scan import run_scan
from registrations.models import Status

NAME = "Zoë Ñúñez-Łukasiewicz 李"
EVENT = "Été à Québec — Retraite ☀"


def _head(html: str) -> str:
    match = re.search(r"<head\b[^>]*>(.*?)</head>", html, re.S | re.I)
    assert match, html[:300]
    return match.group(1)


def _assert_whole_document(html: str):
    assert html.lower().startswith("<!doctype html>")
    assert re.search(r"<html\b[^>]*\blang=\"[a-z-]+\"", html, re.I)
    head = _head(html)
    assert len(re.findall(r"<meta\s+charset=\"utf-8\">", html, re.I)) == 1
    assert '<meta charset="utf-8">' in head
    assert 'name="viewport"' in head
    titles = re.findall(r"<title>(.*?)</title>", head, re.S)
    assert len(titles) == 1 and titles[0].strip()
    assert html.lower().index("</head>") < html.lower().index("<body")
    assert html.lower().count("<body") == 1 and html.lower().count("<html") == 1


@pytest.fixture
def accented_event(event):
    event.name = EVENT
    event.save()
    return event


def test_a_sent_reminder_declares_its_charset_and_keeps_an_accented_name(fake_resend, one_sided, accented_event):
    one_sided(Status.PAID_ONLY, name=NAME)

    run_scan(process="inline")

    [email] = fake_resend.emails
    html = email["html"]
    _assert_whole_document(html)
    assert unescape(re.search(r"<title>(.*?)</title>", html).group(1)) == email["subject"]
    assert "Hi Zoë," in html and EVENT in unescape(html)


def test_without_provider_keys_the_django_email_is_the_same_document(one_sided, accented_event):
    one_sided(Status.PAID_ONLY, name=NAME)

    run_scan(process="inline")

    [message] = mail.outbox
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    _assert_whole_document(html)
    assert "Hi Zoë," in html
    assert 'Content-Type: text/html; charset="utf-8"' in message.message().as_string()


def test_an_events_own_html_fragment_keeps_its_wording_inside_a_whole_document(one_sided, accented_event):
    accented_event.email_html_template = '<p>Bonjour {{ first_name }} : {{ action }} <a href="{{ link }}">ici</a></p>'
    accented_event.save()
    reg = one_sided(Status.PAID_ONLY, name=NAME)

    out = render_reminder(reg, "booking", unsubscribe_url="https://reg.example.org/n/unsubscribe/x/")

    assert out.errors == []
    _assert_whole_document(out.html)
    body = re.search(r"<body\b[^>]*>(.*)</body>", out.html, re.S).group(1)
    assert "<p>Bonjour Zoë : book your place <a href=" in body
    assert "/n/unsubscribe/x/" in body  # the unsubscribe line still lands inside the body


def test_an_events_own_whole_page_keeps_its_head_and_gains_only_the_charset(one_sided, accented_event):
    accented_event.email_html_template = (
        '<!DOCTYPE html><html lang="fr"><head><title>Mon rappel</title></head>'
        "<body><p>Bonjour {{ first_name }}</p></body></html>"
    )
    accented_event.save()
    reg = one_sided(Status.PAID_ONLY, name=NAME)

    out = render_reminder(reg, "booking")

    assert out.errors == []
    _assert_whole_document(out.html)
    assert '<html lang="fr">' in out.html and "<title>Mon rappel</title>" in out.html
    assert "<p>Bonjour Zoë</p>" in out.html


def test_the_admin_preview_shows_the_whole_document(admin_client, one_sided, accented_event):
    one_sided(Status.PAID_ONLY, name=NAME)

    page = admin_client.get(f"/admin/notifications/notificationlog/preview/?event={accented_event.pk}").content.decode()

    srcdoc = unescape(re.search(r'srcdoc="([^"]*)"', page).group(1))
    _assert_whole_document(srcdoc)
    assert "Hi Zoë," in srcdoc
    assert "notifications/preview.css" in page
