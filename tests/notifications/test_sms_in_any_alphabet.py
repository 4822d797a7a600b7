"""Reminder texts to attendees and events named in any alphabet: Cyrillic, Greek, accented Latin,
emoji, and the GSM-7 extension characters (€ [ ] { } ^ ~ \\ |).

How Twilio counts (docs/glossary/what-sms-character-limit, what-is-ucs-2-character-encoding; its
segment calculator, TwilioDevEd/message-segment-calculator): a text of GSM-7 characters only is
160 characters in one segment, 153 a segment when split; the extension characters are GSM-7 too
but take two (escape + character), never split across segments. One character outside GSM-7
makes the whole text UCS-2: 70 in one segment, 67 a segment when split, counted in UTF-16 code
units (an emoji outside the Basic Multilingual Plane takes two)."""

import re

import pytest
from django.core.exceptions import ValidationError

from notifications import render
from notifications.render import is_gsm7, render_reminder, sms_segments
from notifications.tokens import read_status_token, status_url, unsubscribe_url
from registrations.models import Event, Status

BASE = "https://registrations.justloveforest.org"  # a realistic public address: the link's length counts
CYRILLIC_TITLE = "Весенний ретрит в лесу: тишина, песни и совместные трапезы"
GREEK_TITLE = "Σιωπηλό καταφύγιο στο δάσος της Άνοιξης"


def reminder(reg, missing="booking"):
    return render_reminder(
        reg, missing, status_url=status_url(reg.pk), unsubscribe_url=unsubscribe_url(reg.attendee_id)
    )


def the_link(sms):
    (link,) = re.findall(r"https?://\S+", sms)
    return link


def keeps_its_status_link(sms, reg) -> bool:
    """The text's one link is the whole, valid status link of ``reg`` (its token is signed with
    the time, so it is read back rather than compared)."""
    match = re.fullmatch(rf"{re.escape(BASE)}/n/status/([^/\s]+)/", the_link(sms))
    return bool(match) and read_status_token(match.group(1)) == reg.pk


def shortened_only_to_save_a_segment(sms, title) -> bool:
    """``sms`` begins with ``title`` cut short ("…...: "), and the whole title would have cost a
    segment more."""
    cut, rest = sms.split("...: ", 1)
    return title.startswith(cut) and sms_segments(f"{title}: {rest}") > sms_segments(sms)


# --- Counting -------------------------------------------------------------------------------------
def test_gsm7_extension_characters_keep_a_text_gsm7_and_count_as_two():
    assert is_gsm7("Forest [Silence] {Retreat} €50 ^ ~ \\ |")
    assert sms_segments("€" * 80) == 1  # 160 septets
    assert sms_segments("€" * 81) == 2
    assert sms_segments("a" * 159 + "[") == 2  # 161 septets
    assert sms_segments("a" * 158 + "]") == 1  # 160 septets
    # Split, an escape pair is never cut in two: 76 pairs (152 septets) a segment.
    assert sms_segments("€" * 152) == 2 and sms_segments("€" * 153) == 3


def test_emoji_in_a_text_count_as_two_ucs2_characters():
    assert sms_segments("🌲" * 35) == 1  # 70 UTF-16 code units
    assert sms_segments("🌲" * 36) == 2
    assert sms_segments("Ж" * 70) == 1 and sms_segments("Ж" * 71) == 2
    assert sms_segments("Ж" * 134) == 2 and sms_segments("Ж" * 135) == 3


def test_plain_english_counts_stay_as_they_were():
    assert sms_segments("") == 0
    assert sms_segments("a" * 160) == 1 and sms_segments("a" * 161) == 2
    assert sms_segments("a" * 306) == 2 and sms_segments("a" * 307) == 3


# --- The default wording --------------------------------------------------------------------------
@pytest.mark.parametrize("title", [CYRILLIC_TITLE, GREEK_TITLE])
@pytest.mark.parametrize("missing", ["booking", "payment"])
def test_a_cyrillic_reminder_keeps_its_link_and_its_whole_title_within_4_segments(
    one_sided, event, settings, title, missing
):
    """A non-GSM title makes the text UCS-2, where the link and our wording alone take 3-4
    segments: the title must not be cut down to 24 characters chasing 2 segments it can never
    reach (it cost the attendee the event's name and saved nothing)."""
    settings.PUBLIC_BASE_URL = BASE
    event.name = title
    event.save()
    reg = one_sided(Status.PAID_ONLY, name="Александра Екатерина Монтгомери", phone="+14155550123")

    sms = reminder(reg, missing).sms

    assert sms_segments(sms) <= 4, (sms_segments(sms), len(sms), sms)
    assert keeps_its_status_link(sms, reg), sms
    assert sms.endswith("Reply STOP to opt out.")
    if not sms.startswith(f"{title}: "):
        # The status link grows with the registration's number (the test database's sequence runs
        # on across tests; real ones reach 5-6 digits): the title may be shortened then, but only
        # where that saves a segment.
        assert shortened_only_to_save_a_segment(sms, title), sms


@pytest.mark.django_db
def test_a_cyrillic_title_is_shortened_only_where_a_long_status_link_makes_that_save_a_segment(
    one_sided, event, settings
):
    from django.db import connection

    settings.PUBLIC_BASE_URL = BASE
    event.name = CYRILLIC_TITLE
    event.save()
    if connection.vendor == "postgresql":  # a registration numbered as in a database of some years
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval(pg_get_serial_sequence('registrations_registration', 'id'), 1234567)")
    reg = one_sided(Status.PAID_ONLY, name="Александра Екатерина Монтгомери", phone="+14155550123")

    sms = reminder(reg, "payment").sms

    assert sms_segments(sms) <= 4, (sms_segments(sms), len(sms), sms)
    assert keeps_its_status_link(sms, reg), sms
    assert sms.startswith(f"{CYRILLIC_TITLE}: ") or shortened_only_to_save_a_segment(sms, CYRILLIC_TITLE), sms


def test_a_very_long_cyrillic_title_is_shortened_to_the_fewest_segments_the_link_allows(one_sided, event, settings):
    settings.PUBLIC_BASE_URL = BASE
    event.name = (CYRILLIC_TITLE + " ") * 3
    event.save()
    reg = one_sided(Status.PAID_ONLY, name="Александра", phone="+14155550123")

    sms = reminder(reg).sms

    assert sms_segments(sms) <= 4, (sms_segments(sms), len(sms), sms)
    assert keeps_its_status_link(sms, reg), sms
    assert sms.startswith("Весенний ретрит в лесу") and "...:" in sms


def test_a_title_with_euro_or_brackets_stays_gsm7_and_whole(one_sided, event, settings):
    settings.PUBLIC_BASE_URL = BASE
    event.name = "Forest [Silence] {Retreat} €50"
    event.save()
    reg = one_sided(Status.PAID_ONLY, name="River Stone", phone="+14155550123")

    sms = reminder(reg).sms

    assert is_gsm7(sms) and sms_segments(sms) == 2, (sms_segments(sms), sms)
    assert sms.startswith("Forest [Silence] {Retreat} €50: ")


# --- An operator's own wording --------------------------------------------------------------------
def test_an_overlong_sms_wording_never_leaves_without_its_link(one_sided, event, settings):
    """Wording saved before the limit existed (or made long by a name in another alphabet) is
    never cut at Twilio's 1,600 characters through the link: the default wording goes instead,
    and the preview says why."""
    settings.PUBLIC_BASE_URL = BASE
    Event.objects.filter(pk=event.pk).update(
        sms_text_template="Здравствуйте, {{ first_name }}! " + "Мы очень ждём вас в лесу. " * 70 + "{{ status_url }}"
    )
    event.refresh_from_db()
    reg = one_sided(Status.PAID_ONLY, name="Александра Иванова", phone="+14155550123")

    out = reminder(reg)

    assert keeps_its_status_link(out.sms, reg), out.sms
    assert sms_segments(out.sms) <= 4 and out.sms.endswith("Reply STOP to opt out.")
    assert len(out.errors) == 1 and out.errors[0].startswith("SMS text:"), out.errors
    assert "segments" in out.errors[0] and "default wording" in out.errors[0]


def test_an_operators_short_cyrillic_wording_is_sent_as_written(one_sided, event, settings):
    settings.PUBLIC_BASE_URL = BASE
    event.sms_text_template = "{{ first_name }}, завершите регистрацию: {{ status_url }} STOP = отписка"
    event.save()
    reg = one_sided(Status.PAID_ONLY, name="Александра Иванова", phone="+14155550123")

    out = reminder(reg)

    assert out.errors == []
    assert out.sms.startswith("Александра, завершите регистрацию: https://") and out.sms.endswith(" STOP = отписка")
    assert keeps_its_status_link(out.sms, reg), out.sms


def test_an_sms_wording_too_long_to_send_is_refused_saying_how_many_segments(event, settings):
    settings.PUBLIC_BASE_URL = BASE
    event.sms_text_template = (
        "Hi {{ first_name }}! " + "We look forward to seeing you in the forest. " * 20 + "{{ link }}"
    )

    with pytest.raises(ValidationError) as refused:
        event.full_clean()

    message = " ".join(refused.value.message_dict["sms_text_template"])
    assert re.search(r"\b\d+ SMS segments\b", message), message
    assert f"at most {render.SMS_SEGMENTS_MAX}" in message


def test_an_english_wording_that_a_cyrillic_name_would_push_over_the_limit_is_refused_naming_both_counts(
    event, settings
):
    settings.PUBLIC_BASE_URL = BASE
    # ~300 GSM characters: 2 segments for River; UCS-2 for Александра: 67 a segment.
    event.sms_text_template = (
        "Hi {{ name }}, " + "this is a friendly reminder about your place. " * 5 + "Finish here: {{ status_url }}"
    )

    with pytest.raises(ValidationError) as refused:
        event.full_clean()

    message = " ".join(refused.value.message_dict["sms_text_template"])
    assert "Cyrillic" in message and "UCS-2" in message, message
    counts = [int(n) for n in re.findall(r"(\d+) SMS segments?", message)]
    assert counts and max(counts) > render.SMS_SEGMENTS_MAX, message


def test_a_reasonable_sms_wording_is_accepted(event, settings):
    settings.PUBLIC_BASE_URL = BASE
    event.sms_text_template = "Hi {{ first_name|default:'there' }}, {{ action }} for {{ event_name }}: {{ link }}"
    event.full_clean()  # no error


def test_the_event_admin_refuses_an_overlong_sms_wording_with_its_segment_count(admin_client, event, settings):
    from tests.domain.test_event_settings_rederive import change_event_in_admin

    settings.PUBLIC_BASE_URL = BASE
    response = change_event_in_admin(admin_client, event, sms_text_template="Привет! " * 60 + "{{ status_url }}")

    form = response.context["adminform"].form
    assert "sms_text_template" in form.errors, form.errors
    assert "SMS segments" in " ".join(form.errors["sms_text_template"])
    event.refresh_from_db()
    assert event.sms_text_template == ""


def test_the_preview_says_which_character_makes_a_text_ucs2(admin_client, one_sided, event, settings):
    settings.PUBLIC_BASE_URL = BASE
    event.name = CYRILLIC_TITLE
    event.save()
    one_sided(Status.PAID_ONLY, name="River Stone", phone="+14155550123")

    html = admin_client.get(f"/admin/notifications/notificationlog/preview/?event={event.pk}").content.decode()

    assert "UCS-2" in html and "В" in html.split("UCS-2", 1)[1][:200], html.split("UCS-2", 1)[-1][:200]
    assert "4 SMS segments" in html


@pytest.mark.parametrize(
    "wording",
    [
        "{{ link }}",  # this event has no Payment Link: a payment reminder's link is empty
        "{% if missing == 'refund' %}Your refund is on its way{% endif %}",
        "{% comment %}to do{% endcomment %}",
    ],
)
def test_an_sms_wording_that_comes_out_empty_is_refused_with_a_message_not_a_server_error(
    admin_client, event, settings, wording
):
    from tests.domain.test_event_settings_rederive import change_event_in_admin

    settings.PUBLIC_BASE_URL = BASE
    Event.objects.filter(pk=event.pk).update(stripe_payment_link_url="")
    event.refresh_from_db()

    response = change_event_in_admin(admin_client, event, sms_text_template=wording)

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "empty" in " ".join(form.errors.get("sms_text_template", [])), form.errors
    event.refresh_from_db()
    assert event.sms_text_template == ""


def test_an_sms_wording_that_comes_out_empty_for_an_attendee_sends_the_default_wording(one_sided, event, settings):
    """Saved before it was refused (or empty only for this reminder): a text with no words is
    never sent; the default wording goes, and the preview says why."""
    settings.PUBLIC_BASE_URL = BASE
    Event.objects.filter(pk=event.pk).update(sms_text_template="{% if missing == 'refund' %}Refunded{% endif %}")
    event.refresh_from_db()
    reg = one_sided(Status.PAID_ONLY, name="River Stone", phone="+14155550123")

    out = reminder(reg)

    assert keeps_its_status_link(out.sms, reg) and out.sms.endswith("Reply STOP to opt out."), out.sms
    assert len(out.errors) == 1 and "empty" in out.errors[0] and "default wording" in out.errors[0], out.errors
