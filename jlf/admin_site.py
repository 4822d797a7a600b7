"""The admin site: Django's own, with guards against a 500 from an odd URL on every model admin
(ours and the ones other apps register, such as django-axes').

* A date-hierarchy link typed with an absurd year (``?created_at__year=999999999999999999999``)
  raised OverflowError inside Django (it turns only ValueError into "invalid lookup"): now it is
  treated like any other bad filter (Django's "?e=1" page).
* An "add" link prefilled with an id that cannot be one (``?event=abc``, a number too big for
  the database) raised while the form was drawn: such a value is dropped and the form opens
  empty for that field, as it would without the parameter.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models

_BIGINT = 2**63 - 1


class _ChangeList(ChangeList):
    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except OverflowError as exc:
            raise IncorrectLookupParameters(exc) from exc


def _usable_id(field, value) -> bool:
    target = field.target_field
    try:
        value = target.to_python(value)
    except (ValidationError, ValueError, TypeError):
        return False
    if isinstance(target, models.IntegerField | models.AutoField):
        return value is not None and -_BIGINT <= value <= _BIGINT
    return True


class GuardedAdmin:
    """Mixed into every ModelAdmin the site registers (see ``JlfAdminSite.register``)."""

    def get_changelist(self, request, **kwargs):
        changelist = super().get_changelist(request, **kwargs)
        return _ChangeList if changelist is ChangeList else changelist

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        for name, value in list(initial.items()):
            try:
                field = self.opts.get_field(name)
            except FieldDoesNotExist:
                continue
            if field.many_to_one or field.one_to_one:
                if not _usable_id(field, value):
                    del initial[name]
        return initial


class JlfAdminSite(admin.AdminSite):
    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, GuardedAdmin):
            bases, attrs = (GuardedAdmin, admin_class), {"__module__": admin_class.__module__}
            admin_class = type(admin_class.__name__, bases, attrs)
        return super().register(model_or_iterable, admin_class, **options)


class JlfAdminConfig(AdminConfig):
    """``django.contrib.admin`` with ``JlfAdminSite`` as ``admin.site`` (INSTALLED_APPS)."""

    default_site = "jlf.admin_site.JlfAdminSite"
