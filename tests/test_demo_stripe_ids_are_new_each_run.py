"""Each ``./dev run`` starts a new fake Stripe, while the demo's database keeps what the last run
recorded. The fake numbered its ids from 1 every time, so a refund tried in a second run got the
id of a refund from the first (re_00000000000011): a queue card in the demo then said its new
refund had failed, naming the earlier run's failed refund, and Stripe events (evt_…1) read as
ones already received. The demo's fake numbers its ids on from the time it starts."""

from __future__ import annotations

from tests.fakes import serve
from tests.fakes import stripe as stripe_fake


def test_a_fake_stripe_started_for_a_later_demo_run_gives_ids_the_earlier_run_did_not(monkeypatch):
    monkeypatch.setattr(stripe_fake, "_ids", stripe_fake._ids)  # the tests' own numbering is left as it was
    serve.number_stripe_ids_from_now(now=1_796_300_000.0)
    first_run = {stripe_fake._id("re") for _ in range(50)}
    serve.number_stripe_ids_from_now(now=1_796_300_060.0)  # a minute later, ./dev run again
    second_run = {stripe_fake._id("re") for _ in range(50)}
    assert not first_run & second_run
    assert all(len(i) == len("re_00000000000011") for i in first_run | second_run)  # Stripe-like shape kept
