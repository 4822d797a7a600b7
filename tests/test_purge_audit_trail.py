"""purge_personal_data also redacts the purged attendee's address, old aliases, name and phone inside
the audit trail (the registration's history, the admin's audit log), while each row keeps its
action, time, actor, ids, amounts and statuses."""

import pytest
from django.urls import reverse

from registrations.audit import Actor, audit
from registrations.models import AuditLog
from tests.factories import AttendeeFactory, RegistrationFactory
from tests.test_purge import purge, world  # noqa: F401  (world is a fixture)

pytestmark = pytest.mark.django_db

RIVER = ("river@example.org", "river.stone@work.example", "river stone", "+15551230001")
OPERATOR = Actor.system("ops:test")


def text_of(row: AuditLog) -> str:
    return f"{row.before} {row.after} {row.message}".lower()


def snapshot(**filters):
    return list(AuditLog.objects.exclude(action="personal_data.purged").filter(**filters).order_by("pk").values())


@pytest.fixture
def trail(world):  # noqa: F811
    river, river_reg, river_pay, sky = world["river"], world["river_reg"], world["river_pay"], world["sky"]
    rows = {
        "created": audit("attendee.created", obj=river, after={"email": "river@example.org"}),
        "alias": audit(
            "attendee.alias_learned",
            registration=river_reg,
            obj=river,
            after={"alias": "river.stone@work.example", "attendee": "river@example.org", "reason": "merge"},
        ),
        "merged": audit(
            "registration.merged",
            actor=OPERATOR,
            registration=river_reg,
            obj=river_reg,
            before={
                "merged": "JLF-OLD1",
                "merged_email": "river.stone@work.example",
                "merged_phone": "+15551230001",
                "merged_attendee": 99999,
                "merged_registration": 99998,
            },
            after={"registration": river_reg.reference, "reason": "same person"},
            message=f"JLF-OLD1 (river.stone@work.example, +15551230001) merged into {river_reg.reference} "
            "(river@example.org, +15551230001): same person",
        ),
        "review": audit(
            "review.opened",
            registration=river_reg,
            after={
                "kind": "suggested_match",
                "key": "match:test",
                "explanation": "River Stone paid as river@example.org",
            },
        ),
        # The money trail: the payment's first rows name the fact, not the registration.
        "paid": audit(
            "payment.recorded",
            obj=river_pay,
            after={"payment": "Payment cs_river", "state": "paid", "amount": 12000, "changed": []},
        ),
        "manual": audit(
            "registration.marked_paid",
            actor=OPERATOR,
            registration=river_reg,
            obj=river_pay,
            after={"method": "cash", "amount": 3000, "note": "River paid the rest at the door"},
        ),
        # Rows elsewhere that name River: an operator's note, another attendee's review card.
        "note": audit("operator.note", actor=OPERATOR, message="Call RIVER.STONE@work.example back about the refund"),
        "by_name": audit("operator.note", actor=OPERATOR, message="River Stone asked for a receipt"),
        "sky_card": audit(
            "review.opened",
            registration=world["sky_pay"].registration,
            after={"explanation": "sky@example.org and river@example.org share +15551230001"},
        ),
        # Not about River at all (a word that is part of River's name): left as written.
        "boat": audit("operator.note", actor=OPERATOR, message="Boat trip on the river, bring stones"),
        "sky": audit("attendee.created", obj=sky, after={"email": "sky@example.org"}),
    }
    return rows


def test_no_audit_row_names_the_purged_attendee_after_a_purge(world, trail):  # noqa: F811
    purge("--event", "spring-retreat", "--yes")
    river_pk = world["river"].pk
    for row in AuditLog.objects.exclude(action="personal_data.purged"):
        for value in RIVER:
            assert value not in text_of(row), (row.action, row.before, row.after, row.message)
    created = AuditLog.objects.get(pk=trail["created"].pk)
    assert created.after == {"email": f"anon-{river_pk}@invalid"}
    merged = AuditLog.objects.get(pk=trail["merged"].pk)
    assert merged.before["merged_attendee"] == 99999 and merged.before["merged_registration"] == 99998
    assert merged.before["merged_phone"] == "[removed]"
    assert merged.message.startswith(f"JLF-OLD1 (anon-{river_pk}@invalid, [removed]) merged into")
    assert AuditLog.objects.get(pk=trail["by_name"].pk).message == "[removed] asked for a receipt"
    # Sky is kept: Sky's address stays in the card on Sky's registration, River's does not.
    assert AuditLog.objects.get(pk=trail["sky_card"].pk).after == {
        "explanation": f"sky@example.org and anon-{river_pk}@invalid share [removed]"
    }


def test_the_money_rows_keep_their_amounts_statuses_actions_times_and_actors(world, trail):  # noqa: F811
    before = {r["id"]: r for r in snapshot()}
    purge("--event", "spring-retreat", "--yes")
    for row in snapshot():
        was = before[row["id"]]
        for f in ("action", "created_at", "actor_type", "actor_source", "registration_id", "object_type", "object_id"):
            assert row[f] == was[f]
    paid = AuditLog.objects.get(pk=trail["paid"].pk)
    assert paid.after == {"payment": "Payment cs_river", "state": "paid", "amount": 12000, "changed": []}
    manual = AuditLog.objects.get(pk=trail["manual"].pk)
    assert manual.after == {"method": "cash", "amount": 3000, "note": "[removed] paid the rest at the door"}


def test_the_purged_row_counts_the_redacted_rows_and_a_second_purge_changes_nothing(world, trail):  # noqa: F811
    output = purge("--event", "spring-retreat", "--yes")
    row = AuditLog.objects.get(action="personal_data.purged")
    # created, alias, merged, review, manual, note, by_name, sky_card ("paid" holds nothing personal).
    assert row.after["counts"]["audit_rows_redacted"] == 8
    assert "river" not in str(row.after).lower() and "river" not in row.message.lower()
    assert "Audit rows redacted: 8" in output
    first = snapshot()
    again = purge("--event", "spring-retreat", "--yes")
    assert snapshot() == first
    assert "Audit rows redacted: 0" in again


def test_a_dry_run_counts_the_audit_rows_it_would_redact_and_changes_none(world, trail):  # noqa: F811
    earlier = snapshot()
    assert "Audit rows redacted: 8" in purge("--event", "spring-retreat", "--dry-run")
    assert snapshot() == earlier


def test_an_attendee_with_an_upcoming_event_keeps_every_audit_row(world, trail):  # noqa: F811
    sky = world["sky"]
    sky_reg = world["sky_pay"].registration
    own = audit(
        "registration.merged",
        registration=sky_reg,
        before={"merged_email": "sky.old@example.org", "merged_phone": "+15551230002"},
        message="Sky Lake (sky@example.org, +15551230002) merged",
    )
    kept = snapshot(pk__in=[trail["sky"].pk, own.pk])
    purge("--event", "spring-retreat", "--yes")
    assert snapshot(pk__in=[trail["sky"].pk, own.pk]) == kept
    assert AuditLog.objects.get(pk=trail["boat"].pk).message == "Boat trip on the river, bring stones"
    assert sky.pk in AuditLog.objects.get(action="personal_data.purged").after["kept_attendee_ids"]


def test_the_history_and_the_admin_audit_log_still_show_redacted_rows(world, trail, admin_client):  # noqa: F811
    purge("--event", "spring-retreat", "--yes")
    river_pk = world["river"].pk
    page = admin_client.get(reverse("ops:registration", args=["spring-retreat", world["river_reg"].pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert f"anon-{river_pk}@invalid" in html and "river@example.org" not in html
    listing = admin_client.get(reverse("admin:registrations_auditlog_changelist"))
    assert listing.status_code == 200 and "river@example.org" not in listing.content.decode()
    for key in ("merged", "created", "manual"):
        change = admin_client.get(reverse("admin:registrations_auditlog_change", args=[trail[key].pk]))
        assert change.status_code == 200
        assert "river" not in change.content.decode().lower().replace(f"anon-{river_pk}", "")


def test_a_namesake_sharing_the_phone_who_is_kept_keeps_their_name_and_phone_in_their_rows(world):  # noqa: F811
    # Another River Stone, on the same family phone, coming to the upcoming retreat.
    namesake = AttendeeFactory(email="other.river@example.org", name="River Stone", phone="+15551230001")
    theirs = RegistrationFactory(attendee=namesake, event=world["upcoming"])
    row = audit(
        "operator.note",
        actor=OPERATOR,
        registration=theirs,
        message="River Stone (other.river@example.org, +15551230001) asked about parking",
    )
    note = audit("operator.note", actor=OPERATOR, message="River Stone called from +15551230001")
    own = audit("attendee.created", obj=world["river"], after={"email": "river@example.org"})
    purge("--event", "spring-retreat", "--yes")
    assert AuditLog.objects.get(pk=row.pk).message == row.message
    # Whose it is cannot be told: it stays as written.
    assert AuditLog.objects.get(pk=note.pk).message == note.message
    assert AuditLog.objects.get(pk=own.pk).after == {"email": f"anon-{world['river'].pk}@invalid"}


def test_on_the_laptop_database_a_purge_finds_and_redacts_the_same_audit_rows(world, trail, monkeypatch):  # noqa: F811
    # ``./dev run`` and ``./dev test`` use SQLite unless DATABASE_URL is set: there the rows are
    # found by splitting their text in Python instead of in PostgreSQL, and must be the same.
    from types import SimpleNamespace

    from registrations import privacy

    needles = privacy._needles(privacy._replacements([world["river"].pk]))
    found_by_the_database = sorted(privacy._rows_naming(needles))
    monkeypatch.setattr(privacy, "connection", SimpleNamespace(vendor="sqlite"))
    assert sorted(privacy._rows_naming(needles)) == found_by_the_database != []
    assert "Audit rows redacted: 8" in purge("--event", "spring-retreat", "--yes")
    for row in AuditLog.objects.exclude(action="personal_data.purged"):
        for value in RIVER:
            assert value not in text_of(row), (row.action, row.before, row.after, row.message)
    assert AuditLog.objects.get(pk=trail["boat"].pk).message == "Boat trip on the river, bring stones"
