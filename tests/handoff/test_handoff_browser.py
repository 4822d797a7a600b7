"""The handoff pages in real Chromium on a 375 px phone, with the production CSP in force.
Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings

# Playwright's sync API keeps an event loop running in this thread; Django's async-safety check
# would refuse the ORM calls made by the test itself (playwright-pytest #29).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SHOTS = Path(django_settings.BASE_DIR) / "test-artifacts" / "screenshots"
PHONE = {"width": 375, "height": 740}
LONG_NAME = "Wolfeschlegelsteinhausenbergerdorff-Montgomery Sky"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": ["--no-sandbox"]}


def test_a_group_payer_with_a_long_name_sees_every_seat_link_on_a_phone(
    page, live_server, fake_stripe, fake_acuity, event
):
    s = fake_stripe.add_session(email="sky@example.org", name=LONG_NAME, quantity=3, amount=36000)
    refused = []
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.set_viewport_size(PHONE)

    page.goto(f"{live_server.url}/r/paid/?session_id={s['id']}&event=spring-retreat")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "handoff-group-phone-long-name.png"), full_page=True)

    assert refused == []
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.get_by_role("link", name="Book my place").is_visible()
    assert page.get_by_role("link", name="Booking link").count() == 2
    assert page.get_by_label("Booking link for seat 2 (select to copy)").is_visible()
