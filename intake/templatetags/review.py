from django import template

from intake.review import views

register = template.Library()


@register.simple_tag(takes_context=True)
def last_queue(context) -> str:
    """``{% last_queue as query %}``: the queue's address this session last showed (filters and place),
    for the nav's "Queue" link."""
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return ""
    return views.last_queue(request)
