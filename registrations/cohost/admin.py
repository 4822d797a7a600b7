"""Operator tools on the CoHost admin: invite, email a new sign-in link, rotate the calendar link.

Mixed into ``registrations.admin.CoHostAdmin``. Everything that changes a co-host's access lives
here, on the operator side: no co-host URL changes data.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from ..audit import Actor
from .accounts import (
    InviteError,
    InviteMailError,
    invite_cohost,
    link_minutes,
    regenerate_calendar_token,
    send_sign_in_link,
)
from .forms import InviteForm


class CoHostAdminTools:
    change_list_template = "admin/registrations/cohost/change_list.html"
    actions = ["send_new_link", "regenerate_calendar_link"]

    def get_urls(self):
        urls = super().get_urls()
        invite = path(
            "invite/",
            self.admin_site.admin_view(self.invite_view),
            name="registrations_cohost_invite",
        )
        return [invite, *urls]

    def invite_view(self, request):
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:registrations_cohost_changelist"))
        form = InviteForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                cohost = invite_cohost(
                    data["email"],
                    data["name"],
                    data["events"],
                    Actor.operator(request.user, "admin:cohost-invite"),
                    can_see_money=data["can_see_money"],
                )
            except InviteError as exc:
                form.add_error("email", str(exc))
            except InviteMailError as exc:
                self.message_user(
                    request,
                    f"The co-host account was saved, but the invitation email could not be sent ({exc}). "
                    "Use “Email a new sign-in link” once mail works.",
                    messages.ERROR,
                )
                return HttpResponseRedirect(reverse("admin:registrations_cohost_changelist"))
            else:
                if getattr(cohost, "reactivated", False):
                    self.message_user(
                        request,
                        f"{cohost.user.email} had been switched off (deactivated); this invitation switched "
                        "their co-host access back on (recorded in the audit log). "
                        "Untick “Is active” to switch it off again.",
                        messages.WARNING,
                    )
                if getattr(cohost, "invite_queued", False):
                    self.message_user(
                        request,
                        f"The co-host account was saved. The invitation email to {cohost.user.email} is queued: "
                        "the mail provider did not accept it yet and it is retried automatically within minutes "
                        "(see the message log). If it never arrives, use “Email a new sign-in link”.",
                        messages.WARNING,
                    )
                    return HttpResponseRedirect(reverse("admin:registrations_cohost_change", args=[cohost.pk]))
                self.message_user(
                    request,
                    f"Invitation sent to {cohost.user.email}. The link works for {link_minutes()} minutes; "
                    "after that they can request a new one at /cohost/login/.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:registrations_cohost_change", args=[cohost.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Invite a co-host",
            "form": form,
            "minutes": link_minutes(),
        }
        return TemplateResponse(request, "admin/registrations/cohost/invite.html", context)

    @admin.action(description="Email a new sign-in link", permissions=["change"])
    def send_new_link(self, request, queryset):
        sent, skipped = 0, []
        for cohost in queryset.select_related("user"):
            if not (cohost.is_active and cohost.user.is_active) or not cohost.user.email:
                # A link for a switched-off co-host or deactivated user could never sign them in.
                skipped.append(str(cohost))
                continue
            try:
                send_sign_in_link(cohost, actor=Actor.operator(request.user, "admin:cohost-send-link"))
                sent += 1
            except Exception as exc:
                self.message_user(request, f"Could not email {cohost}: {exc}", messages.ERROR)
        if sent:
            self.message_user(request, f"Sign-in link sent to {sent} co-host(s).", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"Not sent (switched off, deactivated or no email): {', '.join(skipped)}. "
                "To give a switched-off co-host access again, invite them again with “Invite a co-host”.",
                messages.WARNING,
            )

    @admin.action(description="Revoke and regenerate calendar link", permissions=["change"])
    def regenerate_calendar_link(self, request, queryset):
        """Irreversible (the old link stops working at once), so it asks for confirmation first."""
        if request.POST.get("confirm") == "yes":
            actor = Actor.operator(request.user, "admin:cohost-regenerate-calendar")
            for cohost in queryset:
                regenerate_calendar_token(cohost, actor)
            self.message_user(
                request,
                f"New calendar links issued for {queryset.count()} co-host(s); the old links no longer work. "
                "Each co-host needs their new link (shown on their portal page) in their calendar app.",
                messages.SUCCESS,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Revoke and regenerate calendar links?",
            "cohosts": queryset.select_related("user"),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/registrations/cohost/regenerate_calendar_confirm.html", context)
