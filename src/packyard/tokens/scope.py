"""What a token may do beyond uploading as its owner, as a person chose it; `caveats` turns it
into the token's caveats, and `as_dict` / `from_dict` into what the token's row keeps."""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from packyard.accounts.models import User
from packyard.tokens.caveats import (
    Caveat,
    CaveatError,
    ExistingProjectsOnly,
    ProjectID,
    ProjectName,
    ReadOnly,
    RequestUser,
    SingleUse,
    SourceAddresses,
    VersionPattern,
    networks,
    version_specifier,
)


@dataclass(frozen=True)
class TokenScope:
    """What a token may do, beyond uploading as its owner."""

    projects: tuple[tuple[str, str], ...] = ()  # existing projects: (normalized name, id)
    new_project: str = ""  # a name nobody has taken yet, which the token may create
    existing_only: bool = False
    version_pattern: str = ""
    source_cidrs: tuple[str, ...] = ()
    single_use: bool = False
    read_only: bool = False
    # Its uploads wait in a stage for approval (no caveat: PyPI's format has none; the token's
    # row, checked at every use, carries it).
    stage_only: bool = False

    def caveats(self, user: User) -> list[Caveat]:
        found: list[Caveat] = []
        if self.projects:
            found.append(ProjectName(normalized_names=tuple(name for name, _ in self.projects)))
            found.append(ProjectID(project_ids=tuple(pid for _, pid in self.projects)))
        elif self.new_project:
            found.append(ProjectName(normalized_names=(self.new_project,)))
        else:
            found.append(RequestUser(user_id=str(user.pk)))
        if self.existing_only:
            found.append(ExistingProjectsOnly())
        if self.version_pattern:
            found.append(VersionPattern(pattern=self.version_pattern))
        if self.source_cidrs:
            found.append(SourceAddresses(cidrs=self.source_cidrs))
        if self.single_use:
            found.append(SingleUse())
        if self.read_only:
            found.append(ReadOnly())
        return found

    def project_names(self) -> list[str]:
        """The projects it names, existing or new: kept on the row for lookups and pages."""
        return [name for name, _ in self.projects] or (
            [self.new_project] if self.new_project else []
        )

    def check(self) -> None:
        if self.projects and self.new_project:
            raise ValidationError("Scope a token to existing projects or to one new project.")
        if self.new_project and self.existing_only:
            raise ValidationError("A token for a new project must be allowed to create it.")
        if self.stage_only and self.read_only:
            raise ValidationError("A read-only token uploads nothing, so it cannot be stage-only.")
        if self.stage_only and self.new_project:
            raise ValidationError(
                "A stage-only token uploads to existing projects: their Owners approve stages."
            )
        try:
            if self.version_pattern:
                version_specifier(self.version_pattern)
            networks(self.source_cidrs)
        except CaveatError as exc:
            raise ValidationError(str(exc)) from None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TokenScope":
        """The scope as a token row keeps it (`as_dict`): project names without their ids,
        which only the token's caveats hold."""
        return cls(
            projects=tuple((str(name), "") for name in data.get("projects") or ()),
            new_project=str(data.get("new_project") or ""),
            existing_only=bool(data.get("existing_only")),
            version_pattern=str(data.get("version_pattern") or ""),
            source_cidrs=tuple(str(cidr) for cidr in data.get("source_cidrs") or ()),
            single_use=bool(data.get("single_use")),
            read_only=bool(data.get("read_only")),
            stage_only=bool(data.get("stage_only")),
        )

    def label(self) -> str:
        """The scope in a few words, for the token list."""
        if self.new_project:
            parts = [f"New project: {self.new_project}"]
        elif self.projects:
            parts = ["Projects: " + ", ".join(name for name, _ in self.projects)]
        else:
            parts = ["Whole account"]
        if self.existing_only:
            parts.append("existing projects only")
        if self.version_pattern:
            parts.append(f"versions {self.version_pattern}")
        if self.source_cidrs:
            parts.append("from " + ", ".join(self.source_cidrs))
        if self.single_use:
            parts.append("single use")
        if self.read_only:
            parts.append("read-only")
        if self.stage_only:
            parts.append("stage only")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, object]:
        return {
            "projects": [name for name, _ in self.projects],
            "new_project": self.new_project,
            "existing_only": self.existing_only,
            "version_pattern": self.version_pattern,
            "source_cidrs": list(self.source_cidrs),
            "single_use": self.single_use,
            "read_only": self.read_only,
            "stage_only": self.stage_only,
        }
