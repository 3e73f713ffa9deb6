"""A token's scope: what the row keeps reads back as the scope, and in words on the list."""

from packyard.tokens.scope import TokenScope


def test_the_kept_scope_reads_back():
    scope = TokenScope(
        projects=(("demo", "0b7c"), ("other", "9a1e")),
        version_pattern=">=2",
        source_cidrs=("10.0.0.0/8",),
        single_use=True,
    )
    kept = TokenScope.from_dict(scope.as_dict())
    assert kept.as_dict() == scope.as_dict()
    assert kept.projects == (("demo", ""), ("other", ""))  # the ids live in the caveats only


def test_scopes_in_words():
    assert TokenScope().label() == "Whole account"
    assert TokenScope(new_project="fresh").label() == "New project: fresh"
    assert (
        TokenScope(projects=(("demo", "1"),), existing_only=True, read_only=True).label()
        == "Projects: demo; existing projects only; read-only"
    )


def test_an_old_row_without_newer_fields_reads():
    assert TokenScope.from_dict({}) == TokenScope()
    # A row edited by hand (or by a future migration) with nulls reads as empty, not as "None".
    nulls = dict.fromkeys(("projects", "new_project", "version_pattern", "source_cidrs"))
    assert TokenScope.from_dict(nulls) == TokenScope()
