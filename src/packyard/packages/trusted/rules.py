"""Which identity tokens a publisher accepts, per kind of issuer.

A publisher is a set of expected claims. Each kind names the claims a publisher must set (the
immutable ids among them, so that a repository or namespace deleted and made again under the
same name cannot publish) and how each is compared with the token's; `generic` accepts any
claims, each equal, or a prefix where the expected value ends in `*`."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# GitHub events that run a workflow with the repository's secrets on code it did not review.
UNSAFE_EVENTS = ("pull_request_target", "workflow_run")


# A publisher is a handful of short claims; anything far larger is not one, and is not stored.
MAX_CLAIMS = 20
MAX_CLAIM_NAME = 64
MAX_CLAIM_VALUE = 300


class RuleError(ValueError):
    """A publisher's claims are not what its kind needs; the message says what is missing."""


@dataclass(frozen=True)
class Kind:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    # Claims whose values are names, compared without regard to case (GitHub's and GitLab's
    # owner and repository names are case-insensitive; ids are compared exactly).
    case_insensitive: tuple[str, ...] = ()

    def check_publisher(self, claims: dict[str, str]) -> dict[str, str]:
        """The claims cleaned of blanks, or RuleError naming what is missing or unknown."""
        cleaned = {name.strip(): str(value).strip() for name, value in claims.items()}
        cleaned = {name: value for name, value in cleaned.items() if value}
        if len(cleaned) > MAX_CLAIMS or any(
            len(name) > MAX_CLAIM_NAME or len(value) > MAX_CLAIM_VALUE
            for name, value in cleaned.items()
        ):
            raise RuleError(
                f"a publisher matches at most {MAX_CLAIMS} claims, names of up to "
                f"{MAX_CLAIM_NAME} characters, values of up to {MAX_CLAIM_VALUE}"
            )
        missing = [name for name in self.required if name not in cleaned]
        if missing:
            raise RuleError(f"a {self.name} publisher needs the claims {', '.join(missing)}")
        if self.name != "generic":
            unknown = sorted(set(cleaned) - set(self.required) - set(self.optional))
            if unknown:
                raise RuleError(
                    f"a {self.name} publisher has no claims {', '.join(unknown)}; it takes "
                    f"{', '.join(self.required + self.optional)}"
                )
        elif not cleaned:
            raise RuleError("a generic publisher needs at least one claim to match")
        return cleaned

    def mismatch(self, expected: dict[str, str], token: dict[str, Any]) -> str | None:
        """The first expected claim the token does not satisfy, in words; None when all hold."""
        for name, want in expected.items():
            if name == "workflow":
                problem = _workflow_mismatch(want, token, expected.get("repository", ""))
            elif name == "ci_config_path":
                problem = _gitlab_config_mismatch(want, token)
            else:
                problem = _claim_mismatch(name, want, token, name in self.case_insensitive)
            if problem:
                return problem
        return None


def _as_text(value: Any) -> str | None:
    # Ids arrive as strings from GitHub and GitLab and may be numbers elsewhere; lists, objects
    # and booleans never equal a configured value.
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value)


def _claim_mismatch(name: str, want: str, token: dict[str, Any], fold: bool) -> str | None:
    have = _as_text(token.get(name))
    if have is None:
        return f"the token has no {name} claim"
    if fold:
        have, want = have.lower(), want.lower()
    matches = have.startswith(want[:-1]) if want.endswith("*") else have == want
    return None if matches else f"the token's {name} is {have!r}"


def _workflow_mismatch(want: str, token: dict[str, Any], repository: str) -> str | None:
    """GitHub's `job_workflow_ref` (Forgejo's `workflow_ref`) is
    `owner/repo/.github/workflows/release.yml@refs/...`; the publisher names the file."""
    reference = _as_text(token.get("job_workflow_ref")) or _as_text(token.get("workflow_ref"))
    if reference is None:
        return "the token has no job_workflow_ref claim"
    path, _, _ref = reference.partition("@")
    prefix, _, filename = path.rpartition("/")
    owner_repo, _, directory = prefix.rpartition("/.")
    if (
        owner_repo.lower() != repository.lower()
        or directory not in ("github/workflows", "forgejo/workflows", "gitea/workflows")
        or filename != want
    ):
        return f"the token's workflow is {path!r}"
    return None


def _gitlab_config_mismatch(want: str, token: dict[str, Any]) -> str | None:
    """GitLab's `ci_config_ref_uri` is `gitlab.example/group/project//.gitlab-ci.yml@refs/...`:
    the configuration file must be the one named, in the project the token is for."""
    uri = _as_text(token.get("ci_config_ref_uri"))
    if uri is None:
        return "the token has no ci_config_ref_uri claim"
    location, _, rest = uri.partition("//")
    path, _, _ref = rest.rpartition("@")
    project_path = (_as_text(token.get("project_path")) or "").lower()
    if path != want or not location.lower().endswith("/" + project_path):
        return f"the token's ci_config_ref_uri is {uri!r}"
    return None


GITHUB = Kind(
    "github",
    required=("repository", "repository_id", "repository_owner_id", "workflow"),
    optional=("environment",),
    case_insensitive=("repository", "environment"),
)
KINDS = {
    "github": GITHUB,
    "forgejo": Kind(
        "forgejo",
        required=GITHUB.required,
        optional=GITHUB.optional,
        case_insensitive=GITHUB.case_insensitive,
    ),
    "gitlab": Kind(
        "gitlab",
        required=("project_path", "project_id", "namespace_id", "ci_config_path"),
        optional=("environment",),
        case_insensitive=("project_path",),
    ),
    "buildkite": Kind(
        "buildkite",
        required=("organization_slug", "organization_id", "pipeline_slug"),
        optional=("pipeline_id", "build_branch"),
    ),
    "generic": Kind("generic", required=()),
}


def unsafe_event(kind: str, token: dict[str, Any], allowed: list[str]) -> str | None:
    """A GitHub-style event the publisher has not allowed, or None."""
    if kind not in ("github", "forgejo"):
        return None
    event = _as_text(token.get("event_name"))
    if event in UNSAFE_EVENTS and event not in allowed:
        return event
    return None


def run_of(kind: str, issuer_url: str, token: dict[str, Any]) -> dict[str, str]:
    """What the token says of the run that asked, to record beside each file it uploads."""
    text = {name: _as_text(value) or "" for name, value in token.items()}
    if kind in ("github", "forgejo"):
        reference = text.get("job_workflow_ref") or text.get("workflow_ref", "")
        host = urlsplit(issuer_url).hostname or ""
        site = (
            "https://github.com"
            if host == "token.actions.githubusercontent.com"
            else (f"https://{host}")
        )
        run_id = text.get("run_id", "")
        return {
            "source": text.get("repository", ""),
            "workflow": reference.partition("@")[0].rpartition("/")[2],
            "ref": text.get("ref", ""),
            "sha": text.get("sha", ""),
            "run": run_id,
            "url": f"{site}/{text.get('repository', '')}/actions/runs/{run_id}" if run_id else "",
        }
    if kind == "gitlab":
        location = text.get("ci_config_ref_uri", "").partition("/")[0]
        job = text.get("job_id", "")
        project = text.get("project_path", "")
        return {
            "source": project,
            "workflow": text.get("ci_config_ref_uri", "").partition("//")[2].rpartition("@")[0],
            "ref": text.get("ref_path", "") or text.get("ref", ""),
            "sha": text.get("sha", ""),
            "run": text.get("pipeline_id", ""),
            "url": f"https://{location}/{project}/-/jobs/{job}" if location and job else "",
        }
    if kind == "buildkite":
        return {
            "source": f"{text.get('organization_slug', '')}/{text.get('pipeline_slug', '')}",
            "workflow": text.get("pipeline_slug", ""),
            "ref": text.get("build_branch", ""),
            "sha": text.get("build_commit", ""),
            "run": text.get("build_number", ""),
            "url": "",
        }
    nothing = dict.fromkeys(("workflow", "ref", "sha", "run", "url"), "")
    return nothing | {"source": text.get("sub", "")}
