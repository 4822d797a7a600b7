"""Running the operators' digest again the same day (the command by hand after the schedule, or
a second worker) sends nothing new, and says so: it reported every operator as sent again."""

from io import StringIO

from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command

from notifications.digest import send_digest
from registrations.models import ReviewItem


def test_a_second_digest_the_same_day_reports_none_sent(db):
    User = get_user_model()
    User.objects.create_user("ana", "ana@example.org", "x", is_staff=True)
    User.objects.create_user("ben", "ben@example.org", "x", is_staff=True)
    ReviewItem.objects.create(kind="dispute", key="d1", explanation="Chargeback on River's payment")

    assert send_digest()["sent"] == 2

    out = StringIO()
    call_command("send_operator_digest", stdout=out)  # an operator runs it again by hand

    assert len(mail.outbox) == 2  # nothing sent twice...
    assert "'sent': 0" in out.getvalue()  # ...and the command does not claim otherwise
