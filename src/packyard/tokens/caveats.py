"""Caveats, in PyPI's compact JSON form: ``[tag, field, ...]``.

Tags 0-3 are PyPI's, read exactly as PyPI reads them; Packyard's own start at 100. A caveat is a
versioned, append-only record: fields are only ever appended, and each type has its own check.
Anything this module does not understand is refused: unknown caveats fail closed.
"""

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from packaging.utils import canonicalize_name


class CaveatError(Exception):
    """The token carries a caveat we cannot read."""


class CaveatFailed(Exception):
    """A caveat was read and does not hold for this request; the message is for the user."""


@dataclass(frozen=True)
class Context:
    now: int
    user_id: str
    # None while only the credential is being checked, before the upload names its project.
    project_name: str | None = None
    project_id: str | None = None


class Caveat:
    tag: ClassVar[int]
    needs_project: ClassVar[bool] = False

    def verify(self, context: Context) -> None:
        raise NotImplementedError

    def dump(self) -> list[Any]:
        raise NotImplementedError

    def to_json(self) -> str:
        return json.dumps(self.dump(), separators=(",", ":"))


@dataclass(frozen=True)
class Expiration(Caveat):
    tag = 0
    not_after: int
    not_before: int

    def verify(self, context: Context) -> None:
        if context.now < self.not_before:
            raise CaveatFailed("token is not yet valid")
        if context.now >= self.not_after:
            raise CaveatFailed("token is expired")

    def dump(self) -> list[Any]:
        return [self.tag, self.not_after, self.not_before]


@dataclass(frozen=True)
class ProjectName(Caveat):
    tag = 1
    needs_project = True
    normalized_names: tuple[str, ...]

    def verify(self, context: Context) -> None:
        allowed = {canonicalize_name(name) for name in self.normalized_names}
        if context.project_name not in allowed:
            raise CaveatFailed(
                f"project-scoped token is not valid for project: {context.project_name!r}"
            )

    def dump(self) -> list[Any]:
        return [self.tag, list(self.normalized_names)]


@dataclass(frozen=True)
class ProjectID(Caveat):
    tag = 2
    needs_project = True
    project_ids: tuple[str, ...]

    def verify(self, context: Context) -> None:
        if context.project_id is None or context.project_id not in self.project_ids:
            raise CaveatFailed(
                f"project-scoped token is not valid for project: {context.project_name!r}"
            )

    def dump(self) -> list[Any]:
        return [self.tag, list(self.project_ids)]


@dataclass(frozen=True)
class RequestUser(Caveat):
    tag = 3
    user_id: str

    def verify(self, context: Context) -> None:
        if context.user_id != self.user_id:
            raise CaveatFailed("token is not valid for this user")

    def dump(self) -> list[Any]:
        return [self.tag, self.user_id]


def _str_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise CaveatError("expected a list of strings")
    return tuple(value)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CaveatError("expected an integer")
    return value


def _parse_compact(data: list[Any]) -> Caveat:
    if not data or isinstance(data[0], bool) or not isinstance(data[0], int):
        raise CaveatError("a caveat starts with its integer tag")
    tag, fields = data[0], data[1:]
    required = {0: 2, 1: 1, 2: 1, 3: 1}
    if tag not in required:
        raise CaveatError(f"unknown caveat tag {tag}")
    if len(fields) < required[tag]:
        raise CaveatError(f"caveat {tag} is missing fields")
    if len(fields) > required[tag]:
        # Fields are only ever appended: a newer field we do not know may narrow the token
        # in a way we cannot check, so refuse it.
        raise CaveatError(f"caveat {tag} has fields this server does not know")
    if tag == 0:
        return Expiration(not_after=_int(fields[0]), not_before=_int(fields[1]))
    if tag == 1:
        return ProjectName(normalized_names=_str_list(fields[0]))
    if tag == 2:
        return ProjectID(project_ids=_str_list(fields[0]))
    if not isinstance(fields[0], str):
        raise CaveatError("caveat 3 needs a user id string")
    return RequestUser(user_id=fields[0])


def _parse_legacy(data: dict[str, Any]) -> Caveat | None:
    """PyPI's first caveat formats, still found in old tokens and made by pypitoken."""
    if set(data) == {"exp", "nbf"}:
        return Expiration(not_after=_int(data["exp"]), not_before=_int(data["nbf"]))
    if data.get("version") == 1 and set(data) == {"version", "permissions"}:
        permissions = data["permissions"]
        if permissions == "user":
            return None  # grants nothing beyond the token's own user
        if isinstance(permissions, dict) and set(permissions) == {"projects"}:
            return ProjectName(normalized_names=_str_list(permissions["projects"]))
    raise CaveatError("unknown caveat")


def caveat_parse(text: str) -> Caveat | None:
    """Read one caveat; None for a legacy caveat that restricts nothing."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise CaveatError("the caveat is not JSON") from None
    if isinstance(data, list):
        return _parse_compact(data)
    if isinstance(data, dict):
        return _parse_legacy(data)
    raise CaveatError("the caveat is neither a list nor an object")
