"""Mounted at /cohost/ with namespace "cohost". Every URL here is read-only (GET), except the
sign-in and sign-out POSTs."""

from django.urls import path, re_path

from . import views

app_name = "cohost"

urlpatterns = [
    path("", views.index, name="index"),
    path("login/", views.login_view, name="login"),
    path("auth/", views.auth_view, name="auth"),
    path("logout/", views.logout_view, name="logout"),
    path("events/<slug:slug>/", views.event_detail, name="event"),
    path("events/<slug:slug>/attendees.csv", views.export_csv, name="export"),
    path("events/<slug:slug>/people/<str:reference>/", views.registration_detail, name="registration"),
    re_path(r"^calendar/(?P<token>[A-Za-z0-9_-]{16,64})\.ics$", views.calendar_feed, name="calendar"),
]
