from django.contrib.auth import views as auth_views
from django.urls import path

from intake.review import views

app_name = "review"
urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="review/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("logout/everywhere/", views.log_out_everywhere, name="logout_everywhere"),
    path("password/", views.ChangePassword.as_view(), name="password_change"),
    path(
        "password/changed/",
        auth_views.PasswordChangeDoneView.as_view(template_name="review/password_changed.html"),
        name="password_changed",
    ),
    path("", views.queue, name="queue"),
    path("submissions/<uuid:submission_id>/", views.submission, name="submission"),
    path("submissions/<uuid:submission_id>/status/", views.set_status, name="set_status"),
    path("submissions/<uuid:submission_id>/notes/", views.add_note, name="add_note"),
    path("images/<uuid:image_id>/", views.image, name="image"),
]
