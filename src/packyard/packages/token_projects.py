"""The project lookups the token pages use (see `tokens.projects`)."""

from collections.abc import Iterable

from django.db.models import QuerySet

from packyard.accounts.models import User
from packyard.packages.models import Project
from packyard.packages.services import ProjectActionError, new_project_name_check
from packyard.tokens.projects import ProjectChoice, ProjectNameRefused


def _choices(projects: QuerySet[Project]) -> list[ProjectChoice]:
    rows = projects.order_by("normalized_name").values_list("id", "normalized_name")
    return [ProjectChoice(str(pk), name) for pk, name in rows]


class ProjectsForTokens:
    def uploadable_by(self, user: User) -> list[ProjectChoice]:
        return _choices(Project.objects.filter(roles__user=user).distinct())

    def named(self, names: Iterable[str]) -> list[ProjectChoice]:
        return _choices(Project.objects.filter(normalized_name__in=list(names)))

    def new_project_name(self, *, name: str, user: User) -> str:
        try:
            return new_project_name_check(name=name, user=user)
        except ProjectActionError as exc:
            raise ProjectNameRefused(str(exc)) from None
