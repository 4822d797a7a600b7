"""The operators' daily digest leaves as a whole HTML document declaring its character set
(<meta charset="utf-8"> in a <head>), so accented names in it (an event "Été à Québec", an
attendee's name in a review item) are not shown as "Ã©" by a mail app guessing the encoding."""

import re
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from notifications.digest import send_digest
from registrations.models import ReviewItem, Status

EVENT = "Été à Québec — Retraite"


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_user("zoe", "zoe@example.org", "x", is_staff=True, first_name="Zoë")


def test_the_operator_digest_declares_utf8_and_keeps_accented_names(operator, one_sided):
    reg = one_sided(Status.PAID_ONLY)
    reg.event.name = EVENT
    reg.event.save()
    ReviewItem.objects.create(kind="dispute", key="d1", explanation="Chargeback on Zoë's payment", event=reg.event)

    send_digest()

    [message] = mail.outbox
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert html.lower().startswith("<!doctype html>")
    head = re.search(r"<head\b[^>]*>(.*?)</head>", html, re.S | re.I)
    assert head, html[:300]
    assert '<meta charset="utf-8">' in head.group(1)
    assert len(re.findall(r"<meta\b[^>]*charset", html, re.I)) == 1
    assert unescape(re.search(r"<title>(.*?)</title>", head.group(1), re.S).group(1)) == message.subject
    assert html.lower().index("</head>") < html.lower().index("<body")
    assert EVENT in unescape(html) and "Chargeback on Zoë's payment" in unescape(html)
