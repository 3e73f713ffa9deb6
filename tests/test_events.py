"""Every kind of event reads as a sentence in the history pages, never as its raw tag."""

import pytest

from packyard.accounts import history as account_history
from packyard.accounts.events import EventTag
from packyard.packages import history as project_history
from packyard.packages.events import ProjectEventTag


@pytest.mark.parametrize("tag", list(EventTag))
def test_every_account_event_has_a_sentence(tag: EventTag):
    assert tag in account_history.SENTENCES
    sentence = account_history.event_sentence(str(tag), {})
    assert sentence
    assert "account:" not in sentence


@pytest.mark.parametrize("tag", list(ProjectEventTag))
def test_every_project_event_has_a_sentence(tag: ProjectEventTag):
    assert tag in project_history.SENTENCES
    sentence = project_history.event_sentence(str(tag), {})
    assert sentence
    assert "project:" not in sentence


def test_stored_values_never_change():
    # The tags are in the database: renaming a member is fine, changing a value is not.
    assert EventTag.LOGIN_SUCCESS.value == "account:login:success"
    assert ProjectEventTag.FILE_ADD.value == "project:file:add"
    assert len({tag.value for tag in EventTag}) == len(EventTag)
