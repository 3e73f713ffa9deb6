"""What the token pages need to know of projects, and no more. `tokens` sits below `packages`:
packages registers its answers when it starts (`packages/token_projects.py`), as it listens to
`tokens.signals` for the history."""

from collections.abc import Iterable
from typing import NamedTuple, Protocol

from packyard.accounts.models import User


class ProjectChoice(NamedTuple):
    id: str
    name: str  # normalized


class ProjectNameRefused(Exception):
    """The name may not be given to a new project; the message says why."""


class ProjectDirectory(Protocol):
    def uploadable_by(self, user: User) -> list[ProjectChoice]:
        """The projects a token of this user may be scoped to, by name."""

    def named(self, names: Iterable[str]) -> list[ProjectChoice]:
        """The projects of these normalized names that exist."""

    def new_project_name(self, *, name: str, user: User) -> str:
        """The normalized name, if `user` may create a project of it; ProjectNameRefused if not."""


_registered: list[ProjectDirectory] = []


def directory_register(directory: ProjectDirectory) -> None:
    _registered[:] = [directory]


def directory() -> ProjectDirectory:
    if not _registered:
        raise RuntimeError("No project directory registered: is packyard.packages installed?")
    return _registered[0]
