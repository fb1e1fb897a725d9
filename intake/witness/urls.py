from django.urls import path

from intake.witness import views

app_name = "witness"
urlpatterns = [
    path("", views.submit, name="submit"),
    path("status/", views.status, name="status"),
    path("safety/", views.safety, name="safety"),
    path("status/answer/", views.reply, name="reply"),
]
