"""The operator workspace under /ops/: dashboard, event pages, exception queue, walk-ins, exports.

Server-rendered with HTMX (django-htmx + django-template-partials: one view serves a page and its
fragments). Views are thin: every change goes through a domain function in
``registrations.resolutions`` / ``registrations.services``, which writes the audit row.
"""
