"""An event's kind and price are inputs of every status and review item: changing them in the
admin re-derives its registrations, and the suggested-match search can trust stored statuses."""

from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from registrations.models import Event, Registration, ReviewItem, Status
from registrations.services import apply_booking, apply_payment, recompute_event

from .builders import booked, paid, refunded

pytestmark = pytest.mark.django_db


def status_of(email):
    return Registration.objects.get(attendee__email=email).status


def change_event_in_admin(client, event, **changes):
    url = reverse("admin:registrations_event_change", args=[event.pk])
    form = client.get(url).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None:
            value = ""
        data[name] = value.isoformat(sep=" ") if hasattr(value, "isoformat") else value
    for name in ("starts_at", "ends_at"):
        value = getattr(event, name)
        # As the page shows them: in the event's own time zone.
        value = value.astimezone(ZoneInfo(event.timezone)) if value else None
        day, time = (value.strftime("%Y-%m-%d"), value.strftime("%H:%M:%S")) if value else ("", "")
        data[f"{name}_0"], data[f"{name}_1"] = day, time
    for formset in client.get(url).context["inline_admin_formsets"]:
        fs = formset.formset
        data[f"{fs.prefix}-TOTAL_FORMS"] = str(len(fs.initial_forms))
        data[f"{fs.prefix}-INITIAL_FORMS"] = str(len(fs.initial_forms))
        data[f"{fs.prefix}-MIN_NUM_FORMS"] = "0"
        data[f"{fs.prefix}-MAX_NUM_FORMS"] = "1000"
        for i, f in enumerate(fs.initial_forms):
            for name in f.fields:
                v = f.initial.get(name)
                if v is not None:
                    data[f"{fs.prefix}-{i}-{name}"] = v.pk if hasattr(v, "pk") else v
            data[f"{fs.prefix}-{i}-id"] = f.instance.pk
            data[f"{fs.prefix}-{i}-{fs.fk.name}"] = event.pk
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not False}
    return client.post(url, data, follow=True)


def run_queued_tasks():
    for row in OrmQ.objects.order_by("id"):
        task = SignedPackage.loads(row.payload)
        row.delete()
        module, _, name = task["func"].rpartition(".")
        func = getattr(__import__(module, fromlist=[name]), name)
        func(*task["args"], **task["kwargs"])


def test_turning_an_event_into_a_donation_event_in_the_admin_completes_who_only_booked(
    admin_client, event, django_capture_on_commit_callbacks
):
    apply_booking(booked(1, "booked@example.org"))
    apply_payment(paid(2, "paid@example.org", name="Sky Walker"))
    assert status_of("booked@example.org") == Status.BOOKED_ONLY

    with django_capture_on_commit_callbacks(execute=True):
        response = change_event_in_admin(admin_client, event, kind=Event.Kind.DONATION)
    assert response.status_code == 200
    errors = response.context and response.context.get("errors")
    assert not errors, errors
    assert "being re-derived" in response.content.decode()
    run_queued_tasks()

    assert status_of("booked@example.org") == Status.COMPLETE  # a donation event needs no payment
    assert status_of("paid@example.org") == Status.PAID_ONLY


def test_saving_an_event_without_changing_kind_or_price_queues_nothing(
    admin_client, event, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        change_event_in_admin(admin_client, event, location="The barn")
    assert not OrmQ.objects.exists()


def test_halving_the_price_makes_a_payment_of_the_old_price_a_group_payment_of_two_seats(event):
    apply_payment(paid(1, "pair@example.org", amount=12000))
    assert status_of("pair@example.org") == Status.PAID_ONLY
    Event.objects.filter(pk=event.pk).update(price=6000)
    assert recompute_event(event.pk) == 1
    item = ReviewItem.objects.get(kind=ReviewItem.Kind.GROUP_PAYMENT)
    assert item.data == {"seats": 2}
    assert status_of("pair@example.org") == Status.NEEDS_REVIEW
    assert recompute_event(event.pk) == 0  # nothing left to change


# --- the suggested-match search narrows by stored status: every status a one-sided person can have
def test_a_booked_person_whose_payment_was_refunded_is_still_suggested_for_a_similar_payer(event):
    apply_payment(paid(1, "first@example.org", name="River Stone"))
    apply_booking(booked(1, "first@example.org"))
    apply_payment(refunded(1, 12000))
    assert status_of("first@example.org") == Status.REFUNDED  # booked, payment refunded
    apply_payment(paid(2, "second@example.org", name="River Stonee"))
    item = ReviewItem.objects.get(kind=ReviewItem.Kind.SUGGESTED_MATCH, state=ReviewItem.State.OPEN)
    assert "very similar names" in item.explanation


def test_in_a_donation_event_a_booked_person_is_complete_and_still_suggested_for_a_similar_payer(event):
    Event.objects.filter(pk=event.pk).update(kind=Event.Kind.DONATION)
    apply_booking(booked(1, "booked@example.org", first="River", last="Stone"))
    assert status_of("booked@example.org") == Status.COMPLETE
    apply_payment(paid(2, "paid@example.org", name="River Stone"))
    assert ReviewItem.objects.filter(kind=ReviewItem.Kind.SUGGESTED_MATCH, state=ReviewItem.State.OPEN).count() == 1


def test_a_payer_under_review_is_still_suggested_for_a_similar_booker(event):
    apply_payment(paid(1, "payer@example.org", name="River Stone"))
    apply_payment(paid(2, "payer@example.org", name="River Stone", hours=1))  # duplicate payment
    assert status_of("payer@example.org") == Status.NEEDS_REVIEW
    apply_booking(booked(3, "booker@example.org", first="River", last="Stone"))
    assert ReviewItem.objects.filter(kind=ReviewItem.Kind.SUGGESTED_MATCH, state=ReviewItem.State.OPEN).count() == 1


def test_an_events_file_that_makes_an_event_a_donation_event_rederives_its_registrations(
    event, django_capture_on_commit_callbacks
):
    from registrations.audit import SYSTEM
    from registrations.importing import import_events

    apply_booking(booked(1, "booked@example.org"))
    assert status_of("booked@example.org") == Status.BOOKED_ONLY
    entry = {
        "slug": event.slug,
        "name": event.name,
        "starts_at": event.starts_at.isoformat(),
        "timezone": event.timezone,
        "kind": "donation",
    }
    with django_capture_on_commit_callbacks(execute=True):
        import_events([entry], SYSTEM)
    run_queued_tasks()
    assert status_of("booked@example.org") == Status.COMPLETE


def test_the_rederive_command_repairs_statuses_left_stale_by_a_direct_database_edit(event):
    from io import StringIO

    from django.core.management import CommandError, call_command

    apply_booking(booked(1, "booked@example.org"))
    Event.objects.filter(pk=event.pk).update(kind=Event.Kind.DONATION)  # behind the app's back
    assert status_of("booked@example.org") == Status.BOOKED_ONLY

    out = StringIO()
    call_command("rederive_statuses", "--event", event.slug, stdout=out)
    assert status_of("booked@example.org") == Status.COMPLETE
    assert f"{event.slug}: 1 registration(s), 1 changed status" in out.getvalue()

    out = StringIO()
    call_command("rederive_statuses", "--all", stdout=out)  # nothing left to do
    assert "Done: 0 registration(s) changed status." in out.getvalue()

    with pytest.raises(CommandError, match="No event with slug nope"):
        call_command("rederive_statuses", "--event", "nope")
    with pytest.raises(CommandError, match="--all"):
        call_command("rederive_statuses")


def test_a_big_event_is_rederived_in_chunks_that_each_fit_the_workers_timeout(event, monkeypatch):
    from types import SimpleNamespace

    import registrations.services as services

    for n in range(5):
        apply_booking(booked(n, f"b{n}@example.org"))
    Event.objects.filter(pk=event.pk).update(kind=Event.Kind.DONATION)
    clock = iter(range(0, 1000, 10))  # every registration takes "10 s"
    monkeypatch.setattr(services, "time", SimpleNamespace(monotonic=lambda: next(clock)))

    assert recompute_event(event.pk, "test", seconds=25) == 2  # 2 done in "25 s", the rest queued
    (task,) = [SignedPackage.loads(row.payload) for row in OrmQ.objects.all()]
    assert task["func"] == "registrations.services.recompute_event"
    monkeypatch.undo()
    run_queued_tasks()
    assert set(Registration.objects.values_list("status", flat=True)) == {Status.COMPLETE}
