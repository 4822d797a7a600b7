"""Who may use /ops/: active staff users who are not co-hosts. Every ops view is wrapped in
``staff_required``, so scoping cannot be forgotten.

* anonymous → the admin login page with ``?next=`` (an htmx request gets ``HX-Redirect`` so the
  login page replaces the whole page instead of being swapped into a fragment);
* signed in but not staff, or a co-host (even one flagged staff by mistake: a co-host signs in
  with a magic link, and a link must never open the operator workspace) → 403 page.

Read-only maintenance mode is handled before any view by ``jlf.readonly.ReadOnlyMiddleware``.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from django_htmx.http import HttpResponseClientRedirect

from ..models import CoHost


def is_operator(user) -> bool:
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    return not CoHost.objects.filter(user_id=user.pk).exists()


def staff_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            if getattr(request, "htmx", False):
                current = request.htmx.current_url_abs_path or request.get_full_path()
                return HttpResponseClientRedirect(redirect_to_login(current, settings.LOGIN_URL).url)
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        if not is_operator(user):
            return render(request, "ops/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper
