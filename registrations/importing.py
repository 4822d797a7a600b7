"""Events and their provider mappings from a YAML or JSON file (setup scripts, the demo).

The format (documented in docs/events-file.md)::

    events:
      - slug: spring-retreat            # required, the key: re-importing updates this event
        name: Spring Retreat            # required
        starts_at: 2026-12-05T10:00:00-08:00   # required, ISO 8601 with offset
        ends_at: 2026-12-05T16:00:00-08:00
        timezone: America/Los_Angeles
        location: Just Love Forest
        kind: paid                      # paid | donation
        price: 120.00                   # per seat, in currency units (JPY: 12000, no decimals)
        currency: usd
        capacity: 40
        stripe_payment_link_url: https://buy.stripe.com/...
        acuity_scheduling_url: https://app.acuityscheduling.com/schedule.php?owner=1&appointmentType=4440001
        acuity_reference_field_id: "4003"
        reminders: {enabled: true, delay_hours: 24, spacing_hours: 48, max_count: 2, sms: false,
                    quiet_hours: [21, 8]}
        mappings:
          stripe_payment_link: [plink_1SampleSpring]
          stripe_price: [price_1SampleSpring]
          stripe_metadata: ["event=spring-retreat"]
          acuity_appointment_type: [4440001]

Importing is idempotent: the same file twice changes nothing the second time. A mapping that
already points to another event is moved (and reported). Adding a mapping replays any stored
signals that were waiting for it.
"""

from __future__ import annotations

import json
import math
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from .audit import Actor, audit
from .models import Event, EventMapping
from .money import MoneyError, to_minor
from .services import add_mapping, rederive_if_needed

EVENT_FIELDS = {
    "name",
    "slug",
    "starts_at",
    "ends_at",
    "timezone",
    "location",
    "kind",
    "price",
    "currency",
    "capacity",
    "stripe_payment_link_url",
    "acuity_scheduling_url",
    "acuity_reference_field_id",
    "reminders",
    "mappings",
}
REMINDER_FIELDS = {
    "enabled": "reminders_enabled",
    "delay_hours": "reminder_delay_hours",
    "spacing_hours": "reminder_spacing_hours",
    "max_count": "reminder_max_count",
    "sms": "sms_enabled",
}
# How the file names a model field, for messages.
FILE_NAMES = {model_field: f"reminders.{key}" for key, model_field in REMINDER_FIELDS.items()} | {
    "quiet_hours_start": "reminders.quiet_hours",
    "quiet_hours_end": "reminders.quiet_hours",
}


class ImportFileError(ValueError):
    """The file cannot be imported; the message says where and why."""


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    mappings_added: int = 0
    mappings_moved: list[str] = field(default_factory=list)
    replayed: int = 0
    replay_failed: int = 0


def load_file(path: str | Path) -> list[dict]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ImportFileError(f"{path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from exc
    if isinstance(data, dict):
        data = data.get("events")
    if not isinstance(data, list) or not data:
        raise ImportFileError(f"{path}: expected a list of events under the key 'events'")
    return data


def _parse_dt(value, where: str) -> datetime:
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value))
        except ValueError:
            raise ImportFileError(f"{where}: '{value}' is not an ISO 8601 date-time like 2026-12-05T10:00:00-08:00")
    if dt.tzinfo is None:
        raise ImportFileError(f"{where}: '{value}' needs a UTC offset (e.g. -08:00) so the time is unambiguous")
    return dt


def _event_values(raw: dict, where: str) -> tuple[dict, dict]:
    unknown = set(raw) - EVENT_FIELDS
    if unknown:
        raise ImportFileError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    for required in ("slug", "name", "starts_at"):
        if not raw.get(required):
            raise ImportFileError(f"{where}: '{required}' is required")
    slug = str(raw["slug"])
    if slugify(slug) != slug:
        raise ImportFileError(f"{where}: slug '{slug}' may only hold lower-case letters, digits and hyphens")
    values = {
        "name": str(raw["name"]),
        "starts_at": _parse_dt(raw["starts_at"], f"{where} starts_at"),
        "ends_at": _parse_dt(raw["ends_at"], f"{where} ends_at") if raw.get("ends_at") else None,
        "location": str(raw.get("location") or ""),
        "currency": str(raw.get("currency") or "usd").lower(),
        "stripe_payment_link_url": str(raw.get("stripe_payment_link_url") or ""),
        "acuity_scheduling_url": str(raw.get("acuity_scheduling_url") or ""),
        "acuity_reference_field_id": str(raw.get("acuity_reference_field_id") or ""),
    }
    if values["ends_at"] and values["ends_at"] < values["starts_at"]:
        raise ImportFileError(f"{where}: ends_at is before starts_at")
    tz = str(raw.get("timezone") or "America/Los_Angeles")
    if tz not in zoneinfo.available_timezones():
        raise ImportFileError(f"{where}: unknown time zone '{tz}'")
    values["timezone"] = tz
    kind = str(raw.get("kind") or "paid")
    if kind not in Event.Kind.values:
        raise ImportFileError(f"{where}: kind must be one of {', '.join(Event.Kind.values)}")
    values["kind"] = kind
    if raw.get("price") not in (None, ""):
        try:
            price = Decimal(str(raw["price"]))
        except InvalidOperation:
            raise ImportFileError(f"{where}: price '{raw['price']}' is not a number")
        if price.is_nan():  # YAML's .nan: comparing it below would raise
            raise ImportFileError(f"{where}: price '{raw['price']}' is not a number")
        if price < 0:
            raise ImportFileError(f"{where}: price cannot be negative")
        try:
            values["price"] = to_minor(price, values["currency"])
        except MoneyError as exc:
            raise ImportFileError(f"{where}: price '{raw['price']}': {exc}")
    else:
        values["price"] = None
    if raw.get("capacity") not in (None, ""):
        try:
            values["capacity"] = int(raw["capacity"])
        except (TypeError, ValueError, OverflowError):  # OverflowError: YAML's .inf
            raise ImportFileError(f"{where}: capacity must be a whole number")
    else:
        values["capacity"] = None
    reminders = raw.get("reminders") or {}
    if not isinstance(reminders, dict):
        raise ImportFileError(f"{where}: reminders must be a mapping")
    unknown = set(reminders) - set(REMINDER_FIELDS) - {"quiet_hours"}
    if unknown:
        raise ImportFileError(
            f"{where}: unknown reminder setting(s) {', '.join(sorted(map(str, unknown)))}; "
            f"known: {', '.join([*REMINDER_FIELDS, 'quiet_hours'])}"
        )
    for key, model_field in REMINDER_FIELDS.items():
        if key in reminders:
            value = reminders[key]
            if isinstance(value, float) and not math.isfinite(value):  # YAML's .inf: int() would raise
                raise ImportFileError(f"{where}: reminders.{key}: '{value}' is not a whole number")
            values[model_field] = value
    if "quiet_hours" in reminders:
        try:
            start, end = (int(h) for h in reminders["quiet_hours"])
            assert 0 <= start <= 23 and 0 <= end <= 23
        except (TypeError, ValueError, OverflowError, AssertionError):
            raise ImportFileError(f"{where}: quiet_hours must be two hours 0-23, e.g. [21, 8]")
        values["quiet_hours_start"], values["quiet_hours_end"] = start, end
    mappings = raw.get("mappings") or {}
    if not isinstance(mappings, dict):
        raise ImportFileError(f"{where}: mappings must be a mapping of kind → list of ids")
    for kind_name, ids in mappings.items():
        if kind_name not in EventMapping.Kind.values:
            raise ImportFileError(
                f"{where}: mapping kind '{kind_name}' is not one of {', '.join(EventMapping.Kind.values)}"
            )
        if not isinstance(ids, list):
            raise ImportFileError(f"{where}: mappings.{kind_name} must be a list")
        for value in ids:
            try:
                EventMapping(kind=kind_name, value=str(value)).clean()
            except ValidationError as exc:
                raise ImportFileError(f"{where}: mappings.{kind_name}: {' '.join(exc.messages)}") from None
    _check_like_the_admin(slug, values, where)
    return values, mappings


def _check_like_the_admin(slug: str, values: dict, where: str) -> None:
    """The rules the admin applies (each field's own and ``Event.clean``), so a file cannot store
    what the admin would refuse and a wrong value is a message, not a database error. The values
    are replaced by what the fields read them as ("12" → 12), so a re-import compares equal."""
    event = Event(slug=slug, **values)
    try:
        event.clean_fields()  # first: ``clean`` compares numbers, so they must be numbers
        event.clean()
    except ValidationError as exc:
        field, messages = sorted(exc.message_dict.items())[0]
        raise ImportFileError(f"{where}: {FILE_NAMES.get(field, field)}: {' '.join(messages)}") from None
    for name in values:
        values[name] = getattr(event, name)


def import_events(entries: list[dict], actor: Actor, dry_run: bool = False) -> ImportReport:
    """Validate everything first (nothing is written if any event is invalid), then apply."""
    parsed = []
    slugs = set()
    keys: dict[tuple[str, str], str] = {}  # (mapping kind, value) → the slug listing it
    for index, raw in enumerate(entries, start=1):
        where = f"event #{index}"
        if not isinstance(raw, dict):
            raise ImportFileError(f"{where}: expected a mapping of fields")
        values, mappings = _event_values(raw, f"{where} ({raw.get('slug', '?')})")
        if raw["slug"] in slugs:
            raise ImportFileError(f"{where}: slug '{raw['slug']}' appears twice in the file")
        slugs.add(raw["slug"])
        for kind, ids in mappings.items():
            for value in ids:
                other = keys.setdefault((kind, str(value)), str(raw["slug"]))
                if other != str(raw["slug"]):
                    raise ImportFileError(
                        f"{where} ({raw['slug']}): {kind} {value} is also listed under '{other}'; "
                        "a key belongs to one event"
                    )
        parsed.append((str(raw["slug"]), values, mappings))

    report = ImportReport()
    if dry_run:
        for slug, _, _ in parsed:
            (report.updated if Event.objects.filter(slug=slug).exists() else report.created).append(slug)
        return report
    pending_mappings = []
    with transaction.atomic():
        for slug, values, mappings in parsed:
            event = Event.objects.filter(slug=slug).first()
            if event is None:
                event = Event.objects.create(slug=slug, **values)
                report.created.append(slug)
                audit("event.created", actor=actor, event=event, obj=event, after={"slug": slug})
            else:
                changed = {k: v for k, v in values.items() if getattr(event, k) != v}
                if changed:
                    before = {k: str(getattr(event, k)) for k in changed}
                    for k, v in changed.items():
                        setattr(event, k, v)
                    event.save()
                    rederive_if_needed(event, changed)
                    report.updated.append(slug)
                    audit(
                        "event.updated",
                        actor=actor,
                        event=event,
                        obj=event,
                        before=before,
                        after={k: str(v) for k, v in changed.items()},
                    )
                else:
                    report.unchanged.append(slug)
            for kind, ids in mappings.items():
                for value in ids:
                    pending_mappings.append((kind, str(value), event))
    for kind, value, event in pending_mappings:
        existing = EventMapping.objects.filter(kind=kind, value=value).first()
        if existing and existing.event_id == event.pk and not existing.ignored:
            continue
        if existing and existing.event_id and existing.event_id != event.pk:
            report.mappings_moved.append(f"{kind} {value}: {existing.event.slug} → {event.slug}")
        # A command has no request timeout to keep inside: everything waiting is replayed now.
        _, replay = add_mapping(kind, value, event, actor, seconds=None)
        report.mappings_added += 1
        report.replayed += replay.done
        report.replay_failed += replay.failed
    return report
