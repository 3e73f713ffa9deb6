from django.urls import include, path

from packyard import views
from packyard.packages import views as package_views

urlpatterns = [
    path("", package_views.home, name="home"),
    path("_/health", views.health, name="health"),
    path("", include("packyard.accounts.urls")),
    path("", include("packyard.twofactor.urls")),
    path("", include("packyard.tokens.urls")),
    path("", include("packyard.packages.urls")),
]
