from django import template

register = template.Library()


@register.simple_tag
def described_field(field, limit=""):
    """``{% described_field field limit %}``: the field's widget, its ``aria-describedby`` naming exactly
    the texts templates/field.html draws beside it (help, limit, errors), so that every id it names
    exists and nothing drawn about the field is left unsaid to a screen reader."""
    ids = []
    if field.help_text:
        ids.append(f"{field.auto_id}_helptext")
    if limit:
        ids.append(f"{field.auto_id}_limit")
    if field.errors:
        ids.append(f"{field.auto_id}_error")
    return field.as_widget(attrs={"aria-describedby": " ".join(ids)} if ids else None)
