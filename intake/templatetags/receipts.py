from django import template

from intake import receipts

register = template.Library()


@register.simple_tag
def receipt_lines(receipt: str, language: str) -> list[list[str]]:
    """``{% receipt_lines receipt LANGUAGE_CODE as lines %}``: its groups, once per kind of digits shown."""
    return receipts.lines(receipt, language)
