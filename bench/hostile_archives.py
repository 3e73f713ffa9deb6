"""What hostile archives cost the server: peak memory growth and CPU time per upload, and how
much page loads slow down while they arrive.

Builds the corpus of tests/hostile.py (every file under 1 MiB: header bombs, pax digit runs,
deep nesting, many tiny members, gzip and zip bombs, overlapping zip entries), starts
`packyard serve --workers 1` pinned to CPU 0 with a fresh data directory, and uploads each
case `--runs` times with an operator-made token. Around every upload it reads the worker's
CPU time and resets and reads its peak RSS (/proc: run as root, or as the server's user), with
nothing else running. Then a thread on CPU 1 loads a project page in a loop; its median latency
while each hostile case is uploaded again and again for a few seconds is compared with the
same loop while the server does nothing else.

    .venv/bin/python bench/hostile_archives.py
    .venv/bin/python bench/hostile_archives.py --runs 5 --output /tmp/hostile.json

Targets (issue "Security that holds under attack"): every upload under 1 MiB costs < 50 ms of
CPU and < 20 MiB of RSS, and page loads are not slowed by more than 2x.
"""

import argparse
import base64
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from serving import VENV_BIN, serve_pinned  # bench/, beside this script

CHECKOUT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(CHECKOUT))
from tests import dists, hostile  # noqa: E402 - the checkout's tests, beside bench/

PAGE = "/project/bench-page/"
SECONDS_PER_CASE = 3


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    pids = []
    for child in map(int, children):
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"pyuwsgi" in cmdline or b"uwsgi" in cmdline:
            pids.append(child)
            pids += worker_pids(child)
    return pids


def cpu_ms(pid: int) -> float:
    """CPU time of every thread of the process, in ms, at the scheduler's nanosecond grain
    (/proc/PID/stat counts in 10 ms ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended between the listing and the read
    return total / 1e6


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM back to the current RSS


def post(base: str, token: str, filename: str, data: bytes, name: str = "demo") -> tuple[int, str]:
    kind = "sdist" if filename.endswith(".tar.gz") else "bdist_wheel"
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.4",
        "name": name,
        "version": "1.0",
        "filetype": kind,
        "pyversion": "source" if kind == "sdist" else "py3",
    }
    boundary = "hostile-archive-bench"
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{filename}"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    auth = base64.b64encode(f"__token__:{token}".encode()).decode()
    connection.request(
        "POST",
        "/legacy/",
        body,
        {
            "Authorization": f"Basic {auth}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    try:
        response = connection.getresponse()
        response.read()
    except TimeoutError:
        return 0, "no answer within 120 s"
    finally:
        connection.close()
    return response.status, response.reason


class PageLoads(threading.Thread):
    """Loads the project page (through Django, not the fast path) in a loop; records latency."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.parts = urlsplit(base)
        self.samples: list[tuple[float, float]] = []  # (start, seconds)
        self.stop = threading.Event()

    def run(self) -> None:
        os.sched_setaffinity(0, {1})
        while not self.stop.is_set():
            started = time.perf_counter()
            connection = http.client.HTTPConnection(self.parts.hostname, self.parts.port)
            try:
                connection.request("GET", PAGE)
                connection.getresponse().read()
            except OSError:
                continue  # the server is stopping
            finally:
                connection.close()
            self.samples.append((started, time.perf_counter() - started))

    def median_between(self, start: float, end: float) -> float | None:
        inside = [took for at, took in self.samples if start <= at <= end]
        return statistics.median(inside) if inside else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", type=Path)
    parser.add_argument(
        "--server-src",
        type=Path,
        help="serve the packyard package from this src/ instead (e.g. an older checkout's)",
    )
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--no-pages", action="store_true", help="skip the page-load phase")
    args = parser.parse_args()

    chosen = args.cases.split(",") if args.cases else list(hostile.CASES)
    corpus = {case: hostile.CASES[case]("demo", "1.0") for case in chosen}
    workdir = Path(tempfile.mkdtemp(prefix="packyard-hostile-"))
    env = dict(os.environ)
    env.update(
        PACKYARD_DATA_DIR=str(workdir / "data"),
        PACKYARD_REQUIRE_2FA="off",
        PACKYARD_PASSWORD="bench-password-123",  # noqa: S106 - a throwaway loopback server
    )
    if args.server_src:
        env["PYTHONPATH"] = str(args.server_src.resolve())
    cli = str(VENV_BIN / "packyard")
    server, base = serve_pinned(env, extra_args=["--workers", "1"])
    try:
        subprocess.run([cli, "user", "create", "bench", "--email", "b@example.invalid"], env=env)
        made = subprocess.run(
            [cli, "token", "create", "bench"], env=env, capture_output=True, text=True
        )
        token = made.stdout.strip().splitlines()[-1]
        # A project for the page loads, uploaded like any other.
        page_wheel = dists.make_wheel("bench-page", "1.0")
        page_file = dists.wheel_filename("bench-page", "1.0")
        page_status = post(base, token, page_file, page_wheel, name="bench-page")
        assert page_status[0] == 200, page_status
        pids = worker_pids(server.pid)
        results = {}
        # First the cost of each upload alone: nothing else runs on the server.
        for case, (filename, data) in corpus.items():
            cpu, peak, statuses = [], [], set()
            for _ in range(args.runs):
                for pid in pids:
                    reset_peak(pid)
                before_rss = {pid: rss_kib(pid, "VmRSS") for pid in pids}
                before_cpu = sum(cpu_ms(pid) for pid in pids)
                status, reason = post(base, token, filename, data)
                cpu.append(sum(cpu_ms(pid) for pid in pids) - before_cpu)
                peak.append(max(rss_kib(pid, "VmHWM") - before_rss[pid] for pid in pids) / 1024)
                statuses.add(f"{status} {reason[:70]}")
                if status == 200:  # stored: delete it so the next run uploads again
                    subprocess.run(
                        [cli, "manage", "shell", "-c", DELETE_DEMO],
                        env=env,
                        check=True,
                        capture_output=True,
                    )
            results[case] = {
                "size_kib": round(len(data) / 1024),
                "cpu_ms_median": round(statistics.median(cpu), 1),
                "rss_growth_mib_median": round(statistics.median(peak), 1),
                "answers": sorted(statuses),
            }
        # Then page loads beside a stream of each hostile case, against page loads alone.
        if args.no_pages:
            corpus = {}
        loads = PageLoads(base)
        loads.start()
        time.sleep(SECONDS_PER_CASE)
        idle = loads.median_between(0, time.perf_counter())
        for case, (filename, data) in corpus.items():
            if case in hostile.ACCEPTED:
                continue
            started = time.perf_counter()
            while time.perf_counter() - started < SECONDS_PER_CASE:
                post(base, token, filename, data)
            during = loads.median_between(started, time.perf_counter())
            results[case]["page_slowdown"] = round(during / idle, 2) if during and idle else None
            print(json.dumps({case: results[case]}), flush=True)
        loads.stop.set()
        loads.join()
        summary = {
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "runs": args.runs,
            "idle_page_ms": round((idle or 0) * 1000, 2),
            "cases": results,
        }
        if args.output:
            args.output.write_text(json.dumps(summary, indent=2))
        print(json.dumps(summary, indent=2))
    finally:
        server.terminate()
        server.wait(timeout=30)


# Plain rows only, so that it also runs against older checkouts (--server-src).
DELETE_DEMO = (
    "from packyard.packages import models\n"
    "models.Project.objects.filter(normalized_name='demo').delete()\n"
    "models.UsedFilename.objects.all().delete()\n"
    "getattr(models, 'ReservedName', models.UsedFilename).objects.all().delete()\n"
)


if __name__ == "__main__":
    main()
