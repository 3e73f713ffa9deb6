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
from packyard.accounts.reauth import reauth_required
from packyard.accounts.services import (
    account_changed_by_admin,
    account_freeze,
    account_unfreeze,
)
from packyard.fellows.models import Fellow, Member
from packyard.fellows.services import record
from packyard.packages.models import Project, ProjectEvent, Publisher, ReservedName
from packyard.packages.services import project_delete, project_quarantine
from packyard.packages.trusted.publishers import publisher_remove
from packyard.twofactor.services import (
    second_factors_reset,
    two_factor_missing,
    user_has_two_factor,
)


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
            # Under PACKYARD_REQUIRE_2FA=phishing-resistant: a security key or passkey.
            and not two_factor_missing(user, publishing=True)
        )

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        """Every admin page (and so every change made from one) needs a re-authentication
        within PACKYARD_REAUTH_SECONDS, like the site's own sensitive pages."""
        return super().admin_view(reauth_required()(view), cacheable)

    # Staff change their own password on the site (limited, recorded, emailed), not here.
    def password_change(  # type: ignore[override] # a redirect, not the admin's form
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return redirect("accounts:password-change")

    def password_change_done(  # type: ignore[override] # a redirect, not the admin's page
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return redirect("accounts:manage")

    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.user.is_authenticated:
            messages.error(request, "The admin is for staff accounts with two-factor login.")
            return redirect("twofactor:overview")
        query = urlencode({"next": request.GET.get("next") or reverse("admin:index")})
        return redirect(f"{reverse('signin:login')}?{query}")


site = PackyardAdminSite(name="admin")


@admin.action(description="Reset second factors (the user is emailed)")
def reset_second_factors(
    modeladmin: "admin.ModelAdmin[User]", request: HttpRequest, queryset: QuerySet[User]
) -> None:
    assert isinstance(request.user, User)
    for user in queryset:
        second_factors_reset(user=user, admin=request.user, request=request)
    messages.success(request, f"Reset the second factors of {queryset.count()} account(s).")


@admin.action(description="Freeze (no login, tokens stop working)")
def freeze_accounts(
    modeladmin: "admin.ModelAdmin[User]", request: HttpRequest, queryset: QuerySet[User]
) -> None:
    assert isinstance(request.user, User)
    for user in queryset.exclude(pk=request.user.pk):
        account_freeze(user=user, admin=request.user, request=request)
    messages.success(request, "Frozen. Their sessions ended and their tokens stopped working.")


@admin.action(description="Unfreeze")
def unfreeze_accounts(
    modeladmin: "admin.ModelAdmin[User]", request: HttpRequest, queryset: QuerySet[User]
) -> None:
    assert isinstance(request.user, User)
    for user in queryset.filter(is_active=False):
        account_unfreeze(user=user, admin=request.user, request=request)
    messages.success(request, "Unfrozen.")


def _without_password(fieldsets: Any) -> tuple[Any, ...]:
    return tuple(
        (title, {**options, "fields": tuple(f for f in options["fields"] if f != "password")})
        for title, options in fieldsets
    )


class PackyardUserAdmin(UserAdmin):
    """Staff never see or set passwords here: a locked-out user resets theirs by email, and
    staff reset second factors (an emailed, recorded action). Every change to an account is
    recorded in its history and emailed to it."""

    list_display = ("username", "email", "email_verified", "is_active", "is_staff", "date_joined")
    fieldsets = _without_password(
        (*(UserAdmin.fieldsets or ()), ("Verification", {"fields": ("email_verified",)}))
    )
    actions = [reset_second_factors, freeze_accounts, unfreeze_accounts]

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        messages.error(
            request,
            "Staff do not set passwords: the user resets theirs by email "
            "(Forgot your password?), and staff can reset their second factors.",
        )
        return redirect("admin:accounts_user_change", id)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # accounts come from registration, invitations and `packyard user create`

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        assert isinstance(request.user, User)
        changed = sorted(form.changed_data)
        if not changed:
            return
        account_changed_by_admin(user=obj, admin=request.user, fields=changed, request=request)


@admin.action(description="Quarantine (hidden from the index, uploads closed)")
def quarantine_projects(
    modeladmin: "admin.ModelAdmin[Project]", request: HttpRequest, queryset: QuerySet[Project]
) -> None:
    assert isinstance(request.user, User)
    for project in queryset:
        project_quarantine(project=project, on=True, admin=request.user, request=request)
    messages.success(request, "Quarantined.")


@admin.action(description="Release from quarantine")
def release_projects(
    modeladmin: "admin.ModelAdmin[Project]", request: HttpRequest, queryset: QuerySet[Project]
) -> None:
    assert isinstance(request.user, User)
    for project in queryset:
        project_quarantine(project=project, on=False, admin=request.user, request=request)
    messages.success(request, "Released from quarantine.")


class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "normalized_name", "created", "updated", "quarantined")
    list_filter = ("quarantined",)
    search_fields = ("normalized_name",)
    readonly_fields = (
        "name",
        "normalized_name",
        "created",
        "updated",
        "search_summary",
        "quarantined",
        "trusted_publishing_only",
    )
    fields = readonly_fields
    actions = [quarantine_projects, release_projects]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    # Deleting from here does what an Owner's deletion does: the stored files and the index
    # pages go too, and the deleting admin's history records it.
    def delete_model(self, request: HttpRequest, obj: Project) -> None:
        assert isinstance(request.user, User)
        project_delete(project=obj, actor=request.user, request=request, by_staff=True)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Project]) -> None:
        for project in queryset:
            self.delete_model(request, project)


class ProjectEventAdmin(admin.ModelAdmin):
    list_display = ("time", "project", "tag", "actor", "ip_address")
    list_filter = ("tag",)
    search_fields = ("project__normalized_name", "tag")
    readonly_fields = ("project", "tag", "time", "actor", "ip_address", "user_agent", "additional")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EventAdmin(admin.ModelAdmin):
    list_display = ("time", "user", "tag", "ip_address")
    list_filter = ("tag",)
    search_fields = ("user__username", "tag")
    readonly_fields = ("user", "tag", "time", "ip_address", "user_agent", "additional")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReservedNameAdmin(admin.ModelAdmin):
    """Deleted projects' names. Deleting a row releases the name to anyone."""

    list_display = ("normalized_name", "quarantined", "created")
    search_fields = ("normalized_name",)
    readonly_fields = ("normalized_name", "name_skeleton", "quarantined", "former_owner_ids")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PublisherAdmin(admin.ModelAdmin):
    """Trusted publishers, for staff to see and remove (Owners add them on the project's
    pages, the operator with `packyard publisher add`)."""

    list_display = ("id", "project", "pending_name", "kind", "issuer_url", "created")
    list_filter = ("kind",)
    search_fields = ("project__normalized_name", "pending_normalized_name", "issuer_url")
    readonly_fields = (
        "project",
        "pending_name",
        "added_by",
        "issuer_url",
        "kind",
        "claims",
        "allowed_events",
        "created",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # Removed as an Owner removes one: recorded in the project's history, told to its Owners.
    def delete_model(self, request: HttpRequest, obj: Publisher) -> None:
        assert isinstance(request.user, User)
        publisher_remove(publisher=obj, actor=request.user, request=request)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Publisher]) -> None:
        for publisher in queryset:
            self.delete_model(request, publisher)


class FellowsMemberAdmin(admin.ModelAdmin):
    """Staff choose the recognition programme's work group; each change is in its log."""

    list_display = ("user", "added")
    autocomplete_fields = ("user",)

    def save_model(self, request: HttpRequest, obj: Member, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        assert isinstance(request.user, User)
        record("work_group:added", actor=request.user, member=obj.user.username)

    def delete_model(self, request: HttpRequest, obj: Member) -> None:
        assert isinstance(request.user, User)
        record("work_group:removed", actor=request.user, member=obj.user.username)
        super().delete_model(request, obj)


class FellowAdmin(admin.ModelAdmin):
    """The roster: staff mark Fellows emeritus or in memoriam, correct names and links."""

    list_display = ("name", "round", "listing", "status")
    list_filter = ("listing", "status")
    fields = ("name", "links", "status", "user")
    autocomplete_fields = ("user",)

    def save_model(self, request: HttpRequest, obj: Fellow, form: Any, change: bool) -> None:
        if obj.status not in Fellow.STATUSES:
            obj.status = Fellow.ACTIVE
        super().save_model(request, obj, form, change)
        assert isinstance(request.user, User)
        record(
            "roster:changed",
            actor=request.user,
            round=obj.round,
            name=obj.name,
            fields=", ".join(form.changed_data),
        )


site.register(Member, FellowsMemberAdmin)
site.register(Fellow, FellowAdmin)
site.register(User, PackyardUserAdmin)
site.register(Publisher, PublisherAdmin)
site.register(ReservedName, ReservedNameAdmin)
site.register(Event, EventAdmin)
site.register(Project, ProjectAdmin)
site.register(ProjectEvent, ProjectEventAdmin)
