"""The operators' digest runs at 07:00 in TIME_ZONE; each covers the time since the one before.
On the morning the clocks go back that is 25 hours, not 24: what happened in the hour after the
previous digest must still be reported (it would never appear in any digest otherwise)."""

from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.core import mail

from notifications.digest import send_digest
from registrations.models import ReviewItem


def test_a_review_item_opened_just_after_the_digest_before_the_clocks_go_back_is_in_the_next_one(db, settings):
    settings.TIME_ZONE = "America/Los_Angeles"
    get_user_model().objects.create_user("ana", "ana@example.org", "x", is_staff=True)
    # Saturday 31 October 2026, 07:00 PDT (14:00 UTC): the previous digest went out.
    # 07:30 PDT: a new review item.
    item = ReviewItem.objects.create(kind="dispute", key="d1", explanation="Chargeback on River's payment")
    ReviewItem.objects.filter(pk=item.pk).update(created_at=datetime(2026, 10, 31, 14, 30, tzinfo=UTC))

    # Sunday 1 November, 07:00 PST (15:00 UTC): the clocks went back overnight; 25 hours later.
    result = send_digest(now=datetime(2026, 11, 1, 15, 0, tzinfo=UTC))

    assert result["sent"] == 1, result
    assert "Chargeback on River's payment" in mail.outbox[0].body
