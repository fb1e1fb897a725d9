"""The Django admin: accounts and roles for Admins, and the audit log, which nobody can change.

An Admin (not a superuser) cannot give themselves roles or superuser status, and cannot set the
password of an account that has already been used: otherwise an Admin could become a Reviewer, or read
testimony under a Reviewer's name. Every account created, role changed and password set is audited.
"""
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from intake.models import AuditEvent

User = get_user_model()


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The chain of custody, readable by admins and changeable by nobody."""

    list_display = ("at", "actor", "action", "submission_id", "account", "detail")
    list_filter = ("action",)
    search_fields = ("actor__username", "account", "submission_id")
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["is_superuser", "user_permissions"]
            if obj is not None and obj.pk == request.user.pk:
                fields += ["groups", "is_staff", "is_active"]
        return fields

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            _audit(request, AuditEvent.Action.CREATED_ACCOUNT, obj)

    def save_related(self, request, form, formsets, change):
        account = form.instance
        before = sorted(account.groups.values_list("name", flat=True)) if change else []
        super().save_related(request, form, formsets, change)
        after = sorted(account.groups.values_list("name", flat=True))
        if before != after:
            _audit(request, AuditEvent.Action.CHANGED_ROLES, account, {"from": before, "to": after})

    def user_change_password(self, request, id, form_url=""):
        account = get_object_or_404(User, pk=id)
        if not request.user.is_superuser and account.last_login is not None and account != request.user:
            raise PermissionDenied  # only a superuser may take over an account that is in use
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            _audit(request, AuditEvent.Action.SET_PASSWORD, account)
        return response


def _audit(request, action, account, detail=None) -> None:
    AuditEvent.objects.create(actor=request.user, action=action, account=account.get_username(), detail=detail or {})
