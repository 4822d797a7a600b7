"""The phone number a Stripe checkout carries is read like an Acuity one (E.164), so a text
reminder goes to the number the attendee gave and a payment under another email can be
suggested as the same person as a booking with the same phone."""

import copy
import json
from pathlib import Path

import pytest

from integrations.parsing import session_to_signal
from registrations.models import Attendee, ReviewItem

from .conftest import run_queue

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples"


def test_a_stripe_checkout_phone_typed_with_spaces_and_dashes_becomes_e164(settings, fake_stripe):
    settings.DEFAULT_PHONE_REGION = "US"
    path = EXAMPLES / "stripe-checkout.session.completed.json"
    if path.exists():
        session = copy.deepcopy(json.loads(path.read_text())["data"]["object"])
    else:  # the shared examples are beside the repo in development; keep the test self-contained
        session = fake_stripe.add_session(phone=None)
    session["customer_details"]["phone"] = "+1 (415) 555-0123"

    assert session_to_signal(session).phone == "+14155550123"

    session["customer_details"]["phone"] = "415.555.0123"  # national, no country code: the default region
    assert session_to_signal(session).phone == "+14155550123"

    session["customer_details"]["phone"] = None
    assert session_to_signal(session).phone == ""


def test_a_payer_whose_stripe_phone_is_formatted_is_suggested_as_the_booker_with_that_phone(
    post_stripe, post_acuity, fake_stripe, fake_acuity, event, settings
):
    settings.DEFAULT_PHONE_REGION = "US"
    # Paid under a work address, phone typed with spaces and brackets.
    session = fake_stripe.add_session(email="r.stone@work.example", name="River Stone", phone="+1 (415) 555-0123")
    assert post_stripe(fake_stripe.session_event(session)).status_code == 200
    # Booked under a personal address and a nickname, the same phone written the US way.
    appt = fake_acuity.add_appointment(
        email="riv@home.example", first_name="Riv", last_name="S.", phone="(415) 555-0123"
    )
    assert post_acuity(appt).status_code == 200
    run_queue()

    payer = Attendee.objects.get(email="r.stone@work.example")
    assert payer.phone == "+14155550123"  # what Twilio is given for an SMS reminder
    item = ReviewItem.objects.get(kind=ReviewItem.Kind.SUGGESTED_MATCH)
    assert "the same phone number (+14155550123)" in item.explanation
