from django import template

from intake import access, evidence

register = template.Library()


@register.filter
def may_export(user) -> bool:
    """``{% if request.user|may_export %}``: whether the export section is shown (intake.review.export
    checks again)."""
    return access.is_exporter(user)


@register.simple_tag
def evidence_public_key() -> str:
    """The public key evidence packages are signed with (raw, base64), as published."""
    return evidence.public_key_text()


@register.simple_tag
def evidence_key_fingerprint() -> str:
    return evidence.public_key_fingerprint()
