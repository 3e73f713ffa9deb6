from django.urls import path, re_path

from packyard.packages import manage, views
from packyard.packages.index import xmlrpc
from packyard.packages.stages import views as stage_views
from packyard.packages.trusted import manage as trusted_manage
from packyard.packages.trusted import views as trusted_views
from packyard.packages.upload import views as upload_views

app_name = "packages"

urlpatterns = [
    # Clients POST to the exact URL they are given and do not follow redirects: answer both.
    path("legacy/", upload_views.upload, name="upload"),
    path("legacy", upload_views.upload),
    path("search/", views.search, name="search"),
    path("_/oidc/audience", trusted_views.audience, name="oidc-audience"),
    path("_/oidc/mint-token", trusted_views.mint_token, name="oidc-mint-token"),
    path("_/oidc/burn-token", trusted_views.burn_token, name="oidc-burn-token"),
    path(".well-known/pytp", trusted_views.pytp_discovery, name="pytp"),
    path("_/auth/read", views.read_check, name="read-check"),
    path("user/<str:username>/", views.user_page, name="user"),
    path("simple/", views.simple_index, name="simple-index"),
    path("simple/<str:name>/", views.simple_project, name="simple-project"),
    re_path(r"^(?P<path>packages/[0-9a-f/]+/[^/]+)$", views.file_download, name="file"),
    # Where files were linked before they moved to PyPI's layout: links kept elsewhere still work.
    re_path(r"^files/(?P<path>packages/[0-9a-f/]+/[^/]+)$", views.file_download),
    path("stage/<str:key>/simple/", stage_views.stage_simple, name="stage-simple"),
    path("stage/<str:key>/simple/<str:name>/", stage_views.stage_simple, name="stage-project"),
    path("stage/<str:key>/files/<str:filename>", stage_views.stage_file, name="stage-file"),
    path("pypi", xmlrpc.xmlrpc_endpoint, name="xmlrpc"),
    path("pypi/<str:name>/json", views.json_project, name="json-project"),
    path("pypi/<str:name>/<str:version>/json", views.json_release, name="json-release"),
    path("manage/project/<str:name>/credentials/", manage.project_credentials, name="credentials"),
    path("manage/project/<str:name>/history/", manage.project_history, name="history"),
    path("manage/project/<str:name>/security/", manage.project_security, name="security"),
    path("manage/project/<str:name>/stages/", stage_views.project_stages, name="stages"),
    path(
        "manage/project/<str:name>/stages/<str:stage_id>/",
        stage_views.stage_review,
        name="stage",
    ),
    path("manage/projects/", manage.my_projects, name="my-projects"),
    path("manage/account/invitations/", manage.my_invitations, name="invitations"),
    path(
        "manage/project/<str:name>/collaborators/",
        manage.project_collaborators,
        name="collaborators",
    ),
    path("manage/project/<str:name>/", manage.project_settings, name="settings"),
    path(
        "manage/project/<str:name>/publishing/",
        trusted_manage.project_publishing,
        name="publishing",
    ),
    path(
        "manage/account/publishing/",
        trusted_manage.pending_publishing,
        name="pending-publishing",
    ),
    path("manage/project/<str:name>/yank/", manage.release_yank, name="yank"),
    path("manage/project/<str:name>/delete-file/", manage.delete_file, name="delete-file"),
    path("manage/project/<str:name>/delete-release/", manage.delete_release, name="delete-release"),
    path("manage/project/<str:name>/delete/", manage.delete_project, name="delete-project"),
    path(
        "manage/project/<str:name>/credentials/revoke/",
        manage.project_credential_revoke,
        name="credential-revoke",
    ),
    path("project/<str:name>/", views.project_page, name="project"),
    path("project/<str:name>/<str:version>/", views.project_page, name="release"),
]
