"""The domain: events, attendees, registrations and the facts each provider told us.

Facts (Payment, Refund, Dispute, Booking) are keyed by the provider's own ids and only ever
written by ``registrations.services`` (apply_payment / apply_booking / resolution functions).
A registration's ``status`` is derived from its facts by ``registrations.status.derive_status``
and stored only so it can be filtered and counted; nothing else writes it.
"""

import re
import secrets
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


def new_reference() -> str:
    # Unguessable, and valid as a Stripe client_reference_id (alphanumeric, at most 200 chars)
    # and as an Acuity intake value. 16 base32-ish chars = 80 bits.
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "R" + "".join(secrets.choice(alphabet) for _ in range(16))


class Status(models.TextChoices):
    PENDING = "pending", "Pending"  # a fact exists but neither side is settled (e.g. bank debit)
    BOOKED_ONLY = "booked_only", "Booked, not paid"
    PAID_ONLY = "paid_only", "Paid, not booked"
    COMPLETE = "complete", "Complete"
    NEEDS_REVIEW = "needs_review", "Needs review"
    CANCELLED = "cancelled", "Cancelled"
    REFUNDED = "refunded", "Refunded"


class Source(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    RECONCILIATION = "reconciliation", "Reconciliation"
    HANDOFF = "handoff", "Handoff redirect"
    WALK_IN = "walk_in", "Walk-in"
    MANUAL = "manual", "Manual"
    IMPORT = "import", "Import"
    DEMO = "demo", "Demo"


def _timezone_choices():
    return [(z, z) for z in sorted(zoneinfo.available_timezones())]


class Event(models.Model):
    class Kind(models.TextChoices):
        PAID = "paid", "Paid (fixed price)"
        DONATION = "donation", "Donation-based"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="America/Los_Angeles")
    location = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PAID)
    price = models.PositiveIntegerField(
        null=True, blank=True, help_text="Expected price per seat in the smallest currency unit."
    )
    currency = models.CharField(max_length=3, default="usd")
    capacity = models.PositiveIntegerField(null=True, blank=True)
    acuity_scheduling_url = models.URLField(blank=True)
    stripe_payment_link_url = models.URLField(blank=True)
    acuity_reference_field_id = models.CharField(
        max_length=32,
        blank=True,
        help_text="Acuity intake field id of the hidden field that carries our registration reference.",
    )
    # Reminder policy
    reminders_enabled = models.BooleanField(default=True)
    reminder_delay_hours = models.PositiveIntegerField(default=24)
    reminder_spacing_hours = models.PositiveIntegerField(default=48)
    reminder_max_count = models.PositiveIntegerField(default=2)
    sms_enabled = models.BooleanField("SMS enabled", default=False)
    quiet_hours_start = models.PositiveSmallIntegerField(default=21, help_text="Hour (0-23), event time zone.")
    quiet_hours_end = models.PositiveSmallIntegerField(default=8, help_text="Hour (0-23), event time zone.")
    email_subject_template = models.CharField(max_length=200, blank=True)
    email_text_template = models.TextField(blank=True)
    email_html_template = models.TextField(blank=True)
    sms_text_template = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("ops:event", args=[self.slug])

    # Bounds of the hand-typed reminder policy (``clean``): a year is longer than any sign-up
    # period, and more than 10 reminders to one person is spam, not a reminder.
    LONGEST_REMINDER_HOURS = 24 * 365
    MOST_REMINDERS = 10

    def clean(self):
        """Settings typed by an operator (admin) or in an events file (``importing``) that cannot
        be right, refused with a message on the field."""
        errors = {}
        if self.timezone not in zoneinfo.available_timezones():
            errors["timezone"] = f"'{self.timezone}' is not a time zone name; use one like America/Los_Angeles."
        if self.ends_at and self.starts_at and self.ends_at < self.starts_at:
            errors["ends_at"] = "The event cannot end before it starts."
        for name in ("quiet_hours_start", "quiet_hours_end"):
            hour = getattr(self, name)
            if hour is not None and not 0 <= hour <= 23:
                errors[name] = "An hour of the day: 0 to 23."
        for name in ("reminder_delay_hours", "reminder_spacing_hours"):
            hours = getattr(self, name)
            if hours is not None and hours < 1:
                errors[name] = "At least 1 hour (to send no reminders, switch them off or set the maximum to 0)."
            elif hours is not None and hours > self.LONGEST_REMINDER_HOURS:
                errors[name] = f"At most {self.LONGEST_REMINDER_HOURS} hours (a year)."
        if self.reminder_max_count is not None and self.reminder_max_count > self.MOST_REMINDERS:
            errors["reminder_max_count"] = f"At most {self.MOST_REMINDERS} reminders per person."
        if self.kind == self.Kind.PAID and self.price == 0:
            errors["price"] = (
                "A paid event's price must be more than 0: leave it empty if it varies, "
                "or make the event donation-based."
            )
        from notifications.render import sms_wording_problem  # here: notifications imports this module

        sms_problem = sms_wording_problem(self)
        if sms_problem:
            errors["sms_text_template"] = sms_problem
        if errors:
            raise ValidationError(errors)

    @property
    def is_donation(self):
        return self.kind == self.Kind.DONATION

    @property
    def has_started(self):
        return self.starts_at <= timezone.now()

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The event's time zone; UTC when its name is empty or unknown to this machine."""
        try:
            return zoneinfo.ZoneInfo(self.timezone or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo("UTC")


class EventMapping(models.Model):
    """Which provider object belongs to which event. An unmapped key keeps its signals waiting."""

    class Kind(models.TextChoices):
        STRIPE_PAYMENT_LINK = "stripe_payment_link", "Stripe Payment Link id"
        STRIPE_PRICE = "stripe_price", "Stripe price id"
        STRIPE_METADATA = "stripe_metadata", "Stripe metadata (key=value)"
        ACUITY_APPOINTMENT_TYPE = "acuity_appointment_type", "Acuity appointment type id"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    value = models.CharField(max_length=255)
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.CASCADE, related_name="mappings")
    ignored = models.BooleanField(
        default=False, help_text="Marked as not ours: signals with this key are kept but never matched."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="uniq_mapping_kind_value"),
            models.CheckConstraint(condition=Q(event__isnull=False) | Q(ignored=True), name="mapping_event_or_ignored"),
        ]

    def __str__(self):
        target = self.event or "not ours"
        return f"{self.get_kind_display()} {self.value} → {target}"

    # What each provider's ids look like: a key typed any other way can never match a signal
    # (e.g. the buy.stripe.com address pasted instead of the link's plink_ id).
    FORMATS = {
        Kind.STRIPE_PAYMENT_LINK: (
            r"plink_\w+",
            "A Payment Link id looks like plink_1AbC…: in the Stripe dashboard, open the link; "
            "the id is in its details (not the buy.stripe.com address).",
        ),
        Kind.STRIPE_PRICE: (r"price_\w+", "A Stripe price id looks like price_1AbC… (not prod_…)."),
        Kind.STRIPE_METADATA: (r"[^=]+=.+", "Stripe metadata is written key=value, e.g. event=spring-retreat."),
        Kind.ACUITY_APPOINTMENT_TYPE: (
            r"[0-9]+",
            "An Acuity appointment type id is a number: the appointmentType=… in its scheduling link.",
        ),
    }

    def clean(self):
        pattern, hint = self.FORMATS.get(self.kind, (None, ""))
        if pattern and self.value and not re.fullmatch(pattern, self.value):
            raise ValidationError({"value": f"'{self.value}' is not such an id. {hint}"})

    def validate_constraints(self, exclude=None):
        """A key already mapped is refused naming the event that has it (Django's own message
        says only that it exists); moving a key is done on that mapping, deliberately."""
        taken = (
            EventMapping.objects.filter(kind=self.kind, value=self.value).exclude(pk=self.pk).select_related("event")
        ).first()
        if taken is not None:
            label = f"{taken.get_kind_display()} {self.value}"
            if taken.ignored:
                raise ValidationError(
                    f"{label} is marked “not ours”. To map it to an event, open it under Event mappings "
                    "and choose the event there."
                )
            raise ValidationError(
                f"{label} is already mapped to {taken.event} ({taken.event.slug}). Remove it there first, "
                "or move it by changing that mapping under Event mappings."
            )
        super().validate_constraints(exclude)


class Attendee(models.Model):
    email = models.CharField(max_length=254, unique=True, help_text="Normalised: trimmed, case-folded.")
    name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=20, blank=True, db_index=True, help_text="E.164")
    email_opt_out = models.BooleanField(default=False)
    sms_opt_out = models.BooleanField(default=False)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    anonymised_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.name} <{self.email}>" if self.name else self.email


class AttendeeAlias(models.Model):
    """Another address known to be the same person (learned from a merge or a reference match)."""

    email = models.CharField(max_length=254, unique=True)
    attendee = models.ForeignKey(Attendee, on_delete=models.CASCADE, related_name="aliases")
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "attendee aliases"

    def __str__(self):
        return f"{self.email} → {self.attendee.email}"


class Registration(models.Model):
    attendee = models.ForeignKey(Attendee, on_delete=models.PROTECT, related_name="registrations")
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="registrations")
    reference = models.CharField(max_length=40, unique=True, default=new_reference, editable=False)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True, editable=False
    )
    status_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.WEBHOOK)
    seats = models.PositiveIntegerField(default=1)
    manual_paid_reason = models.CharField(max_length=300, blank=True)
    manual_booked_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["attendee", "event"], name="uniq_registration_attendee_event")]
        indexes = [models.Index(fields=["event", "status"])]

    def __str__(self):
        return f"{self.attendee} @ {self.event}"


class Payment(models.Model):
    """What Stripe (or an operator, for walk-ins) told us about one payment."""

    class State(models.TextChoices):
        EXPIRED = "expired", "Expired (abandoned checkout)"
        UNPAID = "unpaid", "Awaiting funds"
        FAILED = "failed", "Failed"
        PAID = "paid", "Paid"

    class Method(models.TextChoices):
        STRIPE = "stripe", "Stripe"
        CASH = "cash", "Cash"
        CARD_IN_PERSON = "card_in_person", "Card in person"
        COMPLIMENTARY = "complimentary", "Complimentary"
        OTHER = "other", "Other"
        # A seat paid for by someone else's group payment (amount 0, so gross never counts it twice).
        GROUP_SEAT = "group_seat", "Seat of a group payment"

    checkout_session_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    payment_intent_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    charge_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    manual_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    registration = models.ForeignKey(
        Registration, null=True, blank=True, on_delete=models.SET_NULL, related_name="payments"
    )
    mapping_keys = models.JSONField(default=list, blank=True, help_text="[[kind, value], …] from the provider")
    state = models.CharField(max_length=10, choices=State.choices, default=State.UNPAID)
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.STRIPE)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.WEBHOOK)
    amount = models.IntegerField(null=True, blank=True, help_text="Smallest currency unit")
    currency = models.CharField(max_length=3, blank=True)
    # Seats in this payment (None: one). A Checkout Session's is counted from ``line_items`` once
    # the event is known (``registrations.payments._count_seats``): add-ons are not seats.
    quantity = models.PositiveIntegerField(null=True, blank=True)
    line_items = models.JSONField(
        default=list, blank=True, help_text="[[Stripe price id, quantity], …] of the checkout, as Stripe listed them"
    )
    amount_refunded = models.IntegerField(default=0)
    # Seat payments (GROUP_SEAT) only: the group payment the seat came from is refunded in full,
    # so the seat counts as refunded too. Its amount is 0, so ``amount_refunded`` cannot say it
    # (and must stay 0, or refunds would be counted twice). Kept equal to the group payment's
    # ``fully_refunded`` by ``registrations.seats``.
    refunded_with_group = models.BooleanField(default=False, editable=False)
    disputed = models.BooleanField(default=False)
    livemode = models.BooleanField(default=False)
    email = models.CharField(max_length=254, blank=True)
    name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    client_reference_id = models.CharField(max_length=200, blank=True)
    seat_assignments = models.JSONField(default=list, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A bank debit: when Stripe said its funds arrived; the earliest report wins",
    )
    raw_refs = models.JSONField(default=list, blank=True, help_text="Provider event ids that told us this")
    note = models.CharField(max_length=300, blank=True)
    personal_data_removed_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Purged: a later observation never fills PERSONAL_FIELDS again"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    PERSONAL_FIELDS = ("email", "name", "phone")

    class Meta:
        indexes = [models.Index(fields=["registration", "state"])]

    def __str__(self):
        key = self.checkout_session_id or self.payment_intent_id or self.charge_id or self.manual_key
        return f"Payment {key}"

    @property
    def is_paid(self):
        return self.state == self.State.PAID

    @property
    def net_amount(self):
        return (self.amount or 0) - self.amount_refunded

    @property
    def fully_refunded(self):
        if not self.is_paid:
            return False
        if self.refunded_with_group:
            return True
        return (self.amount or 0) > 0 and self.amount_refunded >= (self.amount or 0)


class Refund(models.Model):
    """A refund fact. Kept even when it arrives before the payment it refunds.

    ``refund_id`` is Stripe's ``re_…`` id; a ``charge.refunded`` event (which carries only the
    cumulative total) is stored under the key ``charge-total:<charge id>`` with the largest
    cumulative amount seen, so redeliveries and reordering cannot lower it.
    """

    refund_id = models.CharField(max_length=255, unique=True)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    charge_id = models.CharField(max_length=255, blank=True, db_index=True)
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="refunds")
    amount = models.IntegerField(default=0)
    cumulative = models.BooleanField(default=False)
    status = models.CharField(max_length=20, default="succeeded")
    reason = models.CharField(max_length=100, blank=True)
    # Stripe's ``failure_reason`` of a refund that failed (lost_or_stolen_card, declined, …).
    failure_reason = models.CharField(max_length=100, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        # Named as payments are, without the amount: stored in minor units ("(4000)" for $40.00),
        # it read wrong as the admin page's title; the amount is on the page, as money.
        return f"Refund {self.refund_id}"


class Dispute(models.Model):
    dispute_id = models.CharField(max_length=255, unique=True)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    charge_id = models.CharField(max_length=255, blank=True, db_index=True)
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="disputes")
    amount = models.IntegerField(default=0)
    status = models.CharField(max_length=40, blank=True)
    reason = models.CharField(max_length=100, blank=True)
    status_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"Dispute {self.dispute_id} ({self.status})"


class Booking(models.Model):
    """What Acuity (or an operator) told us about one appointment."""

    acuity_appointment_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    manual_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.PROTECT, related_name="bookings")
    registration = models.ForeignKey(
        Registration, null=True, blank=True, on_delete=models.SET_NULL, related_name="bookings"
    )
    mapping_keys = models.JSONField(default=list, blank=True)
    appointment_type_id = models.CharField(max_length=64, blank=True)
    calendar_id = models.CharField(max_length=64, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    email = models.CharField(max_length=254, blank=True)
    other_emails = models.JSONField(default=list, blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    intake = models.JSONField(default=dict, blank=True, help_text="{field label: value}")
    intake_reference = models.CharField(max_length=200, blank=True)
    cancelled = models.BooleanField(default=False)
    start_times_seen = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.WEBHOOK)
    state_at = models.DateTimeField(null=True, blank=True, help_text="When the current state was observed")
    state_tiebreak = models.CharField(max_length=64, blank=True, editable=False)
    raw_refs = models.JSONField(default=list, blank=True)
    note = models.CharField(max_length=300, blank=True)
    personal_data_removed_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Purged: a later observation never fills PERSONAL_FIELDS again"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    PERSONAL_FIELDS = ("email", "other_emails", "first_name", "last_name", "phone", "intake")

    def __str__(self):
        return f"Booking {self.acuity_appointment_id or self.manual_key}"

    @property
    def name(self):
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def times_rescheduled(self):
        return max(len(self.start_times_seen) - 1, 0)


class SeatReference(models.Model):
    """The booking reference of seat 2..N of a group payment (seat 1 is the payer's own
    registration reference). The handoff page gives one booking link per seat; a booking whose
    intake field carries this reference is given the seat (``registrations.seats``): a
    GROUP_SEAT payment keyed ``seat:<payment pk>:<seat>`` on the booker's own registration."""

    reference = models.CharField(max_length=40, unique=True, default=new_reference, editable=False)
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="seat_references")
    seat = models.PositiveSmallIntegerField(help_text="2..quantity; seat 1 is the payer")
    registration = models.ForeignKey(
        Registration, null=True, blank=True, on_delete=models.SET_NULL, related_name="claimed_seats"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["payment", "seat"]
        constraints = [models.UniqueConstraint(fields=["payment", "seat"], name="uniq_seat_reference_payment_seat")]

    def __str__(self):
        return f"Seat {self.seat} of {self.payment}"


class ReviewItem(models.Model):
    class Kind(models.TextChoices):
        SUGGESTED_MATCH = "suggested_match", "Same person, different emails?"
        GROUP_PAYMENT = "group_payment", "Group payment"
        DUPLICATE_PAYMENT = "duplicate_payment", "Duplicate payment"
        PAID_CANCELLED = "paid_cancelled", "Paid but cancelled"
        DISPUTE = "dispute", "Dispute"
        UNMATCHED_EVENT = "unmatched_event", "Unmatched event"
        # Opened by ``registrations.clearing`` (the reminder scan), not by ``detection``.
        PAYMENT_NOT_CLEARED = "payment_not_cleared", "Bank payment not cleared"
        # Opened by a merge (``resolutions.merge_registrations``): the two merged people were both
        # registered at another event, where one person now has two registrations.
        SAME_PERSON_TWICE = "same_person_twice", "Same person registered twice"
        # A refund made outside the queue (the Stripe Dashboard) that Stripe failed or canceled
        # (``detection``; a failed refund made from a card reopens that card instead).
        REFUND_FAILED = "refund_failed", "Refund failed"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"

    kind = models.CharField(max_length=24, choices=Kind.choices)
    key = models.CharField(max_length=255, unique=True, help_text="Deduplicates detection; one item per finding")
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN, db_index=True)
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.CASCADE, related_name="review_items")
    registration = models.ForeignKey(
        Registration, null=True, blank=True, on_delete=models.CASCADE, related_name="review_items"
    )
    counterpart = models.ForeignKey(
        Registration, null=True, blank=True, on_delete=models.SET_NULL, related_name="counterpart_review_items"
    )
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="review_items")
    booking = models.ForeignKey(Booking, null=True, blank=True, on_delete=models.SET_NULL, related_name="review_items")
    explanation = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    resolution = models.CharField(max_length=40, blank=True)
    resolution_note = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When a closed card last opened again (a refund from it failed, a finding came back): the
    # queue reads "reopened N min ago" from here instead of "opened" from created_at.
    reopened_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["state", "kind"])]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.state})"


class AuditLog(models.Model):
    """What happened, in domain words, written in the same transaction as the change."""

    class ActorType(models.TextChoices):
        SYSTEM = "system", "System"
        OPERATOR = "operator", "Operator"
        COHOST = "cohost", "Co-host"

    action = models.CharField(max_length=64, db_index=True)
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    registration = models.ForeignKey(
        Registration, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    message = models.TextField(blank=True)
    actor_type = models.CharField(max_length=10, choices=ActorType.choices, default=ActorType.SYSTEM)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_source = models.CharField(max_length=200, blank=True, help_text="webhook event id, command, schedule…")
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M %Z} {self.action}"


class CoHost(models.Model):
    """A co-host: a passwordless user who sees their own events through magic links."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cohost")
    events = models.ManyToManyField(Event, through="CoHostGrant", related_name="cohosts")
    is_active = models.BooleanField(default=True)
    daily_digest = models.BooleanField(default=False)
    calendar_token = models.CharField(max_length=64, unique=True, default=secrets.token_urlsafe)
    # Claimed (compare-and-set) by registrations.cohost.digest before sending, so two workers
    # running the schedule at once send one digest; also the start of the next "new since" window.
    digest_last_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.user.email or self.user.get_username()


class CoHostGrant(models.Model):
    cohost = models.ForeignKey(CoHost, on_delete=models.CASCADE, related_name="grants")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="cohost_grants")
    can_see_money = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cohost", "event"], name="uniq_cohost_event")]

    def __str__(self):
        return f"{self.cohost} → {self.event}"


class RateLimitBucket(models.Model):
    """A token bucket in the database (works on SQLite and PostgreSQL), e.g. magic-link requests
    per IP and per hashed email address. See ``registrations.ratelimit``."""

    key = models.CharField(max_length=200, unique=True)
    tokens = models.FloatField()
    updated_at = models.DateTimeField()

    def __str__(self):
        return self.key
