"""A "same person, different emails?" case holds two registrations (the one who paid and the one
who booked). The co-host reads why on both rows, not only on the paid one: the booked half said
just "being checked by the organisers"."""

from __future__ import annotations

import pytest
from django.urls import reverse

from registrations.models import Registration, ReviewItem, Status

from .conftest import sign_in

pytestmark = pytest.mark.django_db


def test_both_rows_of_a_suggested_pair_say_what_the_organisers_check(client, world):
    event = world.alice.event
    paid = Registration.objects.get(event=event, attendee__email="spring.paidonly@example.org")
    booked = Registration.objects.get(event=event, attendee__email="spring.bookedonly@example.org")
    ReviewItem.objects.create(
        kind=ReviewItem.Kind.SUGGESTED_MATCH,
        key="test-pair",
        event=event,
        registration=paid,
        counterpart=booked,
        explanation="same phone",
    )
    Registration.objects.filter(pk__in=[paid.pk, booked.pk]).update(status=Status.NEEDS_REVIEW)
    sign_in(client, world.alice.cohost)

    body = client.get(reverse("cohost:event", args=[event.slug])).content.decode()
    rows = {
        email: body[body.index(email) : body.index("</tr>", body.index(email))]
        for email in ("spring.paidonly@example.org", "spring.bookedonly@example.org")
    }
    for email, row in rows.items():
        assert "being checked by the organisers (Same person, different emails?)" in row, email

    detail = client.get(reverse("cohost:registration", args=[event.slug, booked.reference])).content.decode()
    assert "being checked by the organisers (Same person, different emails?)" in detail
