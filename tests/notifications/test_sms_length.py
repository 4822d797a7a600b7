"""A reminder text stays within two SMS segments and keeps its one link whole, whatever the
event is called: typographic quotes and dashes (which any Mac or Word title has) or an emoji
would switch the whole text to UCS-2 (70 characters a segment instead of 160), and a long title
would multiply the segments an attendee receives and we pay for."""

import re

import pytest

from notifications.render import is_gsm7, render_reminder, sms_segments
from notifications.tokens import status_url, unsubscribe_url
from registrations.models import Status

BASE = "https://registrations.justloveforest.org"  # a realistic public address: the link's length counts


def reminder_sms(reg, missing="booking"):
    out = render_reminder(reg, missing, status_url=status_url(reg.pk), unsubscribe_url=unsubscribe_url(reg.attendee_id))
    return out.sms


@pytest.mark.parametrize(
    "title",
    [
        "Spring Retreat",
        "Maria’s “Forest Bathing” Weekend – Silence & Song…",
        "Forest Sit 🌲✨",
        "Forest Bathing and Silent Retreat Weekend at Just Love Forest with Shared Meals, "
        "Sound Healing, Guided Walks, Fireside Evenings and a Closing Circle on Sunday Afternoon",
    ],
)
@pytest.mark.parametrize("missing", ["booking", "payment"])
def test_a_reminder_text_stays_within_two_segments_and_keeps_its_link(one_sided, event, settings, title, missing):
    settings.PUBLIC_BASE_URL = BASE
    event.name = title
    event.save()
    reg = one_sided(Status.PAID_ONLY, name="Alexandria Catherine Montgomery-Featherstonehaugh", phone="+14155550123")

    sms = reminder_sms(reg, missing)

    assert is_gsm7(sms) and 1 <= sms_segments(sms) <= 2, (sms_segments(sms), len(sms), sms)
    assert status_url(reg.pk).split(":")[0] in sms  # (the signature part changes by the second)
    (link,) = re.findall(r"https?://\S+", sms)
    assert link.startswith(f"{BASE}/n/status/") and link.endswith("/")
    assert "Reply STOP to opt out." in sms
    assert sms.split(":")[0][:7] == title.replace("’", "'")[:7]  # still says which event


def test_an_operators_own_sms_wording_with_curly_quotes_is_sent_as_plain_gsm(one_sided, event, settings):
    settings.PUBLIC_BASE_URL = BASE
    event.sms_text_template = "Hi {{ first_name }} – don’t forget “{{ event_name }}”… {{ status_url }}"
    event.save()
    reg = one_sided(Status.PAID_ONLY, name="River Stone", phone="+14155550123")

    sms = reminder_sms(reg)

    assert sms.startswith('Hi River - don\'t forget "Spring Retreat"... https://')
    assert is_gsm7(sms) and sms_segments(sms) <= 2
