"""Mounted at ``/r/`` (jlf/urls.py): the pages Stripe and Acuity send attendees back to."""

from django.urls import path

from . import handoff_views

app_name = "handoff"

urlpatterns = [
    path("paid/", handoff_views.paid, name="paid"),
    path("booked/", handoff_views.booked, name="booked"),
]
