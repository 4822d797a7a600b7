import json
import zoneinfo
from datetime import datetime, time

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import unquote
from django.db import transaction
from django.db.models import Q
from django.utils import timezone as dj_timezone

from .cohost.admin import CoHostAdminTools
from .models import (
    Attendee,
    AttendeeAlias,
    AuditLog,
    Booking,
    CoHost,
    CoHostGrant,
    Dispute,
    Event,
    EventMapping,
    Payment,
    RateLimitBucket,
    Refund,
    Registration,
    ReviewItem,
    SeatReference,
)
from .money import MoneyError, format_money, from_minor, to_minor
from .ops.timeline import format_time


class EventMappingInline(admin.TabularInline):
    model = EventMapping
    extra = 1
    fields = ("kind", "value", "ignored")


def _save_mapping(request, obj: EventMapping, event, changed_fields=()) -> EventMapping:
    """Save a mapping typed in the admin through ``services.save_mapping`` (audited with the
    operator as actor, its unmatched card settled), exactly as when it is mapped from the
    exception queue. The payments and bookings that were waiting for it are replayed once the
    admin's transaction has committed: a replay inside it would hold every row it touched until
    the whole form is saved, and a request that ran out of time would lose the mapping too."""
    from .audit import Actor
    from .services import REPLAY_INLINE_SECONDS, replay_unmatched, save_mapping

    if obj.pk and {"kind", "value"} & set(changed_fields):
        EventMapping.objects.filter(pk=obj.pk).delete()  # the key itself changed: replace the row
    actor = Actor.operator(request.user)
    mapping = save_mapping(obj.kind, obj.value, event, actor, ignored=obj.ignored)
    obj.pk = mapping.pk

    kind, value, label = mapping.kind, mapping.value, mapping.get_kind_display()

    def replay():
        done = replay_unmatched(kind, value, actor, seconds=REPLAY_INLINE_SECONDS)
        if done.done or done.left or done.failed:
            messages.info(request, f"{label} {value}: {done.summary()}.")

    transaction.on_commit(replay)
    return mapping


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def mapping_usage(mapping: EventMapping) -> str:
    """What removing ``mapping`` does to the stored payments and bookings that came in with its
    key, in words for the confirmation step. Nothing is moved: a fact keeps the event and
    registration it was matched to (``_attach_payment`` / ``_attach_booking`` look a key up only
    for a fact with no event yet); only new payments or bookings with the key find no event."""
    from .services import facts_with_key

    payments, bookings = (
        _plural(len(facts_with_key(model, mapping.kind, mapping.value, event=mapping.event)), word)
        for model, word in ((Payment, "payment"), (Booking, "booking"))
    )
    if mapping.event is None:  # "not ours": its facts were kept but never matched
        return (
            f"{payments} and {bookings} with this key were set aside as not ours; they stay unmatched. "
            "New ones with this key will wait in the exception queue as an unmatched event."
        )
    return (
        f"{payments} and {bookings} were matched through this mapping; they stay with their registrations "
        f"at {mapping.event} (removing the mapping moves nothing). New payments and bookings with this key "
        "no longer go to the event (unless another of their keys is mapped): they wait in the exception queue "
        "as an unmatched event."
    )


def _audit_mapping_removed(request, mapping: EventMapping) -> None:
    """A mapping deleted in the admin: its signals stop going to the event, so who removed what."""
    from .audit import Actor, audit

    audit(
        "mapping.removed",
        actor=Actor.operator(request.user),
        event=mapping.event,
        obj=mapping,
        before={
            "kind": mapping.kind,
            "value": mapping.value,
            "event": mapping.event.slug if mapping.event else None,
            "ignored": mapping.ignored,
        },
    )


# Event fields whose change is audited (everything an operator sets; not the timestamps).
AUDITED_EVENT_FIELDS = [f.name for f in Event._meta.concrete_fields if f.name not in {"id", "created_at", "updated_at"}]


def _zone_or_none(name):
    try:
        return zoneinfo.ZoneInfo((name or "").strip()) if name and name.strip() else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _in_zone(zone, view, *args):
    """``view(*args)``'s response rendered with ``zone`` as the current time zone (the server's when
    None): a TemplateResponse renders after the view returns, so it is rendered here, in it."""
    if zone is None:
        return view(*args)
    with dj_timezone.override(zone):
        response = view(*args)
        if hasattr(response, "render"):
            response.render()
        return response


def _wall_time_in(wall, zone):
    """The naive ``wall`` clock time read in ``zone``, or None when that zone's clocks skip it
    or show it twice (a daylight-saving change): the operator has to type a time that exists."""
    first, second = wall.replace(tzinfo=zone), wall.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        return None  # shown twice (or skipped): which one is meant is not ours to guess
    return first


def _shift_words(delta) -> str:
    """'8 hours later', '5 hours 30 minutes earlier'."""
    minutes = round(abs(delta.total_seconds()) / 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
    parts += [f"{minutes} minute{'s' if minutes != 1 else ''}"] if minutes else []
    return f"{' '.join(parts)} {'later' if delta.total_seconds() > 0 else 'earlier'}"


def _in_event_zone(moment, event):
    """``moment`` in ``event``'s own time zone, named ("15 Dec 2026 10:00 PST"), as the event's
    pages and Acuity show it; as it is (the admin then names the server's zone) when there is no
    event or its zone is unknown."""
    zone = _zone_or_none(event.timezone) if event is not None else None
    if moment is None or zone is None:
        return moment
    return format_time(moment, zone)


def _at(moment, zone) -> str:
    """'Tue 15 Dec 02:00 PST'."""
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %H:%M} {local.tzname()}"


class EventAdminForm(forms.ModelForm):
    """The price is typed in the event's currency units (120.00 USD, 12000 JPY) and stored, like
    every amount, in Stripe's minor units (registrations.money).

    The start and end are shown and read in the event's time zone. When a save changes that zone,
    the form asks what the typed start and end mean (``zone_change``) instead of reading them in
    the new zone without a word, which would move the event in time (10:00 London became 10:00
    Los Angeles, 8 hours later): keep the same moment, or keep the clock time."""

    price = forms.DecimalField(
        required=False,
        min_value=0,
        help_text="Expected price per seat, in the event's currency: 120.00 for $120, 12000 for ¥12,000.",
    )
    zone_change = forms.ChoiceField(
        label="Time zone change",
        required=False,
        choices=[("moment", "Keep the same moment"), ("clock", "Keep the clock time")],
        widget=forms.HiddenInput,  # shown (as a choice) only when the time zone changes
    )

    class Meta:
        model = Event
        fields = ("price", "currency")  # EventAdmin's fieldsets name the rest

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._stored_price = self.instance.price if self.instance.pk else None
        self._stored_zone = self.instance.timezone if self.instance.pk else ""
        self._stored_times = (
            {n: getattr(self.instance, n) for n in ("starts_at", "ends_at")} if self.instance.pk else {}
        )
        self.zone_changed = None  # set by clean(): what a zone change did, in words, for the audit row
        for name in ("starts_at", "ends_at"):
            if name in self.fields:
                self.fields[name].help_text = "In the event's time zone (the Timezone field below)."
        if self._stored_price is not None:
            self.initial["price"] = from_minor(self._stored_price, self.instance.currency)

    def clean(self):
        data = super().clean()
        price = data.get("price")
        if price is not None:
            try:
                data["price"] = to_minor(price, data.get("currency") or self.instance.currency)
            except MoneyError as exc:
                self.add_error("price", str(exc))
        self._clean_zone_change(data)
        return data

    def _clean_zone_change(self, data):
        """The typed start and end were shown in the stored zone; on a zone change, read them as
        the operator chose, and refuse the save until they have chosen."""
        old, new = _zone_or_none(self._stored_zone), _zone_or_none(data.get("timezone"))
        if not self.instance.pk or old is None or new is None or old.key == new.key:
            return
        # The fields were read in the zone of the request (the new one: EventAdmin.changeform_view).
        clock = {n: data[n] for n in ("starts_at", "ends_at") if data.get(n)}
        if not clock:
            return
        walls = {n: value.astimezone(new).replace(tzinfo=None) for n, value in clock.items()}
        moment = {n: _wall_time_in(wall, old) for n, wall in walls.items()}
        start = "starts_at" if "starts_at" in clock else next(iter(clock))
        if all(moment[n] == clock[n] for n in clock):
            return  # both zones read these times as the same moment: nothing moves
        typed = f"{walls[start]:%H:%M}"
        what = "start" if start == "starts_at" else "end"
        both = " (and the end with it)" if len(clock) == 2 else ""
        if all(m is not None for m in moment.values()):
            shift = _shift_words(clock[start] - moment[start])
            choices = [
                (
                    "moment",
                    f"Keep the same moment: the {what} stays {_at(moment[start], old)} ({old.key}), shown as "
                    f"{_at(moment[start], new)} in {new.key}{both}. Reminders and what attendees were told "
                    "stay right.",
                ),
                (
                    "clock",
                    f"Keep the clock time: the {what} becomes {typed} in {new.key} ({_at(clock[start], new)}), "
                    f"which is {_at(clock[start], old)} in {old.key}, {shift} than before{both}. The event "
                    "moves: reminders follow the new time, and attendees were told the old one.",
                ),
            ]
        else:
            shift = ""
            choices = [  # a time the old zone's clocks skip or show twice: only its clock time is certain
                ("clock", f"Keep the clock time: the {what} becomes {typed} in {new.key} ({_at(clock[start], new)}).")
            ]
        quiet = self._quiet_hours_words(data, old, new, walls[start].date())
        if quiet:  # whichever is chosen: they are hours of the clock in the event's zone
            choices = [(value, f"{text} {quiet}") for value, text in choices]
        field = self.fields["zone_change"]
        # The admin's "radiolist" lets each choice (a paragraph) run across the form, not in its
        # 160 px label column.
        field.widget = forms.RadioSelect(attrs={"class": "radiolist"})
        field.choices = choices
        choice = data.get("zone_change")
        if choice not in dict(choices):
            self.add_error(
                "zone_change",
                f"You changed the time zone from {old.key} to {new.key}. The {what} on this form, {typed}, was "
                f"shown in {old.key}. Choose whether the event keeps its moment or its clock time, then save again.",
            )
            return
        if choice == "moment":
            data.update(moment)
            self.zone_changed = (
                "kept the same moment",
                f"Time zone changed from {old.key} to {new.key}, keeping the same moment: the {what} is still "
                f"{_at(moment[start], old)} ({old.key}), now shown as {_at(moment[start], new)}.",
            )
        else:
            self.zone_changed = (
                "kept the clock time",
                f"Time zone changed from {old.key} to {new.key}, keeping the clock time: the {what} is now "
                f"{_at(clock[start], new)} ({new.key})"
                + (f", {shift} than {_at(moment[start], old)} ({old.key}) before." if shift else "."),
            )

    def _quiet_hours_words(self, data, old, new, day) -> str:
        """The event's quiet hours (as typed in this save) are whole hours of the clock in the
        event's zone (``notifications.policy.in_quiet_hours``): after a zone change they are read
        in the new zone, also when the start keeps its moment; said with where they fall in the
        old zone on the event's ``day``. '' when it has none."""
        hours = []
        for name in ("quiet_hours_start", "quiet_hours_end"):
            hour = data.get(name)
            hours.append(getattr(self.instance, name) if hour is None else hour)
        if None in hours or hours[0] % 24 == hours[1] % 24:
            return ""  # equal hours: no quiet hours at all
        start, end = (h % 24 for h in hours)
        there = [datetime.combine(day, time(h), tzinfo=new).astimezone(old) for h in (start, end)]
        return (
            f"Quiet hours ({start:02d}:00 to {end:02d}:00, no reminders sent) are read in {new.key} from now "
            f"on ({there[0]:%H:%M} to {there[1]:%H:%M} in {old.key})."
        )

    @property
    def changed_data(self):
        # The stored price also changes when only the currency does (120 USD → 120 JPY).
        names = [n for n in super().changed_data if n != "price"]
        if hasattr(self, "cleaned_data"):  # a time read in another zone but the same moment is no change
            names = [
                n for n in names if n not in self._stored_times or self.cleaned_data.get(n) != self._stored_times[n]
            ]
        if self.instance.pk and hasattr(self, "cleaned_data") and "price" in self.cleaned_data:
            if self.cleaned_data["price"] != self._stored_price:
                names.append("price")
        elif "price" in super().changed_data:
            names.append("price")
        return names


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    form = EventAdminForm
    list_display = ("name", "slug", "starts", "kind", "price_display", "capacity", "location")
    list_filter = ("kind",)
    search_fields = ("name", "slug", "location")
    prepopulated_fields = {"slug": ("name",)}
    date_hierarchy = "starts_at"
    inlines = [EventMappingInline]
    readonly_fields = ("handoff_setup",)

    class Media:
        # No "You are N hours behind server time" beside the start and end: they are in the
        # event's zone, which their help text names, not the server's.
        js = ("jlf/admin_event_times.js",)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """Show and read the start and end in the event's own time zone (the one every other page
        names), not the server's UTC: on a save, the zone typed in the form; otherwise the event's."""
        name = request.POST.get("timezone", "") if request.method == "POST" else ""
        if not name and object_id:
            stored = self.get_object(request, unquote(object_id))  # None for an unknown or odd id
            name = stored.timezone if stored is not None else ""
        # An invalid zone: the form says so, and the times stay in the server's zone.
        zone = _zone_or_none(name or Event._meta.get_field("timezone").default)
        return _in_zone(zone, super().changeform_view, request, object_id, form_url, extra_context)

    @admin.display(description="Starts at", ordering="starts_at")
    def starts(self, obj):
        """In the event's own time zone, named ("15 Dec 2026 10:00 PST"), as its page shows it."""
        return _in_event_zone(obj.starts_at, obj)

    def construct_change_message(self, request, form, formsets, add=False):
        """A time-zone change's History entry says what was chosen ("Changed Timezone. Time zone
        changed from …, keeping the same moment: …"), not "Time zone change" as if the form's
        question were a field of the event."""
        message = super().construct_change_message(request, form, formsets, add)
        zone_changed = getattr(form, "zone_changed", None)
        if add or not zone_changed:
            return message
        question = str(form.fields["zone_change"].label)
        for part in message:
            changed = part.get("changed") if isinstance(part, dict) else None
            if changed and "fields" in changed:
                changed["fields"] = [f for f in changed["fields"] if f != question]
        words = LogEntry(change_message=json.dumps(message)).get_change_message()
        return f"{words} {zone_changed[1]}".strip()

    @admin.display(description="Price", ordering="price")
    def price_display(self, obj):
        return "" if obj.price is None else format_money(obj.price, obj.currency)

    def save_model(self, request, obj, form, change):
        from .audit import Actor, audit
        from .services import rederive_if_needed

        stored = Event.objects.filter(pk=obj.pk).values(*AUDITED_EVENT_FIELDS).first() if change else None
        super().save_model(request, obj, form, change)
        actor = Actor.operator(request.user)
        if stored is None:
            audit("event.created", actor=actor, event=obj, obj=obj, after={"slug": obj.slug})
        else:
            # What the operator changed (the form knows: a time shown without its microseconds
            # and saved back is not a change) and what really differs from the stored value.
            typed = set(form.changed_data)
            diff = [name for name in AUDITED_EVENT_FIELDS if name in typed and stored[name] != getattr(obj, name)]
            if diff:
                after = {name: str(getattr(obj, name)) for name in diff}
                zone_changed = getattr(form, "zone_changed", None)
                if zone_changed:
                    after["time_zone_change"] = zone_changed[0]
                audit(
                    "event.updated",
                    actor=actor,
                    event=obj,
                    obj=obj,
                    before={name: str(stored[name]) for name in diff},
                    after=after,
                    message=zone_changed[1] if zone_changed else "",
                )
                if zone_changed:  # what the choice did (the event moved, or kept its moment), said once more
                    self.message_user(request, zone_changed[1])
        changed = rederive_if_needed(obj, form.changed_data) if change else []
        if changed:
            self.message_user(
                request,
                f"The {' and '.join(changed)} of {obj} changed: the status of its "
                f"{obj.registrations.count()} registration(s) is being re-derived in the background.",
            )

    def save_formset(self, request, form, formset, change):
        if formset.model is not EventMapping:
            return super().save_formset(request, form, formset, change)
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            usage = mapping_usage(obj)
            _audit_mapping_removed(request, obj)
            obj.delete()
            self.message_user(request, f"{obj.get_kind_display()} {obj.value} removed: {usage}")
        changed = {obj.pk: fields for obj, fields in formset.changed_objects}
        for obj in instances:
            _save_mapping(request, obj, form.instance, changed.get(obj.pk, ()))

    fieldsets = (
        (None, {"fields": ("name", "slug", "starts_at", "ends_at", "timezone", "zone_change", "location")}),
        ("Money", {"fields": ("kind", "price", "currency", "capacity")}),
        ("Links", {"fields": ("stripe_payment_link_url", "acuity_scheduling_url", "acuity_reference_field_id")}),
        ("Handoff: paste these into Stripe and Acuity", {"fields": ("handoff_setup",)}),
        (
            "Reminders",
            {
                "fields": (
                    "reminders_enabled",
                    "reminder_delay_hours",
                    "reminder_spacing_hours",
                    "reminder_max_count",
                    "sms_enabled",
                    "quiet_hours_start",
                    "quiet_hours_end",
                    "email_subject_template",
                    "email_text_template",
                    "email_html_template",
                    "sms_text_template",
                ),
                "classes": ("collapse",),
            },
        ),
    )

    @admin.display(description="Redirect addresses")
    def handoff_setup(self, obj):
        """The exact addresses that bring attendees back from Stripe and Acuity (see
        docs/setup-stripe-acuity.md), as read-only text boxes that are easy to copy."""
        from django.utils.html import format_html

        from integrations.handoff import redirect_urls

        if obj is None or not obj.pk or not obj.slug:
            return "Save the event first; its redirect addresses appear here."
        urls = redirect_urls(obj)
        row = (
            '<p><strong>{}</strong><br><input type="text" readonly class="vTextField" size="100" '
            'value="{}" aria-label="{}"><br><span class="help">{}</span></p>'
        )
        return format_html(
            row + row + row,
            "Stripe Payment Link → After payment → Redirect customers to your website:",
            urls["stripe_after_payment"],
            "Stripe after-payment redirect",
            "Stripe replaces {CHECKOUT_SESSION_ID} with the payment's id. Paste it exactly as shown.",
            "Acuity confirmation page link:",
            urls["acuity_confirmation"],
            "Acuity confirmation page link",
            "Acuity replaces %appointmentId% with the booking's id. Check it once with a test booking.",
            "…or this ready-made HTML for Acuity's custom conversion-tracking box:",
            urls["acuity_confirmation_html"],
            "Acuity confirmation HTML",
            "Shown on Acuity's confirmation page after every booking of this account.",
        )


@admin.register(EventMapping)
class EventMappingAdmin(admin.ModelAdmin):
    list_display = ("kind", "value", "event", "ignored", "created_at")
    list_filter = ("kind", "ignored")
    search_fields = ("value", "event__name")
    autocomplete_fields = ("event",)

    def save_model(self, request, obj, form, change):
        _save_mapping(request, obj, obj.event, form.changed_data if change else ())

    delete_confirmation_template = "admin/registrations/eventmapping/delete_confirmation.html"
    delete_selected_confirmation_template = "admin/registrations/eventmapping/delete_selected_confirmation.html"

    def delete_view(self, request, object_id, extra_context=None):
        mapping = self.get_object(request, object_id) if object_id else None
        extra_context = dict(extra_context or {})
        if mapping is not None:
            extra_context["mapping_usage"] = [mapping_usage(mapping)]
        return super().delete_view(request, object_id, extra_context)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _func, name, description = actions["delete_selected"]
            actions["delete_selected"] = (_delete_selected_saying_usage, name, description)
        return actions

    def delete_model(self, request, obj):
        _audit_mapping_removed(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for mapping in queryset.select_related("event"):
            _audit_mapping_removed(request, mapping)
        super().delete_queryset(request, queryset)


def _delete_selected_saying_usage(modeladmin, request, queryset):
    """The admin's "Delete selected" action; its confirmation step also says, for each mapping,
    how many stored payments and bookings came in through it."""
    from django.contrib.admin.actions import delete_selected

    response = delete_selected(modeladmin, request, queryset)
    if response is not None and getattr(response, "context_data", None) is not None:
        response.context_data["mapping_usage"] = [
            f"{m.get_kind_display()} {m.value}: {mapping_usage(m)}" for m in queryset.select_related("event")
        ]
    return response


class AliasInline(admin.TabularInline):
    model = AttendeeAlias
    extra = 0
    readonly_fields = ("email", "reason", "created_at")
    can_delete = False


class PhoneSearch:
    """The admin's search also finds a phone number typed as people write it ("(415) 555-0199",
    "415-555-0199": stored as E.164) and one a merged-away attendee had (``search.search_phone``
    and ``identity.merged_phone_owners``, as on the /ops/ event table). ``attendee_path`` is the
    path from the listed model to its attendee ("" for attendees)."""

    attendee_path = ""

    def get_search_results(self, request, queryset, search_term):
        from .identity import merged_phone_owners
        from .search import search_phone

        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        phone = search_phone((search_term or "").strip())
        if not phone:
            return found, may_have_duplicates
        phone_field = f"{self.attendee_path}__phone" if self.attendee_path else "phone"
        owner_field = f"{self.attendee_path}_id" if self.attendee_path else "pk"
        by_phone = Q(**{phone_field: phone}) | Q(**{f"{owner_field}__in": merged_phone_owners(phone)})
        return queryset.filter(Q(pk__in=found.values("pk")) | by_phone), may_have_duplicates


def _address(value, *, current: str = "") -> str:
    """An address typed in the admin, stored as every signal stores it (``normalise_email``), so
    the next payment or booking under it finds the person. Refused when it is not an address, or
    when someone has it already: another attendee's own address, or one an attendee had before a
    merge (an alias wins over an address in matching, so either would take that person's signals)."""
    from django.core.validators import validate_email

    from .identity import normalise_email

    email = normalise_email(value)
    if email == normalise_email(current):
        return email
    try:
        validate_email(email)
    except forms.ValidationError:
        raise forms.ValidationError(f"“{value}” is not an email address: type it as name@example.org.") from None
    owner = Attendee.objects.filter(email=email).first()
    if owner is not None:
        raise forms.ValidationError(
            f"{email} is already the address of another attendee ({owner}). If they are one person, "
            "merge their registrations from the queue or an event page instead."
        )
    return email


def _alias_taken(email: str, *, attendee_id=None, alias_id=None) -> None:
    alias = AttendeeAlias.objects.filter(email=email).exclude(pk=alias_id).select_related("attendee").first()
    if alias is not None and alias.attendee_id != attendee_id:
        raise forms.ValidationError(
            f"{email} is already known as an earlier address of {alias.attendee} (from a merge): "
            "its payments and bookings go to them."
        )


class AttendeeAdminForm(forms.ModelForm):
    class Meta:
        model = Attendee
        fields = ("email", "name", "phone", "email_opt_out", "sms_opt_out", "opted_out_at", "anonymised_at")

    def clean_email(self):
        email = _address(self.cleaned_data.get("email"), current=self.instance.email if self.instance.pk else "")
        if email != self.instance.email:
            _alias_taken(email, attendee_id=self.instance.pk)
        return email

    def clean_phone(self):
        from .identity import normalise_phone

        raw = (self.cleaned_data.get("phone") or "").strip()
        if not raw or raw == self.instance.phone:
            return raw
        phone = normalise_phone(raw)
        if not phone:
            raise forms.ValidationError(
                f"“{raw}” is not a phone number we can text: type it with its country code, e.g. +1 415 555 0199 "
                "(a number without one is read as a number of DEFAULT_PHONE_REGION)."
            )
        return phone


#: The attendee fields whose change in the admin is written to the audit trail (``attendee.updated``).
AUDITED_ATTENDEE_FIELDS = ("email", "name", "phone", "email_opt_out", "sms_opt_out")


@admin.register(Attendee)
class AttendeeAdmin(PhoneSearch, admin.ModelAdmin):
    form = AttendeeAdminForm
    list_display = ("email", "name", "phone", "email_opt_out", "sms_opt_out", "created_at")
    list_filter = ("email_opt_out", "sms_opt_out")
    search_fields = ("email", "name", "phone", "aliases__email")
    inlines = [AliasInline]

    def save_model(self, request, obj, form, change):
        from .audit import Actor, audit

        super().save_model(request, obj, form, change)
        actor = Actor.operator(request.user, "admin")
        if not change:
            audit("attendee.created", actor=actor, obj=obj, after={"email": obj.email})
            return
        moved = [f for f in AUDITED_ATTENDEE_FIELDS if form.initial.get(f) != getattr(obj, f)]
        if moved:
            audit(
                "attendee.updated",
                actor=actor,
                obj=obj,
                before={f: form.initial.get(f) for f in moved},
                after={f: getattr(obj, f) for f in moved},
                message=f"Changed in the admin: {', '.join(moved)}.",
            )
        if "email" in moved and obj.anonymised_at is None:
            # The old address came from Stripe or Acuity, which still have it: it stays this
            # person's, as a merge keeps the merged-away address.
            from .matching import learn_alias

            learn_alias(obj, form.initial.get("email") or "", "address before an edit in the admin", actor)


class AttendeeAliasAdminForm(forms.ModelForm):
    class Meta:
        model = AttendeeAlias
        fields = ("email", "attendee", "reason")

    def clean_email(self):
        email = _address(self.cleaned_data.get("email"), current=self.instance.email if self.instance.pk else "")
        _alias_taken(email, alias_id=self.instance.pk)
        return email


@admin.register(AttendeeAlias)
class AttendeeAliasAdmin(admin.ModelAdmin):
    form = AttendeeAliasAdminForm
    list_display = ("email", "attendee", "reason", "created_at")
    search_fields = ("email", "attendee__email")
    raw_id_fields = ("attendee",)

    def save_model(self, request, obj, form, change):
        from .audit import Actor, audit

        super().save_model(request, obj, form, change)
        if not change or {"email", "attendee"} & set(form.changed_data):
            audit(
                "attendee.alias_learned",
                actor=Actor.operator(request.user, "admin"),
                obj=obj.attendee,
                before={"alias": form.initial.get("email")} if change else None,
                after={"alias": obj.email, "attendee": obj.attendee.email, "reason": f"admin: {obj.reason}"},
            )

    def delete_model(self, request, obj):
        self._audit_removed(request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        self._audit_removed(request, list(queryset.select_related("attendee")))
        super().delete_queryset(request, queryset)

    def _audit_removed(self, request, aliases):
        from .audit import Actor, audit

        for alias in aliases:
            audit(
                "attendee.alias_removed",
                actor=Actor.operator(request.user, "admin"),
                obj=alias.attendee,
                before={"alias": alias.email, "attendee": alias.attendee.email},
                message="Removed in the admin: signals under this address no longer reach this attendee.",
            )


class PaymentInline(admin.TabularInline):
    model = Payment
    extra = 0
    fields = ("checkout_session_id", "state", "method", "amount", "amount_refunded", "disputed", "occurred_at")
    readonly_fields = fields
    can_delete = False
    show_change_link = True


def _booking_event(booking):
    """The event whose zone a booking's times are read in: its own, or its registration's."""
    return booking.event or getattr(booking.registration, "event", None)


def booking_starts(booking):
    """The appointment time in the booking's event's zone (as Acuity and the event list show it),
    not the server's: an operator comparing with Acuity reads the same hour."""
    return _in_event_zone(booking.starts_at, _booking_event(booking))


class BookingInline(admin.TabularInline):
    model = Booking
    extra = 0
    fields = ("acuity_appointment_id", "starts", "cancelled", "email")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    @admin.display(description="Starts at")
    def starts(self, obj):
        return booking_starts(obj)


@admin.register(Registration)
class RegistrationAdmin(PhoneSearch, admin.ModelAdmin):
    attendee_path = "attendee"
    list_display = ("attendee", "event", "status", "source", "reference", "created_at")
    list_filter = ("status", "source", "event")
    # ``attendee__aliases__email``: an address they used before a merge finds the survivor's.
    search_fields = ("attendee__email", "attendee__aliases__email", "attendee__name", "attendee__phone", "reference")
    list_select_related = ("attendee", "event")
    readonly_fields = ("reference", "status", "status_changed_at", "created_at", "updated_at")
    raw_id_fields = ("attendee",)
    inlines = [PaymentInline, BookingInline]
    # Who, which event, how it came in, merges and manual reasons are history: they change only
    # through the domain functions (ops pages: merge, mark paid/booked by hand, walk-in).
    history_fields = (
        "attendee",
        "event",
        "source",
        "seats",
        "manual_paid_reason",
        "manual_booked_reason",
    )

    def has_add_permission(self, request):
        return False  # registrations come from payments, bookings and walk-ins (ops pages)

    def has_delete_permission(self, request, obj=None):
        # Deleting one would leave its payments and bookings attached to nothing (no ops page
        # shows them, nothing re-matches them) and bypass the audit trail. Duplicates are merged
        # in the queue; personal data is removed with ``manage.py purge_personal_data``.
        return False

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + self.history_fields if obj else self.readonly_fields

    def view_on_site(self, obj):
        from django.urls import reverse

        return reverse("ops:registration", args=[obj.event.slug, obj.pk])


def _payment_currency(payment) -> str:
    """A payment's currency, or its event's when the payment does not say."""
    return payment.currency or getattr(payment.event, "currency", "")


class FactAdmin(admin.ModelAdmin):
    """Provider facts are history: visible, never edited by hand (use the ops actions)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # Stored field → the display method reading it as money (amounts are stored in minor units,
    # 12000 for $120.00): the page shows the money where the stored number was, under its name.
    money_fields: dict[str, str] = {}

    def get_readonly_fields(self, request, obj=None):
        extra = [name for name in self.money_fields.values() if name not in self.readonly_fields]
        return (*super().get_readonly_fields(request, obj), *extra)

    def get_fields(self, request, obj=None):
        fields = []
        for name in super().get_fields(request, obj):
            name = self.money_fields.get(name, name)
            if name not in fields:
                fields.append(name)
        return fields


def _paid_amount(obj):
    """A refund's or dispute's amount in its payment's currency (one not yet tied to a payment: in
    minor units, as stored, as no currency is known)."""
    return format_money(obj.amount, _payment_currency(obj.payment)) if obj.payment else obj.amount


@admin.register(Payment)
class PaymentAdmin(FactAdmin):
    list_display = (
        "__str__",
        "event",
        "registration",
        "state",
        "method",
        "amount_display",
        "refunded_display",
        "disputed",
        "livemode",
        "occurred_at",
    )
    list_filter = ("state", "method", "source", "disputed", "livemode", "event")
    search_fields = ("checkout_session_id", "payment_intent_id", "charge_id", "email", "name")
    list_select_related = ("event", "registration__attendee", "registration__event")
    # The page reads the amounts as money, as the list does (it is read-only: payments change
    # through the ops actions).
    money_fields = {"amount": "amount_display", "amount_refunded": "refunded_display"}

    # Amounts are stored in minor units (12000 for $120.00): the list and the page read them as money.
    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return "-" if obj.amount is None else format_money(obj.amount, _payment_currency(obj))

    @admin.display(description="Amount refunded", ordering="amount_refunded")
    def refunded_display(self, obj):
        return format_money(obj.amount_refunded or 0, _payment_currency(obj))


@admin.register(Refund)
class RefundAdmin(FactAdmin):
    list_display = ("refund_id", "payment", "amount_display", "cumulative", "status", "occurred_at")
    list_filter = ("status", "cumulative")
    search_fields = ("refund_id", "payment_intent_id", "charge_id")
    list_select_related = ("payment__event",)  # the currency of a payment that does not say it
    money_fields = {"amount": "amount_display"}

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return _paid_amount(obj)


@admin.register(Dispute)
class DisputeAdmin(FactAdmin):
    list_display = ("dispute_id", "payment", "amount_display", "status", "reason", "status_at")
    list_filter = ("status",)
    search_fields = ("dispute_id", "payment_intent_id", "charge_id")
    list_select_related = ("payment__event",)  # the currency of a payment that does not say it
    money_fields = {"amount": "amount_display"}

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, obj):
        return _paid_amount(obj)


@admin.register(Booking)
class BookingAdmin(FactAdmin):
    list_display = ("__str__", "event", "registration", "email", "starts", "cancelled", "source")
    list_filter = ("cancelled", "source", "event")
    search_fields = ("acuity_appointment_id", "email", "first_name", "last_name", "phone")
    list_select_related = ("event", "registration__attendee", "registration__event")

    readonly_fields = ("start_times",)

    @admin.display(description="Starts at", ordering="starts_at")
    def starts(self, obj):
        return booking_starts(obj)

    def get_fields(self, request, obj=None):
        """The start times Acuity sent (stored as ISO strings in UTC or the sender's offset) are
        shown by ``start_times``, in the event's zone, where the stored list was."""
        fields = []
        for name in super().get_fields(request, obj):
            name = "start_times" if name == "start_times_seen" else name
            if name not in fields:
                fields.append(name)
        return fields

    @admin.display(description="Start times seen")
    def start_times(self, obj):
        """Every start time Acuity sent for this appointment, oldest first, as "Starts at" reads
        ("15 Dec 2026 10:00 PST, 15 Dec 2026 18:00 PST"); a value that is not a time, as it is."""
        moments, other = [], []
        for value in obj.start_times_seen or []:
            try:
                moment = datetime.fromisoformat(str(value))
            except ValueError:
                moment = None
            if moment is None or moment.tzinfo is None:
                other.append(str(value))
            else:
                moments.append(moment)
        event = _booking_event(obj)
        words = [str(_in_event_zone(m, event)) for m in sorted(moments)]  # as it is without an event
        return ", ".join(words + other) or "-"

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A booking's own page gives its times in its event's zone, named, like its list row."""
        booking = self.get_object(request, unquote(object_id)) if object_id else None
        event = _booking_event(booking) if booking is not None else None
        zone = _zone_or_none(event.timezone) if event is not None else None
        return _in_zone(zone, super().changeform_view, request, object_id, form_url, extra_context)


@admin.register(SeatReference)
class SeatReferenceAdmin(FactAdmin):
    """Seats 2..N of group payments, handed out as booking links on the payment page."""

    list_display = ("payment", "seat", "registration", "claimed_at", "created_at")
    list_filter = ("claimed_at",)
    search_fields = ("reference", "payment__checkout_session_id", "registration__attendee__email")
    list_select_related = ("payment", "registration__attendee", "registration__event")


@admin.register(ReviewItem)
class ReviewItemAdmin(admin.ModelAdmin):
    list_display = ("kind", "state", "event", "registration", "created_at", "resolution_words", "resolved_by")
    list_filter = ("state", "kind", "event")
    search_fields = ("explanation", "key", "registration__attendee__email")
    readonly_fields = [f.name for f in ReviewItem._meta.fields]
    list_select_related = ("event", "registration__attendee", "registration__event", "resolved_by")

    @admin.display(description="Resolution", ordering="resolution")
    def resolution_words(self, obj):
        """How the card was closed, as the queue says it ("kept as credit", "not ours")."""
        from .ops.queue import resolution_words

        return resolution_words(obj) if obj.resolution else None  # None: the admin's "-"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # resolve in /ops/queue/ (audited); a deleted finding would just be detected again


@admin.register(AuditLog)
class AuditLogAdmin(FactAdmin):
    list_display = ("created_at", "action", "actor_type", "actor_user", "actor_source", "event", "registration")
    list_filter = ("action", "actor_type")
    search_fields = ("action", "message", "actor_source", "request_id", "object_id")
    list_select_related = ("actor_user", "event", "registration__attendee", "registration__event")
    date_hierarchy = "created_at"


class CoHostGrantInline(admin.TabularInline):
    model = CoHostGrant
    extra = 1
    autocomplete_fields = ("event",)


@admin.register(CoHost)
class CoHostAdmin(CoHostAdminTools, admin.ModelAdmin):
    list_display = ("__str__", "is_active", "daily_digest", "created_at")
    list_filter = ("is_active", "daily_digest")
    search_fields = ("user__email",)
    inlines = [CoHostGrantInline]
    readonly_fields = ("calendar_token",)


@admin.register(CoHostGrant)
class CoHostGrantAdmin(admin.ModelAdmin):
    list_display = ("cohost", "event", "can_see_money")
    list_filter = ("can_see_money", "event")
    search_fields = ("cohost__user__email", "event__name")
    autocomplete_fields = ("event",)


@admin.register(RateLimitBucket)
class RateLimitBucketAdmin(FactAdmin):
    """Rate-limit state (keys are hashed); visible for support, not editable."""

    list_display = ("key", "tokens", "updated_at")
    search_fields = ("key",)

    def has_delete_permission(self, request, obj=None):
        return True  # deleting a bucket lifts a lockout
