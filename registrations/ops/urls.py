"""/ops/ — mounted in jlf/urls.py with namespace "ops"."""

from django.urls import path

from . import dashboard, events, exports, queue, walkins

app_name = "ops"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("events/<slug:slug>/", events.event_page, name="event"),
    path("events/<slug:slug>/walk-in/", walkins.walk_in, name="walk_in"),
    path("events/<slug:slug>/export.<str:fmt>", exports.export, name="export"),
    path("events/<slug:slug>/registrations/<int:pk>/", events.registration_page, name="registration"),
    path("events/<slug:slug>/registrations/<int:pk>/mark-paid/", events.mark_paid, name="mark_paid"),
    path("events/<slug:slug>/registrations/<int:pk>/mark-booked/", events.mark_booked, name="mark_booked"),
    path("queue/", queue.queue, name="queue"),
    path("queue/<int:pk>/", queue.card, name="queue_card"),
    path("queue/<int:pk>/<slug:name>/", queue.action, name="queue_action"),
]
