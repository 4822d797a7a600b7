"""Admin: the message log, reminders, and the reminder preview.

Both logs are history and read-only. Operators can:

* preview an event's reminder wording rendered for a real registration
  (``/admin/notifications/notificationlog/preview/?event=<id>``; also a button on each Event's
  admin page), with template errors, SMS length and segment count;
* "retry now" a queued message or a deferred reminder (it goes out with the next scan, still
  through every check: opt-outs, live check, quiet hours).
"""

from __future__ import annotations

from csp.decorators import csp_update
from django.contrib import admin, messages
from django.db.models import Case, Q, When
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from registrations.models import Attendee, Event, Registration, Status

from .models import NotificationLog, Reminder
from .policy import MISSING_FOR_STATUS, channels_for, in_quiet_hours, quiet_hours_end
from .reminders import unsubscribe_headers
from .render import render_reminder, sms_size
from .schedules import SCHEDULES
from .tokens import status_url, unsubscribe_url


def scan_minutes() -> int | None:
    """How often the reminder scan runs (``notifications.schedules``), for the empty lists' wording."""
    return next((s.get("minutes") for s in SCHEDULES if s["name"] == "notifications.reminders"), None)


class ReadOnlyAdmin(admin.ModelAdmin):
    def changelist_view(self, request, extra_context=None):
        # An empty list explains itself (admin/notifications/<model>/change_list.html).
        return super().changelist_view(request, {"scan_minutes": scan_minutes(), **(extra_context or {})})

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(NotificationLog)
class NotificationLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "channel", "kind", "recipient", "status", "provider", "attempts", "registration_link")
    list_filter = ("status", "channel", "kind", "provider")
    search_fields = ("recipient", "provider_id", "uuid", "subject", "registration__reference", "dedupe_key")
    list_select_related = ("registration__event", "registration__attendee")
    date_hierarchy = "created_at"
    actions = ["retry_now"]
    readonly_fields = [f.name for f in NotificationLog._meta.fields]

    @admin.display(description="registration")
    def registration_link(self, obj):
        if not obj.registration_id:
            return "—"
        url = reverse("admin:registrations_registration_change", args=[obj.registration_id])
        return format_html('<a href="{}">{}</a>', url, obj.registration.reference)

    @admin.action(description="Retry now (queued messages only)")
    def retry_now(self, request, queryset):
        n = queryset.filter(status=NotificationLog.Status.QUEUED).update(next_attempt_at=timezone.now())
        self.message_user(request, f"{n} queued message(s) will be retried by the next scan (within 5 minutes).")

    def get_urls(self):
        custom = [
            path("preview/", self.admin_site.admin_view(self.preview_view), name="notifications_preview"),
        ]
        return custom + super().get_urls()

    def preview_view(self, request):
        return reminder_preview(request, self.admin_site)


@admin.register(Reminder)
class ReminderAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "registration", "number", "missing", "status", "attempts", "retry_at", "note")
    list_filter = ("status", "missing")
    search_fields = ("registration__reference", "registration__attendee__email", "note")
    list_select_related = ("registration__attendee", "registration__event")
    raw_id_fields = ("registration",)
    actions = ["retry_now"]
    readonly_fields = [f.name for f in Reminder._meta.fields]

    @admin.action(description="Retry now (deferred reminders only)")
    def retry_now(self, request, queryset):
        n = queryset.filter(status=Reminder.Status.DEFERRED).update(retry_at=timezone.now())
        self.message_user(request, f"{n} deferred reminder(s) will be picked up by the next scan.")


def _sample_registration(event: Event) -> Registration:
    """An unsaved stand-in when the event has no registrations yet (nothing is written)."""
    return Registration(
        event=event,
        attendee=Attendee(email="river.stone@example.org", name="River Stone", phone="+14155550123"),
        reference="RSAMPLE0000000000",
        status=Status.PAID_ONLY,
    )


# The email HTML is shown in a sandboxed iframe (srcdoc, no scripts), which inherits this page's
# CSP: reminder emails are styled inline (mail clients ignore stylesheets), so this one page
# allows inline styles, or the preview would show the email unstyled. Scripts stay 'self' only.
@csp_update({"style-src": ["'unsafe-inline'"]})
def reminder_preview(request, admin_site):
    events = Event.objects.order_by("-starts_at")[:200]
    event = None
    if request.GET.get("event", "").isdecimal():  # not isdigit(): "²" is a digit that int() refuses
        event = get_object_or_404(Event, pk=int(request.GET["event"]))
    context = {**admin_site.each_context(request), "title": "Reminder preview", "events": events, "event": event}
    if event is None:
        return TemplateResponse(request, "admin/notifications/preview.html", context)

    candidates = list(
        Registration.objects.filter(event=event)
        .select_related("attendee")
        # one-sided registrations first: they are the ones reminders go to
        .annotate(one_sided=Case(When(status__in=list(MISSING_FOR_STATUS), then=0), default=1))
        .order_by("one_sided", "-status_changed_at")[:50]
    )
    registration = None
    ref = request.GET.get("registration", "").strip()
    if ref:
        registration = (
            Registration.objects.select_related("attendee", "event")
            .filter(event=event)
            .filter(Q(reference=ref) | Q(pk=int(ref) if ref.isdecimal() else -1))
            .first()
        )
        if registration is None:
            messages.warning(request, f"No registration {ref} on this event; showing another one.")
    if registration is None and candidates:
        registration = candidates[0]
    sample = registration is None
    if sample:
        registration = _sample_registration(event)
    missing = request.GET.get("missing") or MISSING_FOR_STATUS.get(registration.status) or "booking"
    if missing not in ("booking", "payment"):
        missing = "booking"
    pk = registration.pk or 0
    unsub = unsubscribe_url(registration.attendee.pk or 0)
    rendered = render_reminder(registration, missing, 1, status_url=status_url(pk), unsubscribe_url=unsub)
    now = timezone.now()
    context.update(
        {
            "registration": registration,
            "candidates": candidates,
            "sample": sample,
            "missing": missing,
            "rendered": rendered,
            "channels": channels_for(registration),
            "headers": unsubscribe_headers(unsub),
            "sms_size": sms_size(rendered.sms),
            "quiet_now": in_quiet_hours(event, now),
            "quiet_until": quiet_hours_end(event, now),
        }
    )
    return TemplateResponse(request, "admin/notifications/preview.html", context)
