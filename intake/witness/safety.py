"""The onion address, and whether the witness is using it, for every page (a context processor).

It reads only the host name the request was sent to, which says which of our addresses the witness
typed, not who they are. Where "Leave quickly" goes is the ``quick_exit_url`` tag (intake.templatetags.safety).
"""

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http.request import split_domain_port


def on_onion_address(request) -> bool:
    """Whether the request came through the service's own onion address, end to end inside Tor."""
    if not settings.INTAKE_ONION_ADDRESS:
        return False
    try:
        domain, _port = split_domain_port(request.get_host())
    except DisallowedHost:
        return False
    return domain == settings.INTAKE_ONION_ADDRESS


def context(request) -> dict:
    return {
        "onion_address": settings.INTAKE_ONION_ADDRESS,
        "on_onion_address": on_onion_address(request),
    }
