"""The Django admin: accounts and roles for Admins, and the audit log, which nobody can change.

An Admin who is not a superuser must not be able to become a reader of testimony, directly or by
taking over someone else's account. So such an Admin:

- cannot give anyone the Reviewer or the Exporter role (only a superuser, who runs the server, can;
  removing them is allowed, so that access can be taken away quickly);
- cannot change a superuser's account, nor their own roles, staff or active status;
- cannot change the fields those rules rest on: last login, date joined, username, superuser status
  and permissions.

Nobody sets another member's password, superusers included. A new account gets a one-time setup link,
on which its owner chooses their password and enrols a second factor; a superuser can reset an
account's factors, which sends its owner through a new setup link (intake.setup_links).

Every account created, changed, given roles or a password is written to the audit log, and so is
every account or group deleted. Only a superuser can end another member's sessions.
"""

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import UsernameField
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from intake import actions, sessions, setup_links
from intake.access import ADMIN, EXPORTER, REVIEWER
from intake.models import AuditEvent, Tag
from intake.signals import ROLES

User = get_user_model()

# Changes to these are audited by name and new value; any other field by name only.
AUDITED_VALUES = ("is_active", "is_staff", "is_superuser", "username")

# The roles only a superuser gives, each with the reason an Admin is told: they put testimony in reach.
ONLY_A_SUPERUSER_GIVES = {
    REVIEWER: _("Only a superuser can give the Reviewer role, which reads testimony."),
    EXPORTER: _("Only a superuser can give the Exporter role, which hands testimony out of the service."),
}


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The chain of custody, readable by admins and changeable by nobody."""

    list_display = ("at", "actor_name", "action", "submission_id", "account", "detail")
    list_filter = ("action",)
    search_fields = ("actor_name", "account", "submission_id")
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    """The organisation's tags (a place, an incident, a language), which reviewers put on submissions."""

    list_display = ("name",)
    search_fields = ("name",)


admin.site.unregister(User)


class StaffCreationForm(forms.ModelForm):
    """A new account: a name and roles, nothing else."""

    groups = forms.ModelMultipleChoiceField(
        label=_("Roles"), queryset=Group.objects.order_by("name"), widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = User
        fields = ("username", "groups")
        field_classes = {"username": UsernameField}

    def clean_username(self):
        username = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("There is already an account with this name."))
        return username

    def save(self, commit=True):
        account = super().save(commit=False)
        account.set_unusable_password()
        account.is_staff = self.cleaned_data["groups"].filter(name=ADMIN).exists()
        if commit:
            account.save()
            self.save_m2m()
        return account


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    # Plain lists rather than Django's two-box widget, whose script draws controls that fail WCAG 2.2 AA.
    filter_horizontal = ()

    def get_readonly_fields(self, request, obj=None):
        # When an account logged in and was made are records, not settings: nobody edits them.
        fields = [*super().get_readonly_fields(request, obj), "last_login", "date_joined"]
        if not request.user.is_superuser:
            fields += ["is_superuser", "user_permissions"]
            if obj is not None:
                fields.append("username")
            if obj is not None and obj.pk == request.user.pk:
                fields += ["groups", "is_staff", "is_active"]
        return fields

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if request.user.is_superuser or "groups" not in form.base_fields:
            return form

        class AdminGrantsNoTestimonyRole(form):
            def clean_groups(self):
                groups = self.cleaned_data["groups"]
                had = set(self.instance.groups.values_list("name", flat=True)) if self.instance.pk else set()
                given = set(groups.values_list("name", flat=True)) - had
                refused = [message for role, message in ONLY_A_SUPERUSER_GIVES.items() if role in given]
                if refused:
                    raise forms.ValidationError(refused)
                return groups

        return AdminGrantsNoTestimonyRole

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            actions.record_account_change(request.user, AuditEvent.Action.CREATED_ACCOUNT, obj)
            return
        # Roles are audited in save_related; the dates are bookkeeping (the admin's form drops their
        # microseconds, so they would always look changed).
        changed = [name for name in form.changed_data if name not in ("groups", "date_joined", "last_login")]
        if changed:
            detail = {name: getattr(obj, name) for name in changed if name in AUDITED_VALUES}
            detail["fields"] = sorted(changed)
            actions.record_account_change(request.user, AuditEvent.Action.CHANGED_ACCOUNT, obj, detail)

    def save_related(self, request, form, formsets, change):
        account = form.instance
        before = sorted(account.groups.values_list("name", flat=True)) if change else []
        super().save_related(request, form, formsets, change)
        after = sorted(account.groups.values_list("name", flat=True))
        if before != after:
            actions.record_account_change(
                request.user, AuditEvent.Action.CHANGED_ROLES, account, {"from": before, "to": after}
            )

    def user_change_password(self, request, id, form_url=""):
        raise PermissionDenied

    # --- New accounts and setup links (intake.setup_links) --------------------------------------

    # No password anywhere: a new account's owner chooses it on the setup link.
    # django-stubs types UserAdmin.fieldsets as ModelAdmin's (which may be None); Django sets a tuple.
    fieldsets = ((None, {"fields": ("username",)}),) + cast("tuple[Any, ...]", UserAdmin.fieldsets)[1:]
    add_form = StaffCreationForm
    add_form_template = None
    add_fieldsets = ((None, {"fields": ("username", "groups")}),)

    def response_add(self, request, obj, post_url_continue=None):
        token = setup_links.issue(request.user, obj)
        return self._show_setup_links(request, [(obj, token)])

    @admin.action(description=_("Reset factors and make a new setup link"), permissions=["reset_factors"])
    def reset_factors(self, request, queryset):
        with transaction.atomic():
            links = [(account, setup_links.start_over(request.user, account)) for account in queryset]
        return self._show_setup_links(request, links)

    def has_reset_factors_permission(self, request):
        return request.user.is_superuser

    def _show_setup_links(self, request, tokens):
        """The links, once: only their digests are kept."""
        links = [(account, request.build_absolute_uri(setup_links.path(token))) for account, token in tokens]
        return TemplateResponse(
            request,
            "review/admin_setup_links.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Setup links"),
                "links": links,
                "hours": settings.INTAKE_SETUP_LINK_HOURS,
            },
        )

    # --- Ending sessions and deleting accounts (intake.sessions, intake.signals) ----------------

    actions = ["end_sessions", "reset_factors"]

    @admin.action(description=_("End all sessions of the selected accounts"), permissions=["end_sessions"])
    def end_sessions(self, request, queryset):
        for account in queryset:
            sessions.end_sessions_of(account, request.user)
        self.message_user(request, _("Their sessions are ended: they must log in again."))

    def has_end_sessions_permission(self, request):
        return request.user.is_superuser

    def delete_model(self, request, obj):
        with transaction.atomic():
            _record_account_deletion(request.user, obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for account in queryset:
                _record_account_deletion(request.user, account)
            super().delete_queryset(request, queryset)


def _record_account_deletion(actor, account) -> None:
    roles = sorted(account.groups.values_list("name", flat=True))
    actions.record_account_change(actor, AuditEvent.Action.DELETED_ACCOUNT, account, {"roles": roles})


admin.site.unregister(Group)


@admin.register(Group)
class StaffGroupAdmin(GroupAdmin):
    """Groups. The role groups (Reviewer, Admin, Exporter) can be neither deleted nor renamed, here or anywhere
    (intake.signals); deleting another group is audited with the members who lost it."""

    filter_horizontal = ()  # as for accounts: a plain list, which passes WCAG 2.2 AA

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.name in ROLES:
            fields.append("name")
        return fields

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.name in ROLES:
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        with transaction.atomic():
            _record_group_deletion(request.user, obj)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for group in queryset:
                _record_group_deletion(request.user, group)
            super().delete_queryset(request, queryset)


def _record_group_deletion(actor, group) -> None:
    members = sorted(group.user_set.values_list("username", flat=True))
    AuditEvent.objects.create(
        actor=actor, action=AuditEvent.Action.DELETED_GROUP, detail={"group": group.name, "members": members}
    )
