import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "packyard.settings")
django_application = get_wsgi_application()

from packyard.packages.index.fastpath import IndexFastPath  # noqa: E402  (needs the settings loaded above)
from packyard.requesthead import RequestHeadCheck  # noqa: E402

application = RequestHeadCheck(IndexFastPath(django_application))
