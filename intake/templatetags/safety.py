from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def quick_exit_url() -> str:
    """Where "Leave quickly" goes. A tag, not a context variable: the 400 and 500 pages are rendered
    without a request, and so without context processors, and need it too."""
    return settings.INTAKE_QUICK_EXIT_URL
