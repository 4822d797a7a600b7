"""Mapping a key that a big backlog waits for (an event mapped days after sales began): the click
answers within its time budget, the mapping and the card are settled at once, and the worker
replays the rest in chunks, in the operator's name. A fact that cannot be replayed holds up
nobody. (Time budgets are set to 0 here: each call then replays exactly one fact.)"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from registrations import services
from registrations.models import AuditLog, EventMapping, Payment, Registration, ReviewItem, Status

from .scenario import make_event, pay

pytestmark = pytest.mark.django_db

LINK = "plink_mapped_late"


@pytest.fixture
def backlog(db):
    """An event, and three payments through a link nobody mapped yet (one unmatched card)."""
    event = make_event()
    for n in range(3):
        pay(f"late{n}@example.org", f"Late Payer {n}", plink=LINK)
    assert Payment.objects.filter(event__isnull=True).count() == 3
    return event


@pytest.fixture
def budgets(monkeypatch):
    monkeypatch.setattr(services, "REPLAY_INLINE_SECONDS", 0)
    monkeypatch.setattr(services, "REPLAY_TASK_SECONDS", 0)


def card():
    return ReviewItem.objects.get(kind=ReviewItem.Kind.UNMATCHED_EVENT)


def run_worker(capture) -> int:
    """Run queued tasks as the worker would (with the arguments django-q stored), including the
    ones they queue, until none is left. Returns how many ran."""
    ran = 0
    while (row := OrmQ.objects.order_by("id").first()) is not None:
        task = SignedPackage.loads(row.payload)
        row.delete()
        module, _, name = task["func"].rpartition(".")
        with capture(execute=True):
            getattr(__import__(module, fromlist=[name]), name)(*task["args"], **task["kwargs"])
        ran += 1
        assert ran < 20, "the replay tasks never stop queueing themselves"
    return ran


def test_mapping_a_backlog_in_the_queue_answers_at_once_and_the_worker_replays_the_rest_as_the_operator(
    ops_client, operator, backlog, budgets, django_capture_on_commit_callbacks
):
    url = reverse("ops:queue_action", args=[card().pk, "map"])
    with django_capture_on_commit_callbacks(execute=True):
        body = ops_client.post(url, {"event": str(backlog.pk)}, headers={"HX-Request": "true"}).content.decode()
    assert "1 stored signal replayed; 2 more are being replayed in the background" in body
    # Settled at once: the mapping and the card, whatever the worker does next.
    assert EventMapping.objects.get(value=LINK).event == backlog
    assert card().resolution == "mapped"
    assert Registration.objects.filter(event=backlog, attendee__email__startswith="late").count() == 1

    assert run_worker(django_capture_on_commit_callbacks) == 2  # one fact per chunk at budget 0
    regs = Registration.objects.filter(event=backlog, attendee__email__startswith="late")
    assert sorted(r.status for r in regs) == [Status.PAID_ONLY] * 3
    assert not Payment.objects.filter(event__isnull=True).exists()
    # Each match is in the operator's name, also those the worker made.
    matched = AuditLog.objects.filter(action="payment.matched", registration__in=regs)
    assert matched.count() == 3 and set(matched.values_list("actor_user", flat=True)) == {operator.pk}


def test_a_second_click_on_a_mapped_card_replays_nothing_twice(
    ops_client, backlog, budgets, django_capture_on_commit_callbacks
):
    url = reverse("ops:queue_action", args=[card().pk, "map"])
    with django_capture_on_commit_callbacks(execute=True):
        ops_client.post(url, {"event": str(backlog.pk)}, headers={"HX-Request": "true"})
        again = ops_client.post(url, {"event": str(backlog.pk)}, headers={"HX-Request": "true"}).content.decode()
    assert "already" in again
    run_worker(django_capture_on_commit_callbacks)
    assert AuditLog.objects.filter(action="payment.matched").filter(registration__event=backlog).count() == 3
    assert AuditLog.objects.filter(action="review.resolved.mapped").count() == 1


def test_marking_a_backlog_not_ours_replays_each_fact_once_and_stops(
    ops_client, backlog, budgets, django_capture_on_commit_callbacks
):
    """Facts of a key marked not ours stay without an event: the chunks go past them instead of
    finding them again forever, and no new unmatched card opens."""
    url = reverse("ops:queue_action", args=[card().pk, "ignore"])
    with django_capture_on_commit_callbacks(execute=True):
        ops_client.post(url, {}, headers={"HX-Request": "true"})
    assert run_worker(django_capture_on_commit_callbacks) == 2
    assert Payment.objects.filter(event__isnull=True).count() == 3
    assert list(ReviewItem.objects.values_list("resolution", flat=True)) == ["ignored"]


def test_a_fact_that_cannot_be_replayed_holds_up_neither_the_others_nor_the_mapping(
    ops_client, backlog, monkeypatch, django_capture_on_commit_callbacks
):
    broken = Payment.objects.filter(event__isnull=True).order_by("pk")[1]
    real = services._finish_payment

    def finish(payment, *args, **kwargs):
        if payment.pk == broken.pk:
            raise RuntimeError("a bug in one old row")
        return real(payment, *args, **kwargs)

    monkeypatch.setattr(services, "_finish_payment", finish)
    url = reverse("ops:queue_action", args=[card().pk, "map"])
    with django_capture_on_commit_callbacks(execute=True):
        response = ops_client.post(url, {"event": str(backlog.pk)}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "2 stored signals replayed; 1 could not be replayed" in response.content.decode()
    assert EventMapping.objects.get(value=LINK).event == backlog and card().resolution == "mapped"
    assert list(Payment.objects.filter(event__isnull=True).values_list("pk", flat=True)) == [broken.pk]
    # It still waits, and the daily reconciliation's apply_payment attaches it like any other.
