from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Testimony intake: administration"
admin.site.site_title = "Testimony intake"

urlpatterns = [
    path("", include("intake.witness.urls")),
    path("staff/", include("intake.review.urls")),
    path("staff/admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
]
