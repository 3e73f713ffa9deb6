"""Who may read the index: anyone by default. On a private index (PACKYARD_PRIVATE): a session
whose account is in good standing, or an API token, which reads only its projects."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from packyard.accounts.models import User
from packyard.accounts.ratelimit import RateLimited
from packyard.http import client_ip, plain_error, refusal_response, token_from_header, unauthorized
from packyard.packages.models import Project
from packyard.tokens.check import TOKEN_FAILURES, TokenIdentity, token_authenticate
from packyard.tokens.errors import TokenError
from packyard.twofactor.services import two_factor_missing

View = Callable[..., HttpResponseBase]
READER_ATTRIBUTE = "packyard_reader"


@dataclass(frozen=True)
class Reader:
    """Who is reading. `identity` is the token read with, if any: it may name its projects."""

    identity: TokenIdentity | None = None

    @property
    def limited_to_projects(self) -> bool:
        return self.identity is not None and self.identity.limited_to_projects

    def may_read(self, project: Project) -> bool:
        if self.identity is None:
            return True
        return self.identity.may_read(
            project_name=project.normalized_name, project_id=str(project.id)
        )


EVERYONE = Reader()


def readable_projects(who: Reader, candidates: QuerySet[Project]) -> QuerySet[Project]:
    """The candidates this reader may read: narrowed in the database by the names and ids its
    token names (a mirror's token on an index of 100,000 projects), then every caveat checked
    on what is left."""
    if not who.limited_to_projects:
        return candidates
    assert who.identity is not None  # limited_to_projects says there is one
    names, ids = who.identity.named_projects()
    if names is not None:
        candidates = candidates.filter(normalized_name__in=names)
    if ids is not None:
        candidates = candidates.filter(id__in=ids)
    allowed = [
        project.pk for project in candidates.only("id", "normalized_name") if who.may_read(project)
    ]
    return candidates.filter(pk__in=allowed)


def reader(request: HttpRequest) -> Reader:
    """The reader that read_access let in (everyone, outside a read_access view)."""
    found = getattr(request, READER_ATTRIBUTE, EVERYONE)
    assert isinstance(found, Reader)
    return found


def require_readable(request: HttpRequest, normalized_name: str) -> None:
    """404 for a project this reader's token does not reach, as for one that does not exist:
    a project-scoped token does not learn which other projects there are."""
    found = reader(request)
    if not found.limited_to_projects:
        return
    project = Project.objects.filter(normalized_name=normalized_name).only("id").first()
    if project is None or not found.may_read(project):
        raise Http404("No such project")


def account_may_read(user: User, *, by_operator: bool = False) -> str | None:
    """Why this account may not read a private index yet, or None when it may."""
    if not user.is_active:
        return "This account is disabled."
    if not user.email_verified:
        return "Verify your email address before reading this index."
    if two_factor_missing(user, publishing=False, by_operator=by_operator):
        return "Set up two-factor authentication before reading this index."
    return None


def is_browser(request: HttpRequest) -> bool:
    """A person's browser rather than an installer. Browsers say how they fetch (Sec-Fetch-Mode)
    and ask for XHTML beside HTML; pip also lists text/html in Accept (at q=0.01), so that alone
    does not tell them apart."""
    if request.headers.get("Sec-Fetch-Mode"):
        return True
    accept = request.headers.get("Accept", "")
    return "text/html" in accept and "application/xhtml+xml" in accept


class ReadRefused(Exception):
    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.reason_phrase)
        self.response = response


def _refuse(request: HttpRequest, message: str, *, status: int = 403) -> ReadRefused:
    if is_browser(request):
        return ReadRefused(_to_account_page(request, message))
    return ReadRefused(plain_error(status, message))


def _to_account_page(request: HttpRequest, message: str) -> HttpResponse:
    from django.contrib import messages
    from django.shortcuts import redirect

    messages.info(request, message)
    return redirect("accounts:manage")


def read_as(request: HttpRequest) -> Reader:
    """Decide who reads; raises ReadRefused with the answer for a reader who may not."""
    if not settings.PACKYARD_PRIVATE:
        return EVERYONE
    user = request.user
    if isinstance(user, User) and user.is_authenticated:
        why = account_may_read(user)
        if why is not None:
            raise _refuse(request, why)
        return EVERYONE
    raw = token_from_header(request)
    if raw is None:
        if is_browser(request):
            raise ReadRefused(redirect_to_login(request.get_full_path()))
        raise ReadRefused(
            unauthorized("This index is private: use __token__ and an API token as credentials.")
        )
    try:
        identity = token_authenticate(raw=raw, client_ip=client_ip(request), action="read")
    except RateLimited as exc:
        raise ReadRefused(refusal_response(exc.refusal(TOKEN_FAILURES))) from None
    except TokenError as exc:
        raise ReadRefused(unauthorized(str(exc))) from None
    why = account_may_read(identity.user, by_operator=identity.token.minted_by_operator)
    if why is not None:
        raise ReadRefused(plain_error(403, why))
    return Reader(identity=identity)


def read_refusal(request: HttpRequest, *, limited_status: int = 429) -> HttpResponse | None:
    """The answer for a reader who may not read, or None. `limited_status` replaces 429 after
    too many bad tokens (a front proxy's auth_request passes on only 401 and 403)."""
    try:
        setattr(request, READER_ATTRIBUTE, read_as(request))
    except ReadRefused as refused:
        response = refused.response
        if response.status_code == 429:
            response.status_code = limited_status
        return response
    return None


def read_access(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        refusal = read_refusal(request)
        if refusal is not None:
            return refusal
        response = view(request, *args, **kwargs)
        if settings.PACKYARD_PRIVATE:
            response["Cache-Control"] = "private, no-cache"
            response.headers["Vary"] = ", ".join(
                filter(None, [response.headers.get("Vary"), "Authorization", "Cookie"])
            )
        return response

    return wrapper


def web_pages_access(view: View) -> View:
    """The web pages of a private index (home, search, users, projects) read with a session or
    a token that reaches every project of its user; a project-scoped token reads the index API."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if reader(request).limited_to_projects:
            return plain_error(
                403, "A project-scoped token reads the index API (/simple/, /pypi/), not the pages."
            )
        return view(request, *args, **kwargs)

    return read_access(wrapper)
