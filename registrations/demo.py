"""Demo data: two upcoming events, registrations in every status and one open review item of each
kind — all produced the way production produces them, by feeding signals to apply_payment /
apply_booking (the "demo simulator"). Idempotent: provider ids are fixed, so a second run is a
no-op."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from .audit import Actor
from .clearing import flag_stalled_debits
from .importing import import_events, load_file
from .models import CoHost, CoHostGrant, Event, Registration, ReviewItem, Source
from .resolutions import accept_suggested_match
from .services import apply_booking, apply_payment, enter_walk_in
from .signals import BookingSignal, PaymentSignal

DEMO_FILE = Path(settings.BASE_DIR) / "demo" / "events.yaml"
OPERATOR_USERNAME = "operator"
OPERATOR_PASSWORD = "jlf-demo-operator"  # demo only: the command refuses to run in production
COHOST_EMAIL = "cohost@example.org"

SPRING = ("plink_1SampleSpring", "4440001", 12000)
WINTER = ("plink_1SampleWinter", "4440002", None)

PEOPLE = [
    # (key, email, name, phone)
    ("river", "river.stone@example.org", "River Stone", "+14155550123"),
    ("sky", "sky.lee@example.org", "Sky Lee", "+14155550124"),
    ("ash", "ash.moreno@example.org", "Ash Moreno", ""),
    ("bay", "bay.okafor@example.org", "Bay Okafor", "+14155550126"),
    ("cedar", "cedar.ito@example.org", "Cedar Ito", ""),
    ("dune", "dune.haas@example.org", "Dune Haas", "+14155550128"),
    ("elm", "elm.varga@example.org", "Elm Varga", ""),
    ("fern", "fern.adeyemi@example.org", "Fern Adeyemi", "+14155550130"),
    ("glen", "glen.park@example.org", "Glen Park", ""),
    ("hazel", "hazel.nunez@example.org", "Hazel Nunez", "+14155550132"),
    ("iris", "iris.kowalski@example.org", "Iris Kowalski", ""),
    ("juno", "juno.baptiste@example.org", "Juno Baptiste", "+14155550134"),
    ("kai", "kai.osei@example.org", "Kai Osei", "+14155550135"),
    ("lark", "lark.bell@example.org", "Lark Bell", "+14155550136"),
]


def _pay(key, person, event_keys, amount, hours_ago, *, status="paid", quantity=1, ref=""):
    _, email, name, phone = person
    return PaymentSignal(
        status=status,
        source_id=f"cs_test_demo{key}",
        checkout_session_id=f"cs_test_demo{key}",
        payment_intent_id=f"pi_demo_{key}",
        charge_id=f"ch_demo_{key}",
        event_keys=(("stripe_payment_link", event_keys[0]),),
        email=email,
        name=name,
        phone=phone,
        amount=amount,
        currency="usd",
        quantity=quantity,
        client_reference_id=ref,
        occurred_at=timezone.now() - timedelta(hours=hours_ago),
        raw_ref=f"demo:{key}",
    )


def _book(key, person, event, event_keys, hours_ago, *, status="booked", email=None, phone=None):
    _, default_email, name, default_phone = person
    first, _, last = name.partition(" ")
    return BookingSignal(
        status=status,
        source_id=f"9100{key}",
        event_keys=(("acuity_appointment_type", event_keys[1]),),
        email=email or default_email,
        first_name=first,
        last_name=last,
        phone=default_phone if phone is None else phone,
        starts_at=event.starts_at,
        timezone=event.timezone,
        appointment_type_id=event_keys[1],
        intake={"Dietary needs": "vegetarian", "First retreat?": "yes"},
        occurred_at=timezone.now() - timedelta(hours=hours_ago),
        raw_ref=f"demo:{key}",
    )


def _shift_dates(entries: list[dict]) -> list[dict]:
    """Keep the demo events in the future whatever today is."""
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    offsets = {"spring-retreat": 12, "winter-silence": 40}
    for entry in entries:
        days = offsets.get(entry["slug"], 20)
        entry["starts_at"] = (now + timedelta(days=days)).replace(hour=18).isoformat()
        entry["ends_at"] = (now + timedelta(days=days)).replace(hour=23).isoformat()
    return entries


def seed(stdout=None) -> dict:
    def say(msg):
        if stdout is not None:
            stdout.write(msg)

    actor = Actor.system("command:seed_demo")
    if not Event.objects.filter(slug="spring-retreat").exists():
        import_events(_shift_dates(load_file(DEMO_FILE)), actor)
    spring = Event.objects.get(slug="spring-retreat")
    winter = Event.objects.get(slug="winter-silence")
    p = {person[0]: person for person in PEOPLE}
    s = (apply_payment, apply_booking)

    steps = [
        # COMPLETE: paid and booked
        (s[0], _pay("river", p["river"], SPRING, 12000, 80)),
        (s[1], _book("river", p["river"], spring, SPRING, 79)),
        (s[0], _pay("sky", p["sky"], SPRING, 12000, 60)),
        (s[1], _book("sky", p["sky"], spring, SPRING, 58)),
        (s[0], _pay("bay", p["bay"], SPRING, 12000, 30)),
        (s[1], _book("bay", p["bay"], spring, SPRING, 29)),
        # NEEDS_REVIEW: $40 of Bay's payment refunded in the Stripe Dashboard, a refund Stripe failed
        (
            s[0],
            PaymentSignal(
                status="refunded",
                source_id="re_demo_bay",
                refund_id="re_demo_bay",
                refund_status="failed",
                failure_reason="expired_or_canceled_card",
                charge_id="ch_demo_bay",
                payment_intent_id="pi_demo_bay",
                amount_refunded=4000,
                currency="usd",
                occurred_at=timezone.now() - timedelta(hours=25),
                raw_ref="demo:refund_failed",
            ),
        ),
        # PAID_ONLY (due a booking reminder) and BOOKED_ONLY (due a payment reminder)
        (s[0], _pay("ash", p["ash"], SPRING, 12000, 50)),
        (s[1], _book("cedar", p["cedar"], spring, SPRING, 40)),
        # NEEDS_REVIEW: same person, different emails (same phone)
        (s[0], _pay("dune", p["dune"], SPRING, 12000, 20)),
        (s[1], _book("dune2", p["dune"], spring, SPRING, 19, email="dune.home@example.org")),
        # NEEDS_REVIEW: group payment (3 seats)
        (s[0], _pay("elm", p["elm"], SPRING, 36000, 18, quantity=3)),
        # NEEDS_REVIEW: duplicate payment within 24 h
        (s[0], _pay("fern", p["fern"], SPRING, 12000, 10)),
        (s[1], _book("fern", p["fern"], spring, SPRING, 9)),
        (s[0], _pay("fern2", p["fern"], SPRING, 12000, 8)),
        # NEEDS_REVIEW: paid but cancelled
        (s[0], _pay("glen", p["glen"], SPRING, 12000, 70)),
        (s[1], _book("glen", p["glen"], spring, SPRING, 69)),
        (s[1], _book("glen", p["glen"], spring, SPRING, 5, status="cancelled")),
        # NEEDS_REVIEW: dispute
        (s[0], _pay("hazel", p["hazel"], SPRING, 12000, 90)),
        (s[1], _book("hazel", p["hazel"], spring, SPRING, 88)),
        (
            s[0],
            PaymentSignal(
                status="disputed",
                source_id="dp_demo_hazel",
                dispute_id="dp_demo_hazel",
                dispute_status="needs_response",
                charge_id="ch_demo_hazel",
                payment_intent_id="pi_demo_hazel",
                amount=12000,
                reason="fraudulent",
                occurred_at=timezone.now() - timedelta(hours=3),
                raw_ref="demo:dp",
            ),
        ),
        # REFUNDED
        (s[0], _pay("iris", p["iris"], SPRING, 12000, 100)),
        (
            s[0],
            PaymentSignal(
                status="refunded",
                source_id="ch_demo_iris",
                charge_id="ch_demo_iris",
                payment_intent_id="pi_demo_iris",
                amount_refunded=12000,
                occurred_at=timezone.now() - timedelta(hours=2),
                raw_ref="demo:refund",
            ),
        ),
        # CANCELLED: booked then cancelled, never paid
        (s[1], _book("juno", p["juno"], winter, WINTER, 30)),
        (s[1], _book("juno", p["juno"], winter, WINTER, 4, status="cancelled")),
        # PENDING: a bank debit still clearing
        (s[0], _pay("juno-spring", p["juno"], SPRING, 12000, 2, status="unpaid")),
        # NEEDS_REVIEW: booked, then a bank debit still awaiting funds 16 days on (see below)
        (s[1], _book("kai", p["kai"], spring, SPRING, 16 * 24 + 2)),
        (s[0], _pay("kai", p["kai"], SPRING, 12000, 16 * 24, status="unpaid")),
        # Donation event: booked is complete; a donor who has not booked yet
        (s[1], _book("river-w", p["river"], winter, WINTER, 12)),
        (s[0], _pay("sky-w", p["sky"], WINTER, 5000, 26)),
        # Same person registered twice: Lark booked the winter retreat from two addresses; at the
        # spring retreat Lark booked from home and paid from the other (merged below)
        (s[1], _book("lark-w", p["lark"], winter, WINTER, 14)),
        (s[1], _book("lark-w2", p["lark"], winter, WINTER, 13, email="lark.home@example.org")),
        (s[1], _book("lark", p["lark"], spring, SPRING, 7, email="lark.home@example.org")),
        (s[0], _pay("lark", p["lark"], SPRING, 12000, 6)),
        # Unmatched event: a payment link nobody mapped yet
        (s[0], _pay("stray", p["ash"], ("plink_unknownLink", None), 8000, 1)),
    ]
    for apply, signal in steps:
        apply(signal, actor, source=Source.DEMO)
    flag_stalled_debits()  # what the reminder scan does: Kai's debit goes to the exception queue
    # An operator accepts Lark's suggestion: both were at the winter retreat, which now shows
    # Lark's two registrations there as "same person registered twice".
    lark = ReviewItem.objects.filter(
        kind=ReviewItem.Kind.SUGGESTED_MATCH, state=ReviewItem.State.OPEN, registration__attendee__email=p["lark"][1]
    ).first()
    if lark is not None:
        accept_suggested_match(lark.pk, actor)
    if not Registration.objects.filter(event=spring, source=Source.WALK_IN).exists():
        enter_walk_in(
            event=spring,
            email="walk.in@example.org",
            name="Wren Walker",
            method="cash",
            amount=12000,
            actor=actor,
            note="paid at the door",
        )

    User = get_user_model()
    operator, created = User.objects.get_or_create(
        username=OPERATOR_USERNAME, defaults={"email": "operator@example.org", "is_staff": True, "is_superuser": True}
    )
    if created:
        operator.set_password(OPERATOR_PASSWORD)
        operator.save()
    cohost_user, _ = User.objects.get_or_create(username=COHOST_EMAIL, defaults={"email": COHOST_EMAIL})
    if cohost_user.has_usable_password():
        cohost_user.set_unusable_password()
        cohost_user.save()
    cohost, _ = CoHost.objects.get_or_create(user=cohost_user)
    CoHostGrant.objects.get_or_create(cohost=cohost, event=spring, defaults={"can_see_money": False})
    counts = {}
    for reg in Registration.objects.all():
        counts[reg.status] = counts.get(reg.status, 0) + 1
    say("registrations by status: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return counts
