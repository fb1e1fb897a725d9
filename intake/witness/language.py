"""The language switch of a page whose form keeps what was typed.

Django's own switch (``set_language``) is a form of its own: pressing it sends nothing of the page's form,
so everything typed is lost. On a page with a form worth keeping, the header's language buttons belong to
that form instead (templates/base.html, with ``language_form`` set to the form's id in the context):

    <button form="testimony" name="language" value="ar" formenctype="application/x-www-form-urlencoded"
            formnovalidate>

They send the form's text, never its files (url-encoded), without the browser's checks. The view that owns
the form then does, before anything else with the POST:

    code = language.chosen(request)
    if code:
        language.use(request, code)
        response = ...the same page, its form unbound but filled with what was posted, told that chosen
                   photos must be chosen again (``switched=True`` in the context)...
        language.remember(response, code)
        return response

It stores nothing and is not validated: a switch is not a send.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import translation

FIELD = "language"


def chosen(request) -> str | None:
    """The language a POST asks for with the header's buttons; None if it is not a switch."""
    code = request.POST.get(FIELD, "")
    if code in dict(settings.LANGUAGES) and translation.check_for_language(code):
        return code
    return None


def use(request, code: str) -> None:
    """Draw the rest of this response in ``code`` (LocaleMiddleware reads it back for Content-Language)."""
    translation.activate(code)
    request.LANGUAGE_CODE = code


def remember(response, code: str) -> None:
    """Keep the choice for the next pages, with the cookie Django's ``set_language`` would set."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
