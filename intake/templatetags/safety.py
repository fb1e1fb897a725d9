from django import template
from django.conf import settings
from django.urls import Resolver404, resolve, reverse

register = template.Library()


@register.simple_tag(takes_context=True)
def quick_exit_url(context) -> str:
    """Where "Leave quickly" goes. A tag, not a context variable: the 400 and 500 pages are rendered
    without a request, and so without context processors, and need it too.

    From a page that a cookie opens (a receipt, a testimony: intake.witness.views), it goes through
    ``witness:leave``, which ends that cookie first, so that Back shows nothing; from any other page,
    straight to the neutral site."""
    request = context.get("request")
    if request is not None:
        try:
            visit = resolve(request.path_info).kwargs.get("visit")
        except Resolver404:
            visit = None
        # A page drawn at another address may still be a visit's (a receipt typed with an answer kept).
        visit = visit or context.get("visit")
        if visit:
            return reverse("witness:leave", args=[visit])
    return settings.INTAKE_QUICK_EXIT_URL
