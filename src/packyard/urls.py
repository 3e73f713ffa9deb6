from django.urls import include, path

from packyard import views
from packyard.admin import site as admin_site
from packyard.packages import views as package_views
from packyard.tokens import api as token_api

urlpatterns = [
    path("", package_views.home, name="home"),
    path("_/health", views.health, name="health"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("robots.txt", views.robots_txt, name="robots"),
    path("admin/", admin_site.urls),
    path("_/secrets/disclose-token", token_api.disclose_token, name="disclose-token"),
    path("_/tokens/current", token_api.revoke_current_token, name="token-current"),
    path("", include("packyard.accounts.urls")),
    path("", include("packyard.signin.urls")),
    path("", include("packyard.twofactor.urls")),
    path("", include("packyard.tokens.urls")),
    path("", include("packyard.packages.urls")),
    path("", include("packyard.fellows.urls")),
]

handler500 = "packyard.views.server_error"
