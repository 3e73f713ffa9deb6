from django.urls import include, path

from packyard import views
from packyard.admin import site as admin_site
from packyard.packages import views as package_views

urlpatterns = [
    path("", package_views.home, name="home"),
    path("_/health", views.health, name="health"),
    path("admin/", admin_site.urls),
    path("", include("packyard.accounts.urls")),
    path("", include("packyard.twofactor.urls")),
    path("", include("packyard.tokens.urls")),
    path("", include("packyard.packages.urls")),
]
