from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "Testimony intake: administration"
admin.site.site_title = "Testimony intake"

urlpatterns = [
    path("", include("intake.witness.urls")),
    path("staff/webauthn/", include("intake.review.passkeys")),
    path("staff/", include("intake.review.urls")),
    # The admin's own password page would bypass the audit log: staff change passwords on one page.
    path("staff/admin/password_change/", RedirectView.as_view(pattern_name="review:password_change")),
    path("staff/admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
]
