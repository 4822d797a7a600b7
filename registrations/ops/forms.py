"""Forms for the operator pages. Money is typed in currency units ("120", "120.50", "$1,200")
and cleaned to an integer number of cents; every message says what to type instead."""

from __future__ import annotations

import re
import secrets
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import forms
from django.db.models import Exists, F, OuterRef, Q

from ..identity import normalise_phone
from ..models import Booking, Event, Payment, Registration, Status

MAX_AMOUNT_CENTS = 100_000_00  # 100,000.00 — anything larger is a typo
_MONEY_JUNK = re.compile(r"[\s,$€£]")


class MoneyField(forms.CharField):
    """A decimal amount in currency units → cents (int)."""

    def __init__(self, *args, **kwargs):
        # No max_length: CharField's length validator would run on the cleaned int.
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00", "maxlength": "20"}
            ),
        )
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        if len(value) > 20:
            raise forms.ValidationError("Type an amount like 120 or 120.50.")
        text = _MONEY_JUNK.sub("", value)
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise forms.ValidationError("Type an amount like 120 or 120.50.")
        if not amount.is_finite():
            raise forms.ValidationError("Type an amount like 120 or 120.50.")
        if amount < 0:
            raise forms.ValidationError("The amount cannot be negative.")
        # Before quantize: an exponent like 1e309 is finite but has no two-decimal form.
        if amount * 100 > MAX_AMOUNT_CENTS:
            raise forms.ValidationError("That amount is too large; check the number.")
        if amount != amount.quantize(Decimal("0.01")):
            raise forms.ValidationError("Use at most two decimal places.")
        return int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


STALE_FORM = "This form is out of date; reload the page and try again."


def new_token() -> str:
    return secrets.token_hex(16)


class TokenField(forms.CharField):
    """A one-time form token: a double submit of the same form is recognised and ignored."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", forms.HiddenInput)
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("error_messages", {"required": STALE_FORM})
        super().__init__(*args, **kwargs)

    def validate(self, value):
        super().validate(value)
        if not re.fullmatch(r"[0-9a-f]{32}", value or ""):
            raise forms.ValidationError(STALE_FORM)


# --- Event page -----------------------------------------------------------------------------------
SORTS = {
    "name": ("attendee__name", "attendee__email", "pk"),
    "-name": ("-attendee__name", "-attendee__email", "-pk"),
    "email": ("attendee__email", "pk"),
    "-email": ("-attendee__email", "-pk"),
    "status": ("status", "attendee__name", "pk"),
    "-status": ("-status", "attendee__name", "-pk"),
    "created": ("created_at", "pk"),
    "-created": ("-created_at", "-pk"),
    "changed": ("status_changed_at", "pk"),
    "-changed": ("-status_changed_at", "-pk"),
}


class RegistrationFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "All statuses"), *Status.choices], required=False)
    q = forms.CharField(
        required=False,
        max_length=100,
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name, email, phone or reference"}),
    )
    sort = forms.ChoiceField(choices=[(k, k) for k in SORTS], required=False)

    def filter(self, qs):
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("status"):
            qs = qs.filter(status=data["status"])
        q = (data.get("q") or "").strip()
        if q:
            cond = Q(attendee__name__icontains=q) | Q(attendee__email__icontains=q) | Q(reference__iexact=q)
            phone = normalise_phone(q)
            digits = re.sub(r"\D", "", q)
            if phone:
                cond |= Q(attendee__phone=phone)
            if len(digits) >= 4:
                cond |= Q(attendee__phone__contains=digits)
            qs = qs.filter(cond)
        return qs.order_by(*SORTS.get(data.get("sort") or "name", SORTS["name"]))


# --- Walk-ins and manual marks ---------------------------------------------------------------------
WALK_IN_METHODS = [
    (Payment.Method.CASH.value, "Cash"),
    (Payment.Method.CARD_IN_PERSON.value, "Card in person"),
    (Payment.Method.COMPLIMENTARY.value, "Complimentary (free)"),
]


class WalkInForm(forms.Form):
    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    email = forms.EmailField(
        max_length=254, help_text="Needed to match later payments or bookings and to send a receipt."
    )
    phone = forms.CharField(max_length=40, required=False)
    method = forms.ChoiceField(choices=WALK_IN_METHODS, widget=forms.RadioSelect, initial=Payment.Method.CASH)
    amount = MoneyField(required=False, help_text="In the event's currency. Complimentary is always 0.")
    note = forms.CharField(max_length=300, required=False)
    token = TokenField()

    def clean_phone(self):
        raw = (self.cleaned_data.get("phone") or "").strip()
        if not raw:
            return ""
        phone = normalise_phone(raw)
        if not phone:
            raise forms.ValidationError("This does not look like a phone number; include the country code, e.g. +1.")
        return phone

    def clean(self):
        data = super().clean()
        method = data.get("method")
        if method == Payment.Method.COMPLIMENTARY:
            data["amount"] = 0
        elif method and data.get("amount") in (None, 0) and "amount" not in self.errors:
            self.add_error("amount", "Type the amount paid (or choose complimentary).")
        return data


MANUAL_METHODS = [
    (Payment.Method.CASH.value, "Cash"),
    (Payment.Method.CARD_IN_PERSON.value, "Card in person"),
    (Payment.Method.COMPLIMENTARY.value, "Complimentary (free)"),
    (Payment.Method.OTHER.value, "Other (bank transfer, cheque…)"),
]


class MarkPaidForm(forms.Form):
    amount = MoneyField(required=False)
    method = forms.ChoiceField(choices=MANUAL_METHODS, initial=Payment.Method.CASH)
    reason = forms.CharField(max_length=300, widget=forms.TextInput(attrs={"placeholder": "e.g. paid by cheque"}))
    token = TokenField()

    def clean(self):
        data = super().clean()
        if data.get("method") == Payment.Method.COMPLIMENTARY:
            data["amount"] = 0
        elif data.get("method") and data.get("amount") is None and "amount" not in self.errors:
            self.add_error("amount", "Type the amount received (0 is allowed for a free place).")
        return data


class MarkBookedForm(forms.Form):
    reason = forms.CharField(
        max_length=300, widget=forms.TextInput(attrs={"placeholder": "e.g. booked by phone, Acuity was full"})
    )
    token = TokenField()


# --- Queue ----------------------------------------------------------------------------------------
class NoteField(forms.CharField):
    """Free text whose line breaks count once, as the browser's ``maxlength`` counts them (a
    textarea sends each as CR LF)."""

    def to_python(self, value):
        return super().to_python(value).replace("\r\n", "\n")


NOTE_MAX = 1000


class NoteForm(forms.Form):
    note = NoteField(max_length=NOTE_MAX, required=False, widget=forms.Textarea(attrs={"rows": 2}))


class RefundForm(forms.Form):
    payment = forms.IntegerField(widget=forms.HiddenInput)
    amount = MoneyField()
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)


class MapEventForm(forms.Form):
    event = forms.ModelChoiceField(
        queryset=Event.objects.order_by("-starts_at"), empty_label="Choose an event…", required=False
    )


def booked_unpaid_registrations(event: Event):
    """Registrations of ``event`` with a live booking and no live payment: the people a group
    payment's seats are usually for."""
    live_booking = Booking.objects.filter(registration=OuterRef("pk"), cancelled=False)
    live_payment = Payment.objects.filter(
        registration=OuterRef("pk"), state=Payment.State.PAID, refunded_with_group=False
    ).exclude(amount__gt=0, amount_refunded__gte=F("amount"))
    return (
        Registration.objects.filter(event=event)
        .filter(Exists(live_booking))
        .exclude(Exists(live_payment))
        .select_related("attendee")
        .order_by("attendee__name", "attendee__email")
    )


class GroupSeatsForm(forms.Form):
    """One row per seat (beyond the payer's): either pick a booking or type a name and email."""

    payer_takes_seat = forms.BooleanField(required=False, initial=True, label="The payer takes one of the seats")

    def __init__(self, *args, seats: int, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.seats = seats
        self.candidates = list(candidates)
        choices = [("", "— pick a booking —")] + [
            (str(r.pk), f"{r.attendee.name or r.attendee.email} <{r.attendee.email}>") for r in self.candidates
        ]
        for n in range(1, seats + 1):
            self.fields[f"seat_{n}_registration"] = forms.ChoiceField(choices=choices, required=False, label="Booking")
            self.fields[f"seat_{n}_name"] = forms.CharField(max_length=200, required=False, label="or name")
            self.fields[f"seat_{n}_email"] = forms.EmailField(max_length=254, required=False, label="and email")

    def rows(self):
        for n in range(1, self.seats + 1):
            yield n, self[f"seat_{n}_registration"], self[f"seat_{n}_name"], self[f"seat_{n}_email"]

    def clean(self):
        data = super().clean()
        assignments = []
        for n in range(1, self.seats + 1):
            reg = data.get(f"seat_{n}_registration")
            name = (data.get(f"seat_{n}_name") or "").strip()
            email = (data.get(f"seat_{n}_email") or "").strip()
            if f"seat_{n}_email" in self.errors:
                continue
            if reg and (name or email):
                self.add_error(f"seat_{n}_name", "Pick a booking or type a person, not both.")
            elif reg:
                assignments.append({"registration_id": int(reg)})
            elif email:
                assignments.append({"name": name, "email": email})
            elif name:
                self.add_error(f"seat_{n}_email", "Add the attendee's email address.")
        taken = len(assignments) + (1 if data.get("payer_takes_seat") else 0)
        if not assignments and not self.errors:
            raise forms.ValidationError("Assign at least one seat: pick a booking or type a name and email.")
        if taken > self.seats:
            raise forms.ValidationError(f"Only {self.seats} seats were paid for; you assigned {taken}.")
        data["assignments"] = assignments
        return data
