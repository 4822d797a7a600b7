"""A co-host signs in for real, in Chromium: request a link, open it from the mail, press the
button, see only their own event. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import mail

# Playwright's sync API keeps an event loop running in this thread; Django's async-safety check
# would refuse the ORM calls made by the test itself (playwright-pytest #29).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SHOTS = Path(django_settings.BASE_DIR) / "test-artifacts" / "screenshots"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium"}


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"cohost-{name}.png"), full_page=True)


def test_cohost_signs_in_from_the_emailed_link_and_sees_only_their_event(page, live_server, world, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    page.goto(f"{live_server.url}/cohost/login/")
    shot(page, "1-login")
    page.fill("input[name=email]", "alice@example.net")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Check your email")
    shot(page, "2-link-sent")

    (message,) = mail.outbox
    link = re.search(r"https?://\S+/cohost/auth/\?t=\S+", message.body).group(0)
    page.goto(link)
    page.wait_for_selector("#sign-in")
    shot(page, "3-confirm")
    page.click("#sign-in")

    page.wait_for_selector("h1:has-text('Your events')")
    body = page.inner_text("body")
    assert "Spring retreat" in body and "Autumn retreat" not in body
    shot(page, "4-events")

    page.click("text=Spring retreat")
    page.wait_for_selector("table.attendees")
    body = page.inner_text("body")
    assert "spring.paidonly@example.org" in body
    assert not any(email in body for email in world.bob.emails)
    assert "123.45" not in body  # money hidden by default
    shot(page, "5-event")

    page.click("text=Still incomplete")
    page.wait_for_selector("text=booking a place")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "6-incomplete-phone")
