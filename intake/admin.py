from django.contrib import admin

from intake.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The chain of custody, readable by admins and changeable by nobody."""

    list_display = ("at", "actor", "action", "submission_id", "detail")
    list_filter = ("action",)
    search_fields = ("actor__username", "submission_id")
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
