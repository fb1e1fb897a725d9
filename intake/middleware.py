"""Middleware that keeps the promises made to witnesses about what the service learns of them."""

from django.conf import settings
from django.http import Http404
from django.http.request import split_domain_port, validate_host

from intake import body_guard

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
        # A reviewer's video player asks for byte ranges (intake.review.media); they say nothing of anyone.
        "HTTP_RANGE",
        "HTTP_IF_RANGE",
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
        body_guard.keep_means_to_stop_reading(request, meta.get("gunicorn.socket"))
        meta["REMOTE_ADDR"] = UNKNOWN_ADDRESS
        for key in ("REMOTE_HOST", "REMOTE_PORT", "gunicorn.socket"):  # the socket knows the peer address
            meta.pop(key, None)
        for key in [key for key in meta if key.startswith("HTTP_") and key not in KEPT_HEADERS]:
            del meta[key]
        return get_response(request)

    return middleware


def security_headers(get_response):
    """Nothing of this service may be stored by a browser or proxy, and no page shown in a frame.

    Static files too: a browser's disk cache keeps each with the time it was fetched, which says when
    the site was visited even after the witness deleted it from the history (a few tens of KB a page)."""

    def middleware(request):
        response = get_response(request)
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        response.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        # SecurityMiddleware's own, for the answers it does not see (a host refused in it, say).
        response.setdefault("X-Content-Type-Options", "nosniff")
        response.setdefault("Referrer-Policy", settings.SECURE_REFERRER_POLICY)
        response.setdefault("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
        _offer_onion_address(request, response)
        return response

    return middleware


def _offer_onion_address(request, response) -> None:
    """On a witness page reached over HTTPS, tell Tor Browser of the onion address (``Onion-Location``),
    so that it offers the witness the connection that never leaves Tor. Other browsers ignore it."""
    from intake.witness.safety import on_onion_address  # the witness side's own module

    if not settings.INTAKE_ONION_ADDRESS or not request.is_secure() or is_staff_path(request.path):
        return
    if not on_onion_address(request):
        response["Onion-Location"] = f"http://{settings.INTAKE_ONION_ADDRESS}{request.get_full_path()}"


# --- The staff side's own host names, and its refusals in the audit log -------------------------

STAFF_PATH_PREFIXES = ("/staff/",)
# Served on every host: the pages of both sides need their style sheet and the language switch.
SHARED_PATH_PREFIXES = ("/i18n/",)


def is_staff_path(path: str) -> bool:
    return path.startswith(STAFF_PATH_PREFIXES)


def staff_hosts(get_response):
    """With ``STAFF_HOSTS`` set, the staff pages (the admin included) are not found on any other host
    name, and the witness pages are not found on the staff hosts: a witness address never leads to
    the staff login, and a phishing page cannot put the witness form under a staff address."""

    def middleware(request):
        if settings.STAFF_HOSTS:
            path = request.path_info
            shared = path.startswith(SHARED_PATH_PREFIXES + ("/" + settings.STATIC_URL.lstrip("/"),))
            if not shared:
                domain, _port = split_domain_port(request.get_host())
                if is_staff_path(path) != validate_host(domain, settings.STAFF_HOSTS):
                    raise Http404
        return get_response(request)

    return middleware


def audit_refusals(get_response):
    """A staff page refused (403) or not found (404) to a logged-in member is written to the audit
    log: probing for submissions or pages beyond one's role leaves a trace. Anonymous requests cannot
    be attributed, and the witness side is never audited."""

    def middleware(request):
        response = get_response(request)
        if response.status_code in (403, 404) and is_staff_path(request.path_info):
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                from intake.models import AuditEvent

                AuditEvent.objects.create(
                    actor=user,
                    action=AuditEvent.Action.REFUSED,
                    detail={"status": response.status_code, "path": request.path},
                )
        return response

    return middleware
