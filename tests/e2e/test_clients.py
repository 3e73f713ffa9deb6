"""Every common publishing tool uploads with a token, and pip and uv install from the index."""

import json
import os
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, Tools, run, twine_upload

pytestmark = pytest.mark.e2e

README = "# {name}\n\nA package published by the end-to-end tests.\n"


def pep621(
    name: str, backend: str, requires: str, *, version: str = "1.0.0", extra: str = ""
) -> str:
    return (
        f'[build-system]\nrequires = ["{requires}"]\nbuild-backend = "{backend}"\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\ndescription = "{name} for tests"\n'
        f'readme = "README.md"\nrequires-python = ">=3.8"\n{extra}'
    )


def module(name: str) -> str:
    return name.replace("-", "_")


def simple_json(server: Server, name: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{server.index_url}{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.load(response)
    return answer


def published_files(server: Server, name: str) -> set[str]:
    return {entry["filename"] for entry in simple_json(server, name)["files"]}


def hatchling_project(project_dir, name: str, **kwargs: str) -> Path:
    return Path(
        project_dir(
            {
                "pyproject.toml": pep621(name, "hatchling.build", "hatchling", **kwargs),
                "README.md": README.format(name=name),
                f"src/{module(name)}/__init__.py": '"""A test package."""\n__version__ = "1.0.0"\n',
            }
        )
    )


def test_twine_upload(tools: Tools, server: Server, project_dir):
    root = project_dir(
        {
            "pyproject.toml": pep621("e2e-twine", "setuptools.build_meta", "setuptools>=77"),
            "README.md": README.format(name="e2e-twine"),
            "src/e2e_twine/__init__.py": "VALUE = 1\n",
        }
    )
    run([tools.python, "-m", "build", "--outdir", root / "dist", root])
    twine_upload(tools, server, sorted((root / "dist").iterdir()))
    assert published_files(server, "e2e-twine") == {
        "e2e_twine-1.0.0-py3-none-any.whl",
        "e2e_twine-1.0.0.tar.gz",
    }


def test_twine_sees_duplicate_refusal_in_reason(tools: Tools, server: Server, project_dir):
    root = hatchling_project(project_dir, "e2e-dup")
    run([tools.python, "-m", "build", "--wheel", "--outdir", root / "dist", root])
    wheel = next((root / "dist").iterdir())
    twine_upload(tools, server, [wheel])
    twine_upload(tools, server, [wheel])  # the same bytes again: accepted
    (root / "src/e2e_dup/__init__.py").write_text('"""Changed."""\n')
    wheel.unlink()
    run([tools.python, "-m", "build", "--wheel", "--outdir", root / "dist", root])
    refused = twine_upload(tools, server, [wheel], check=False)
    assert refused.returncode != 0
    assert "File already exists" in refused.stdout + refused.stderr


def test_twine_with_wrong_token_shows_reason(tools: Tools, server: Server, project_dir):
    root = hatchling_project(project_dir, "e2e-denied")
    run([tools.python, "-m", "build", "--wheel", "--outdir", root / "dist", root])
    bad_token = server.token[:-8] + "AAAAAAAA"
    refused = twine_upload(
        tools, server, list((root / "dist").iterdir()), token=bad_token, check=False
    )
    assert refused.returncode != 0
    assert "403" in refused.stdout + refused.stderr


def test_uv_publish(tools: Tools, server: Server, project_dir):
    root = project_dir(
        {
            "pyproject.toml": pep621("e2e-uv", "uv_build", "uv_build>=0.8,<1"),
            "README.md": README.format(name="e2e-uv"),
            "src/e2e_uv/__init__.py": "VALUE = 1\n",
        }
    )
    run([tools.uv, "build", "--out-dir", root / "dist"], cwd=root)
    run(
        [
            tools.uv,
            "publish",
            "--publish-url",
            server.upload_url,
            "--token",
            server.token,
            *sorted((root / "dist").iterdir()),
        ],
        cwd=root,
    )
    assert published_files(server, "e2e-uv") == {
        "e2e_uv-1.0.0-py3-none-any.whl",
        "e2e_uv-1.0.0.tar.gz",
    }


def test_poetry_publish(tools: Tools, server: Server, project_dir):
    root = project_dir(
        {
            "pyproject.toml": pep621("e2e-poetry", "poetry.core.masonry.api", "poetry-core>=2")
            + '\n[tool.poetry]\npackages = [{ include = "e2e_poetry", from = "src" }]\n',
            "README.md": README.format(name="e2e-poetry"),
            "src/e2e_poetry/__init__.py": "VALUE = 1\n",
        }
    )
    env = os.environ | {
        "POETRY_REPOSITORIES_PACKYARD_URL": server.upload_url,
        "POETRY_PYPI_TOKEN_PACKYARD": server.token,
        "POETRY_VIRTUALENVS_CREATE": "false",
        "POETRY_NO_INTERACTION": "1",
    }
    run([tools.poetry, "build"], cwd=root, env=env)
    run([tools.poetry, "publish", "--repository", "packyard"], cwd=root, env=env)
    assert published_files(server, "e2e-poetry") == {
        "e2e_poetry-1.0.0-py3-none-any.whl",
        "e2e_poetry-1.0.0.tar.gz",
    }


def test_hatch_publish(tools: Tools, server: Server, project_dir):
    root = hatchling_project(project_dir, "e2e-hatch")
    env = os.environ | {"HATCH_ENV_TYPE_VIRTUAL_PATH": str(root / ".envs")}
    run([tools.hatch, "build"], cwd=root, env=env)
    run(
        [
            tools.hatch,
            "publish",
            "--repo",
            server.upload_url,
            "--user",
            "__token__",
            "--auth",
            server.token,
            "--no-prompt",
        ],
        cwd=root,
        env=env,
    )
    assert published_files(server, "e2e-hatch") == {
        "e2e_hatch-1.0.0-py3-none-any.whl",
        "e2e_hatch-1.0.0.tar.gz",
    }


def test_pdm_publish(tools: Tools, server: Server, project_dir):
    root = project_dir(
        {
            "pyproject.toml": pep621("e2e-pdm", "pdm.backend", "pdm-backend"),
            "README.md": README.format(name="e2e-pdm"),
            "src/e2e_pdm/__init__.py": "VALUE = 1\n",
        }
    )
    env = os.environ | {"PDM_CHECK_UPDATE": "false", "PDM_HOME": str(root / ".pdm")}
    run([tools.pdm, "build"], cwd=root, env=env)
    run(
        [
            tools.pdm,
            "publish",
            "--no-build",
            "--repository",
            server.upload_url,
            "--username",
            "__token__",
            "--password",
            server.token,
        ],
        cwd=root,
        env=env,
    )
    assert published_files(server, "e2e-pdm") == {
        "e2e_pdm-1.0.0-py3-none-any.whl",
        "e2e_pdm-1.0.0.tar.gz",
    }


def test_flit_publish(tools: Tools, server: Server, project_dir):
    root = project_dir(
        {
            "pyproject.toml": (
                '[build-system]\nrequires = ["flit_core>=3.11,<4"]\n'
                'build-backend = "flit_core.buildapi"\n\n'
                '[project]\nname = "e2e-flit"\nreadme = "README.md"\nrequires-python = ">=3.8"\n'
                'dynamic = ["version", "description"]\n'
            ),
            "README.md": README.format(name="e2e-flit"),
            "e2e_flit/__init__.py": '"""A package published with flit."""\n__version__ = "1.0.0"\n',
        }
    )
    env = os.environ | {
        "FLIT_INDEX_URL": server.upload_url,
        "FLIT_USERNAME": "__token__",
        "FLIT_PASSWORD": server.token,
        "HOME": str(root),
    }
    run([tools.flit, "publish", "--no-use-vcs"], cwd=root, env=env)
    assert published_files(server, "e2e-flit") == {
        "e2e_flit-1.0.0-py3-none-any.whl",
        "e2e_flit-1.0.0.tar.gz",
    }


@pytest.fixture(scope="module")
def app_with_dependency(tools: Tools, server: Server, tmp_path_factory) -> None:
    """e2e-lib 1.0, 2.0 (yanked) and 3.0 (needs Python 3.99), and e2e-app that needs e2e-lib."""
    dist = tmp_path_factory.mktemp("dist")
    specs = [
        ("e2e-lib", "1.0", ">=3.8", ""),
        ("e2e-lib", "2.0", ">=3.8", ""),
        ("e2e-lib", "3.0", ">=3.99", ""),
        ("e2e-app", "1.0", ">=3.8", 'dependencies = ["e2e-lib>=1.0"]\n'),
    ]
    for name, version, requires_python, extra in specs:
        root = tmp_path_factory.mktemp(f"{name}-{version}")
        (root / "src" / module(name)).mkdir(parents=True)
        (root / "src" / module(name) / "__init__.py").write_text(f'VERSION = "{version}"\n')
        (root / "README.md").write_text(README.format(name=name))
        (root / "pyproject.toml").write_text(
            pep621(name, "hatchling.build", "hatchling", version=version, extra=extra).replace(
                'requires-python = ">=3.8"', f'requires-python = "{requires_python}"'
            )
        )
        run([tools.python, "-m", "build", "--wheel", "--outdir", dist, root])
    twine_upload(tools, server, sorted(dist.iterdir()))
    server.shell(
        "from django.db import transaction\n"
        "from packyard.packages.index import pages\n"
        "from packyard.packages.models import Release\n"
        "release = Release.objects.get(project__normalized_name='e2e-lib', version='2.0')\n"
        "with transaction.atomic():\n"
        "    Release.objects.filter(pk=release.pk).update(yanked=True, yanked_reason='broken')\n"
        "    pages.refresh(release.project_id)\n"
    )


def installed(python: Path, tools: Tools) -> dict[str, str]:
    listing = run([tools.uv, "pip", "list", "--python", python, "--format", "json"])
    return {entry["name"]: entry["version"] for entry in json.loads(listing.stdout)}


def test_pip_install_resolves_dependency_skipping_yanked_and_incompatible(
    tools: Tools, server: Server, app_with_dependency, tmp_path: Path
):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv])
    before = len(server.requests_seen())
    run(
        [
            venv / "bin" / "pip",
            "install",
            "--no-cache-dir",
            "--index-url",
            server.index_url,
            "e2e-app",
        ]
    )
    assert installed(venv / "bin" / "python", tools)["e2e-lib"] == "1.0"
    requests = server.requests_seen()[before:]
    assert '.whl.metadata HTTP/1.1" 200' in requests  # PEP 658 metadata was used
    run(
        [
            venv / "bin" / "pip",
            "install",
            "--no-cache-dir",
            "--index-url",
            server.index_url,
            "e2e-lib==2.0",
        ]
    )  # a pinned yanked version still installs
    assert installed(venv / "bin" / "python", tools)["e2e-lib"] == "2.0"


def test_uv_pip_install_resolves_dependency_skipping_yanked_and_incompatible(
    tools: Tools, server: Server, app_with_dependency, tmp_path: Path
):
    venv = tmp_path / "venv"
    run([tools.uv, "venv", "--python", sys.executable, venv])
    run(
        [
            tools.uv,
            "pip",
            "install",
            "--no-cache",
            "--python",
            venv / "bin" / "python",
            "--index-url",
            server.index_url,
            "e2e-app",
        ]
    )
    packages = installed(venv / "bin" / "python", tools)
    assert packages["e2e-lib"] == "1.0"
    assert packages["e2e-app"] == "1.0"


def test_pip_installs_what_every_tool_published(tools: Tools, server: Server, tmp_path: Path):
    names = ["e2e-twine", "e2e-uv", "e2e-poetry", "e2e-hatch", "e2e-pdm", "e2e-flit"]
    available = [name for name in names if simple_json_or_none(server, name)]
    assert available, "run with the publishing tests"
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv])
    run(
        [
            venv / "bin" / "pip",
            "install",
            "--no-cache-dir",
            "--index-url",
            server.index_url,
            *available,
        ]
    )
    packages = installed(venv / "bin" / "python", tools)
    assert all(packages.get(name) == "1.0.0" for name in available)


def simple_json_or_none(server: Server, name: str) -> dict[str, Any] | None:
    try:
        return simple_json(server, name)
    except OSError:
        return None
