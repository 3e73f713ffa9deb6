"""Two `packyard serve` nodes on one PostgreSQL database and one S3 bucket (moto's server),
behind nginx's round robin, all on loopback: what one node does, the other knows at once."""

import dataclasses
import os
import shutil
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import dists
from tests.conftest import S3_BUCKET, basic_auth, s3_client, s3_storage_url
from tests.e2e.conftest import (
    PASSWORD,
    Server,
    Tools,
    drop_postgres_database,
    free_port,
    fresh_postgres_database,
    run,
    running_server,
    twine_upload,
)
from tests.e2e.test_attacks import Browserless

pytestmark = pytest.mark.e2e

NGINX_CONF = """
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream nodes {{ server 127.0.0.1:{port_a}; server 127.0.0.1:{port_b}; }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        location / {{
            proxy_pass http://nodes;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_request_buffering off;
        }}
    }}
}}
"""


@dataclass
class Cluster:
    url: str  # nginx, in front of both
    a: Server
    b: Server
    prefix: str


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, oidc_servers, s3_endpoint) -> Iterator[Cluster]:
    database_server = os.environ.get("PACKYARD_DATABASE_URL")
    if not database_server:
        pytest.skip("several nodes share a PostgreSQL database (the PostgreSQL run has one)")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx is not installed (scripts/test installs it)")
    database = fresh_postgres_database(database_server)
    root = tmp_path_factory.mktemp("cluster")
    prefix = f"cluster-{root.name}"
    port, port_a, port_b = free_port(), free_port(), free_port()
    shared = {
        "PACKYARD_BASE_URL": f"http://localhost:{port}",
        "PACKYARD_SECRET_KEY": "two nodes, one secret " + "s" * 40,
        "PACKYARD_STORAGE_URL": s3_storage_url(s3_endpoint, prefix),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "PACKYARD_PROXY_COUNT": "1",
        "PACKYARD_REQUIRE_2FA": "off",
    }
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=root, port=port, port_a=port_a, port_b=port_b))
    for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (root / temp).mkdir(mode=0o777)
        (root / temp).chmod(0o777)  # nginx's workers run as nobody
    try:
        with (
            running_server(
                root / "a", oidc_servers, port=port_a, shared_database=database, extra_env=shared
            ) as node_a,
            running_server(
                root / "b",
                oidc_servers,
                port=port_b,
                shared_database=database,
                with_alice=False,
                extra_env=shared,
            ) as node_b,
        ):
            proxy = subprocess.Popen([nginx, "-c", str(conf), "-g", "daemon off;"])
            try:
                wait_for(f"http://127.0.0.1:{port}/_/health")
                yield Cluster(
                    url=f"http://localhost:{port}",
                    a=node_a,
                    b=dataclasses.replace(node_b, token=node_a.token),
                    prefix=prefix,
                )
            finally:
                proxy.send_signal(signal.SIGQUIT)
                proxy.wait(timeout=30)
    finally:
        drop_postgres_database(database)


def wait_for(url: str) -> None:
    import time

    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.1)  # polling a starting server, not timing a test


def requests_to(node: Server) -> int:
    return node.requests_seen().count('"GET ') + node.requests_seen().count('"POST ')


def get(url: str, token: str = "", accept: str = "") -> tuple[int, bytes]:
    headers = {"Authorization": basic_auth("__token__", token)} if token else {}
    if accept:
        headers["Accept"] = accept
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        with refused:
            return refused.code, refused.read()


def wheel(tmp_path: Path, name: str, version: str) -> Path:
    path = tmp_path / dists.wheel_filename(name, version)
    path.write_bytes(dists.make_wheel(name, version))
    return path


def test_a_login_made_through_one_node_works_on_the_other(cluster):
    cluster.a.create_user("twonodes")
    browser = Browserless(Server(url=cluster.url, env={}, log=Path(), token=""))
    browser.request("GET", "/account/login/")
    status, _ = browser.request(
        "POST", "/account/login/", {"username": "twonodes", "password": PASSWORD}
    )
    assert status == 302
    seen_a, seen_b = requests_to(cluster.a), requests_to(cluster.b)
    for _ in range(6):  # round robin: both nodes answer some of these
        status, page = browser.request("GET", "/manage/account/")
        assert status == 200, page[:200]
    assert requests_to(cluster.a) > seen_a
    assert requests_to(cluster.b) > seen_b


def test_an_upload_on_one_node_is_installable_through_the_other_at_once(
    cluster, tools: Tools, tmp_path
):
    twine_upload(tools, cluster.a, [wheel(tmp_path, "e2e-nodes", "1.0")])
    status, page = get(f"{cluster.b.url}/simple/e2e-nodes/")
    assert status == 200
    assert b"e2e_nodes-1.0-py3-none-any.whl" in page
    target = tmp_path / "downloaded"
    run(
        [
            tools.pip,
            "download",
            "--no-deps",
            "--no-cache-dir",
            "--dest",
            target,
            "--index-url",
            f"{cluster.b.url}/simple/",
            "e2e-nodes==1.0",
        ]
    )
    assert (target / "e2e_nodes-1.0-py3-none-any.whl").read_bytes() == dists.make_wheel(
        "e2e-nodes", "1.0"
    )
    # Read through the front, whose round robin reaches both nodes: neither ever answers the
    # page from before the upload (no node keeps a copy of its own: docs/deployment.md).
    for version in ("2.0", "3.0"):
        twine_upload(tools, cluster.a, [wheel(tmp_path, "e2e-nodes", version)])
        for _ in range(4):
            for accept in ("text/html", "application/vnd.pypi.simple.v1+json"):
                status, page = get(f"{cluster.url}/simple/e2e-nodes/", accept=accept)
                assert status == 200
                assert f"e2e_nodes-{version}-py3-none-any.whl".encode() in page


def test_a_token_revoked_on_one_node_is_refused_on_the_other_at_once(cluster, tools, tmp_path):
    token = cluster.a.packyard("token", "create", "alice").stdout.strip().splitlines()[-1]
    request = urllib.request.Request(
        f"{cluster.a.url}/_/tokens/current",
        method="DELETE",
        headers={"Authorization": basic_auth("__token__", token)},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 204
    refused = twine_upload(
        tools, cluster.b, [wheel(tmp_path, "e2e-revoked", "1.0")], token=token, check=False
    )
    assert refused.returncode != 0
    assert "revoked" in refused.stdout + refused.stderr


def test_rate_limits_count_across_nodes(cluster):
    cluster.a.create_user("limited")
    answers: Counter[int] = Counter()
    for attempt in range(12):
        node = cluster.a if attempt % 2 else cluster.b
        browser = Browserless(node)
        browser.request("GET", "/account/login/")
        status, _ = browser.request(
            "POST", "/account/login/", {"username": "limited", "password": "wrong"}
        )
        answers[status] += 1
    # Ten wrong passwords per address and account, however the nodes share them out.
    assert answers[200] == 10
    assert answers[429] == 2


def test_parallel_uploads_to_both_nodes_all_land_and_one_filename_is_stored_once(
    cluster, tools, tmp_path, s3_endpoint
):
    files = {version: wheel(tmp_path, "e2e-parallel", version) for version in ("1", "2", "3", "4")}
    same = wheel(tmp_path, "e2e-same", "1.0")
    results: list[int] = []

    def upload(node: Server, path: Path) -> None:
        results.append(
            twine_upload(tools, node, [path], token=cluster.a.token, check=False).returncode
        )

    threads = [
        threading.Thread(target=upload, args=(cluster.a if i % 2 else cluster.b, path))
        for i, path in enumerate(files.values())
    ]
    threads += [
        threading.Thread(target=upload, args=(node, same)) for node in (cluster.a, cluster.b)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [0] * 6
    status, page = get(f"{cluster.url}/simple/e2e-parallel/")
    assert status == 200
    assert all(f"e2e_parallel-{v}-py3-none-any.whl".encode() in page for v in files)
    keys = [
        item["Key"]
        for item in s3_client(s3_endpoint)
        .list_objects_v2(Bucket=S3_BUCKET, Prefix=f"{cluster.prefix}/")
        .get("Contents", [])
        if "e2e_same" in item["Key"]
    ]
    assert len(keys) == 2  # the wheel and its METADATA, once
    rows = cluster.a.packyard(
        "manage",
        "shell",
        "--no-imports",
        "-c",
        "from packyard.packages.models import File\n"
        "print(File.objects.filter(filename__startswith='e2e_same').count())",
    )
    assert rows.stdout.strip() == "1"


def test_the_cluster_is_consistent_afterwards(cluster):
    checked = cluster.b.packyard("check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
