#!/usr/bin/env python3
"""Upload one large wheel with twine to a fresh `packyard serve` and report the server's memory.

    python3 bench/big_upload.py [--size-mib 100] [--limit 1G] [--repeats 3]

Starts Packyard from this checkout's .venv (scripts/serve or scripts/test make it) on a free
loopback port with its own data directory, creates a user and token through the command line, and
samples the resident memory of every server process while twine uploads. Prints, per repeat, the
upload time and the peak growth of RSS over the idle figure (the largest worker, and all server
processes together). Loopback only; stops by itself.
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("PACKYARD_VENV", ROOT / ".venv"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def server_pids(root_pid: int) -> list[int]:
    children = subprocess.run(["pgrep", "-P", str(root_pid)], capture_output=True, text=True)
    return [root_pid, *map(int, children.stdout.split())]


class Sampler(threading.Thread):
    def __init__(self, root_pid: int) -> None:
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.stop = threading.Event()
        self.peak_process = 0
        self.peak_total = 0

    def run(self) -> None:
        while not self.stop.is_set():
            sizes = [rss_kib(pid) for pid in server_pids(self.root_pid)]
            self.peak_process = max(self.peak_process, max(sizes))
            self.peak_total = max(self.peak_total, sum(sizes))
            self.stop.wait(0.02)


def make_wheel(path: Path, size: int) -> None:
    name, version = path.name.split("-")[:2]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{name}/__init__.py", b"")
        with archive.open(f"{name}/blob.bin", "w", force_zip64=True) as blob:
            remaining = size
            while remaining > 0:
                chunk = os.urandom(min(remaining, 1 << 20))
                blob.write(chunk)
                remaining -= len(chunk)
        archive.writestr(
            f"{name}-{version}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        )
        wheel_info = "Wheel-Version: 1.0\nTag: py3-none-any\n"
        archive.writestr(f"{name}-{version}.dist-info/WHEEL", wheel_info)
        archive.writestr(f"{name}-{version}.dist-info/RECORD", "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=100)
    parser.add_argument("--limit", default="2G", help="PACKYARD_MAX_FILE_SIZE for the server")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    twine = shutil.which("twine", path=str(ROOT / ".cache" / "e2e-tools" / "bin")) or "twine"
    work = Path(tempfile.mkdtemp(prefix="packyard-big-upload-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PACKYARD_", "DJANGO_"))}
    env |= {
        "PACKYARD_DATA_DIR": str(work / "data"),
        "PACKYARD_MAX_FILE_SIZE": args.limit,
        "PACKYARD_BASE_URL": f"http://127.0.0.1:{port}",
    }
    packyard = str(VENV / "bin" / "packyard")
    log = (work / "server.log").open("wb")
    server = subprocess.Popen(
        [packyard, "serve", "--port", str(port), "--workers", str(args.workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_/health", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        subprocess.run(
            [packyard, "user", "create", "bench", "--email", "bench@example.org"],
            env=env | {"PACKYARD_PASSWORD": "a bench pass phrase 12"},
            check=True,
            capture_output=True,
        )
        token = (
            subprocess.run(
                [packyard, "token", "create", "bench"],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        results = []
        for repeat in range(args.repeats):
            wheel = work / f"bigpkg-1.{repeat}-py3-none-any.whl"
            make_wheel(wheel, args.size_mib << 20)
            time.sleep(1)  # let the idle figure settle after the previous upload
            idle = [rss_kib(pid) for pid in server_pids(server.pid)]
            sampler = Sampler(server.pid)
            sampler.start()
            started = time.monotonic()
            subprocess.run(
                [
                    twine,
                    "upload",
                    "--disable-progress-bar",
                    "--repository-url",
                    f"http://127.0.0.1:{port}/legacy/",
                    "-u",
                    "__token__",
                    "-p",
                    token,
                    str(wheel),
                ],
                check=True,
                capture_output=True,
                env=env,
            )
            elapsed = time.monotonic() - started
            sampler.stop.set()
            sampler.join()
            growth_process = (sampler.peak_process - max(idle)) / 1024
            growth_total = (sampler.peak_total - sum(idle)) / 1024
            results.append((elapsed, growth_process, growth_total))
            print(
                f"repeat {repeat + 1}: {wheel.stat().st_size / 2**20:.0f} MiB in {elapsed:.2f} s, "
                f"idle largest process {max(idle) / 1024:.0f} MiB, peak growth: largest process "
                f"{growth_process:+.1f} MiB, all processes {growth_total:+.1f} MiB"
            )
            wheel.unlink()
        print(
            f"median: {statistics.median(r[0] for r in results):.2f} s, largest process "
            f"{statistics.median(r[1] for r in results):+.1f} MiB, all processes "
            f"{statistics.median(r[2] for r in results):+.1f} MiB"
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
