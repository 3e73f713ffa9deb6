"""The ``packyard`` command: serve, user create, token create, publisher, import, manage."""

import argparse
import getpass
import os
import sys
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

from packyard.env import parse_duration_seconds


def _make_data_dir() -> None:
    """The data directory holds the SQLite database and the stored files: made before anything
    opens the database, not only when a development key is generated into it."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "packyard.settings")
    from django.conf import settings

    try:
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        Path(settings.FILE_UPLOAD_TEMP_DIR).mkdir(exist_ok=True)
    except OSError as exc:
        raise SystemExit(
            f"packyard: cannot create PACKYARD_DATA_DIR {settings.DATA_DIR}: {exc.strerror}"
        ) from None


def _setup() -> None:
    _make_data_dir()
    import django

    django.setup()


def parse_duration(text: str) -> timedelta:
    """A lifetime such as 90d, 12h or 2w."""
    seconds = parse_duration_seconds(text)
    if seconds is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 30d, 12h or 2w")
    return timedelta(seconds=seconds)


def _default_workers() -> int:
    # One process per core this process may run on (taskset and cgroup cpusets count); the
    # threads in each carry slow uploads and downloads.
    return max(1, min(len(os.sched_getaffinity(0)), 8))


def _uwsgi_argv(args: argparse.Namespace) -> list[str]:
    """uWSGI: its HTTP parser and workers are C, and it keeps the reason phrase of a status line
    (twine shows only that phrase when an upload is refused). Measured against gunicorn and
    granian in bench/RESULTS.md."""
    return [
        sys.executable,
        "-c",
        "import sys, pyuwsgi; sys.argv[0] = 'uwsgi'; sys.exit(pyuwsgi.run())",
        # One request per connection: uWSGI's keep-alive holds a thread for each idle client
        # connection (eight idle connections stopped a worker, measured); a front proxy keeps
        # clients' connections alive instead.
        "--http-socket",
        f"{args.host}:{args.port}",
        # Said, so a client does not send its next request (an upload) down a closed connection.
        "--add-header",
        "Connection: close",
        "--module",
        "packyard.wsgi:application",
        "--master",
        "--processes",
        str(args.workers),
        # Per process: threads carry slow uploads and downloads while the others go on.
        "--threads",
        str(args.threads),
        "--need-app",
        "--strict",
        "--die-on-term",
        "--vacuum",
        "--single-interpreter",
        "--thunder-lock",
        "--listen",
        "1024",
        # The most uWSGI takes: heads up to Packyard's limit (32 KiB) pass, and those over it
        # up to here get 431 from packyard.requesthead instead of a dropped connection.
        "--buffer-size",
        "65535",
        # A client that stops sending holds a thread this long (per read, not per upload).
        "--socket-timeout",
        str(args.socket_timeout),
        "--log-format",
        '%(addr) "%(method) %(uri) %(proto)" %(status) %(size) %(msecs)ms "%(uagent)"',
        "--ignore-sigpipe",
        "--ignore-write-errors",
        "--disable-write-exception",
    ]


def _development_base_url(host: str, port: int) -> str:
    """Where this server answers, for links in development when PACKYARD_BASE_URL is unset."""
    if host in ("127.0.0.1", "0.0.0.0", "::", "[::]", ""):  # noqa: S104 - naming, not binding
        host = "localhost"
    return f"http://{host}:{port}"


# A temporary file this long unchanged belongs to no upload in progress: a live upload writes to
# its file at least once per socket timeout.
STALE_UPLOAD_SECONDS = 600


def sweep_upload_temp(directory: Path, *, older_than: float = STALE_UPLOAD_SECONDS) -> int:
    """Remove what killed workers left of the uploads they were receiving."""
    removed = 0
    cutoff = time.time() - older_than
    for path in directory.glob("*.upload*"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            pass  # a worker finished with it meanwhile
    return removed


def cmd_serve(args: argparse.Namespace) -> int:
    if not os.environ.get("PACKYARD_BASE_URL") and os.environ.get("PACKYARD_ENV") != "production":
        # Set before the settings load, and kept by the server this process becomes.
        os.environ["PACKYARD_BASE_URL"] = _development_base_url(args.host, args.port)
    _setup()
    from django.conf import settings
    from django.core.management import call_command

    from packyard.packages.index.pages import forget_other_addresses

    call_command("migrate", interactive=False, verbosity=0)
    forgotten = forget_other_addresses()
    if forgotten:
        print(f"The site's address changed: {forgotten} page(s) will be rendered again.")
    from django.core.files.storage import FileSystemStorage, default_storage

    if isinstance(default_storage, FileSystemStorage):  # a directory (PACKYARD_STORAGE_URL)
        Path(default_storage.location).mkdir(parents=True, exist_ok=True)
    swept = sweep_upload_temp(Path(settings.FILE_UPLOAD_TEMP_DIR))
    if swept:
        print(f"Removed {swept} temporary file(s) of uploads interrupted by a crash.")
    argv = _uwsgi_argv(args)
    print(
        f"Packyard serving on http://{args.host}:{args.port}/ ({args.workers} workers)",
        flush=True,
    )
    os.execve(sys.executable, argv, server_environ(os.environ))  # noqa: S606 - becomes the server
    return 0


def server_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """The server's environment: this one, with glibc's malloc held to two arenas unless the
    operator chose otherwise. By default each of a worker's threads may get an arena of its own,
    and memory freed in one is not reused by the others: in a ten-minute soak a node grew from
    227 to 545 MiB this way, against 226 to 280 MiB in the first five minutes with two arenas,
    while serving more (bench/RESULTS.md)."""
    return {"MALLOC_ARENA_MAX": "2"} | dict(environ)


def _read_password() -> str:
    password = os.environ.get("PACKYARD_PASSWORD")
    if password:
        return password
    if not sys.stdin.isatty():
        raise SystemExit("Set PACKYARD_PASSWORD, or run in a terminal to be asked.")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password (again): "):
        raise SystemExit("The two passwords differ.")
    return first


def cmd_user_create(args: argparse.Namespace) -> int:
    _setup()
    from django.contrib.auth import password_validation
    from django.core.exceptions import ValidationError

    from packyard.accounts.models import User
    from packyard.accounts.services import AccountError, user_create

    password = _read_password()
    try:
        password_validation.validate_password(password, User(username=args.name, email=args.email))
        user = user_create(
            username=args.name,
            email=args.email,
            password=password,
            verified=True,
            superuser=args.superuser,
        )
    except ValidationError as exc:
        raise SystemExit("Refused: " + " ".join(exc.messages)) from None
    except AccountError as exc:
        raise SystemExit(f"Refused: {exc}") from None
    print(f"Created user {user.username} <{user.email}> (email verified).")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    _setup()
    from django.core.exceptions import ValidationError
    from django.utils import timezone

    from packyard.accounts.services import user_find
    from packyard.packages.models import Project
    from packyard.packages.services import ProjectActionError, new_project_name_check
    from packyard.tokens.errors import TokenError
    from packyard.tokens.mint import token_mint
    from packyard.tokens.scope import TokenScope

    user = user_find(username=args.name)
    if user is None:
        raise SystemExit(f"No user named {args.name!r}.")
    projects = []
    for name in args.project:
        project = Project.objects.filter(normalized_name=_canonical(name), roles__user=user).first()
        if project is None:
            raise SystemExit(f"{args.name} has no project named {name!r}.")
        projects.append((project.normalized_name, str(project.id)))
    new_project = ""
    if args.new_project:
        try:
            new_project = new_project_name_check(name=args.new_project, user=user)
        except ProjectActionError as exc:
            raise SystemExit(f"{exc} Use --project for an existing one.") from None
    scope = TokenScope(
        projects=tuple(projects),
        new_project=new_project,
        existing_only=args.existing_only,
        version_pattern=args.version or "",
        source_cidrs=tuple(args.source),
        single_use=args.single_use,
        read_only=args.read_only,
        stage_only=args.stage_only,
    )
    expires: datetime | None = timezone.now() + args.expires if args.expires else None
    try:
        token, raw = token_mint(
            user=user, description=args.description, scope=scope, expires=expires, by_operator=True
        )
    except (TokenError, ValidationError) as exc:
        text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        raise SystemExit(f"Refused: {text}") from None
    print(
        f"Token {token.description!r} for {user.username}, scope: {token.scope_label}, "
        f"expires: {token.expires or 'never'}. It is shown once:"
    )
    print(raw)
    return 0


def _canonical(name: str) -> str:
    from packaging.utils import canonicalize_name

    return canonicalize_name(name)


def cmd_publisher_add(args: argparse.Namespace) -> int:
    """Add a trusted publisher to a project, or (--pending) one that creates it."""
    _setup()
    from packyard.accounts.services import user_find
    from packyard.packages.models import Project
    from packyard.packages.trusted import publishers

    try:
        claims = publishers.claims_parse(args.claim)
        if args.pending:
            owner = user_find(username=args.owner or "")
            if owner is None:
                raise SystemExit("--pending needs --owner, the user who will own the project.")
            publisher = publishers.pending_publisher_add(
                name=args.project,
                issuer_url=args.issuer,
                claims=claims,
                allowed_events=args.allow_event,
                user=owner,
            )
        else:
            project = Project.objects.filter(normalized_name=_canonical(args.project)).first()
            if project is None:
                raise SystemExit(f"No project named {args.project!r} (for a new one: --pending).")
            publisher = publishers.publisher_add(
                project=project,
                issuer_url=args.issuer,
                claims=claims,
                allowed_events=args.allow_event,
                actor=None,
            )
    except publishers.PublisherError as exc:
        raise SystemExit(f"Refused: {exc}") from None
    pending = " (pending)" if publisher.is_pending else ""
    print(f"{publisher.id} {publishers.publisher_describe(publisher)}{pending}")
    return 0


def cmd_publisher_list(args: argparse.Namespace) -> int:
    _setup()
    from packyard.packages.models import Publisher
    from packyard.packages.trusted.publishers import publisher_describe

    name = _canonical(args.project)
    rows = Publisher.objects.filter(project__normalized_name=name) | Publisher.objects.filter(
        project__isnull=True, pending_normalized_name=name
    )
    for publisher in rows.order_by("created"):
        pending = " (pending)" if publisher.is_pending else ""
        claims = " ".join(f"{key}={value}" for key, value in publisher.claims.items())
        print(f"{publisher.id} {publisher.issuer_url} {claims}{pending}")
        print(f"    {publisher_describe(publisher)}")
    return 0


def cmd_stage_list(args: argparse.Namespace) -> int:
    _setup()
    from packyard.packages.models import Project
    from packyard.packages.stages import services as stages

    project = Project.objects.filter(normalized_name=_canonical(args.project)).first()
    if project is None:
        raise SystemExit(f"No project named {args.project!r}.")
    stages.expire_due(project)
    for stage in project.stages.order_by("created"):
        files = list(stage.files.values_list("filename", flat=True))
        closes = f"closes {stage.expires:%Y-%m-%d %H:%M}" if stage.is_open else stage.state
        print(f"{stage.id} {stage.version} {stage.state} ({closes}), {len(files)} files")
        if stage.is_open:
            print(f"    index: {stages.stage_index_url(stage)}")
        for filename in files:
            print(f"    {filename}")
    return 0


def cmd_stage_publish(args: argparse.Namespace) -> int:
    _setup()
    from packyard.http import parse_uuid
    from packyard.packages.models import Stage
    from packyard.packages.stages import services as stages

    stage_id = parse_uuid(args.id)
    stage = (
        Stage.objects.select_related("project").filter(pk=stage_id).first() if stage_id else None
    )
    if stage is None:
        raise SystemExit(f"No stage {args.id!r}; `packyard stage list PROJECT` shows ids.")
    if not args.operator:
        raise SystemExit(
            "Publishing a stage needs an approver's fresh second factor, in the web UI: "
            f"{stages.stage_review_url(stage)}\nOn the server host, --operator publishes it as "
            "the index's operator, recorded as such in the project's history."
        )
    try:
        serial = stages.stage_publish(stage=stage, actor=None, request=None, by_operator=True)
    except stages.StageError as exc:
        raise SystemExit(f"Refused: {exc}") from None
    print(f"Published {stage.project.name} {stage.version} as serial {serial}.")
    return 0


def cmd_publisher_remove(args: argparse.Namespace) -> int:
    _setup()
    from packyard.http import parse_uuid
    from packyard.packages.models import Publisher
    from packyard.packages.trusted.publishers import publisher_remove

    publisher_id = parse_uuid(args.id)
    publisher = Publisher.objects.filter(pk=publisher_id).first() if publisher_id else None
    if publisher is None:
        raise SystemExit(f"No publisher {args.id!r}; `packyard publisher list PROJECT` shows ids.")
    publisher_remove(publisher=publisher, actor=None)
    print(f"Removed publisher {args.id}.")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Exit 0 only when the index is consistent (after --repair, when what remains is)."""
    _setup()
    from tqdm import tqdm

    from packyard.packages.check import check, repair
    from packyard.packages.models import File

    with tqdm(
        total=File.objects.count(), unit="file", desc="files", disable=not sys.stderr.isatty()
    ) as bar:
        problems = check(min_age=args.min_age, progress=bar.update)
    for problem in problems:
        print(problem)
    if args.repair and problems:
        remaining = repair(problems)
        print(f"Repaired {len(problems) - len(remaining)} of {len(problems)} problem(s).")
        problems = remaining
    if problems:
        print(f"{len(problems)} problem(s).", file=sys.stderr)
        return 1
    print("The index is consistent.")
    return 0


def cmd_storage_migrate(args: argparse.Namespace) -> int:
    """Copy every stored file to another store; exit 1 when any could not be copied."""
    _setup()
    from django.core.exceptions import ImproperlyConfigured
    from tqdm import tqdm

    from packyard.packages.storage_migrate import objects_count, storage_at, storage_migrate

    try:
        target = storage_at(args.to)
    except ImproperlyConfigured as exc:
        raise SystemExit(f"packyard: {exc}") from None
    counts = {"copied": 0, "present": 0, "refused": 0}
    with tqdm(
        total=objects_count(), unit="file", desc="copying", disable=not sys.stderr.isatty()
    ) as bar:
        for copied in storage_migrate(target, progress=bar.update):
            counts[copied.outcome] += 1
            if copied.outcome == "refused":
                print(f"refused: {copied.path}: {copied.reason}")
    print(
        f"{counts['copied']} copied, {counts['present']} already there, "
        f"{counts['refused']} refused."
    )
    if counts["refused"]:
        return 1
    print(f"Every file is in the new store: set PACKYARD_STORAGE_URL={args.to} and restart.")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    _setup()
    from tqdm import tqdm

    from packyard.packages.backup import BackupError, backup
    from packyard.packages.storage_migrate import objects_count

    try:
        with tqdm(
            total=objects_count() if args.files else 0,
            unit="file",
            desc="files",
            disable=not (args.files and sys.stderr.isatty()),
        ) as bar:
            result = backup(Path(args.dest), with_files=args.files, progress=bar.update)
    except BackupError as exc:
        raise SystemExit(f"packyard: {exc}") from None
    refused = [copied for copied in result.copied if copied.outcome == "refused"]
    for copied in refused:
        print(f"refused: {copied.path}: {copied.reason}")
    files = f", {len(result.copied) - len(refused)} file(s) copied" if args.files else ""
    print(f"Backed up the database and a manifest of {result.files} file(s){files} to {args.dest}.")
    return 1 if refused else 0


def cmd_restore(args: argparse.Namespace) -> int:
    _setup()
    from django.core.management import call_command

    from packyard.packages.backup import BackupError, restore

    try:
        failed = restore(Path(args.src))
    except BackupError as exc:
        raise SystemExit(f"packyard: {exc}") from None
    call_command("migrate", interactive=False, verbosity=0)  # a backup of an older version
    for copied in failed:
        print(f"refused: {copied.path}: {copied.reason}")
    print(f"Restored from {args.src}; `packyard check` tells whether every file is in place.")
    return 1 if failed else 0


def cmd_import(args: argparse.Namespace) -> int:
    """Import a directory or an index; exit 1 when any file was refused, 2 when the source or
    the owner cannot be used."""
    _setup()
    import json
    from dataclasses import asdict

    from tqdm import tqdm

    from packyard.accounts.models import User
    from packyard.packages.importer.reading import ImportRefused
    from packyard.packages.importer.service import Outcome, Status, import_from
    from packyard.packages.importer.sources import source_for

    if bool(args.source) == bool(args.from_json):
        print("Name a SOURCE or a --from-json list (one of them).", file=sys.stderr)
        return 2
    owner = User.objects.filter(username__iexact=args.owner, is_active=True).first()
    if owner is None:
        print(f"No active user {args.owner!r}: create the owner first.", file=sys.stderr)
        return 2
    credentials = os.environ.get(args.credentials_env, "") if args.credentials_env else ""
    try:
        source = source_for(
            args.from_json or args.source,
            credentials=credentials,
            patterns=args.project,
            listing=bool(args.from_json),
        )
        with tqdm(desc="files", unit="file", disable=not sys.stderr.isatty()) as bar:

            def advance(outcome: Outcome) -> None:
                bar.set_postfix_str(outcome.filename, refresh=False)
                bar.update(1)

            outcomes = import_from(
                source,
                owner=owner,
                keep_upload_times=args.upload_time_from == "source",
                listed=bar.reset,
                each=advance,
            )
    except ImportRefused as exc:
        print(f"Cannot read {args.source or args.from_json}: {exc}", file=sys.stderr)
        return 2
    counts = dict.fromkeys(Status, 0)
    for outcome in outcomes:
        counts[outcome.status] += 1
        if outcome.status is Status.REFUSED:
            print(f"refused {outcome.filename}: {outcome.reason}")
        for warning in outcome.warnings:
            print(f"warning {outcome.filename}: {warning}")
    print(", ".join(f"{count} {status}" for status, count in counts.items()) + ".")
    if args.report:
        totals = {str(status): count for status, count in counts.items()}
        report = {"source": source.label, **totals, "files": [asdict(o) for o in outcomes]}
        with open(args.report, "w") as handle:
            json.dump(report, handle, indent=2)
    return 1 if counts[Status.REFUSED] else 0


def cmd_manage(args: argparse.Namespace) -> int:
    _make_data_dir()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["packyard manage", *args.args])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="packyard", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="apply migrations, then serve the index")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=_default_workers())
    serve.add_argument("--threads", type=int, default=8)
    serve.add_argument(
        "--socket-timeout",
        type=int,
        default=30,
        help="seconds a client may stay silent mid-request before it gets 408",
    )
    serve.set_defaults(func=cmd_serve)

    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="user_command", required=True
    )
    create = user.add_parser("create", help="create a user with a verified email address")
    create.add_argument("name")
    create.add_argument("--email", required=True)
    create.add_argument("--superuser", action="store_true")
    create.set_defaults(func=cmd_user_create)

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(
        dest="token_command", required=True
    )
    mint = token.add_parser("create", help="create an API token; printed alone on the last line")
    mint.add_argument("name", help="the user the token belongs to")
    mint.add_argument("--project", action="append", default=[], help="limit to this project")
    mint.add_argument("--new-project", help="a project name not yet taken that it may create")
    mint.add_argument("--existing-only", action="store_true", help="never create a project")
    mint.add_argument("--version", help="only these versions, e.g. '2.*' or '>=1.4,<2'")
    mint.add_argument(
        "--from",
        dest="source",
        action="append",
        default=[],
        metavar="CIDR",
        help="only from this address range; repeatable",
    )
    mint.add_argument("--single-use", action="store_true", help="good for one request")
    mint.add_argument(
        "--read-only",
        action="store_true",
        help="reads a private index (its projects only, with --project), never uploads",
    )
    mint.add_argument(
        "--stage-only",
        action="store_true",
        help="its uploads wait in a stage for an Owner's approval (docs/stages.md)",
    )
    mint.add_argument("--expires", type=parse_duration, help="lifetime, e.g. 90d, 12h, 2w")
    mint.add_argument("--description", default="created with packyard token create")
    mint.set_defaults(func=cmd_token_create)

    publisher = commands.add_parser(
        "publisher", help="manage trusted publishers (CI systems that publish without secrets)"
    ).add_subparsers(dest="publisher_command", required=True)
    added = publisher.add_parser("add", help="let a CI workflow publish a project")
    added.add_argument("project")
    added.add_argument("--issuer", required=True, help="an issuer URL from the issuers file")
    added.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a claim the identity token must carry; repeatable (docs/trusted-publishing.md)",
    )
    added.add_argument(
        "--allow-event",
        action="append",
        default=[],
        choices=("pull_request_target", "workflow_run"),
        help="accept tokens from this GitHub event, refused by default",
    )
    added.add_argument(
        "--pending", action="store_true", help="the project does not exist yet: create it"
    )
    added.add_argument("--owner", help="with --pending: the Owner of the project it creates")
    added.set_defaults(func=cmd_publisher_add)
    listed = publisher.add_parser("list", help="a project's publishers, pending ones too")
    listed.add_argument("project")
    listed.set_defaults(func=cmd_publisher_list)
    removed = publisher.add_parser("remove", help="remove a publisher by its id")
    removed.add_argument("id")
    removed.set_defaults(func=cmd_publisher_remove)

    stage = commands.add_parser(
        "stage", help="releases waiting for approval (docs/stages.md)"
    ).add_subparsers(dest="stage_command", required=True)
    stage_listed = stage.add_parser("list", help="a project's stages, with their ids")
    stage_listed.add_argument("project")
    stage_listed.set_defaults(func=cmd_stage_list)
    stage_published = stage.add_parser(
        "publish", help="publish a stage: refused without --operator (approvers use the web)"
    )
    stage_published.add_argument("id")
    stage_published.add_argument(
        "--operator",
        action="store_true",
        help="publish as the index's operator, on the server host, recorded as such",
    )
    stage_published.set_defaults(func=cmd_stage_publish)

    checked = commands.add_parser(
        "check", help="is every file, page and serial consistent? exit 0 only when it is"
    )
    checked.add_argument(
        "--repair",
        action="store_true",
        help="remove stored objects no row names, render differing pages, fix serials",
    )
    checked.add_argument(
        "--min-age",
        type=parse_duration,
        default=timedelta(0),
        help="leave objects younger than this (an upload in progress), e.g. 1h; default: none",
    )
    checked.set_defaults(func=cmd_check)

    backed = commands.add_parser(
        "backup", help="the database and a manifest of the files (and with --files, the files)"
    )
    backed.add_argument("dest", help="a directory; backing up into it again adds what is new")
    backed.add_argument(
        "--files", action="store_true", help="copy the files too (incrementally), under files/"
    )
    backed.set_defaults(func=cmd_backup)
    restored = commands.add_parser(
        "restore", help="restore a backup into an empty database and file store"
    )
    restored.add_argument("src", help="a directory made by packyard backup")
    restored.set_defaults(func=cmd_restore)

    storage = commands.add_parser("storage", help="the file store").add_subparsers(
        dest="storage_command", required=True
    )
    migrate = storage.add_parser(
        "migrate", help="copy every file to another store, checking each hash; resumable"
    )
    migrate.add_argument(
        "--to", required=True, metavar="URL", help="file:///dir or s3://bucket/prefix?..."
    )
    migrate.set_defaults(func=cmd_storage_migrate)

    imported = commands.add_parser(
        "import", help="move an existing index in: a directory of files, or an index's address"
    )
    imported.add_argument("source", nargs="?", help="a directory, or a simple index URL")
    imported.add_argument(
        "--from-json",
        metavar="FILE.json",
        help="instead of SOURCE: a list of files (path or url) with upload times and yanks",
    )
    imported.add_argument("--owner", required=True, help="the Owner of the projects it creates")
    imported.add_argument(
        "--project",
        action="append",
        default=[],
        metavar="PATTERN",
        help="only projects whose normalized name matches, e.g. 'acme-*'; repeatable",
    )
    imported.add_argument(
        "--credentials-env",
        metavar="VARIABLE",
        help="an environment variable holding USER:PASSWORD for the source index",
    )
    imported.add_argument(
        "--upload-time-from",
        choices=("source", "now"),
        default="source",
        help="upload times as the source has them (PEP 700 times, or files' mtimes), or now",
    )
    imported.add_argument("--report", metavar="FILE.json", help="write what happened to each file")
    imported.set_defaults(func=cmd_import)

    manage = commands.add_parser("manage", help="run a Django management command")
    manage.add_argument("args", nargs=argparse.REMAINDER)
    manage.set_defaults(func=cmd_manage)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from django.core.exceptions import ImproperlyConfigured

    try:
        return int(args.func(args))
    except ImproperlyConfigured as exc:
        # A setting the operator gave is wrong: say which, not a traceback through Django.
        print(f"packyard: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
