"""The operator workspace in a real browser (Debian's Chromium through Playwright): sign in with
the admin login form, open the dashboard, resolve one review item of each kind in the queue and
watch the counters change without a page reload, enter a walk-in, open a timeline in place, and
download the CSV. No CSP violation may appear in the console. Screenshots of every page go to
test-artifacts/screenshots/ (CI prints that folder's listing)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from registrations.models import Payment, Registration, ReviewItem, Status

from .conftest import OPERATOR_PASSWORD
from .scenario import make_event

pytestmark = pytest.mark.browser

SHOTS = Path(django_settings.BASE_DIR) / "test-artifacts" / "screenshots"


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"ops-{name}.png"), full_page=True)


def nav_count(page) -> str:
    return page.inner_text("#nav-queue-count").strip()


def resolve(page, card_selector, expected_text, count_after):
    page.wait_for_selector(f"{card_selector}.resolved", timeout=15000)
    assert expected_text in page.inner_text(card_selector)
    page.wait_for_function(
        "n => document.querySelector('#nav-queue-count').textContent.trim() === n", arg=str(count_after)
    )
    assert page.inner_text("#queue-total").strip() == str(count_after)


@pytest.fixture
def console_errors(page):
    """Console errors (CSP violations show up here), script errors and failed requests. The
    admin login page's /favicon.ico 404 is Django's, not ours: requests are checked by URL."""
    errors = []

    def on_console(msg):
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return errors


def test_an_operator_works_through_the_ops_pages(page, live_server, stripe_world, operator, console_errors, tmp_path):
    world = stripe_world
    items = {kind: item.pk for kind, item in world.items.items()}
    page.set_default_timeout(15000)

    # Sign in through the admin login form, coming from /ops/.
    page.goto(f"{live_server.url}/ops/")
    assert "/admin/login/" in page.url
    page.fill("#id_username", operator.username)
    page.fill("#id_password", OPERATOR_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("h1:has-text('Dashboard')")
    assert page.url == f"{live_server.url}/ops/"
    assert page.is_visible(f"article[data-event='{world.event.slug}'] svg.growth")
    shot(page, "1-dashboard")

    # The queue: six cards; resolve one of each kind in place.
    page.click("nav.main-nav >> text=Queue")
    page.wait_for_selector("h1:has-text('Exception queue')")
    assert nav_count(page) == "6"
    shot(page, "2-queue")
    page.evaluate("window.__noReload = 'still here'")

    card = f"#item-{items['suggested_match']}"
    page.click(f'{card} :is(button, a):has-text("Accept: same person")')
    resolve(page, card, "Merged", 5)

    card = f"#item-{items['group_payment']}"
    page.click(f'{card} :is(button, a):has-text("Assign 3 seats")')
    page.wait_for_selector(f"{card} form.seats-form")
    friend = Registration.objects.get(attendee__email="fran.friend@example.org")
    page.select_option(f"{card} select[name=seat_1_registration]", str(friend.pk))
    page.fill(f"{card} input[name=seat_2_name]", "Nia Named")
    page.fill(f"{card} input[name=seat_2_email]", "nia.named@example.org")
    shot(page, "3-queue-assign-seats")
    page.click(f'{card} :is(button, a):has-text("Assign seats")')
    resolve(page, card, "Seats assigned", 4)

    card = f"#item-{items['duplicate_payment']}"
    page.click(f'{card} :is(button, a):has-text("Refund the second payment")')
    page.wait_for_selector(f"{card} .confirm")
    assert "Refund $120.00?" in page.inner_text(card)
    shot(page, "4-queue-refund-confirm")
    page.click(f'{card} :is(button, a):has-text("Confirm refund of $120.00")')
    resolve(page, card, "Refunded $120.00", 3)

    card = f"#item-{items['paid_cancelled']}"
    page.fill(f"{card} input[name=amount]", "50")
    page.click(f'{card} :is(button, a):has-text("Refund…")')
    page.wait_for_selector(f"{card} .confirm")
    page.click(f'{card} :is(button, a):has-text("Confirm refund of $50.00")')
    resolve(page, card, "Refunded $50.00", 2)

    card = f"#item-{items['dispute']}"
    page.fill(f"{card} textarea[name=note]", "Evidence sent in the Stripe dashboard")
    page.click(f'{card} :is(button, a):has-text("Acknowledge")')
    resolve(page, card, "Dispute acknowledged", 1)

    card = f"#item-{items['unmatched_event']}"
    page.select_option(f"{card} select[name=event]", str(world.event.pk))
    page.click(f'{card} :is(button, a):has-text("Map to this event")')
    resolve(page, card, "Mapped to Spring retreat", 0)

    page.wait_for_selector("text=Nothing needs you right now")
    assert page.evaluate("window.__noReload") == "still here"  # every step happened in place
    shot(page, "5-queue-done")
    assert not ReviewItem.objects.filter(state=ReviewItem.State.OPEN).exists()
    assert len(Payment.objects.filter(amount_refunded__gt=0)) == 2

    # A walk-in.
    page.goto(f"{live_server.url}/ops/events/{world.event.slug}/walk-in/")
    page.fill("#id_name", "Wren Walkin")
    page.fill("#id_email", "wren.walkin@example.org")
    page.fill("#id_phone", "+1 415 555 0199")
    page.check("input[name=method][value=card_in_person]")
    page.fill("#id_amount", "120")
    shot(page, "6-walk-in-form")
    page.click("text=Enter walk-in")
    page.wait_for_selector("text=Walk-in entered: Wren Walkin")
    shot(page, "7-walk-in-done")
    assert Registration.objects.get(attendee__email="wren.walkin@example.org").status == Status.COMPLETE

    # The event page: open a registration's timeline in place.
    page.goto(f"{live_server.url}/ops/events/{world.event.slug}/?q=wren")
    reg = Registration.objects.get(attendee__email="wren.walkin@example.org")
    page.click(f"#reg-{reg.pk} a.reg-open")
    page.wait_for_selector(f"#tl-{reg.pk}.is-open")
    assert "Walk-in entered" in page.inner_text(f"#tl-{reg.pk}")
    shot(page, "8-event-timeline")

    # Download the CSV.
    page.goto(f"{live_server.url}/ops/events/{world.event.slug}/")
    shot(page, "9-event")
    with page.expect_download() as info:
        page.click("text=Export CSV")
    path = tmp_path / "export.csv"
    info.value.save_as(path)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_email = {r["Email"]: r for r in rows}
    assert by_email["wren.walkin@example.org"]["Payment methods"] == "Card in person"
    assert by_email["wren.walkin@example.org"]["Paid"] == "120.00"
    assert by_email["dana.double@example.org"]["Refunded"] == "120.00"
    assert by_email["nia.named@example.org"]["Status"] == "Paid, not booked"
    assert by_email["calm.complete@example.org"]["Intake: Dietary needs"] == "vegan"
    assert len(rows) == Registration.objects.filter(event=world.event).count()

    assert [e for e in console_errors if "Content Security Policy" in e or "Refused" in e] == []
    assert console_errors == []


def test_the_pages_fit_a_phone(browser, live_server, world, operator):
    from django.test import Client

    client = Client()
    client.force_login(operator)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    phone = context.new_page()
    for name, path in (
        ("phone-dashboard", "/ops/"),
        ("phone-event", f"/ops/events/{world.event.slug}/"),
        ("phone-queue", "/ops/queue/"),
    ):
        phone.goto(f"{live_server.url}{path}")
        # Nothing wider than the screen: no sideways scrolling.
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390 + 1, path
        shot(phone, name)
    context.close()


def phone_page(browser, live_server, operator):
    """A signed-in 390 px wide phone page (and its context, to close)."""
    from django.test import Client

    client = Client()
    client.force_login(operator)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    return context, context.new_page()


def overflowing(page) -> list[str]:
    """Elements that stick out past the right edge of a 390 px screen."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('body *'))
            .filter(el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.right > 391; })
            .map(el => el.tagName + ' ' + (el.getAttribute('name') || el.className || ''))"""
    )


def test_queue_cards_with_a_long_event_name_fit_a_phone(browser, live_server, world, operator):
    """The 'Map to this event' list names every event; a long name used to widen the Unmatched
    event card past the screen (the 'Not ours' hint cut off at the right edge), and the seat
    pickers of a group payment stuck out of their card."""
    make_event(
        plink="plink_long_name",
        atype="9999",
        name="Winter Silent Retreat (donation-based, bring your own cushion)",
        slug="winter-silence",
    )
    context, phone = phone_page(browser, live_server, operator)
    phone.goto(f"{live_server.url}/ops/queue/?kind=unmatched_event")
    assert overflowing(phone) == []
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390 + 1

    phone.goto(f"{live_server.url}/ops/queue/?kind=group_payment")
    phone.click('.card :is(button, a):has-text("Assign 3 seats")')
    phone.wait_for_selector("form.seats-form")
    shot(phone, "phone-queue-assign-seats")
    assert overflowing(phone) == []
    context.close()


def test_the_status_page_fits_a_phone(browser, live_server, operator):
    """/ops/status/ on a fresh install lists the missing schedules by their dotted names
    (registrations.cohost.daily_digest…); those used to make the table 533 px wide on a phone."""
    context, phone = phone_page(browser, live_server, operator)
    phone.goto(f"{live_server.url}/ops/status/")
    assert "registrations.cohost.daily_digest" in phone.inner_text("table")
    shot(phone, "phone-status")
    assert overflowing(phone) == []
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    context.close()


def _contrast(rgb_a: str, rgb_b: str) -> float:
    def luminance(rgb: str) -> float:
        channels = [int(x) / 255 for x in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(rgb_a), luminance(rgb_b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_keyboard_focus_is_visible_on_cards_and_in_the_top_bar(browser, live_server, world, operator):
    """Tabbing through the queue: the focus ring must stand out (3:1) from what is around it. It
    was a pale mint (1.5:1 on a white card: the focused link or button could not be found), and the
    top bar's Sign out button had the browser's near-black ring on the dark green bar."""
    context, phone = phone_page(browser, live_server, operator)
    phone.goto(f"{live_server.url}/ops/queue/")
    ring = (
        "el => { const s = getComputedStyle(el); return [s.outlineStyle, parseFloat(s.outlineWidth), s.outlineColor]; }"
    )
    for selector, background in (
        (".card .card-head a", "rgb(255, 255, 255)"),  # the event link on a card
        (".card button.button.secondary", "rgb(255, 255, 255)"),
        (".card button.button:not(.secondary)", "rgb(255, 255, 255)"),
        (".main-nav button.link-button", "rgb(23, 53, 45)"),  # Sign out, on the dark top bar
        (".main-nav a", "rgb(23, 53, 45)"),
    ):
        phone.focus(selector)
        style, width, colour = phone.eval_on_selector(selector, ring)
        assert style not in ("none", "auto") and width >= 2, (selector, style, width)
        assert _contrast(colour, background) >= 3, (selector, colour)
    context.close()


def test_the_seat_rows_of_a_group_payment_are_numbered(browser, live_server, world, operator):
    """Three identical 'Booking / or name / Email' blocks in a row: without 'Seat 1', 'Seat 2'…
    the operator could not tell where one seat ends and the next begins (on a phone above all)."""
    context, phone = phone_page(browser, live_server, operator)
    phone.goto(f"{live_server.url}/ops/queue/?kind=group_payment")
    phone.click('.card :is(button, a):has-text("Assign 3 seats")')
    phone.wait_for_selector("form.seats-form")
    # The payer takes seat 1 (ticked by default): the rows are the other two seats.
    labels = [text.strip() for text in phone.locator(".seat-row:visible .seat-n").all_inner_texts()]
    assert labels == ["Seat 2", "Seat 3"]
    phone.uncheck("input[name=payer_takes_seat]")
    labels = [text.strip() for text in phone.locator(".seat-row:visible .seat-n").all_inner_texts()]
    assert labels == ["Seat 1", "Seat 2", "Seat 3"]
    assert all(phone.locator(".seat-row .seat-n").nth(i).is_visible() for i in range(3))
    context.close()
