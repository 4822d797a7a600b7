"""The admin's event page shows the start and end in the EVENT's time zone (its help text says
so). Django's calendar script added "Note: You are 8 hours ahead of server time." beside them,
comparing the operator's browser with that zone as if it were the server's: misleading, and it
contradicted the help text. The note is gone from those fields; the calendar and clock shortcuts
stay, and "Now" still fills in the time in the event's zone."""

from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.test import Client

from tests.factories import EventFactory

# Playwright's sync API keeps an event loop running in this thread (see the other browser tests).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium"}


def test_the_event_page_says_only_which_zone_its_times_are_in(browser, live_server, admin_user):
    event = EventFactory(
        timezone="America/Los_Angeles",
        starts_at=datetime(2026, 12, 15, 10, 0, tzinfo=ZoneInfo("America/Los_Angeles")),
    )
    client = Client()
    client.force_login(admin_user)
    context = browser.new_context(timezone_id="Europe/London")  # 8 hours ahead of Los Angeles
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    page = context.new_page()

    page.goto(f"{live_server.url}/admin/registrations/event/{event.pk}/change/", wait_until="load")
    page.wait_for_selector(".field-starts_at .datetimeshortcuts")

    assert page.locator(".field-starts_at input[name=starts_at_1]").input_value() == "10:00:00"
    starts = page.inner_text(".field-starts_at")
    assert "server time" not in starts and "server time" not in page.inner_text(".field-ends_at")
    assert "In the event's time zone" in starts
    assert page.locator(".field-starts_at .timezonewarning, .field-ends_at .timezonewarning").count() == 0
    # "Now" still reads the clock in the event's zone, not the browser's.
    page.locator(".field-starts_at .datetimeshortcuts a", has_text="Now").click()
    now_la = datetime.now(ZoneInfo("America/Los_Angeles"))
    assert page.locator(".field-starts_at input[name=starts_at_1]").input_value()[:2] == f"{now_la:%H}"
    context.close()
