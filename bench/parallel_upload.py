"""Uploads with twine: one uploader for the whole corpus, then eight at once.

Starts `packyard serve` pinned to CPU 0 with a fresh data directory (and, with --database, a
PostgreSQL database created again), uploads the harness's corpus (default /tmp/peers/corpus)
with one `twine upload` of every file, then starts a second fresh server and uploads the same
corpus split by project into eight `twine upload` processes running at once (clients on CPU 1).
Prints files/s for both as JSON.

    .venv/bin/python bench/parallel_upload.py
    .venv/bin/python bench/parallel_upload.py --database postgresql://postgres@127.0.0.1/uploads
"""

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from serving import VENV_BIN, recreate_postgres_database, serve_pinned  # bench/, beside this script

TWINE = "twine"
PASSWORD = "bench-password-123"  # noqa: S105 - a throwaway loopback server's user


def fresh_server(workdir: Path, database: str | None) -> tuple[subprocess.Popen[bytes], str, str]:
    env = dict(os.environ)
    env.update(
        PACKYARD_DATA_DIR=str(workdir / "data"),
        PACKYARD_REQUIRE_2FA="off",
        PACKYARD_PASSWORD=PASSWORD,
    )
    if database:
        recreate_postgres_database(database)
        env["PACKYARD_DATABASE_URL"] = database
    server, base = serve_pinned(env)
    cli = str(VENV_BIN / "packyard")
    subprocess.run([cli, "user", "create", "bench", "--email", "b@example.invalid"], env=env)
    minted = subprocess.run(
        [cli, "token", "create", "bench", "--description", "bench"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return server, base, minted.stdout.strip().splitlines()[-1]


def twine(base: str, token: str, files: list[Path]) -> subprocess.Popen[bytes]:
    command = ["taskset", "-c", "1", TWINE, "upload", "--non-interactive"]
    command += ["--disable-progress-bar", "--repository-url", base + "/legacy/"]
    command += ["-u", "__token__", "-p", token, *map(str, files)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def run(files: list[Path], uploaders: int, database: str | None) -> dict[str, float]:
    by_project: dict[str, list[Path]] = {}
    for path in files:
        by_project.setdefault(path.name.split("-")[0], []).append(path)
    groups: list[list[Path]] = [[] for _ in range(uploaders)]
    for index, project_files in enumerate(by_project.values()):
        groups[index % uploaders].extend(project_files)
    workdir = Path(tempfile.mkdtemp(prefix="packyard-uploads-"))
    server, base, token = fresh_server(workdir, database)
    try:
        started = time.perf_counter()
        processes = [twine(base, token, group) for group in groups if group]
        failures = [p.stderr.read().decode() for p in processes if p.wait() != 0]
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)
    if failures:
        raise SystemExit("an upload failed:\n" + failures[0][-2000:])
    return {
        "uploaders": uploaders,
        "files": len(files),
        "seconds": elapsed,
        "files_per_s": len(files) / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", default="/tmp/peers/corpus")  # noqa: S108 - the harness's
    parser.add_argument("--twine", default="/tmp/peers/client/bin/twine")  # noqa: S108
    parser.add_argument("--database")
    args = parser.parse_args()
    global TWINE
    TWINE = args.twine
    files = sorted((Path(args.corpus) / "dists").iterdir())
    results = [run(files, 1, args.database), run(files, 8, args.database)]
    print(json.dumps({"database": "postgresql" if args.database else "sqlite", "runs": results}))


if __name__ == "__main__":
    main()
