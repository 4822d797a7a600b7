"""Every reminder email has an unsubscribe link in its body, also when an operator wrote their
own wording and left ``{{ unsubscribe_url }}`` out (the List-Unsubscribe header alone is shown
only by some mail apps, and only for some senders)."""

from notifications.render import render_reminder
from notifications.tokens import unsubscribe_url
from registrations.models import Status


def test_an_operators_own_email_wording_still_carries_the_unsubscribe_link(one_sided, event):
    event.email_text_template = "Hi {{ first_name }}, please {{ action }}: {{ link }}"
    event.email_html_template = (
        "<html><body><p>Hi {{ first_name }}, <a href='{{ link }}'>{{ action }}</a></p></body></html>"
    )
    event.save()
    reg = one_sided(Status.PAID_ONLY, name="River Stone")
    unsub = unsubscribe_url(reg.attendee_id)

    out = render_reminder(reg, "booking", status_url="https://x/s", unsubscribe_url=unsub)

    assert out.errors == []
    assert out.text.startswith("Hi River, please book your place: https://")
    assert out.text.rstrip().endswith(f"Unsubscribe: {unsub}")
    assert f'<a href="{unsub}">Unsubscribe</a>' in out.html
    assert out.html.index("Unsubscribe") < out.html.index("</body>")


def test_wording_that_already_has_the_unsubscribe_link_gets_no_second_one(one_sided, event):
    event.email_text_template = "{{ link }}\n\nNo more emails: {{ unsubscribe_url }}"
    event.email_html_template = "<p><a href='{{ link }}'>Go</a> · <a href='{{ unsubscribe_url }}'>Stop these</a></p>"
    event.save()
    reg = one_sided(Status.PAID_ONLY)
    unsub = unsubscribe_url(reg.attendee_id)

    out = render_reminder(reg, "booking", unsubscribe_url=unsub)

    assert out.text.count(unsub) == 1 and out.html.count(unsub) == 1
    default = render_reminder(one_sided(Status.PAID_ONLY), "booking", unsubscribe_url=unsub)
    assert default.text.count(unsub) == 1 and default.html.count(unsub) == 1
