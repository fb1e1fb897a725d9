from django import template

register = template.Library()


@register.filter
def playing_time(milliseconds: int | None) -> str:
    """``{{ image.duration_ms|playing_time }}``: a video's length as a player shows it, "m:ss", or
    "h:mm:ss" from an hour on, in whole seconds counted down as players do (2.5 s is "0:02"); empty when
    it is not known."""
    if milliseconds is None:
        return ""
    seconds = milliseconds // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
