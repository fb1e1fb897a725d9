from django.urls import path

from intake.witness import views

app_name = "witness"
urlpatterns = [
    path("", views.submit, name="submit"),
    # Each opened by a cookie sent only under its own address, which has a random part of its own (a
    # "visit", views._see_other): the testimony's page and its answers.
    path("receipt/<slug:visit>/", views.receipt, name="receipt"),
    path("status/", views.status, name="status"),
    path("status/open/<slug:visit>/", views.testimony, name="testimony"),
    path("status/open/<slug:visit>/answer/", views.reply, name="reply"),
    path("status/answer/", views.reply_from_before, name="reply_from_before"),
    path("safety/", views.safety, name="safety"),
    path("leave/<slug:visit>/", views.leave, name="leave"),
]
