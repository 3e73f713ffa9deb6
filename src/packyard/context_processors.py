from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    from packyard.accounts.services import registration_open

    return {
        "site_name": settings.SITE_NAME,
        "base_url": settings.BASE_URL,
        "registration_open": registration_open(),
        "fellows_on": settings.PACKYARD_FELLOWS,
        "programme": settings.PACKYARD_FELLOWS_NAME,
    }
