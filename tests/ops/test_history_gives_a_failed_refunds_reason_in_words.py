"""The history of a registration whose refund Stripe failed showed the refund's line as 'failed
(lost or stolen card)' but the 'Refund recorded' entry under it as 'Failure reason:
lost_or_stolen_card', Stripe's code. Both read it in words."""

from __future__ import annotations

from registrations.ops.timeline import _detail


def test_a_failed_refunds_recorded_reason_reads_in_words():
    data = {"refund": "re_1", "status": "failed", "amount": 12000, "failure_reason": "lost_or_stolen_card"}
    line = _detail(data, "usd", action="payment.refund_recorded")
    assert "Failure reason: lost or stolen card" in line, line
    assert "lost_or_stolen_card" not in line
