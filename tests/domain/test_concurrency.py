"""Correctness never depends on one process: eight workers applying the same and overlapping
signals at the same moment still leave one attendee, one registration and one payment row."""

import threading

import pytest
from django.db import close_old_connections, connection

from registrations.models import Attendee, Booking, Payment, Registration, Status
from registrations.services import apply_booking, apply_payment
from registrations.signals import PaymentSignal

from .builders import booked, paid, pi_succeeded, refunded

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises every writer on one file lock, so there is no concurrency to test; "
        "row locks (select_for_update) only exist on PostgreSQL",
    ),
]


def run_concurrently(signals, threads=8):
    errors = []
    barrier = threading.Barrier(threads)

    def worker(i):
        try:
            barrier.wait()
            for signal in signals[i % len(signals)]:
                (apply_payment if isinstance(signal, PaymentSignal) else apply_booking)(signal)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            close_old_connections()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return errors


def test_eight_workers_applying_the_same_payment_create_one_of_each(event):
    errors = run_concurrently([[paid(1)]])
    assert errors == []
    assert (Attendee.objects.count(), Registration.objects.count(), Payment.objects.count()) == (1, 1, 1)
    assert Registration.objects.get().status == Status.PAID_ONLY


def test_overlapping_signals_from_both_providers_converge(event):
    streams = [
        [paid(1), booked(1)],
        [booked(1), paid(1)],
        [pi_succeeded(1), paid(1)],
        [refunded(1, 4000), booked(1)],
        [paid(1), pi_succeeded(1), refunded(1, 4000)],
        [booked(1), refunded(1, 4000)],
        [pi_succeeded(1)],
        [paid(1)],
    ]
    errors = run_concurrently(streams)
    assert errors == []
    assert (Attendee.objects.count(), Registration.objects.count()) == (1, 1)
    assert (Payment.objects.count(), Booking.objects.count()) == (1, 1)
    payment = Payment.objects.get()
    assert (payment.checkout_session_id, payment.payment_intent_id, payment.charge_id) == ("cs_1", "pi_1", "ch_1")
    assert payment.amount_refunded == 4000
    assert Registration.objects.get().status == Status.COMPLETE
