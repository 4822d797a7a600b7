"""Mappings typed by hand (event admin, mapping admin, events file): a key another event already
uses is refused naming that event, and an id that can never match anything is refused with where
to find the right one."""

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from registrations.models import EventMapping
from tests.factories import EventFactory

from .builders import PLINK
from .test_event_settings_rederive import change_event_in_admin

pytestmark = pytest.mark.django_db


def add_inline_mapping(client, event, kind, value):
    existing = event.mappings.count()
    return change_event_in_admin(
        client,
        event,
        **{
            "mappings-TOTAL_FORMS": str(existing + 1),
            f"mappings-{existing}-kind": kind,
            f"mappings-{existing}-value": value,
            f"mappings-{existing}-event": event.pk,
        },
    )


def page_errors(response):
    return response.content.decode()


def test_a_payment_link_already_mapped_to_another_event_is_refused_naming_that_event(admin_client, event):
    autumn = EventFactory(slug="autumn-gathering", name="Autumn Gathering")

    response = add_inline_mapping(admin_client, autumn, "stripe_payment_link", PLINK)

    assert "is already mapped to Spring Retreat (spring-retreat)" in page_errors(response)
    assert EventMapping.objects.get(value=PLINK).event == event


def test_a_key_marked_not_ours_is_refused_with_where_to_change_it(admin_client, event):
    EventMapping.objects.create(kind="stripe_payment_link", value="plink_elsewhere", ignored=True)

    response = add_inline_mapping(admin_client, event, "stripe_payment_link", "plink_elsewhere")

    assert "is marked “not ours”" in page_errors(response)
    assert EventMapping.objects.get(value="plink_elsewhere").ignored


@pytest.mark.parametrize(
    "kind, value, message",
    [
        ("stripe_payment_link", "https://buy.stripe.com/test_abc123", "looks like plink_"),
        ("stripe_price", "prod_ABC", "looks like price_"),
        ("acuity_appointment_type", "Spring Retreat", "is a number"),
        ("stripe_metadata", "spring-retreat", "key=value"),
    ],
)
def test_an_id_that_can_never_match_is_refused_in_the_event_admin(admin_client, event, kind, value, message):
    response = add_inline_mapping(admin_client, event, kind, value)

    assert message in page_errors(response)
    assert not EventMapping.objects.filter(value=value).exists()


def test_an_id_that_can_never_match_is_refused_in_the_mapping_admin(admin_client, event):
    url = reverse("admin:registrations_eventmapping_add")
    response = admin_client.post(url, {"kind": "stripe_payment_link", "value": "buy.stripe.com/x", "event": event.pk})
    assert "looks like plink_" in response.content.decode()
    assert not EventMapping.objects.filter(value="buy.stripe.com/x").exists()


def test_an_id_that_can_never_match_is_refused_in_an_events_file(tmp_path):
    path = tmp_path / "events.yaml"
    path.write_text(
        "events: [{slug: x, name: X, starts_at: '2027-01-01T10:00:00+00:00', "
        "mappings: {stripe_payment_link: ['https://buy.stripe.com/test_abc']}}]"
    )
    with pytest.raises(CommandError, match=r"event #1 \(x\): mappings.stripe_payment_link: .*looks like plink_"):
        call_command("import_events", str(path))
    assert not EventMapping.objects.exists()
