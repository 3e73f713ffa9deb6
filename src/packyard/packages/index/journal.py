"""Change serials, as PyPI numbers them: every change to a project's index pages adds a journal
entry, whose id is the new serial, and becomes the project's `last_serial`. Mirrors compare
serials to know what to fetch again (bandersnatch: `_last-serial` in the PEP 691 root,
`X-PyPI-Last-Serial`, the XML-RPC changelog).

Call `journal_record` inside the changing transaction, before the pages are rendered again:
the pages carry the serial. The root pages list every project's serial, so each change marks
them stale, which locks their row until the commit: a long transaction (an upload, which writes
the file's bytes before it commits) passes `mark_root_stale=False` and calls
`pages.index_invalidate()` as its last statement, so uploads to different projects do not wait
for each other's bytes."""

from packaging.utils import canonicalize_name

from packyard.packages.index import pages
from packyard.packages.models import JournalEntry, Project


def journal_record(
    *, project: Project, action: str, version: str = "", mark_root_stale: bool = True
) -> int:
    """Record a change of a project that exists (and stays); returns its serial."""
    serial = journal_record_name(
        name=project.name, action=action, version=version, mark_root_stale=mark_root_stale
    )
    Project.objects.filter(pk=project.pk).update(last_serial=serial)
    project.last_serial = serial
    return serial


def journal_record_name(
    *, name: str, action: str, version: str = "", mark_root_stale: bool = True
) -> int:
    """Record a change by the project's name: also for a project being deleted."""
    entry = JournalEntry.objects.create(
        name=name, normalized_name=canonicalize_name(name), version=version, action=action
    )
    if mark_root_stale:
        pages.index_invalidate()
    return entry.id
