from django import template
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

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
    try:
        return evidence.public_key_text()
    except ImproperlyConfigured:  # a keys document from before signing: the admin still opens
        return _(
            "None: these keys hold no signing key. Add one with manage.py rotatekeys upgrade < keys.json > "
            "upgraded.json (keys kept in var/keys get it from manage.py initkeys, which make run runs)."
        )


@register.simple_tag
def evidence_key_fingerprint() -> str:
    try:
        return evidence.public_key_fingerprint()
    except ImproperlyConfigured:
        return "-"
