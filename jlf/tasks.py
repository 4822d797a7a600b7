"""Carry the request id into django-q2 tasks (LIBRARIES.md A2/A8).

* ``pre_enqueue`` runs in the enqueuing process before the task dict is signed: it stores the
  current request id in ``task["request_id"]`` (a task enqueued outside any request, e.g. by the
  scheduler or a management command, gets a fresh id so its own log lines still group together).
* ``pre_execute`` runs in the worker just before the function: it sets
  ``jlf.context.request_id_var`` so log lines and audit rows written by the task carry the id of
  the request that caused it. ``post_execute_in_worker`` restores the previous value, so a worker
  process never leaks one task's id into the next, and a task run inline (``Q_CLUSTER["sync"]``)
  leaves the calling request's id as it was.

Connected in ``jlf.apps.JlfConfig.ready``.
"""

from __future__ import annotations

from django.conf import settings

from .context import request_id_var
from .middleware import new_request_id, valid_request_id


def task_timeout() -> float:
    """Seconds django-q2 lets a task run before it kills it (Q_CLUSTER["timeout"], 60 by default):
    what every per-task deadline (live checks, message retries, provider back-off, leases) is
    measured against."""
    return float((getattr(settings, "Q_CLUSTER", None) or {}).get("timeout") or 60)


_tokens: dict[str, list] = {}


def add_request_id(sender, task, **kwargs):
    if not valid_request_id(task.get("request_id")):
        task["request_id"] = request_id_var.get() or new_request_id()


def set_request_id(sender, func=None, task=None, **kwargs):
    task = task or {}
    request_id = task.get("request_id")
    if not valid_request_id(request_id):
        request_id = new_request_id()
    _tokens.setdefault(task.get("id", ""), []).append(request_id_var.set(request_id))


def restore_request_id(sender, func=None, task=None, **kwargs):
    stack = _tokens.get((task or {}).get("id", ""))
    if not stack:
        return
    token = stack.pop()
    if not stack:
        _tokens.pop(task.get("id", ""), None)
    try:
        request_id_var.reset(token)
    except ValueError:  # set in another context (cannot happen with django-q2 1.11; be safe)
        request_id_var.set("")


def connect():
    from django_q.signals import post_execute_in_worker, pre_enqueue, pre_execute

    pre_enqueue.connect(add_request_id, dispatch_uid="jlf.request_id.pre_enqueue")
    pre_execute.connect(set_request_id, dispatch_uid="jlf.request_id.pre_execute")
    post_execute_in_worker.connect(restore_request_id, dispatch_uid="jlf.request_id.post_execute")
