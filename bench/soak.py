"""A soak: ten minutes of a fixed mix against one node, or two nodes behind nginx, on PostgreSQL.

The mix, all at once for --duration seconds:
- installs: `pip download --no-deps` of a published project through the index, one after another;
- reads: `/simple/<project>/` of the 20 seeded projects at a fixed rate (--read-rate per second);
- uploads: 8 clients, each uploading new versions of its own project, one after another;
- token creations: `packyard token create` every 10 seconds.
It reports the errors of each kind (target: none), the 50th and 99th percentile latency of each,
and the resident memory of all server processes every 30 seconds (target: flat after warm-up).

    .venv/bin/python bench/soak.py --database postgresql://postgres@127.0.0.1/soak
    .venv/bin/python bench/soak.py --database postgresql://postgres@127.0.0.1/soak --nodes 2

The database named is dropped and created again. Two nodes share it and a files directory, with
nginx round robin in front (nginx must be installed). Prints one JSON object.
"""

import argparse
import base64
import hashlib
import io
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from serving import VENV_BIN, free_port, recreate_postgres_database  # bench/, beside this script

SEEDED = 20
UPLOADERS = 8
TOKEN_EVERY = 10
MEMORY_EVERY = 30
NGINX = """
worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;
events {{ worker_connections 512; }}
http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/f; uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;
  upstream nodes {{ server 127.0.0.1:{a}; server 127.0.0.1:{b}; keepalive 16; }}
  server {{ listen 127.0.0.1:{port}; client_max_body_size 0;
    location / {{ proxy_pass http://nodes; proxy_http_version 1.1;
      proxy_set_header Connection ""; proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; }} }} }}
"""


def wheel(name: str, version: str) -> tuple[str, bytes]:
    base = f"{name.replace('-', '_')}-{version}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name.replace('-', '_')}/__init__.py", b"VALUE = 1\n" * 50)
        archive.writestr(
            f"{base}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        )
        archive.writestr(
            f"{base}.dist-info/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: soak\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        archive.writestr(f"{base}.dist-info/RECORD", b"")
    return f"{base}-py3-none-any.whl", buffer.getvalue()


def upload(base: str, token: str, name: str, version: str) -> int:
    filename, data = wheel(name, version)
    return upload_file(base, token, name, version, filename, data)


def upload_file(base: str, token: str, name: str, version: str, filename: str, data: bytes) -> int:
    boundary = "soakboundary"
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.1",
        "name": name,
        "version": version,
        "filetype": "bdist_wheel",
        "pyversion": "py3",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
    }
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    body += (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{filename}"'
            "\r\nContent-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(  # noqa: S310 - the loopback server's address
        base + "/legacy/",
        data=body,
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Authorization": "Basic " + base64.b64encode(f"__token__:{token}".encode()).decode(),
        },
    )
    return status_of(request)


def status_of(request: urllib.request.Request | str) -> int:
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - loopback
            answer.read()
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        with refused:
            return int(refused.code)
    except OSError:
        return 0


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)

    def timed(self, kind: str, action: Callable[..., int], *args: object) -> None:
        started = time.perf_counter()
        status = action(*args)
        elapsed = time.perf_counter() - started
        with self.lock:
            self.latencies[kind].append(elapsed)
            if not 200 <= status < 300:
                self.errors[kind] += 1

    def report(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for kind, values in sorted(self.latencies.items()):
            values.sort()
            out[kind] = {
                "count": len(values),
                "errors": self.errors[kind],
                "p50_ms": round(statistics.median(values) * 1000, 1),
                "p99_ms": round(values[min(len(values) - 1, int(len(values) * 0.99))] * 1000, 1),
            }
        return out


def rss_of_servers(masters: list[int]) -> int:
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            pid, ppid = int(entry.name), int(stat[1])
            if pid in masters or ppid in masters:
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except (OSError, IndexError, ValueError):
            continue
    return total


def start_node(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(VENV_BIN / "packyard"), "serve", "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_healthy(base: str) -> None:
    deadline = time.monotonic() + 60
    while status_of(base + "/_/health") != 200:
        if time.monotonic() > deadline:
            raise SystemExit(f"{base} never became healthy")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", required=True, help="a PostgreSQL URL (dropped, made again)")
    parser.add_argument("--nodes", type=int, choices=(1, 2), default=1)
    parser.add_argument("--duration", type=int, default=600)
    parser.add_argument("--read-rate", type=float, default=50)
    args = parser.parse_args()
    recreate_postgres_database(args.database)
    work = Path(tempfile.mkdtemp(prefix="packyard-soak-"))
    ports = [free_port() for _ in range(args.nodes)]
    front = free_port() if args.nodes == 2 else ports[0]
    base = f"http://127.0.0.1:{front}"
    env = dict(os.environ) | {
        "PACKYARD_DATABASE_URL": args.database,
        "PACKYARD_SECRET_KEY": "soak-" + "k" * 50,
        "PACKYARD_STORAGE_URL": f"file://{work / 'files'}",
        "PACKYARD_BASE_URL": f"http://localhost:{front}",
        "PACKYARD_REQUIRE_2FA": "off",
        "PACKYARD_EMAIL_URL": f"file://{work / 'mail'}",
        "PACKYARD_NEW_PROJECTS_PER_HOUR": "1000",
        "PACKYARD_PROXY_COUNT": "1" if args.nodes == 2 else "0",
    }
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        run_soak(args, work, ports, front, base, env, nodes)
    finally:
        for node in nodes:
            if node.poll() is None:
                os.killpg(node.pid, signal.SIGTERM)
                node.wait()
        shutil.rmtree(work, ignore_errors=True)


def run_soak(  # noqa: C901 - one scenario, read top to bottom
    args: argparse.Namespace,
    work: Path,
    ports: list[int],
    front: int,
    base: str,
    env: dict[str, str],
    nodes: list[subprocess.Popen[bytes]],
) -> None:
    for index, port in enumerate(ports):
        node_env = env | {"PACKYARD_DATA_DIR": str(work / f"node{index}")}
        nodes.append(start_node(node_env, port, work / f"node{index}.log"))
        wait_healthy(f"http://127.0.0.1:{port}")
    if args.nodes == 2:
        for temp in ("body", "proxy", "f", "u", "s"):
            (work / temp).mkdir(mode=0o777)
            (work / temp).chmod(0o777)
        (work / "nginx.conf").write_text(NGINX.format(d=work, a=ports[0], b=ports[1], port=front))
        nginx = subprocess.Popen(  # stopped with the nodes
            [
                shutil.which("nginx") or "/usr/sbin/nginx",
                "-c",
                str(work / "nginx.conf"),
                "-g",
                "daemon off;",
            ],
            start_new_session=True,
        )
        nodes.append(nginx)
        wait_healthy(base)
    cli_env = env | {"PACKYARD_DATA_DIR": str(work / "node0"), "PACKYARD_PASSWORD": "x" * 20}
    subprocess.run(
        [str(VENV_BIN / "packyard"), "user", "create", "soak", "--email", "soak@example.com"],
        env=cli_env,
        check=True,
        capture_output=True,
    )
    token = (
        subprocess.run(
            [str(VENV_BIN / "packyard"), "token", "create", "soak"],
            env=cli_env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    for n in range(SEEDED):
        assert upload(base, token, f"soak-seed-{n}", "1.0") == 200
    recorder = Recorder()
    stop = time.monotonic() + args.duration
    memory: list[tuple[int, int]] = []
    masters = [node.pid for node in nodes]

    def reads() -> None:
        interval = 1 / args.read_rate
        next_at = time.monotonic()
        while time.monotonic() < stop:
            name = f"soak-seed-{random.randrange(SEEDED)}"  # noqa: S311 - a load mix
            recorder.timed("read", status_of, f"{base}/simple/{name}/")
            next_at += interval
            time.sleep(max(0, next_at - time.monotonic()))

    def uploads(client: int) -> None:
        version = 0
        while time.monotonic() < stop:
            version += 1
            recorder.timed("upload", upload, base, token, f"soak-up-{client}", f"1.{version}")

    def command(argv: list[str], command_env: dict[str, str] | None = None) -> int:
        done = subprocess.run(argv, env=command_env, capture_output=True, check=False)
        return 200 if done.returncode == 0 else 500

    def installs() -> None:
        target = work / "downloads"
        while time.monotonic() < stop:
            name = f"soak-seed-{random.randrange(SEEDED)}"  # noqa: S311 - a load mix
            pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir"]
            pip += ["--quiet", "--dest", str(target), "--index-url", f"{base}/simple/", name]
            recorder.timed("install", command, pip)

    def tokens() -> None:
        while time.monotonic() < stop:
            mint = [str(VENV_BIN / "packyard"), "token", "create", "soak"]
            recorder.timed("token", command, mint, cli_env)
            time.sleep(TOKEN_EVERY)

    def sample_memory() -> None:
        started = time.monotonic()
        while time.monotonic() < stop:
            memory.append((int(time.monotonic() - started), rss_of_servers(masters)))
            time.sleep(MEMORY_EVERY)

    threads = [
        threading.Thread(target=reads),
        threading.Thread(target=installs),
        threading.Thread(target=tokens),
        threading.Thread(target=sample_memory),
    ]
    threads += [threading.Thread(target=uploads, args=(n,)) for n in range(UPLOADERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(
        json.dumps(
            {
                "nodes": args.nodes,
                "duration_s": args.duration,
                "kinds": recorder.report(),
                "rss_mib_every_30s": [round(rss / 2**20) for _seconds, rss in memory],
            },
            indent=1,
        )
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
