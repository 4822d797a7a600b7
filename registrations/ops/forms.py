"""Forms for the operator pages. Money is typed in currency units ("120", "120.50", "$1,200",
"12000" for yen) and cleaned to an integer in the currency's smallest unit (registrations.money);
every message says what to type instead."""

from __future__ import annotations

import re
import secrets
from decimal import Decimal, InvalidOperation

from django import forms
from django.db.models import Exists, F, OuterRef

from ..identity import normalise_phone
from ..models import Booking, Event, Payment, Registration, Status
from ..money import MoneyError, exponent, from_minor, to_minor
from ..search import search_registrations

# Anything larger is a typo: 100,000.00 in a two-decimal currency; in a zero-decimal one (where
# 100,000 yen is an ordinary price) Stripe's own eight-digit limit; 99,999.99 in a three-decimal one.
MAX_AMOUNT_MINOR = {2: 100_000_00, 0: 99_999_999, 3: 99_999_990}
_MONEY_JUNK = re.compile(r"[\s,$€£¥₩]")


class MoneyField(forms.CharField):
    """A decimal amount in currency units → Decimal. The form turns it into minor units with
    the currency it knows (``clean_money``): how many decimals are allowed depends on it."""

    def __init__(self, *args, **kwargs):
        # No max_length: CharField's length validator would run on the cleaned value.
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
        return amount


def clean_money(form: forms.Form, data: dict, name: str, currency: str | None) -> None:
    """Replace ``data[name]`` (a Decimal from MoneyField) by its amount in minor units of
    ``currency``, or record on the form why it cannot be one."""
    amount = data.get(name)
    if amount is None:
        return
    try:
        minor = to_minor(amount, currency)
    except MoneyError as exc:
        form.add_error(name, str(exc))
        return
    if minor > MAX_AMOUNT_MINOR[exponent(currency)]:
        form.add_error(name, "That amount is too large; check the number.")
        return
    data[name] = minor


def _placeholder(field: forms.Field, currency: str) -> None:
    field.widget.attrs["placeholder"] = str(from_minor(0, currency))


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
        # Name, address (also one used before a merge), phone in any format (also one used
        # before a merge), reference; a row found by an earlier one says so.
        qs = search_registrations(qs, data.get("q") or "")
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
    # Shown only when the email belongs to someone whose name is not the one typed.
    same_person = forms.BooleanField(required=False)
    token = TokenField()

    def __init__(self, *args, currency: str = "usd", **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.email_owner = None  # set by the view when the same-person question is asked
        _placeholder(self.fields["amount"], currency)

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
        clean_money(self, data, "amount", self.currency)
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

    def __init__(self, *args, currency: str = "usd", **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency
        _placeholder(self.fields["amount"], currency)

    def clean(self):
        data = super().clean()
        clean_money(self, data, "amount", self.currency)
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
    """The amount is in the currency of the payment refunded (which the refund view checks
    belongs to the item)."""

    payment = forms.IntegerField(widget=forms.HiddenInput)
    amount = MoneyField()
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if data.get("payment") is not None:
            currency = Payment.objects.filter(pk=data["payment"]).values_list("currency", flat=True).first()
            clean_money(self, data, "amount", currency)
        else:
            data.pop("amount", None)  # no payment, no currency: the payment's error is the one shown
        return data


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
        if not assignments and not self.errors and not data.get("payer_takes_seat"):
            # With the payer taking a seat, none more may be right (the others were booked with
            # their own links): ``assign_group_seats`` says so if seats are still free.
            raise forms.ValidationError("Assign at least one seat: pick a booking or type a name and email.")
        if taken > self.seats:
            raise forms.ValidationError(f"Only {self.seats} seats were paid for; you assigned {taken}.")
        data["assignments"] = assignments
        return data
