"""English formats with the time zone named on every date and time, e.g. "3 Dec 2026 14:05:09 UTC".

The admin shows datetimes (list columns, read-only fields) with DATETIME_FORMAT in the current
time zone (settings.TIME_ZONE, or the event's own zone on the event admin page); without the zone
an operator cannot tell what "14:00" means. The ops pages give their own formats and are not
affected. Only these two formats differ from Django's English ones; the rest fall through to
``django.conf.locale.en.formats``.
"""

DATETIME_FORMAT = "j M Y H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
