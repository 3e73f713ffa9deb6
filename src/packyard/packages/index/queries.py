"""Reading projects, releases and files in the shapes the index's pages need."""

from dataclasses import dataclass

from django.db.models import Max
from packaging.version import InvalidVersion, Version

from packyard.packages.models import File, JournalEntry, Project, Release


def version_key(release: Release) -> tuple[int, Version | str]:
    try:
        return (1, Version(release.version))
    except InvalidVersion:
        return (0, release.version)


@dataclass
class ProjectListing:
    project: Project
    releases: list[Release]  # oldest first
    files: list[File]  # by filename, each with its release loaded

    @property
    def latest(self) -> Release | None:
        """The newest release that is neither yanked nor a pre-release, else the newest."""
        candidates = [r for r in self.releases if not r.yanked]
        stable = [r for r in candidates if not _is_prerelease(r)]
        for group in (stable, candidates, self.releases):
            if group:
                return group[-1]
        return None


def _is_prerelease(release: Release) -> bool:
    try:
        return Version(release.version).is_prerelease
    except InvalidVersion:
        return True


def project_listing(project: Project) -> ProjectListing:
    # Every release's description and metadata would be read for the one release a page shows.
    releases = sorted(project.releases.defer("description_html", "metadata"), key=version_key)
    by_id = {release.pk: release for release in releases}
    files = list(File.objects.filter(release__project=project).order_by("filename"))
    for file in files:
        file.release = by_id[file.release_id]
    return ProjectListing(project=project, releases=releases, files=files)


def last_serial() -> int:
    """The serial of the index's newest change (0 for an index that never changed)."""
    return JournalEntry.objects.aggregate(serial=Max("id"))["serial"] or 0
