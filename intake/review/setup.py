"""The setup link's pages: a new member (or one whose factors were reset) chooses their password and
enrols an authenticator app on one page, receives recovery codes, and is then logged in.

The first visit moves the token from the address into the session and redirects, so that it stays
out of the browser's history; the session keeps only the token's digest, as the database does.
Unknown, used and expired links all get the same plain page.
"""

from django.contrib.auth.forms import SetPasswordForm
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods

from intake import setup_links
from intake.models import token_digest
from intake.review import door, enrol
from intake.review.login import log_in_after_setup

TOKEN = "setup_link_digest"  # noqa: S105 - a session key


class SetupForm(SetPasswordForm):
    """A new password (Django's validators apply) and the first code of the authenticator app."""

    code = enrol.first_code_field()


@require_GET
@sensitive_variables("token")
def setup_link(request, token):
    request.session[TOKEN] = token_digest(token)
    return redirect("review:setup")


@sensitive_post_parameters("new_password1", "new_password2", "code")
@require_http_methods(["GET", "POST"])
def setup(request):
    link = setup_links.find_by_digest(request.session.get(TOKEN))
    if link is None:
        return render(request, "review/setup_invalid.html", status=404)
    account = link.user
    app = enrol.waiting_app(request, account)
    form = SetupForm(account, request.POST or None)
    if form.is_valid():
        codes = setup_links.complete(link, form.cleaned_data["new_password1"], app, form.cleaned_data["code"])
        if codes is not None:
            request.session.pop(TOKEN, None)
            enrol.forget_waiting_app(request)
            account.refresh_from_db()  # with the password just set, which the session is bound to
            log_in_after_setup(request, account, app)
            return render(
                request,
                "review/recovery_codes.html",
                {
                    "codes": codes,
                    "after_setup": True,
                    "continue_to": door.home(request.user),
                },
            )
        form.add_error("code", enrol.WRONG_FIRST_CODE)
    return render(request, "review/setup.html", {"form": form, "account": account, **enrol.app_context(app)})
