from django.urls import path
from django.views.generic import TemplateView

from packyard.accounts import views

app_name = "accounts"

urlpatterns = [
    path("account/logout/", views.logout_view, name="logout"),
    path("account/register/", views.register_view, name="register"),
    path(
        "account/register/invited/<str:token>/",
        views.register_invited_view,
        name="register-invited",
    ),
    path("manage/invite-user/", views.invite_user_view, name="invite-user"),
    path("account/verify-email/<str:token>/", views.verify_email_view, name="verify-email"),
    path("account/verify-email-again/", views.resend_verification_view, name="resend-verification"),
    path("account/reset-password/", views.PasswordResetView.as_view(), name="password-reset"),
    path(
        "account/reset-password/sent/",
        TemplateView.as_view(template_name="accounts/password_reset_sent.html"),
        name="password-reset-sent",
    ),
    path(
        "account/reset-password/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "account/reset-password/done/",
        TemplateView.as_view(template_name="accounts/password_reset_done.html"),
        name="password-reset-done",
    ),
    path("manage/account/", views.manage_view, name="manage"),
    path("manage/account/password/", views.PasswordChangeView.as_view(), name="password-change"),
    path("manage/account/sessions/", views.sessions_view, name="sessions"),
    path("manage/account/sessions/revoke/", views.session_revoke_view, name="session-revoke"),
    path("manage/account/history/", views.history_view, name="history"),
]
