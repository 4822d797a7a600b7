"""What the operator sees: options checked with clear messages, a progress line only on a
terminal, changes listed on request, and events mapped by price or metadata covered too."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from integrations.progress import Progress
from registrations.models import Event, EventMapping, Payment
from tests.factories import EventFactory

from .conftest import run_command


@pytest.mark.parametrize(
    "args, message",
    [
        (["--since", "soon"], "is not a window"),
        (["--since", "0d"], "longer than zero"),
        (["--event", "no-such-event"], "No event with slug no-such-event"),
    ],
)
def test_bad_options_get_a_clear_message(event, providers, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("reconcile", *args, stdout=io.StringIO(), stderr=io.StringIO())


def test_no_progress_line_when_stderr_is_not_a_terminal(event, providers):
    stripe, _ = providers
    stripe.add_session()

    result = run_command()

    assert result.err == ""
    assert "Reconciliation run #" in result.out


def test_the_progress_line_redraws_in_place_on_a_terminal():
    stream = io.StringIO()
    progress = Progress(stream, enabled=True, interval=0)

    progress.update("stripe 100 · acuity 0 records · 1 s")
    progress.update("stripe 200 · acuity 0 records · 2 s")
    progress.clear()

    text = stream.getvalue()
    assert text.count("\r") == 3 and "stripe 200" in text and text.endswith("\r\x1b[K")
    assert "\n" not in text


def test_verbose_lists_each_change(event, providers):
    stripe, _ = providers
    stripe.add_session(email="river@example.org")

    result = run_command("-v", "2")

    assert "add          stripe spring-retreat  payment cs_" in result.out
    assert "river@example.org paid 120.00 USD" in result.out


def test_an_event_without_mappings_is_said_to_have_nothing_to_check(event, providers):
    EventFactory(slug="unmapped-retreat")

    result = run_command("--event", "unmapped-retreat")

    assert "unmapped-retreat: nothing to check" in result.out


def test_a_session_listed_without_line_items_gets_them_from_the_per_session_endpoint(event, providers):
    stripe, _ = providers
    stripe.expand_line_items_in_lists = False
    stripe.add_session(email="group@example.org", quantity=3, amount=36000)

    run_command("--provider", "stripe")

    assert Payment.objects.get().quantity == 3
    assert stripe.count("GET", r"/line_items$") == 1


def test_known_sessions_never_cost_a_line_items_call(event, providers):
    stripe, _ = providers
    stripe.add_session(email="a@example.org")
    run_command("--provider", "stripe")
    stripe.expand_line_items_in_lists = False
    stripe.reset_requests()

    run_command("--provider", "stripe")

    assert stripe.count("GET", r"/line_items$") == 0


def test_an_event_mapped_by_price_is_reconciled_too(db, providers):
    stripe, _ = providers
    ev = EventFactory(slug="price-mapped")
    EventMapping.objects.create(kind=EventMapping.Kind.STRIPE_PRICE, value="price_gathering", event=ev)
    stripe.add_session(email="p@example.org", payment_link="plink_unmapped", price_id="price_gathering")
    stripe.add_session(email="x@example.org", payment_link="plink_unmapped", price_id="price_other")

    result = run_command("--provider", "stripe")

    assert list(Payment.objects.values_list("email", "event__slug")) == [("p@example.org", "price-mapped")]
    assert result.counts("price-mapped", "stripe")["new"] == 1
    assert Event.objects.count() == 1


def test_the_real_rate_limits_pace_the_calls(event, providers, settings):
    """With the production pace (20/s), 30 pages of sessions take at least 1.45 s."""
    import time

    from integrations import clients

    stripe, _ = providers
    for i in range(3000):
        stripe.add_session(email=f"p{i}@example.org", session_id=f"cs_pace_{i:05d}")
    settings.STRIPE_REQUESTS_PER_SECOND = 20.0
    clients._stripe_limiters.clear()
    try:
        started = time.monotonic()
        from integrations.reconcile_sources import stripe_session_pages

        pages = list(stripe_session_pages(clients.stripe_client(), payment_link=None, created_gte=None))
        took = time.monotonic() - started
    finally:
        clients._stripe_limiters.clear()
    assert sum(len(p) for p in pages) == 3000 and len(pages) == 30
    assert took >= 29 / 20
