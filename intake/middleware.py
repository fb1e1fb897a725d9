"""Middleware that keeps the promises made to witnesses about what the service learns of them."""
from django.conf import settings
from django.middleware import csrf

# The request headers the application needs. Everything else a browser sends (User-Agent, client hints,
# forwarding headers with the client's address, DNT, ...) is dropped before any view or logger sees it.
KEPT_HEADERS = frozenset(
    {
        "HTTP_HOST",
        "HTTP_COOKIE",
        "HTTP_ACCEPT",
        "HTTP_ACCEPT_LANGUAGE",
        "HTTP_ORIGIN",
        "HTTP_X_CSRFTOKEN",
        "HTTP_X_FORWARDED_PROTO",  # read only when INTAKE_BEHIND_TLS_PROXY is set
    }
)
UNKNOWN_ADDRESS = "0.0.0.0"  # noqa: S104 - a placeholder address, not a binding


def discard_unclaimed_uploads(get_response):
    """Whatever happened to the request, its uploads that no stored submission claims are removed."""

    def middleware(request):
        try:
            return get_response(request)
        finally:
            for upload in getattr(request, "sealed_uploads", ()):
                upload.discard()

    return middleware


def forget_client(get_response):
    """Remove the client's address and every identifying header from each request."""

    def middleware(request):
        meta = request.META
        meta["REMOTE_ADDR"] = UNKNOWN_ADDRESS
        for key in ("REMOTE_HOST", "REMOTE_PORT", "gunicorn.socket"):  # the socket knows the peer address
            meta.pop(key, None)
        for key in [key for key in meta if key.startswith("HTTP_") and key not in KEPT_HEADERS]:
            del meta[key]
        return get_response(request)

    return middleware


def security_headers(get_response):
    """No page of this service may be stored by a browser or proxy; none may be shown in a frame."""

    def middleware(request):
        response = get_response(request)
        if not request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            response["Cache-Control"] = "no-store"
            response["Pragma"] = "no-cache"
        response.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
        return response

    return middleware


class CsrfViewMiddleware(csrf.CsrfViewMiddleware):
    """Django's CSRF protection, adjusted to ``Referrer-Policy: no-referrer``.

    Under that policy browsers send ``Origin: null`` with every form POST, even to the same site, and
    no Referer, so Django's origin check would refuse every form. A "null" origin is therefore let
    through to the token check, which still applies to every POST. The CSRF cookie is SameSite=Strict,
    so a cross-site page (whatever origin it claims) cannot make the browser send it. Any real origin
    other than our own is still refused.
    """

    def _origin_verified(self, request):
        if request.META.get("HTTP_ORIGIN") == "null":
            return True
        return super()._origin_verified(request)
