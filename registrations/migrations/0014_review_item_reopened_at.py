"""ReviewItem.reopened_at: when a closed card last opened again, so the queue reads "reopened N min
ago" instead of "opened" from its first opening. Cards open now that were reopened before this
field existed take the time of their latest "review.reopened" audit row."""

from django.db import migrations, models
from django.db.models import CharField, OuterRef, Subquery
from django.db.models.functions import Cast


def from_the_audit_trail(apps, schema_editor):
    ReviewItem = apps.get_model("registrations", "ReviewItem")
    AuditLog = apps.get_model("registrations", "AuditLog")
    latest = (
        AuditLog.objects.filter(
            action="review.reopened",
            object_type="ReviewItem",
            object_id=Cast(OuterRef("pk"), output_field=CharField()),
        )
        .order_by("-created_at", "-id")
        .values("created_at")[:1]
    )
    ReviewItem.objects.filter(state="open").update(reopened_at=Subquery(latest))


class Migration(migrations.Migration):
    dependencies = [
        ("registrations", "0013_refund_failure_reason"),
    ]

    operations = [
        migrations.AddField(
            model_name="reviewitem",
            name="reopened_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(from_the_audit_trail, migrations.RunPython.noop, elidable=True),
    ]
