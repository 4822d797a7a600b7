"""A fake Acuity Scheduling API v1 (``/api/v1/appointments``) plus the webhook body and signer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from datetime import datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from .base import FakeServer

_ids = itertools.count(900000100)


def sign(body: bytes, api_key: str) -> str:
    """``X-Acuity-Signature``: base64(HMAC-SHA256(api key, raw body))."""
    return base64.b64encode(hmac.new(api_key.encode(), body, hashlib.sha256).digest()).decode()


def webhook_body(appointment: dict, action: str = "scheduled") -> bytes:
    return urlencode(
        {
            "action": action,
            "id": appointment["id"],
            "calendarID": appointment["calendarID"],
            "appointmentTypeID": appointment["appointmentTypeID"],
        }
    ).encode()


class FakeAcuity(FakeServer):
    def __init__(self, user_id: str = "12345", api_key: str = "acuity-test-key"):
        super().__init__()
        self.user_id = user_id
        self.api_key = api_key
        self.appointments: dict[int, dict] = {}
        self.route("GET", r"/api/v1/appointments", self._list)
        self.route("GET", r"/api/v1/appointments/(\d+)", self._get)
        self.route("GET", r"/api/v1/appointment-types", self._types)
        self.route("GET", r"/api/v1/calendars", self._calendars)

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/v1"

    def add_appointment(
        self,
        *,
        email: str = "river.stone@example.org",
        first_name: str = "River",
        last_name: str = "Stone",
        phone: str = "(415) 555-0123",
        appointment_type_id: int = 4440001,
        calendar_id: int = 6001,
        starts_at: datetime | None = None,
        tz: str = "America/Los_Angeles",
        canceled: bool = False,
        forms: list | None = None,
        appointment_id: int | None = None,
        intake: dict | None = None,
    ) -> dict:
        aid = appointment_id or next(_ids)
        starts = (
            starts_at
            or (datetime.now(ZoneInfo(tz)) + timedelta(days=20)).replace(hour=10, minute=0, second=0, microsecond=0)
        ).astimezone(ZoneInfo(tz))
        if forms is None:
            values = [
                {"id": aid * 10 + i, "fieldID": int(fid), "name": name, "value": value}
                for i, (fid, (name, value)) in enumerate((intake or {4001: ("Dietary needs", "vegan")}).items())
            ]
            forms = [{"id": 301, "name": "Retreat intake", "values": values}]
        appt = {
            "id": aid,
            "firstName": first_name,
            "lastName": last_name,
            "email": email,
            "phone": phone,
            "date": starts.strftime("%B %-d, %Y"),
            "time": starts.strftime("%-I:%M%p").lower(),
            "endTime": (starts + timedelta(hours=6)).strftime("%-I:%M%p").lower(),
            "dateCreated": datetime.now().strftime("%B %-d, %Y"),
            "datetime": starts.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "timezone": tz,
            "price": "120.00",
            "priceSold": "120.00",
            "paid": "no",
            "amountPaid": "0.00",
            "type": "Spring Sample Retreat",
            "appointmentTypeID": appointment_type_id,
            "classID": None,
            "addonIDs": [],
            "category": "",
            "duration": "360",
            "calendar": "Forest",
            "calendarID": calendar_id,
            "certificate": None,
            "confirmationPage": f"https://app.acuityscheduling.com/schedule.php?owner=1&id[]={aid}",
            "location": "Just Love Forest",
            "notes": "",
            "canceled": canceled,
            "canClientCancel": True,
            "canClientReschedule": True,
            "labels": None,
            "formsText": "",
            "forms": forms,
        }
        self.appointments[aid] = appt
        return appt

    def cancel(self, appt: dict):
        appt["canceled"] = True
        appt["noShow"] = False

    def reschedule(self, appt: dict, starts_at: datetime):
        starts = starts_at.astimezone(ZoneInfo(appt["timezone"]))
        appt["datetime"] = starts.strftime("%Y-%m-%dT%H:%M:%S%z")
        appt["date"] = starts.strftime("%B %-d, %Y")
        appt["time"] = starts.strftime("%-I:%M%p").lower()

    def _authorised(self, req) -> bool:
        auth = req.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(f"{self.user_id}:{self.api_key}".encode()).decode()
        return hmac.compare_digest(auth, expected)

    def _get(self, req, aid):
        if not self._authorised(req):
            return 401, {"status_code": 401, "error": "unauthorized", "message": "Unauthorized"}
        appt = self.appointments.get(int(aid))
        if appt is None:
            return 404, {"status_code": 404, "error": "not_found", "message": "Appointment not found."}
        return 200, appt

    def _types(self, req):
        if not self._authorised(req):
            return 401, {"status_code": 401, "error": "unauthorized", "message": "Unauthorized"}
        types = sorted({a["appointmentTypeID"] for a in self.appointments.values()})
        return 200, [{"id": t, "name": f"Type {t}", "active": True} for t in types]

    def _calendars(self, req):
        if not self._authorised(req):
            return 401, {"status_code": 401, "error": "unauthorized", "message": "Unauthorized"}
        ids = sorted({a["calendarID"] for a in self.appointments.values()})
        return 200, [{"id": c, "name": f"Calendar {c}", "timezone": "America/Los_Angeles"} for c in ids]

    def _list(self, req):
        if not self._authorised(req):
            return 401, {"status_code": 401, "error": "unauthorized", "message": "Unauthorized"}
        q = req.query
        items = list(self.appointments.values())
        showall = str(q.get("showall", "")).lower() == "true"
        canceled = str(q.get("canceled", "")).lower() == "true"
        if not showall:
            items = [a for a in items if bool(a["canceled"]) == canceled]
        if q.get("appointmentTypeID"):
            items = [a for a in items if str(a["appointmentTypeID"]) == str(q["appointmentTypeID"])]
        if q.get("calendarID"):
            items = [a for a in items if str(a["calendarID"]) == str(q["calendarID"])]
        if q.get("email"):
            items = [a for a in items if a["email"].lower() == q["email"].lower()]
        if q.get("minDate"):
            lo = _parse_date(q["minDate"])
            items = [a for a in items if datetime.fromisoformat(a["datetime"]).date() >= lo]
        if q.get("maxDate"):
            hi = _parse_date(q["maxDate"])
            items = [a for a in items if datetime.fromisoformat(a["datetime"]).date() <= hi]
        items.sort(key=lambda a: (a["datetime"], a["id"]), reverse=q.get("direction", "DESC").upper() != "ASC")
        limit = min(int(q.get("max") or 100), 100) if str(q.get("max", "")) != "" else 100
        return 200, items[:limit]


def _parse_date(value: str):
    return datetime.fromisoformat(value[:10]).date()
