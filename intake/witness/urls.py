from django.urls import path

from intake.witness import views

app_name = "witness"
urlpatterns = [
    path("", views.submit, name="submit"),
    path("receipt/", views.receipt, name="receipt"),
    path("status/", views.status, name="status"),
    # The access cookie is sent only under this path (views._open): the testimony's page and its answers.
    path("status/open/", views.testimony, name="testimony"),
    path("status/open/answer/", views.reply, name="reply"),
    path("safety/", views.safety, name="safety"),
]
