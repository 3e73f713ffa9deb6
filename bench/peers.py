"""Run the side-by-side harness (../shared/bench-peers/bench.py) with Packyard's own additions.

Everything the harness does is unchanged; this adds, before handing over to its main():

- `packyard-nginx`: Packyard behind nginx as docs/deployment.md describes (docs/nginx-packyard.conf,
  PACKYARD_PAGES_DIR, PACKYARD_FILES_ACCEL_REDIRECT), both pinned to the server core; measured
  through nginx exactly as the other servers are.
- `packyard-nginx-node`: the same without PACKYARD_PAGES_DIR, as each of several nodes runs
  (docs/deployment.md): nginx passes the index pages to Packyard.
- `packyard-gunicorn`, `packyard-granian`: the same application under the other servers
  considered for `packyard serve` (which runs uWSGI), one process with 8 threads each.
- Header names read case-insensitively, as HTTP defines them: the harness looks up
  "Content-Type" in a plain dict, which misses servers that send lower-case names (granian).

Usage, from the checkout (the same options as bench.py; BENCH_PEERS names the harness's directory
if it is not ../shared/bench-peers):

    python3 bench/peers.py --servers packyard,packyard-nginx,devpi,pypiserver,nginx-static
"""

import os
import re
import shutil
import sys
from email.message import Message
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
HARNESS = Path(os.environ.get("BENCH_PEERS", CHECKOUT.parent / "shared" / "bench-peers"))
sys.path.insert(0, str(HARNESS))

import bench  # noqa: E402  (the harness, found through the path above)

_harness_http_get = bench.http_get


def http_get_any_case(*args, **kwargs):
    status, headers, body = _harness_http_get(*args, **kwargs)
    message = Message()
    for name, value in headers.items():
        message[name] = value
    return status, message, body


bench.http_get = http_get_any_case


class PackyardOnOtherServer(bench.Packyard):
    """Packyard's application under another WSGI server, for the choice of `packyard serve`'s
    server: the same settings and workers, only the server differs."""

    server_package = ""

    def prepare(self):
        super().prepare()
        bench.subprocess.run(
            [f"{self.venv}/bin/python", "-m", "pip", "install", "-q", self.server_package],
            check=True,
            env=bench.child_env(),
        )
        bench.subprocess.run(
            [f"{self.venv}/bin/packyard", "manage", "migrate", "-v0"], check=True, env=self.env()
        )
        os.makedirs(os.path.join(self.run, "data", "files"), exist_ok=True)  # as `serve` does

    def extra_env(self):
        return super().extra_env() | {"DJANGO_SETTINGS_MODULE": "packyard.settings"}


class PackyardGunicorn(PackyardOnOtherServer):
    name = "packyard-gunicorn"
    server_package = "gunicorn==23.0.0"

    def command(self):
        return [
            f"{self.venv}/bin/gunicorn",
            "packyard.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            "8",
        ]


class PackyardGranian(PackyardOnOtherServer):
    name = "packyard-granian"
    server_package = "granian==2.8.9"

    def command(self):
        return [
            f"{self.venv}/bin/granian",
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--blocking-threads",
            "8",
            "packyard.wsgi:application",
        ]


class PackyardBehindNginx(bench.Packyard):
    """nginx on the measured port, Packyard on an internal one; nginx answers rendered pages
    and sends files, Packyard the rest (uploads, redirects, pages not rendered yet)."""

    name = "packyard-nginx"

    def extra_env(self):
        return super().extra_env() | {
            "PACKYARD_PAGES_DIR": os.path.join(self.run, "data", "pages"),
            "PACKYARD_FILES_ACCEL_REDIRECT": "/_stored/",
            "PACKYARD_PROXY_COUNT": "1",
        }

    def prepare(self):
        super().prepare()
        self.internal_port = bench.free_port()
        conf = (CHECKOUT / "docs" / "nginx-packyard.conf").read_text()
        data = os.path.join(self.run, "data")
        conf = conf.replace("127.0.0.1:8000", f"127.0.0.1:{self.internal_port}")
        conf = conf.replace("/var/lib/packyard/pages", f"{data}/pages")
        conf = conf.replace("/var/lib/packyard/files/", f"{data}/files/")
        conf = conf.replace("listen 443 ssl;", f"listen 127.0.0.1:{self.port} backlog=4096;")
        conf = re.sub(r"\n\s*ssl_certificate[^\n]*", "", conf)
        run = self.run
        wrapper = f"""user root;
worker_processes 1;
daemon off;
pid {run}/nginx.pid;
error_log {run}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    sendfile on;
    tcp_nodelay on;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
{conf}
}}
"""
        self.nginx_conf = os.path.join(run, "nginx.conf")
        Path(self.nginx_conf).write_text(wrapper)
        os.makedirs(f"{data}/pages", exist_ok=True)

    def command(self):
        serve = [
            f"{self.venv}/bin/packyard",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.internal_port),
            *os.environ.get("PACKYARD_SERVE_ARGS", "").split(),
        ]
        nginx = shutil.which("nginx") or "nginx"
        script = f"{' '.join(serve)} & exec {nginx} -p {self.run} -c {self.nginx_conf}"
        return ["sh", "-c", script]


class PackyardNodeBehindNginx(PackyardBehindNginx):
    """One of several nodes, as docs/deployment.md runs them: the same nginx configuration, but
    no pages directory, so nginx passes every index page to Packyard, whose fast path answers it
    from the pages in the database."""

    name = "packyard-nginx-node"

    def extra_env(self):
        env = super().extra_env()
        del env["PACKYARD_PAGES_DIR"]
        return env


for server in (PackyardGunicorn, PackyardGranian, PackyardBehindNginx, PackyardNodeBehindNginx):
    bench.EXTRA_SERVERS[server.name] = server

if __name__ == "__main__":
    bench.main()
