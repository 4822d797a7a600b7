"""The attendee pages (/n/status/…, /n/unsubscribe/…) in real Chromium, on a phone-sized screen,
with the production Content-Security-Policy in force. Screenshots go to
test-artifacts/screenshots/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from notifications.tokens import status_token, unsubscribe_token
from registrations.models import Status

# Playwright's sync API keeps an event loop running in this thread; Django's async-safety check
# would refuse the ORM calls made by the test itself (playwright-pytest #29).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SHOTS = Path(django_settings.BASE_DIR) / "test-artifacts" / "screenshots"
PHONE = {"width": 375, "height": 740}

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": ["--no-sandbox"]}


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"attendee-{name}.png"), full_page=True)


def open_on_phone(page, url):
    """Open ``url`` at 375 px and return the console's CSP complaints."""
    refused = []
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.set_viewport_size(PHONE)
    page.goto(url)
    return refused


def test_on_a_phone_the_status_page_is_styled_and_its_one_link_is_a_real_button(page, live_server, one_sided):
    reg = one_sided(Status.PAID_ONLY, name="River Stone")
    refused = open_on_phone(page, f"{live_server.url}/n/status/{status_token(reg.pk)}/")
    shot(page, "status-phone")

    assert refused == []  # nothing the page relies on is blocked by our own CSP
    button = page.get_by_role("link", name="Book my place")
    assert button.is_visible()
    box = button.bounding_box()
    style = button.evaluate("el => { const s = getComputedStyle(el); return [s.backgroundColor, s.color]; }")
    assert style == ["rgb(47, 93, 58)", "rgb(255, 255, 255)"]  # the green button, not a bare link
    assert box["height"] >= 40 and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.title().startswith("Spring Retreat")


def test_on_a_phone_the_unsubscribe_page_is_styled_and_its_controls_are_labelled(page, live_server, one_sided):
    reg = one_sided(Status.PAID_ONLY, phone="+14155550123")
    refused = open_on_phone(page, f"{live_server.url}/n/unsubscribe/{unsubscribe_token(reg.attendee_id)}/")
    shot(page, "unsubscribe-phone")

    assert refused == []
    assert page.get_by_label("Also stop reminder text messages").is_visible()
    button = page.get_by_role("button", name="Unsubscribe")
    assert button.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(47, 93, 58)"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_very_long_name_or_event_title_does_not_push_the_status_page_wider_than_a_phone(
    page, live_server, one_sided, event
):
    event.name = "Waldbaden-und-Schweigeretreat-Wochenende-im-Just-Love-Forest"
    event.save()
    reg = one_sided(Status.PAID_ONLY, name="Wolfeschlegelsteinhausenbergerdorff-Montgomery Stone")
    open_on_phone(page, f"{live_server.url}/n/status/{status_token(reg.pk)}/")
    shot(page, "status-phone-long-names")

    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.get_by_role("link", name="Book my place").is_visible()


def test_the_admin_reminder_preview_works_under_the_csp_and_shows_the_email_styled(
    browser, live_server, one_sided, admin_user
):
    """The preview is where an operator checks a reminder before it goes out: choosing the
    event must work (no inline handler the CSP blocks), and the email must look as it will in a
    mail client (its inline styles applied in the preview frame)."""
    from django.test import Client

    reg = one_sided(Status.PAID_ONLY, name="River Stone")
    client = Client()
    client.force_login(admin_user)
    context = browser.new_context()
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    page = context.new_page()
    refused = []
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)

    page.goto(f"{live_server.url}/admin/notifications/notificationlog/preview/")
    page.select_option("select[name=event]", str(reg.event.pk))
    page.get_by_role("button", name="Choose").click()
    page.get_by_role("button", name="Preview").click()

    assert page.get_by_text(f"Policy for {reg.event.name}").is_visible()
    frame = page.frame_locator("iframe.pv-frame")
    background = frame.locator("body").evaluate("el => getComputedStyle(el).backgroundColor")
    assert background == "rgb(245, 243, 238)"  # the email's own inline style
    assert refused == []
    context.close()


def _clearing_debit(one_sided):
    """Paid by bank debit (awaiting funds), not booked yet."""
    from registrations.models import Payment

    reg = one_sided(Status.PAID_ONLY, name="Juno Baptiste")
    Payment.objects.create(
        registration=reg, event=reg.event, state=Payment.State.UNPAID, amount=12000, manual_key="debit-1"
    )
    return reg


def test_a_bank_payment_still_clearing_is_not_shown_as_a_red_cross_nor_as_nothing_left_to_do(
    page, live_server, one_sided
):
    """The payment line is on its way (not the red cross of "not paid"), and it does not say
    "there is nothing more to do" right above the button for the booking still to do."""
    reg = _clearing_debit(one_sided)
    refused = open_on_phone(page, f"{live_server.url}/n/status/{status_token(reg.pk)}/")
    shot(page, "status-clearing-phone")

    payment_line = page.locator(".steps li").first
    assert "on its way" in payment_line.inner_text()
    assert "no need to pay again" in payment_line.inner_text()
    assert "nothing more to do" not in page.inner_text("main")
    mark = payment_line.locator(".mark")
    assert mark.inner_text() != "✗"
    assert mark.evaluate("el => getComputedStyle(el).color") != "rgb(162, 59, 42)"  # not the red of "not done"
    assert page.get_by_role("link", name="Book my place").is_visible()
    assert refused == []


def test_at_320_px_the_tick_and_cross_marks_stay_round_beside_a_line_that_wraps(page, live_server, one_sided):
    reg = _clearing_debit(one_sided)  # the longest line the page shows: it wraps at 320 px
    page.set_viewport_size({"width": 320, "height": 700})
    page.goto(f"{live_server.url}/n/status/{status_token(reg.pk)}/")
    shot(page, "status-clearing-320")

    assert page.locator(".steps li").first.evaluate("el => el.getBoundingClientRect().height") > 60  # it wraps
    for mark in page.locator(".steps .mark").all():
        box = mark.bounding_box()
        assert abs(box["width"] - box["height"]) < 1, box  # a circle, not squeezed into an oval
    assert page.evaluate("document.documentElement.scrollWidth") <= 320


def test_after_unsubscribing_reload_and_back_then_forward_do_not_resend_the_form(page, live_server, one_sided):
    """The confirmation is reached by a redirect (post/redirect/get): reloading it, or going back
    and forward again, shows it again, with no "Confirm form resubmission" and no second POST."""
    reg = one_sided(Status.PAID_ONLY)
    url = f"{live_server.url}/n/unsubscribe/{unsubscribe_token(reg.attendee_id)}/"
    posts = []
    page.on("request", lambda req: posts.append(req.url) if req.method == "POST" else None)
    page.set_viewport_size(PHONE)
    page.goto(url)
    page.get_by_role("button", name="Unsubscribe").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="You're unsubscribed").is_visible()

    page.reload()
    assert page.get_by_role("heading", name="You're unsubscribed").is_visible()
    page.go_back()
    page.go_forward()  # raised net::ERR_CACHE_MISS on a page that was the answer to a POST
    assert page.get_by_role("heading", name="You're unsubscribed").is_visible()
    assert len(posts) == 1
    reg.attendee.refresh_from_db()
    assert reg.attendee.email_opt_out


CONTRAST_JS = """() => {
  const lum = (rgb) => {
    const [r, g, b] = rgb.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number).map((v) => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const bg = getComputedStyle(el).backgroundColor;
      if (bg && bg !== "rgba(0, 0, 0, 0)" && bg !== "transparent") return bg;
    }
    return "rgb(255, 255, 255)";
  };
  const low = [];
  for (const el of document.body.querySelectorAll("*")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const a = lum(getComputedStyle(el).color), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push(`${el.textContent.trim().slice(0, 40)}: ${ratio.toFixed(2)}`);
  }
  return low;
}"""


def test_every_line_of_the_reminder_email_is_readable_against_its_background(page, one_sided):
    """WCAG AA: at least 4.5:1 for text, the small "Unsubscribe" footer included."""
    from notifications.render import render_reminder

    reg = one_sided(Status.BOOKED_ONLY)
    for own_wording in ("", "<p>Hi {{ first_name }}, <a href='{{ link }}'>pay here</a>.</p>"):
        reg.event.email_html_template = own_wording  # without {{ unsubscribe_url }}: our footer is added
        out = render_reminder(reg, "payment", status_url="https://x.example/s", unsubscribe_url="https://x.example/u")
        page.set_viewport_size(PHONE)
        page.set_content(out.html)
        assert page.get_by_role("link", name="Unsubscribe").is_visible()
        assert page.evaluate(CONTRAST_JS) == []


def test_a_reminder_email_with_a_very_long_name_and_event_title_fits_a_320_px_phone(page, one_sided, event):
    from notifications.render import render_reminder

    event.name = "Waldbaden-und-Schweigeretreat-Wochenende-im-Just-Love-Forest"
    event.save()
    reg = one_sided(Status.BOOKED_ONLY, name="Wolfeschlegelsteinhausenbergerdorff-Montgomery Stone")
    out = render_reminder(reg, "payment", status_url="https://x.example/s", unsubscribe_url="https://x.example/u")
    page.set_viewport_size({"width": 320, "height": 700})
    page.set_content(out.html)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "attendee-reminder-email-320-long-names.png"), full_page=True)

    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert page.get_by_role("link", name="Complete my payment").is_visible()
