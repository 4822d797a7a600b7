"""factory-boy factories shared by all tests. Append new ones at the end."""

from datetime import timedelta

import factory
from django.utils import timezone

from registrations.models import Attendee, Event, EventMapping, Registration


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    name = factory.Sequence(lambda n: f"Retreat {n}")
    slug = factory.Sequence(lambda n: f"retreat-{n}")
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(hours=6))
    timezone = "America/Los_Angeles"
    location = "Just Love Forest"
    kind = Event.Kind.PAID
    price = 12000
    capacity = 40
    stripe_payment_link_url = factory.Sequence(lambda n: f"https://buy.stripe.com/test_{n}")
    acuity_scheduling_url = factory.Sequence(
        lambda n: f"https://app.acuityscheduling.com/schedule.php?owner=1&appointmentType={n}"
    )


class EventMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EventMapping

    kind = EventMapping.Kind.STRIPE_PAYMENT_LINK
    value = factory.Sequence(lambda n: f"plink_{n}")
    event = factory.SubFactory(EventFactory)


class AttendeeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attendee

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    name = factory.Faker("name")
    phone = ""


class RegistrationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Registration

    attendee = factory.SubFactory(AttendeeFactory)
    event = factory.SubFactory(EventFactory)


# --- Co-hosts (registrations/cohost) ---------------------------------------------------------
from django.contrib.auth.hashers import make_password  # noqa: E402


class CoHostUserFactory(factory.django.DjangoModelFactory):
    """A passwordless user, as ``invite_cohost`` makes them."""

    class Meta:
        model = "auth.User"
        django_get_or_create = ("username",)

    email = factory.Sequence(lambda n: f"cohost{n}@example.net")
    username = factory.LazyAttribute(lambda o: o.email)
    first_name = factory.Faker("first_name")
    # What set_unusable_password() stores: "!" + random, so sesame tokens are per-user unique.
    password = factory.LazyFunction(lambda: make_password(None))


class CoHostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "registrations.CoHost"

    user = factory.SubFactory(CoHostUserFactory)


class CoHostGrantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "registrations.CoHostGrant"

    cohost = factory.SubFactory(CoHostFactory)
    event = factory.SubFactory(EventFactory)
    can_see_money = False
