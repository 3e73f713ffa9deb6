"""The documented configuration examples agree with the code they configure."""

import re
from pathlib import Path

from django.conf import settings
from django.test import Client

DOCS = Path(__file__).resolve().parents[1] / "docs"
SETTINGS_SOURCE = (Path(__file__).resolve().parents[1] / "src/packyard/settings.py").read_text()


def _nginx_blocks() -> str:
    deployment = (DOCS / "deployment.md").read_text()
    snippets = re.findall(r"```nginx\n(.*?)```", deployment, flags=re.S)
    return "\n".join(snippets) + (DOCS / "nginx-packyard.conf").read_text()


def test_nginx_examples_name_the_real_session_cookie():
    cookies = set(re.findall(r"\$cookie_(\w+)", _nginx_blocks()))
    assert cookies == {settings.SESSION_COOKIE_NAME}


def test_nginx_examples_send_the_header_the_read_check_reads(db):
    assert "proxy_set_header X-Original-URI $request_uri;" in _nginx_blocks()
    # The read check reads that header (tests/packages/index/test_access.py checks what it decides).
    answer = Client().get("/_/auth/read", HTTP_X_ORIGINAL_URI="/simple/anything/")
    assert answer.status_code == 204


def test_nginx_example_names_only_real_settings():
    named = set(re.findall(r"\b(PACKYARD_[A-Z_]+)=", _nginx_blocks()))
    assert named
    for variable in named:
        assert f'"{variable}"' in SETTINGS_SOURCE, variable


def test_nginx_example_serves_the_pages_where_packyard_writes_them():
    conf = (DOCS / "nginx-packyard.conf").read_text()
    pages_dir = re.search(r"PACKYARD_PAGES_DIR=(\S+)", conf).group(1)
    files_prefix = re.search(r"PACKYARD_FILES_ACCEL_REDIRECT=(\S+)", conf).group(1)
    assert f"root {pages_dir};" in conf
    assert f"location {files_prefix} {{" in conf


def test_security_model_cites_tests_that_exist():
    """docs/security.md names the test behind each claim: `file.py::test`, then `::test` for
    more in the same file. A renamed or moved test must not leave a claim without proof."""
    text = (DOCS / "security.md").read_text()
    missing, current = [], None
    for match in re.finditer(r"`([\w/]+\.py)(?:::(test_\w+))?`|`::(test_\w+)`", text):
        current = match.group(1) or current
        name = match.group(2) or match.group(3)
        path = DOCS.parent / "tests" / str(current)
        if not path.exists():
            missing.append(str(current))
        elif name and f"def {name}(" not in path.read_text():
            missing.append(f"{current}::{name}")
    assert not missing
