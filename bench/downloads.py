"""Downloads from an S3-compatible store, each way Packyard offers (docs/deployment.md):

- `stream`: the bytes go from the bucket through Packyard to the client;
- `presigned`: Packyard answers 302 to a five-minute presigned link, the client fetches that;
- `accel`: nginx in front, Packyard answers X-Accel-Redirect, nginx fetches from the bucket;
and, for scale, the same object straight from the bucket.

One moto standalone server (an emulator: its own speed is part of every figure, so compare the
ways with each other and with `bucket`), one `packyard serve` pinned to CPU 0 per way, each
with its own prefix in the bucket. Each way downloads a 20 MiB and a 100 KiB wheel 16 times to
warm up, then --repeats times one after another (redirects followed, every body's SHA-256
checked); prints the median seconds and MiB/s of each as one JSON object.

    .venv/bin/python bench/downloads.py
"""

import argparse
import hashlib
import io
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

from serving import VENV_BIN, free_port, serve_pinned  # bench/, beside this script
from soak import upload_file

BUCKET = "bench"
SIZES = {"20MiB": 20 * 2**20, "100KiB": 100 * 2**10}
WARM_UP = 16  # downloads before the timed ones
NGINX = """
worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log; daemon off;
events {{ worker_connections 256; }}
http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/f; uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;
  server {{ listen 127.0.0.1:{port}; client_max_body_size 0;
    location /_stored/ {{ internal; proxy_pass http://127.0.0.1:{moto}/{bucket}/{prefix}/; }}
    location / {{ proxy_pass http://127.0.0.1:{packyard}; proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; }} }} }}
"""


def big_wheel(name: str, size: int) -> tuple[str, bytes]:
    """A wheel carrying `size` random bytes, stored (random bytes do not compress)."""
    base = f"{name}-1.0"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{name}/payload.bin", os.urandom(size))
        archive.writestr(
            f"{base}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
        )
        archive.writestr(
            f"{base}.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        archive.writestr(f"{base}.dist-info/RECORD", "")
    return f"{base}-py3-none-any.whl", buffer.getvalue()


def make_public_bucket(endpoint: str) -> None:
    """The bucket, readable without credentials: as the docs have it for nginx's network."""
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - moto takes any
    )
    s3.create_bucket(Bucket=BUCKET)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))


def wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()  # noqa: S310 - loopback
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"nothing answers at {url}") from None
            time.sleep(0.1)


def timed_downloads(url: str, digest: str, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=120) as answer:  # noqa: S310 - loopback
            body = answer.read()
        times.append(time.perf_counter() - started)
        assert hashlib.sha256(body).hexdigest() == digest, f"{url} gave other bytes"
    return times


def summary(times: list[float], size: int) -> dict[str, float]:
    median = statistics.median(times)
    return {"median_s": round(median, 4), "mib_per_s": round(size / 2**20 / median, 1)}


def packyard_cli(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(
        [str(VENV_BIN / "packyard"), *argv], env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def measure_way(way: str, moto: int, work: Path, repeats: int) -> dict[str, object]:
    data_dir = work / way
    env = dict(os.environ) | {
        "PACKYARD_DATA_DIR": str(data_dir),
        "PACKYARD_SECRET_KEY": "downloads-" + "k" * 50,
        "PACKYARD_STORAGE_URL": (
            f"s3://{BUCKET}/{way}?endpoint_url=http://127.0.0.1:{moto}"
            "&region=us-east-1&addressing_style=path"
        ),
        "PACKYARD_REQUIRE_2FA": "off",
        "PACKYARD_EMAIL_URL": "console:",
        "PACKYARD_PASSWORD": "x" * 20,
        "PACKYARD_FILES_REDIRECT": "presigned" if way == "presigned" else "stream",
        "AWS_ACCESS_KEY_ID": "bench",  # moto takes any
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    if way == "accel":
        env |= {"PACKYARD_FILES_ACCEL_REDIRECT": "/_stored/", "PACKYARD_PROXY_COUNT": "1"}
    with open(work / f"{way}.log", "wb") as log:
        server, base = serve_pinned(env, log)
    nginx = None
    try:
        if way == "accel":
            front = free_port()
            for temp in ("body", "proxy", "f", "u", "s"):  # nginx's workers may be "nobody"
                (work / temp).mkdir(exist_ok=True)
                (work / temp).chmod(0o777)
            conf = NGINX.format(
                d=work,
                port=front,
                moto=moto,
                bucket=BUCKET,
                prefix=way,
                packyard=base.rsplit(":", 1)[1],
            )
            (work / "nginx.conf").write_text(conf)
            nginx = subprocess.Popen(
                [shutil.which("nginx") or "/usr/sbin/nginx", "-c", str(work / "nginx.conf")],
                start_new_session=True,
            )
            base = f"http://127.0.0.1:{front}"
            wait_for(base + "/_/health")
        packyard_cli(env, "user", "create", "bench", "--email", "bench@example.com")
        token = packyard_cli(env, "token", "create", "bench")
        result: dict[str, object] = {}
        for label, size in SIZES.items():
            name = f"dl_{label.lower()}"
            filename, data = big_wheel(name, size)
            status = upload_file(base, token, name, "1.0", filename, data)
            if status != 200:
                log = (work / f"{way}.log").read_text()[-3000:]
                raise SystemExit(f"{way}: the upload answered {status}\n{log}")
            simple_page = urllib.request.Request(  # noqa: S310 - loopback
                f"{base}/simple/{name.replace('_', '-')}/",
                headers={"Accept": "application/vnd.pypi.simple.v1+json"},
            )
            with urllib.request.urlopen(simple_page) as answer:  # noqa: S310 - loopback
                page = json.load(answer)
            path = page["files"][0]["url"]
            # Each of a worker's 8 threads opens its own connection to the store on first use.
            timed_downloads(base + path, hashlib.sha256(data).hexdigest(), WARM_UP)
            times = timed_downloads(base + path, hashlib.sha256(data).hexdigest(), repeats)
            result[label] = summary(times, len(data))
            if way == "stream":  # the same object straight from the bucket, for scale
                key = f"http://127.0.0.1:{moto}/{BUCKET}/{way}{path}"
                direct = timed_downloads(key, hashlib.sha256(data).hexdigest(), repeats)
                result[f"bucket {label}"] = summary(direct, len(data))
        return result
    finally:
        for process in (nginx, server):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="packyard-downloads-"))
    work.chmod(0o755)  # nginx's workers write request bodies under it
    moto_port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{moto_port}/")
        make_public_bucket(f"http://127.0.0.1:{moto_port}")
        results = {way: measure_way(way, moto_port, work, args.repeats) for way in WAYS}
        print(json.dumps(results, indent=1))
    finally:
        os.killpg(moto.pid, signal.SIGTERM)
        moto.wait()
        shutil.rmtree(work, ignore_errors=True)


WAYS = ("stream", "presigned", "accel")

if __name__ == "__main__":
    main()
