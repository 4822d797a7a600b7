"""The redirect and the webhook (or two browser tabs) arriving at the same moment still leave one
payment, one registration and one set of seat references."""

import threading

import pytest
from django.db import close_old_connections, connection
from django.test import Client

from integrations.parsing import session_to_signal
from registrations.models import Payment, Registration, SeatReference, Status
from registrations.services import apply_payment

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises every writer on one file lock, so there is nothing concurrent to test; "
        "row locks (select_for_update) only exist on PostgreSQL",
    ),
]


def _together(jobs):
    errors, results = [], [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def run(i, job):
        try:
            barrier.wait()
            results[i] = job()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors, results


def test_redirects_and_webhooks_at_the_same_moment_converge(fake_stripe, fake_acuity, event):
    s = fake_stripe.add_session(email="pat@example.org", amount=36000, quantity=3)
    items = fake_stripe.line_items[s["id"]]

    def tab():
        return Client().get("/r/paid/", {"session_id": s["id"]}).status_code

    def webhook(n):
        return lambda: apply_payment(session_to_signal(s, line_items=items, raw_ref=f"evt_{n}")).fact.pk

    errors, results = _together([tab, tab, tab, webhook(1), webhook(2), tab])

    assert errors == []
    assert [results[i] for i in (0, 1, 2, 5)] == [200, 200, 200, 200]
    assert Payment.objects.count() == 1 and Registration.objects.count() == 1
    assert sorted(SeatReference.objects.values_list("seat", flat=True)) == [2, 3]
    assert Registration.objects.get().status == Status.NEEDS_REVIEW  # the group item, until seats are booked
