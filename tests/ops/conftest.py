"""Personas and worlds for the operator pages, plus the Playwright fixtures for the browser test.

Personas (checked on every /ops/ URL): anonymous, a signed-in user who is not staff, a co-host
(a user with a registrations.CoHost row — even one wrongly flagged staff), and the operator.
"""

from __future__ import annotations

import os

import pytest
from django.contrib.auth import get_user_model

from registrations.models import CoHost

from .scenario import build_world, make_event

# Playwright's sync API keeps an event loop running in the main thread; Django's async-safety
# check would refuse every ORM call made by the live server's test data setup.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
OPERATOR_PASSWORD = "Operator-Pass-4821"


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_user("olive.operator", "olive@jlf.example", OPERATOR_PASSWORD, is_staff=True)


@pytest.fixture
def ops_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def htmx_headers():
    """What htmx sends with every request (so views answer with a fragment)."""

    def make(current_url="http://testserver/ops/queue/", target=None):
        headers = {"HX-Request": "true", "HX-Current-URL": current_url}
        if target:
            headers["HX-Target"] = target
        return headers

    return make


@pytest.fixture
def plain_user(db):
    return get_user_model().objects.create_user("norm.user", "norm@example.org", "pw-norm-123")


@pytest.fixture
def cohost_user(db):
    user = get_user_model().objects.create_user("cora.cohost", "cora@example.org", "pw-cora-123")
    CoHost.objects.create(user=user)
    return user


@pytest.fixture
def staff_cohost_user(db):
    """A co-host account someone flagged staff by mistake: still no operator access."""
    user = get_user_model().objects.create_user("sam.staffcohost", "sam@example.org", "pw-sam-123", is_staff=True)
    CoHost.objects.create(user=user)
    return user


@pytest.fixture
def event(db):
    return make_event()


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def stripe_world(db, fake_stripe):
    """The same world, with the duplicate and paid-but-cancelled payments in the fake Stripe."""
    return build_world(fake_stripe)


# --- Browser (Playwright against Debian's Chromium; never downloads a browser) ---------------
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": CHROMIUM_ARGS,
    }
