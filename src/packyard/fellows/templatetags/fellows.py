from django import template
from django.conf import settings
from django.utils.html import format_html

from packyard.accounts.models import User
from packyard.fellows.services import is_fellow, programme

register = template.Library()


@register.simple_tag
def fellow_mark(user: User) -> str:
    """The mark a listed Fellow's user page carries, when the programme is on."""
    if not settings.PACKYARD_FELLOWS or not is_fellow(user):
        return ""
    return format_html('<a class="badge ok" href="/fellows/">{}</a>', programme().rstrip("s"))
