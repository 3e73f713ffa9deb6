"""The staff site at /admin/: staff accounts with a second factor only, logged in through the
site's own login (password and second factor), never through the admin's password-only form."""

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from packyard.accounts.models import Event, User
from packyard.twofactor.services import second_factors_reset, user_has_two_factor


class PackyardAdminSite(admin.AdminSite):
    site_header = "Packyard administration"
    site_title = "Packyard admin"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return (
            isinstance(user, User)
            and user.is_active
            and user.is_staff
            and user_has_two_factor(user)
        )

    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.user.is_authenticated:
            messages.error(request, "The admin is for staff accounts with two-factor login.")
            return redirect("twofactor:overview")
        query = urlencode({"next": request.GET.get("next") or reverse("admin:index")})
        return redirect(f"{reverse('accounts:login')}?{query}")


site = PackyardAdminSite(name="admin")


@admin.action(description="Reset second factors (the user is emailed)")
def reset_second_factors(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[User]
) -> None:
    assert isinstance(request.user, User)
    for user in queryset:
        second_factors_reset(user=user, admin=request.user, request=request)
    messages.success(request, f"Reset the second factors of {queryset.count()} account(s).")


class PackyardUserAdmin(UserAdmin):
    list_display = ("username", "email", "email_verified", "is_active", "is_staff", "date_joined")
    fieldsets = (*(UserAdmin.fieldsets or ()), ("Verification", {"fields": ("email_verified",)}))
    actions = [reset_second_factors]


class EventAdmin(admin.ModelAdmin):
    list_display = ("time", "user", "tag", "ip_address")
    list_filter = ("tag",)
    search_fields = ("user__username", "tag")
    readonly_fields = ("user", "tag", "time", "ip_address", "user_agent", "additional")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


site.register(User, PackyardUserAdmin)
site.register(Event, EventAdmin)
