"""A project with 10,000 files, as large real projects have (many releases, many wheels each):
what one more upload into it costs against an upload into a fresh project, and the size and
render time of its pages (all three, as `packyard check` and a small project's upload render
them; and each alone, as its first reader after an upload waits for it).

The files' rows are made directly (their bytes are never read on these paths); uploads go through
the real upload view in-process (Django's test client: the whole pipeline, the store, the page
rendering in the transaction), alternating big and fresh, the median of several of each.

    .venv/bin/python bench/large_project.py
    .venv/bin/python bench/large_project.py --database postgresql://postgres@127.0.0.1/largebench

With a PostgreSQL URL, the database named in it is dropped and created again. Prints one JSON
object.
"""

import argparse
import base64
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(CHECKOUT), str(CHECKOUT / "src")]


def setup_environment(database: str) -> None:
    data_dir = tempfile.mkdtemp(prefix="packyard-large-")
    os.environ |= {
        "DJANGO_SETTINGS_MODULE": "packyard.settings",
        "PACKYARD_DATA_DIR": data_dir,
        "PACKYARD_SECRET_KEY": "large-project-bench-" + "x" * 40,
        "PACKYARD_REQUIRE_2FA": "off",
        "PACKYARD_EMAIL_URL": "console:",
        "PACKYARD_MAX_PROJECT_SIZE": "1000G",
    }
    if database:
        from serving import recreate_postgres_database  # bench/, beside this script

        recreate_postgres_database(database)
        os.environ["PACKYARD_DATABASE_URL"] = database


def make_big_project(owner: object, releases: int, wheels: int) -> object:
    from django.db import transaction

    from packyard.packages.index import pages
    from packyard.packages.models import File, Release, UsedFilename
    from packyard.packages.services import project_create

    with transaction.atomic():
        project = project_create(name="big", normalized_name="big", owner=owner)  # type: ignore[arg-type]
        release_rows = Release.objects.bulk_create(
            Release(project=project, version=f"1.{n}", canonical_version=f"1.{n}", metadata={})
            for n in range(releases)
        )
        files = []
        for release in release_rows:
            for w in range(wheels):
                filename = f"big-{release.version}-cp3{w}-cp3{w}-manylinux_2_28_x86_64.whl"
                digest = hashlib.blake2b(filename.encode(), digest_size=32).hexdigest()
                files.append(
                    File(
                        release=release,
                        filename=filename,
                        path=f"packages/{digest[:2]}/{digest[2:4]}/{digest[4:]}/{filename}",
                        size=123456,
                        sha256_digest=hashlib.sha256(filename.encode()).hexdigest(),
                        blake2_256_digest=digest,
                        md5_digest=hashlib.md5(filename.encode()).hexdigest(),  # noqa: S324
                        packagetype="bdist_wheel",
                        python_version=f"cp3{w}",
                        requires_python=">=3.9",
                    )
                )
        File.objects.bulk_create(files, batch_size=2000)
        UsedFilename.objects.bulk_create(
            (UsedFilename(filename=f.filename) for f in files), batch_size=2000
        )
        pages.refresh(project.pk)
    return project


def timed_upload(client: object, token: str, name: str, version: str) -> float:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from tests import dists

    data = dists.make_wheel(name, version)
    form = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.4",
        "name": name,
        "version": version,
        "filetype": "bdist_wheel",
        "pyversion": "py3",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
        "content": SimpleUploadedFile(dists.wheel_filename(name, version), data),
    }
    auth = "Basic " + base64.b64encode(f"__token__:{token}".encode()).decode()
    started = time.perf_counter()
    response = client.post("/legacy/", form, HTTP_AUTHORIZATION=auth)  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.content
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="", help="a PostgreSQL URL (default: SQLite)")
    parser.add_argument("--releases", type=int, default=1000)
    parser.add_argument("--wheels", type=int, default=10)
    parser.add_argument("--uploads", type=int, default=9, help="of each kind")
    args = parser.parse_args()
    setup_environment(args.database)

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from packyard.accounts.services import user_create
    from packyard.packages.index import pages
    from packyard.packages.index.routes import project_keys
    from packyard.packages.models import File, RenderedPage
    from packyard.tokens.mint import token_mint

    call_command("migrate", verbosity=0)
    owner = user_create(
        username="bench", email="bench@example.com", password="x" * 20, verified=True
    )
    token = token_mint(user=owner, description="bench")[1]
    started = time.perf_counter()
    project = make_big_project(owner, args.releases, args.wheels)
    made = time.perf_counter() - started

    renders = []
    for _ in range(7):
        started = time.perf_counter()
        rows, _absent = pages.rendered_rows(project)  # type: ignore[arg-type]
        renders.append(time.perf_counter() - started)
    sizes = {row.key.split()[0]: len(row.body) for row in rows}
    gzipped_sizes = {row.key.split()[0]: len(row.body_gzip or b"") for row in rows}
    # What the first reader after an upload waits for: its page read, found missing, rendered
    # under the project's lock, stored, and read again.
    first_read: dict[str, float] = {}
    for key in project_keys("big"):
        waits = []
        for _ in range(7):
            RenderedPage.objects.filter(key=key).delete()
            started = time.perf_counter()
            assert pages.project_page("big", key, gzipped=True) is not None
            waits.append(time.perf_counter() - started)
        first_read[key.split()[0]] = round(statistics.median(waits) * 1000, 1)

    client = Client(HTTP_HOST="localhost")
    big, fresh = [], []
    for n in range(args.uploads):
        big.append(timed_upload(client, token, "big", f"2.{n}"))
        fresh.append(timed_upload(client, token, f"fresh-{n}", "1.0"))
    html_key = project_keys("big")[0]
    page = pages.project_page("big", html_key)
    assert page is not None
    result = {
        "database": "postgresql" if args.database else "sqlite",
        "files_in_project": File.objects.filter(release__project__normalized_name="big").count(),
        "rows_made_s": round(made, 2),
        "render_all_three_ms_median": round(statistics.median(renders) * 1000, 1),
        "first_read_ms_median": first_read,
        "page_bytes": sizes,
        "page_gzip_bytes": gzipped_sizes,
        "upload_into_big_ms_median": round(statistics.median(big) * 1000, 1),
        "upload_into_fresh_ms_median": round(statistics.median(fresh) * 1000, 1),
        "big_over_fresh": round(statistics.median(big) / statistics.median(fresh), 2),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
