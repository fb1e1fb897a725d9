from django.contrib.auth import views as auth_views
from django.urls import path

from intake.review import account, export, login, media, setup, views

app_name = "review"
urlpatterns = [
    path("login/", login.login_view, name="login"),
    path("login/verify/", login.verify_view, name="verify"),
    path("logout/", login.logout_view, name="logout"),
    path("setup/", setup.setup, name="setup"),
    path("setup/<str:token>/", setup.setup_link, name="setup_link"),
    path("account/", account.account, name="account"),
    path("account/app/", account.add_app, name="add_app"),
    path("account/<str:kind>/<str:device_id>/remove/", account.remove_factor, name="remove_factor"),
    path("account/recovery-codes/", account.new_recovery_codes, name="new_recovery_codes"),
    path("logout/everywhere/", views.log_out_everywhere, name="logout_everywhere"),
    path("password/", views.ChangePassword.as_view(), name="password_change"),
    path(
        "password/changed/",
        auth_views.PasswordChangeDoneView.as_view(template_name="review/password_changed.html"),
        name="password_changed",
    ),
    path("", views.queue, name="queue"),
    path("bulk/", views.bulk, name="bulk"),
    path("submissions/<uuid:submission_id>/", views.submission, name="submission"),
    path("submissions/<uuid:submission_id>/status/", views.set_status, name="set_status"),
    path("submissions/<uuid:submission_id>/assignee/", views.assign, name="assign"),
    path("submissions/<uuid:submission_id>/tags/", views.set_tags, name="set_tags"),
    path("submissions/<uuid:submission_id>/notes/", views.add_note, name="add_note"),
    path("submissions/<uuid:submission_id>/messages/", views.send_message, name="send_message"),
    path("submissions/<uuid:submission_id>/export/", export.export, name="export"),
    path("images/<uuid:image_id>/", media.image, name="image"),
    path("images/<uuid:image_id>/preview/", media.preview, name="preview"),
    path("images/<uuid:image_id>/play/", media.play, name="play"),
    path("images/<uuid:image_id>/poster/", media.poster, name="poster"),
]
