"""Caveats, in PyPI's compact JSON form: ``[tag, field, ...]``.

Tags 0-3 are PyPI's, read exactly as PyPI reads them; Packyard's own start at 100. A caveat is a
versioned, append-only record: fields are only ever appended, and each type has its own check.
Anything this module does not understand is refused: unknown caveats fail closed.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any, ClassVar

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version


class CaveatError(Exception):
    """The token carries a caveat we cannot read."""


class CaveatFailed(Exception):
    """A caveat was read and does not hold for this request; the message is for the user."""


@dataclass(frozen=True)
class Context:
    now: int
    user_id: str
    client_ip: str = ""
    # None while only the credential is being checked, before the upload names its project
    # (project_id stays None when the upload would create the project).
    project_name: str | None = None
    project_id: str | None = None
    version: str | None = None
    # What the token is doing: "upload", "read" (a private index) or "revoke" (itself).
    action: str = "upload"


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


# Packyard's own caveats, tags from 100 up. PyPI's server and pypitoken do not know them: on
# PyPI they would fail closed, as any unknown caveat must.


@dataclass(frozen=True)
class ExistingProjectsOnly(Caveat):
    """Upload new files to projects that exist; never create a project."""

    tag = 100
    needs_project = True

    def verify(self, context: Context) -> None:
        if context.action != "upload":
            return  # a rule about creating projects: reading creates none
        if context.project_id is None:
            raise CaveatFailed(
                f"token may only upload to existing projects, and {context.project_name!r} "
                "does not exist"
            )

    def dump(self) -> list[Any]:
        return [self.tag]


def version_specifier(pattern: str) -> SpecifierSet:
    """`2.*` means `==2.*`; anything that starts with an operator is a specifier set."""
    text = pattern.strip()
    if text and text[0] not in "=<>!~":
        text = f"=={text}"
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise CaveatError(f"{pattern!r} is not a version pattern") from None


@dataclass(frozen=True)
class VersionPattern(Caveat):
    tag = 101
    needs_project = True
    pattern: str

    def verify(self, context: Context) -> None:
        if context.action != "upload":
            return  # a rule about the versions uploaded: every version of the project reads
        specifier = version_specifier(self.pattern)
        try:
            version = Version(context.version or "")
        except InvalidVersion:
            version = None
        if version is None or not specifier.contains(version, prereleases=True):
            raise CaveatFailed(
                f"token is not valid for version {context.version!r} (only {self.pattern!r})"
            )

    def dump(self) -> list[Any]:
        return [self.tag, self.pattern]


def networks(cidrs: tuple[str, ...]) -> list[IPv4Network | IPv6Network]:
    try:
        return [ip_network(cidr, strict=False) for cidr in cidrs]
    except ValueError as exc:
        raise CaveatError(f"not an address range: {exc}") from None


@dataclass(frozen=True)
class SourceAddresses(Caveat):
    tag = 102
    cidrs: tuple[str, ...]

    def verify(self, context: Context) -> None:
        allowed = networks(self.cidrs)
        try:
            address = ip_address(context.client_ip)
        except ValueError:
            address = None
        if address is None or not any(address in network for network in allowed):
            raise CaveatFailed(f"token is not valid from address {context.client_ip}")

    def dump(self) -> list[Any]:
        return [self.tag, list(self.cidrs)]


@dataclass(frozen=True)
class SingleUse(Caveat):
    """Good for one request of any kind (an upload, a read of a private index, a revocation);
    the server revokes the token as it is used."""

    tag = 103

    def verify(self, context: Context) -> None:  # noqa: ARG002 - the caveats' shared signature
        return  # enforced where the token is claimed, which needs the database

    def dump(self) -> list[Any]:
        return [self.tag]


@dataclass(frozen=True)
class ReadOnly(Caveat):
    """Reads a private index (within the token's projects) and never uploads: for CI installs
    and mirrors. A holder can add it offline to make a read-only copy of any token."""

    tag = 104

    def verify(self, context: Context) -> None:
        if context.action == "upload":
            raise CaveatFailed("token is read-only: it cannot upload")

    def dump(self) -> list[Any]:
        return [self.tag]


def _str_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise CaveatError("expected a list of strings")
    return tuple(value)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CaveatError("expected an integer")
    return int(value)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise CaveatError("expected a string")
    return value


def _source_addresses(value: Any) -> SourceAddresses:
    cidrs = _str_list(value)
    networks(cidrs)
    return SourceAddresses(cidrs=cidrs)


def _version_pattern(value: Any) -> VersionPattern:
    pattern = _str(value)
    version_specifier(pattern)
    return VersionPattern(pattern=pattern)


# tag: (number of fields, constructor from the fields)
PARSERS: dict[int, tuple[int, Callable[[list[Any]], Caveat]]] = {
    0: (2, lambda f: Expiration(not_after=_int(f[0]), not_before=_int(f[1]))),
    1: (1, lambda f: ProjectName(normalized_names=_str_list(f[0]))),
    2: (1, lambda f: ProjectID(project_ids=_str_list(f[0]))),
    3: (1, lambda f: RequestUser(user_id=_str(f[0]))),
    100: (0, lambda _: ExistingProjectsOnly()),
    101: (1, lambda f: _version_pattern(f[0])),
    102: (1, lambda f: _source_addresses(f[0])),
    103: (0, lambda _: SingleUse()),
    104: (0, lambda _: ReadOnly()),
}


def _parse_compact(data: list[Any]) -> Caveat:
    if not data or isinstance(data[0], bool) or not isinstance(data[0], int):
        raise CaveatError("a caveat starts with its integer tag")
    tag, fields = data[0], data[1:]
    if tag not in PARSERS:
        raise CaveatError(f"unknown caveat tag {tag}")
    count, build = PARSERS[tag]
    if len(fields) < count:
        raise CaveatError(f"caveat {tag} is missing fields")
    if len(fields) > count:
        # Fields are only ever appended: a newer field we do not know may narrow the token
        # in a way we cannot check, so refuse it.
        raise CaveatError(f"caveat {tag} has fields this server does not know")
    return build(fields)


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
