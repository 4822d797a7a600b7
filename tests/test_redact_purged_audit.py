"""manage.py redact_purged_audit: attendees purged before purges redacted the audit trail (their
address, aliases and phone number left in attendee.created, alias, merge and card rows) get the
same redaction as a purge today; other people's data in those rows, and attendees not purged,
stay as written; a second run changes nothing. The release step runs it."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from registrations import privacy
from registrations.audit import Actor, audit
from registrations.models import Attendee, AttendeeAlias, AuditLog
from tests.factories import AttendeeFactory, RegistrationFactory
from tests.test_purge import purge, world  # noqa: F401  (world is a fixture)
from tests.test_purge_audit_trail import text_of

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
RIVER = ("river@example.org", "river.stone@work.example", "+15551230001")
OPERATOR = Actor.system("ops:test")
RELEASE = (
    "python manage.py migrate --noinput && python manage.py setup_schedules && python manage.py redact_purged_audit"
)


def redact(*args):
    out = StringIO()
    call_command("redact_purged_audit", *args, stdout=out, stderr=out)
    return out.getvalue()


def snapshot(**filters):
    return list(AuditLog.objects.filter(**filters).order_by("pk").values())


def old_purge(monkeypatch, *args):
    """A purge as it was before the audit trail was redacted: everything else the same."""
    with monkeypatch.context() as patched:
        patched.setattr(privacy, "_redact_audit", lambda plan, replacements, write: 0)
        return purge(*args)


@pytest.fixture
def trail(world):  # noqa: F811
    river, river_reg, sky, moss = world["river"], world["river_reg"], world["sky"], world["moss"]
    sky_reg = world["sky_pay"].registration
    # Moss's registration at the past retreat was merged into River's by an operator; Moss stays
    # (registered for the old retreat), so Moss's address in River's merge row is Moss's.
    moss_ref = "JLF-MOSS1"
    return {
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
                "merged": moss_ref,
                "merged_email": "moss@example.org",
                "merged_phone": "",
                "merged_attendee": moss.pk,
                "merged_registration": 99998,
            },
            after={"registration": river_reg.reference, "reason": "same person"},
            message=f"{moss_ref} (moss@example.org) merged into {river_reg.reference} "
            "(river@example.org, +15551230001): same person",
        ),
        "paid": audit(
            "registration.seat_declined",
            registration=river_reg,
            obj=world["river_booking"],
            after={"group_payment": "Payment cs_group", "payer": "river.stone@work.example"},
        ),
        "note": audit("operator.note", actor=OPERATOR, message="Call RIVER.STONE@work.example back about the refund"),
        "sky_card": audit(
            "review.opened",
            registration=sky_reg,
            after={"explanation": "sky@example.org and river@example.org share +15551230001"},
        ),
        "sky": audit("attendee.created", obj=sky, after={"email": "sky@example.org"}),
        "moss": audit("attendee.created", obj=moss, after={"email": "moss@example.org"}),
        "boat": audit("operator.note", actor=OPERATOR, message="Boat trip on the river, bring stones"),
    }


def test_an_attendee_purged_before_the_audit_redaction_keeps_no_address_or_phone_in_any_audit_row(
    world,  # noqa: F811
    trail,
    monkeypatch,
):
    old_purge(monkeypatch, "--event", "spring-retreat", "--yes")
    river = Attendee.objects.get(pk=world["river"].pk)
    assert river.anonymised_at is not None and river.email == f"anon-{river.pk}@invalid"
    assert any("river@example.org" in text_of(r) for r in AuditLog.objects.all())  # what the old purge left

    output = redact()

    for row in AuditLog.objects.all():
        for value in RIVER:
            assert value not in text_of(row), (row.action, row.before, row.after, row.message)
    anon = f"anon-{river.pk}@invalid"
    assert AuditLog.objects.get(pk=trail["created"].pk).after == {"email": anon}
    assert AuditLog.objects.get(pk=trail["alias"].pk).after == {"alias": anon, "attendee": anon, "reason": "merge"}
    assert AuditLog.objects.get(pk=trail["note"].pk).message == f"Call {anon} back about the refund"
    # created, alias, merged, paid, note, sky_card.
    assert "6 rows redacted, for 1 attendee(s)" in output
    row = AuditLog.objects.get(action="personal_data.audit_redacted")
    assert row.after == {"attendee_ids": [river.pk], "counts": {"attendees": 1, "audit_rows_redacted": 6}}


def test_another_persons_data_in_the_same_rows_stays(world, trail, monkeypatch):  # noqa: F811
    old_purge(monkeypatch, "--event", "spring-retreat", "--yes")
    redact()
    anon = f"anon-{world['river'].pk}@invalid"
    merged = AuditLog.objects.get(pk=trail["merged"].pk)
    assert merged.before["merged_email"] == "moss@example.org" and merged.before["merged_attendee"] == world["moss"].pk
    assert merged.message.endswith(
        f"(moss@example.org) merged into {world['river_reg'].reference} ({anon}, [removed]): same person"
    )
    assert AuditLog.objects.get(pk=trail["sky_card"].pk).after == {
        "explanation": f"sky@example.org and {anon} share [removed]"
    }


def test_attendees_not_purged_keep_every_audit_row(world, trail, monkeypatch):  # noqa: F811
    kept = [trail[k].pk for k in ("sky", "moss", "boat")]
    before = snapshot(pk__in=kept)
    old_purge(monkeypatch, "--event", "spring-retreat", "--yes")
    redact()
    assert snapshot(pk__in=kept) == before


def test_a_second_run_changes_nothing(world, trail, monkeypatch):  # noqa: F811
    old_purge(monkeypatch, "--event", "spring-retreat", "--yes")
    redact()
    first = snapshot()
    assert "Nothing to do" in redact()
    assert snapshot() == first


def test_a_dry_run_counts_and_changes_nothing(world, trail, monkeypatch):  # noqa: F811
    old_purge(monkeypatch, "--event", "spring-retreat", "--yes")
    before = snapshot()
    assert "6 rows would be redacted (dry run: nothing was changed), for 1 attendee(s)" in redact("--dry-run")
    assert snapshot() == before


def test_after_a_purge_of_today_there_is_nothing_to_do(world, trail):  # noqa: F811
    purge("--event", "spring-retreat", "--yes")
    before = snapshot()
    assert "Nothing to do" in redact()
    assert snapshot() == before


def test_an_empty_database_has_nothing_to_do():
    assert "Nothing to do" in redact()
    assert not AuditLog.objects.exists()


def test_the_release_step_runs_it_and_the_docs_say_so():
    procs = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert procs["release"] == RELEASE
    assert f"release:            {RELEASE}" in (ROOT / "Dockerfile").read_text()
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    assert deploy.count(RELEASE) >= 2 and "redact_purged_audit" in deploy.split("## 9.", 1)[1]


def test_a_family_phone_stays_in_the_kept_attendees_rows_and_goes_from_the_purged_ones(world, trail, monkeypatch):  # noqa: F811
    Attendee.objects.filter(pk=world["sky"].pk).update(phone="+15551230001")  # one family phone
    old_purge(monkeypatch, "--event", "spring-retreat", "--yes")
    redact()
    anon = f"anon-{world['river'].pk}@invalid"
    assert AuditLog.objects.get(pk=trail["merged"].pk).message.endswith(f"({anon}, [removed]): same person")
    # Sky's card: River's address goes, the phone is Sky's too and stays.
    assert AuditLog.objects.get(pk=trail["sky_card"].pk).after == {
        "explanation": f"sky@example.org and {anon} share +15551230001"
    }


def test_an_address_that_is_now_someone_elses_alias_stays(world, trail, monkeypatch):  # noqa: F811
    old_purge(monkeypatch, "--event", "spring-retreat", "--yes")
    # Since the purge, the address River learned as an alias names Sky: whose it is cannot be told.
    AttendeeAlias.objects.create(email="river.stone@work.example", attendee=world["sky"], reason="reference")
    redact()
    anon = f"anon-{world['river'].pk}@invalid"
    assert AuditLog.objects.get(pk=trail["alias"].pk).after == {
        "alias": "river.stone@work.example",
        "attendee": anon,
        "reason": "merge",
    }
    assert AuditLog.objects.get(pk=trail["created"].pk).after == {"email": anon}


def test_rows_written_by_a_real_merge_before_the_purge_keep_no_address_or_phone(world, monkeypatch):  # noqa: F811
    # River registered twice at the retreat, the second time under another address and phone; an
    # operator merged the two. The merge writes its own alias, merge and move rows.
    from registrations.resolutions import merge_registrations

    other = AttendeeFactory(email="river.old@example.org", name="River Stone", phone="+15551239999")
    twice = RegistrationFactory(attendee=other, event=world["past"])
    Attendee.objects.filter(pk=world["river"].pk).update(phone="")  # River takes the other number
    merge_registrations(world["river_reg"], twice, OPERATOR, "same person")
    assert AuditLog.objects.filter(action="registration.merged").exists()
    old_purge(monkeypatch, "--event", "spring-retreat", "--yes")
    left = ("river@example.org", "river.old@example.org", "river.stone@work.example", "+15551239999")
    assert any(v in text_of(r) for r in AuditLog.objects.all() for v in left)

    redact()

    for row in AuditLog.objects.all():
        for value in left:
            assert value not in text_of(row), (row.action, row.before, row.after, row.message)
