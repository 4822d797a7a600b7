from django.contrib import admin
from django.urls import include, path

from jlf import health

admin.site.site_header = "JLF Registrations"
admin.site.site_title = "JLF Registrations"
admin.site.index_title = "Operations"
# "View site" goes to the operator dashboard: the site root has no page of its own.
admin.site.site_url = "/ops/"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("ops/status/", health.status, name="ops-status"),
    path("admin/", admin.site.urls),
    path("webhooks/", include("integrations.urls", namespace="integrations")),
    path("cohost/", include("registrations.cohost.urls", namespace="cohost")),
    path("ops/", include("registrations.ops.urls", namespace="ops")),
    path("r/", include("integrations.handoff_urls", namespace="handoff")),
    # /webhooks/resend/, /webhooks/twilio/status/, /webhooks/twilio/inbound/ and /n/… pages
    path("", include("notifications.urls", namespace="notifications")),
]
