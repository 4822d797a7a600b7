"""The co-host portal: passwordless, read-only access to the events a co-host helps run.

* ``accounts``  invite a co-host, email a sign-in link, rotate the calendar link (operator side)
* ``access``    who the signed-in co-host is, and one fetch helper per object type (404 otherwise)
* ``attendees`` the rows a co-host sees (page, CSV, digest), with money only when allowed
* ``views`` / ``urls``  sign-in, events, attendees, CSV, calendar feed (mounted at /cohost/)
* ``digest`` / ``schedules``  the opt-in daily digest and its django-q2 schedule
* ``mail``      the one function that sends co-host email (swappable transport)
"""
