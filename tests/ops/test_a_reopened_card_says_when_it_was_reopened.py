"""A card closed and then opened again (a refund made from it that Stripe failed afterwards, a
finding that came back after closing itself) reads "reopened N min ago" in the queue and on the
registration's page, from when it was reopened: not "opened 3 days ago" from its first opening,
which made it look like an old card the operator had already looked at."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from registrations.models import Payment, ReviewItem
from tests.fakes import stripe as stripe_fake
from tests.intake.conftest import _intake_settings  # noqa: F401 (autouse: webhook settings)

from .test_a_refund_that_fails_reopens_its_card import deliver, failed, refund_from_card  # noqa: F401

pytestmark = pytest.mark.django_db


def card_head(page: str, item: ReviewItem) -> str:
    match = re.search(rf'id="item-{item.pk}".*?</header>', page, re.S)
    assert match, "the card is on the page"
    return match.group(0)


def test_a_card_reopened_by_a_failed_refund_says_reopened_just_now_not_opened_days_ago(
    ops_client,
    stripe_world,
    fake_stripe,
    htmx_headers,
    deliver,  # noqa: F811
):
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    ReviewItem.objects.filter(pk=item.pk).update(created_at=timezone.now() - timedelta(days=3))
    payment = Payment.objects.get(registration=item.registration, method="stripe")
    assert "opened 3 days ago" in card_head(ops_client.get(reverse("ops:queue")).content.decode(), item)
    refund = refund_from_card(ops_client, fake_stripe, htmx_headers, item, payment)

    deliver(stripe_fake.event("refund.failed", failed(refund)))

    head = card_head(ops_client.get(reverse("ops:queue")).content.decode(), item)
    assert "reopened just now" in head and "3 days ago" not in head
    head = card_head(ops_client.get(reverse("ops:queue_card", args=[item.pk])).content.decode(), item)
    assert "reopened just now" in head
    reg = item.registration
    page = ops_client.get(reverse("ops:registration", args=[reg.event.slug, reg.pk])).content.decode()
    assert "(reopened just now)" in page and "(opened 3 days ago)" not in page


def test_a_card_reopened_minutes_ago_counts_the_minutes_from_then(ops_client, stripe_world):
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    now = timezone.now()
    ReviewItem.objects.filter(pk=item.pk).update(
        created_at=now - timedelta(days=3), reopened_at=now - timedelta(minutes=3)
    )

    head = card_head(ops_client.get(reverse("ops:queue")).content.decode(), item)

    assert "reopened 3 min ago" in head and "3 days ago" not in head


def test_a_card_never_reopened_still_says_when_it_was_opened(ops_client, stripe_world):
    item = stripe_world.items[ReviewItem.Kind.PAID_CANCELLED]
    ReviewItem.objects.filter(pk=item.pk).update(created_at=timezone.now() - timedelta(days=3))

    head = card_head(ops_client.get(reverse("ops:queue")).content.decode(), item)

    assert "opened 3 days ago" in head and "reopened" not in head
