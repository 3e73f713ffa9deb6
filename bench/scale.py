"""How the read path holds up as the index grows: 300 projects against 100,000.

Generates an index of N projects with R releases of two files each (rows only: no file is read
on this path), renders every page with `packyard manage render_pages`, starts `packyard serve`
pinned to CPU 0 and drives `/simple/<name>/` round-robin over every project from CPU 1 with wrk
(the harness's rotate.lua, -t1 -c16), then the root. Prints one JSON object.

    .venv/bin/python bench/scale.py --projects 300
    .venv/bin/python bench/scale.py --projects 100000 --releases 5     # 1,000,000 files
    .venv/bin/python bench/scale.py --projects 100000 --database postgresql://postgres@127.0.0.1/scale

With a PostgreSQL URL, the database named in it is dropped and created again. PostgreSQL itself
is not pinned: it runs beside the server and the load, on either core.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from serving import recreate_postgres_database, serve_pinned  # bench/, beside this script

CHECKOUT = Path(__file__).resolve().parent.parent
HARNESS = Path(os.environ.get("BENCH_PEERS", CHECKOUT.parent / "shared" / "bench-peers"))


def digest(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def generate(projects: int, releases: int) -> dict[str, float]:
    """Rows for `projects` projects, each with `releases` releases of a wheel and an sdist."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from packyard.accounts.models import User
    from packyard.packages.models import (
        File,
        Project,
        Release,
        Role,
        UsedFilename,
        name_skeleton,
    )

    timings = {}
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    owner = User.objects.create_user("scale", "scale@example.invalid", "not-used-password-1")
    batch = 2000
    for first in range(0, projects, batch):
        names = [f"pkg-{n:06d}" for n in range(first, min(first + batch, projects))]
        with transaction.atomic():
            made = Project.objects.bulk_create(
                Project(
                    name=name,
                    normalized_name=name,
                    name_skeleton=name_skeleton(name),
                    search_summary=f"Package {name}",
                )
                for name in names
            )
            Role.objects.bulk_create(
                Role(project=p, user=owner, role_name=Role.OWNER) for p in made
            )
            rels = Release.objects.bulk_create(
                Release(
                    project=p,
                    version=f"{v}.0",
                    canonical_version=f"{v}",
                    summary=f"Package {p.name}",
                    requires_python=">=3.8",
                    metadata={"name": p.name, "version": f"{v}.0", "license": "MIT"},
                    uploader=owner,
                )
                for p in made
                for v in range(1, releases + 1)
            )
            files = []
            for release in rels:
                stem = f"{release.project.normalized_name.replace('-', '_')}-{release.version}"
                for filename, kind in (
                    (f"{stem}-py3-none-any.whl", File.WHEEL),
                    (f"{stem}.tar.gz", File.SDIST),
                ):
                    blake = digest("b", filename)
                    path = f"packages/{blake[:2]}/{blake[2:4]}/{blake[4:]}/{filename}"
                    is_wheel = kind == File.WHEEL
                    files.append(
                        File(
                            release=release,
                            filename=filename,
                            path=path,
                            size=4000 + len(filename),
                            sha256_digest=digest("s", filename),
                            blake2_256_digest=blake,
                            md5_digest=digest("m", filename)[:32],
                            packagetype=kind,
                            python_version="py3" if is_wheel else "source",
                            requires_python=">=3.8",
                            uploader=owner,
                            metadata_path=path + ".metadata" if is_wheel else "",
                            metadata_sha256=digest("md", filename) if is_wheel else "",
                        )
                    )
            File.objects.bulk_create(files, batch_size=5000)
            # As uploads do: every stored file's name is a used filename.
            UsedFilename.objects.bulk_create(
                (UsedFilename(filename=file.filename) for file in files), batch_size=5000
            )
    timings["rows_s"] = time.perf_counter() - started
    if connection.vendor == "postgresql":
        # What autovacuum does a while after a bulk load; without statistics the planner scans
        # every file for each project's page (measured: 40 ms a project instead of 2 ms).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    started = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        call_command("render_pages", stdout=quiet)
    timings["render_all_s"] = time.perf_counter() - started
    return timings


def database_bytes(env: dict[str, str]) -> int:
    url = env.get("PACKYARD_DATABASE_URL")
    if not url:
        path = Path(env["PACKYARD_DATA_DIR"]) / "packyard.sqlite3"
        with sqlite3.connect(path) as database:  # fold the write-ahead log into the file first
            database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return path.stat().st_size
    name = urlsplit(url).path.lstrip("/")
    out = subprocess.run(
        ["psql", url, "-tAc", f"SELECT pg_database_size('{name}')"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(out.stdout.strip())


def wrk(url: str, *, names: Path | None, duration: int, conns: int = 16) -> dict[str, float]:
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--latency"]
    cmd += ["-H", "Accept: text/html"]
    if names is not None:
        cmd += ["-s", str(HARNESS / "rotate.lua"), url, "--", "/simple/", str(names)]
    else:
        cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    units = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    for pct in ("50", "99"):
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)$", out, re.M).groups()
        result[f"p{pct}_ms"] = float(value) * units[unit]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non2xx"] = int(non2xx.group(1)) if non2xx else 0
    return result


def timed_get(url: str, **headers: str) -> tuple[float, int]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback only
    started = time.perf_counter()
    with urllib.request.urlopen(request) as response:  # noqa: S310 - loopback only
        size = len(response.read())
    return time.perf_counter() - started, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=300)
    parser.add_argument("--releases", type=int, default=5)
    parser.add_argument("--database", help="a PostgreSQL URL; default SQLite in a temporary dir")
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="packyard-scale-"))
    env = dict(os.environ)
    env.update(
        PACKYARD_DATA_DIR=str(workdir / "data"),
        PACKYARD_REQUIRE_2FA="off",
        DJANGO_SETTINGS_MODULE="packyard.settings",
    )
    if args.database:
        recreate_postgres_database(args.database)
        env["PACKYARD_DATABASE_URL"] = args.database
    os.environ.update(env)
    result: dict[str, object] = {
        "projects": args.projects,
        "files": args.projects * args.releases * 2,
        "database": "postgresql" if args.database else "sqlite",
    }
    result.update(generate(args.projects, args.releases))
    result["database_bytes"] = database_bytes(env)

    log = (workdir / "server.log").open("wb")
    server, base = serve_pinned(env, log)
    try:
        names = workdir / "names.txt"
        names.write_text("".join(f"pkg-{n:06d}\n" for n in range(args.projects)))
        wrk(base + "/", names=names, duration=2)  # warm-up, not recorded
        runs = [wrk(base + "/", names=names, duration=args.duration) for _ in range(args.repeats)]
        result["simple_html"] = {
            key: statistics.median(run[key] for run in runs) for key in runs[0]
        } | {"rps_all": [run["rps"] for run in runs]}
        first_root, root_bytes = timed_get(base + "/simple/")
        cached_root = statistics.median(timed_get(base + "/simple/")[0] for _ in range(5))
        gzip_root = timed_get(base + "/simple/", **{"Accept-Encoding": "gzip"})
        result["root"] = {
            "bytes": root_bytes,
            "gzip_bytes": gzip_root[1],
            "first_request_s": first_root,
            "cached_request_s": cached_root,
        }
        result["root_wrk"] = wrk(base + "/simple/", names=None, duration=args.duration)
    finally:
        server.terminate()
        server.wait(30)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
