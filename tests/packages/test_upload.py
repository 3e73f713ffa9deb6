import io
import tarfile
import zipfile
from typing import Any

import pytest
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from packyard.accounts.models import User
from packyard.packages.models import File, Project, ProjectEvent, Release, Role
from packyard.tokens.services import token_mint
from tests import dists
from tests.conftest import PASSWORD, basic_auth, upload_form

pytestmark = pytest.mark.django_db


def assert_refused(response: Any, status: int, text: str) -> None:
    body = response.content.decode()
    assert response.status_code == status, body
    assert text in body
    assert text.split("'")[0][:40] in response.reason_phrase
    assert response["Content-Type"].startswith("text/plain")


def stored_files() -> list[str]:
    found: list[str] = []
    stack = [""]
    while stack:
        prefix = stack.pop()
        dirs, files = (
            default_storage.listdir(prefix) if default_storage.exists(prefix or ".") else ([], [])
        )
        stack.extend(f"{prefix}{d}/" for d in dirs)
        found.extend(f"{prefix}{f}" for f in files)
    return found


def assert_nothing_stored() -> None:
    assert File.objects.count() == 0
    assert Release.objects.count() == 0
    assert Project.objects.count() == 0
    assert stored_files() == []


def raw_multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = "packyardboundary"
    parts = []
    for key, value in fields.items():
        parts.append(
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def text_fields(form: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


# --- what works -----------------------------------------------------------------------------


def test_upload_wheel_creates_project_with_uploader_as_owner(upload, alice, alice_token):
    response = upload(alice_token, upload_form("Demo_Pkg", "1.0"))
    assert response.status_code == 200, response.content
    project = Project.objects.get()
    assert (project.name, project.normalized_name) == ("Demo_Pkg", "demo-pkg")
    assert Role.objects.get(project=project).user == alice
    assert Role.objects.get(project=project).role_name == Role.OWNER
    file = File.objects.get()
    assert file.metadata_sha256
    assert default_storage.exists(file.metadata_path)
    assert file.path.startswith(f"packages/{file.blake2_256_digest[:2]}/")
    with default_storage.open(file.path) as stored:
        assert stored.read() == dists.make_wheel("Demo_Pkg", "1.0")


def test_upload_sdist_accepted(upload, alice_token):
    response = upload(alice_token, upload_form("demo", "1.0", kind="sdist"))
    assert response.status_code == 200, response.content
    assert File.objects.get().packagetype == "sdist"


def test_upload_without_trailing_slash_is_accepted_not_redirected(upload, alice_token):
    response = upload(alice_token, upload_form(), path="/legacy")
    assert response.status_code == 200


def test_upload_with_bearer_token(client, alice_token):
    response = client.post("/legacy/", upload_form(), HTTP_AUTHORIZATION=f"Bearer {alice_token}")
    assert response.status_code == 200


def test_identical_reupload_answers_200_and_stores_once(upload, alice_token):
    assert upload(alice_token, upload_form()).status_code == 200
    assert upload(alice_token, upload_form()).status_code == 200
    assert File.objects.count() == 1


def test_metadata_version_2_5_accepted(upload, alice_token):
    form = upload_form(metadata_version="2.5")
    assert upload(alice_token, form).status_code == 200


def test_metadata_version_1_0_accepted(upload, alice_token):
    form = upload_form(metadata_version="1.0")
    assert upload(alice_token, form).status_code == 200


def test_maintainer_can_upload_to_existing_project(upload, alice_token, bob, bob_token):
    upload(alice_token, upload_form("demo", "1.0"))
    Role.objects.create(project=Project.objects.get(), user=bob, role_name=Role.MAINTAINER)
    assert upload(bob_token, upload_form("demo", "2.0")).status_code == 200


def test_markdown_readme_is_rendered_without_script(upload, alice_token):
    form = upload_form(
        description="# Title\n\n<script>alert(1)</script>", description_content_type="text/markdown"
    )
    assert upload(alice_token, form).status_code == 200
    html = Release.objects.get().description_html
    assert 'id="user-content-title">Title' in html
    assert "<script>" not in html


# --- refusals: credentials -------------------------------------------------------------------


def test_missing_credentials_answers_401_without_a_challenge(upload):
    response = upload(None, upload_form())
    assert_refused(response, 401, "Missing credentials")
    # A Basic challenge would make a browser retry with the credentials it cached.
    assert "WWW-Authenticate" not in response


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_SEC_FETCH_MODE": "navigate"},
        {"HTTP_SEC_FETCH_SITE": "cross-site"},
        {"HTTP_SEC_FETCH_SITE": "same-site"},
        {"HTTP_ORIGIN": "https://attacker.example"},
        {"HTTP_ORIGIN": "null"},
    ],
)
def test_upload_with_browser_markers_refused(client, alice_token, headers):
    response = client.post(
        "/legacy/",
        upload_form(),
        HTTP_AUTHORIZATION=basic_auth("__token__", alice_token),
        **headers,
    )
    assert_refused(response, 403, "not from web browsers")
    assert_nothing_stored()


def test_upload_from_the_sites_own_origin_is_not_a_browser_marker(client, alice_token):
    response = client.post(
        "/legacy/",
        upload_form(),
        HTTP_AUTHORIZATION=basic_auth("__token__", alice_token),
        HTTP_ORIGIN="http://localhost:8000",
        HTTP_SEC_FETCH_SITE="same-origin",
    )
    assert response.status_code == 200


def test_password_upload_refused_by_default_with_advice(upload, client, alice):
    response = client.post(
        "/legacy/", upload_form(), HTTP_AUTHORIZATION=basic_auth("alice", PASSWORD)
    )
    assert_refused(response, 403, "Username/password uploads are not allowed")
    assert "/manage/account/tokens/" in response.content.decode()
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("upload_auth", "require_2fa"),
    [("any", "all"), ("any", "uploaders"), ("tokens-if-2fa", "uploaders")],
)
def test_password_upload_refused_while_a_2fa_policy_holds(
    client, dave, settings, upload_auth, require_2fa
):
    """Dave has no second factor: under a 2FA policy a password cannot upload for him either."""
    settings.PACKYARD_UPLOAD_AUTH = upload_auth
    settings.PACKYARD_REQUIRE_2FA = require_2fa
    response = client.post(
        "/legacy/", upload_form(), HTTP_AUTHORIZATION=basic_auth("dave", PASSWORD)
    )
    assert_refused(response, 403, "Username/password uploads are not allowed")
    assert_nothing_stored()


def test_password_upload_allowed_when_policy_is_any(client, alice, settings):
    settings.PACKYARD_UPLOAD_AUTH = "any"
    settings.PACKYARD_REQUIRE_2FA = "off"
    response = client.post(
        "/legacy/", upload_form(), HTTP_AUTHORIZATION=basic_auth("alice", PASSWORD)
    )
    assert response.status_code == 200


def test_wrong_password_refused_when_policy_is_any(client, alice, settings):
    settings.PACKYARD_UPLOAD_AUTH = "any"
    settings.PACKYARD_REQUIRE_2FA = "off"
    response = client.post(
        "/legacy/", upload_form(), HTTP_AUTHORIZATION=basic_auth("alice", "nope")
    )
    assert_refused(response, 403, "Invalid or non-existent authentication information.")


def test_password_uploads_share_the_login_failure_limit(client, alice, settings):
    settings.PACKYARD_UPLOAD_AUTH = "any"
    settings.PACKYARD_REQUIRE_2FA = "off"
    failures, window = settings.PACKYARD_LOGIN_LIMIT
    wrong = basic_auth("alice", "nope")
    for _ in range(failures):
        assert client.post("/legacy/", upload_form(), HTTP_AUTHORIZATION=wrong).status_code == 403
    right = basic_auth("alice", PASSWORD)
    refused = client.post("/legacy/", upload_form(), HTTP_AUTHORIZATION=right)
    assert_refused(refused, 429, "Too many failed login attempts.")
    assert 0 < int(refused["Retry-After"]) <= window
    assert_nothing_stored()


def test_unverified_email_cannot_upload(upload, unverified, settings):
    unverified.email_verified = True
    token = token_mint(user=unverified, description="t")[1]
    User.objects.filter(pk=unverified.pk).update(email_verified=False)
    response = upload(token, upload_form())
    assert_refused(response, 403, "does not have a verified email address")
    assert_nothing_stored()


def test_other_user_cannot_upload_to_project(upload, alice_token, bob_token):
    upload(alice_token, upload_form("demo", "1.0"))
    response = upload(bob_token, upload_form("demo", "2.0"))
    assert_refused(response, 403, "The user 'bob' isn't allowed to upload to project 'demo'.")
    assert File.objects.count() == 1


def test_project_name_differing_only_in_normalization_is_the_same_project(
    upload, alice_token, bob_token
):
    upload(alice_token, upload_form("foo-bar", "1.0"))
    response = upload(bob_token, upload_form("Foo_Bar", "2.0"))
    assert_refused(response, 403, "isn't allowed to upload to project 'foo-bar'")


# --- refusals: the form ----------------------------------------------------------------------


def test_non_multipart_body_refused(client, alice_token):
    response = client.post(
        "/legacy/",
        data=b"name=x",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic_auth("__token__", alice_token),
    )
    assert_refused(response, 400, "not a valid multipart form")


def test_malformed_multipart_boundary_refused(client, alice_token):
    response = client.post(
        "/legacy/",
        data=b"--x\r\ngarbage",
        content_type="multipart/form-data",
        HTTP_AUTHORIZATION=basic_auth("__token__", alice_token),
    )
    assert_refused(response, 400, "not a valid multipart form")


def test_missing_content_refused(upload, alice_token):
    form = upload_form()
    form.pop("content")
    response = upload(alice_token, form)
    assert_refused(response, 400, "Upload payload does not have a file.")


def test_field_sent_as_file_refused(upload, alice_token):
    form = upload_form()
    form["version"] = SimpleUploadedFile("version.txt", b"1.0")
    response = upload(alice_token, form)
    assert_refused(response, 400, "The field 'version' must be sent as text, not as a file.")
    assert_nothing_stored()


def test_unknown_action_refused(upload, alice_token):
    assert_refused(
        upload(alice_token, upload_form() | {":action": "submit"}), 400, "Unknown :action 'submit'"
    )


def test_unknown_protocol_version_refused(upload, alice_token):
    assert_refused(
        upload(alice_token, upload_form(protocol_version="2")), 400, "Unknown protocol_version '2'"
    )


def test_invalid_metadata_refused(upload, alice_token):
    response = upload(alice_token, upload_form(requires_python="not a specifier"))
    assert_refused(response, 400, "Invalid metadata: requires-python")
    assert_nothing_stored()


def test_unsupported_metadata_version_refused(upload, alice_token):
    assert_refused(
        upload(alice_token, upload_form(metadata_version="3.0")), 400, "metadata-version '3.0'"
    )


def test_missing_version_refused(upload, alice_token):
    form = upload_form()
    form.pop("version")
    assert_refused(upload(alice_token, form), 400, "version is missing")


def test_name_disagreeing_with_filename_refused(upload, alice_token):
    form = upload_form("demo", "1.0", content=dists.make_wheel("other", "1.0"))
    form["content"] = SimpleUploadedFile(
        dists.wheel_filename("other", "1.0"), dists.make_wheel("other", "1.0")
    )
    form["sha256_digest"] = dists.sha256(dists.make_wheel("other", "1.0"))
    assert_refused(upload(alice_token, form), 400, "does not match the project name 'demo'")


def test_version_disagreeing_with_filename_refused(upload, alice_token):
    form = upload_form("demo", "2.0")
    form["content"] = SimpleUploadedFile(
        dists.wheel_filename("demo", "1.0"), dists.make_wheel("demo", "1.0")
    )
    form.pop("sha256_digest")
    assert_refused(upload(alice_token, form), 400, "does not match the version 2.0")


def _upload_named(client, token: str, filename: str):
    """A wheel sent under a file name Django's test client would not send as it is."""
    data = dists.make_wheel("demo", "1.0")
    body, content_type = raw_multipart(text_fields(upload_form()), filename, data)
    return client.generic(
        "POST",
        "/legacy/",
        body,
        content_type=content_type,
        HTTP_AUTHORIZATION=basic_auth("__token__", token),
    )


@pytest.mark.parametrize(
    "filename",
    [
        "../demo-1.0-py3-none-any.whl",
        "a/demo-1.0-py3-none-any.whl",
        "a\\demo-1.0-py3-none-any.whl",
        "demo-1.0\x01-py3-none-any.whl",
        "demo-1.0-py3-none-any.whl\x00",
    ],
)
def test_unsafe_filename_refused(client, alice_token, filename):
    assert_refused(_upload_named(client, alice_token, filename), 400, "Invalid filename")
    assert_nothing_stored()


@pytest.mark.parametrize(
    "tags",
    ["py3-none-any#x", "py3-none-any?x=1", 'py3-none-an"y', "py3-no ne-any", "py3-none-<any>"],
)
def test_wheel_tags_outside_the_allowed_characters_refused(client, alice_token, tags):
    response = _upload_named(client, alice_token, f"demo-1.0-{tags}.whl")
    assert_refused(response, 400, "Invalid wheel filename")
    assert_nothing_stored()


def test_wheel_with_compressed_tag_sets_accepted(upload, alice_token):
    data = dists.make_wheel("demo", "1.0")
    form = upload_form(content=data)
    form["content"] = SimpleUploadedFile("demo-1.0-py2.py3-none-manylinux_2_17_x86_64.whl", data)
    assert upload(alice_token, form).status_code == 200


def test_wrong_sha256_digest_refused(upload, alice_token):
    response = upload(alice_token, upload_form(sha256_digest="0" * 64))
    assert_refused(response, 400, "The sha256 digest supplied does not match the file.")
    assert_nothing_stored()


def test_wrong_md5_digest_refused(upload, alice_token):
    response = upload(alice_token, upload_form(md5_digest="0" * 32))
    assert_refused(response, 400, "The md5 digest supplied does not match the file.")


def test_wrong_blake2_digest_refused(upload, alice_token):
    response = upload(alice_token, upload_form(blake2_256_digest="0" * 64))
    assert_refused(response, 400, "The blake2_256 digest supplied does not match the file.")


def test_empty_file_refused(upload, alice_token):
    response = upload(alice_token, upload_form(content=b""))
    assert_refused(response, 400, "the file is empty")
    assert_nothing_stored()


def test_file_over_limit_refused_with_413(upload, alice_token, settings):
    settings.PACKYARD_MAX_FILE_SIZE = 1000
    response = upload(alice_token, upload_form(content=b"x" * 5000))
    assert_refused(response, 413, "File too large. Limit for this index is")
    assert_nothing_stored()


def test_corrupt_zip_refused(upload, alice_token):
    assert_refused(
        upload(alice_token, upload_form(content=b"PK\x03\x04 not a zip")), 400, "not a valid zip"
    )
    assert_nothing_stored()


def test_zip_member_with_bad_crc_refused(upload, alice_token):
    buffer = io.BytesIO(dists.make_wheel("demo", "1.0"))
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("demo/big.txt", b"A" * 5000, compress_type=zipfile.ZIP_STORED)
    data = bytearray(buffer.getvalue())
    data[data.index(b"A" * 100) + 50] = ord("B")  # the stored bytes no longer match their CRC
    response = upload(alice_token, upload_form(content=bytes(data)))
    assert_refused(response, 400, "a member fails its CRC check")
    assert_nothing_stored()


def test_corrupt_tar_refused(upload, alice_token):
    response = upload(alice_token, upload_form(kind="sdist", content=b"\x1f\x8b\x08 not a tar"))
    assert_refused(response, 400, "not a valid .tar.gz archive")
    assert_nothing_stored()


def test_zip_bomb_refused(upload, alice_token):
    bomb = dists.make_wheel("demo", "1.0", members={"demo/zeros.bin": b"\0" * (65 * 1024 * 1024)})
    response = upload(alice_token, upload_form(content=bomb))
    assert_refused(response, 400, "expands to more than 10 times its size")
    assert_nothing_stored()


def test_zip_with_other_compression_refused(upload, alice_token):
    buffer = io.BytesIO(dists.make_wheel("demo", "1.0"))
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("demo/data.bin", b"x" * 100, compress_type=zipfile.ZIP_BZIP2)
    response = upload(alice_token, upload_form(content=buffer.getvalue()))
    assert_refused(response, 400, "compression method other than stored or deflate")


def test_wheel_without_metadata_refused(upload, alice_token):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("demo/__init__.py", b"")
    response = upload(alice_token, upload_form(content=buffer.getvalue()))
    assert_refused(response, 400, "demo-1.0.dist-info/METADATA is missing")


def test_wheel_metadata_for_another_project_refused(upload, alice_token):
    wheel = dists.make_wheel("demo", "1.0", metadata=dists.core_metadata("other", "1.0"))
    response = upload(alice_token, upload_form(content=wheel))
    assert_refused(response, 400, "METADATA names other 1.0")


def test_sdist_without_pkg_info_refused(upload, alice_token):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("demo-1.0/setup.py")
        archive.addfile(info, io.BytesIO(b""))
    response = upload(alice_token, upload_form(kind="sdist", content=buffer.getvalue()))
    assert_refused(response, 400, "demo-1.0/PKG-INFO is missing")


def test_local_version_refused(upload, alice_token):
    response = upload(alice_token, upload_form("demo", "1.0+abc"))
    assert_refused(response, 400, "Can't use PEP 440 local versions.")
    assert_nothing_stored()


def test_sdist_name_not_pep_625_refused(upload, alice_token):
    form = upload_form("foo-bar", "1.0", kind="sdist")
    data = dists.make_sdist("foo-bar", "1.0")
    form["content"] = SimpleUploadedFile("foo-bar-1.0.tar.gz", data)
    response = upload(alice_token, form)
    assert_refused(response, 400, "it must start with 'foo_bar-' (PEP 625)")


def test_zip_sdist_refused(upload, alice_token):
    form = upload_form("demo", "1.0", kind="sdist")
    form["content"] = SimpleUploadedFile("demo-1.0.zip", b"PK")
    form.pop("sha256_digest")
    assert_refused(upload(alice_token, form), 400, "it must end with .tar.gz")


def test_unknown_filetype_refused(upload, alice_token):
    assert_refused(
        upload(alice_token, upload_form(filetype="bdist_egg")), 400, "Invalid value for filetype"
    )


def test_second_sdist_for_release_refused(upload, alice_token):
    assert upload(alice_token, upload_form("demo", "1.0", kind="sdist")).status_code == 200
    form = upload_form("demo", "1.0.0", kind="sdist")
    response = upload(alice_token, form)
    assert_refused(response, 400, "Only one sdist may be uploaded per release.")
    assert File.objects.count() == 1


def test_same_filename_different_bytes_refused(upload, alice_token):
    upload(alice_token, upload_form())
    other = dists.make_wheel("demo", "1.0", members={"demo/extra.py": b"changed"})
    response = upload(alice_token, upload_form(content=other))
    assert_refused(response, 400, "File already exists")
    assert File.objects.count() == 1


def test_deleted_filename_cannot_be_reused(upload, alice_token):
    upload(alice_token, upload_form())
    File.objects.all().delete()
    response = upload(alice_token, upload_form())
    assert_refused(response, 400, "previously used by a file that has since been deleted")


def test_rst_description_that_fails_to_render_refused(upload, alice_token):
    response = upload(
        alice_token, upload_form(description="Title\n===\n\n.. raw:: html\n\n   <b>x</b>\n")
    )
    assert_refused(response, 400, "The description failed to render")
    assert_nothing_stored()


def test_get_on_upload_url_answers_405(client):
    response = client.get("/legacy/")
    assert response.status_code == 405


def test_failed_storage_leaves_no_rows(upload, alice_token, monkeypatch):
    def broken_save(*args: Any, **kwargs: Any) -> str:  # the disk fills up
        raise OSError("disk full")

    monkeypatch.setattr(FileSystemStorage, "save", broken_save)
    response = upload(alice_token, upload_form())
    assert_refused(response, 503, "The file store is unavailable")
    assert File.objects.count() == 0
    assert Project.objects.count() == 0


def test_failed_metadata_store_removes_stored_file(upload, alice_token, monkeypatch):
    real_save = FileSystemStorage.save
    calls: list[str] = []

    def save_then_fail(storage: Any, name: str, content: Any, *args: Any, **kwargs: Any) -> str:
        calls.append(name)
        if name.endswith(".metadata"):
            raise OSError("disk full")
        return real_save(storage, name, content, *args, **kwargs)

    monkeypatch.setattr(FileSystemStorage, "save", save_then_fail)
    response = upload(alice_token, upload_form())
    assert response.status_code == 503
    assert len(calls) == 2
    assert_nothing_stored()


def test_client_sees_refusal_not_500_for_huge_form_field(upload, alice_token):
    response = upload(alice_token, upload_form(description="x" * (9 * 1024 * 1024)))
    assert_refused(response, 413, "The form fields are too large.")


def test_new_projects_per_hour_are_limited(upload, alice_token, settings):
    settings.PACKYARD_NEW_PROJECTS_PER_HOUR = 2
    assert upload(alice_token, upload_form("one", "1.0")).status_code == 200
    assert upload(alice_token, upload_form("two", "1.0")).status_code == 200
    assert upload(alice_token, upload_form("two", "2.0")).status_code == 200  # not a new one
    refused = upload(alice_token, upload_form("three", "1.0"))
    assert_refused(refused, 429, "Too many new projects created.")
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert not Project.objects.filter(normalized_name="three").exists()


def test_projects_per_user_are_limited(upload, alice_token, settings):
    settings.PACKYARD_MAX_PROJECTS_PER_USER = 1
    assert upload(alice_token, upload_form("one", "1.0")).status_code == 200
    assert_refused(upload(alice_token, upload_form("two", "1.0")), 400, "You own 1 projects")


def test_project_size_is_limited(upload, alice_token, settings):
    first = upload_form("demo", "1.0")
    assert upload(alice_token, first).status_code == 200
    settings.PACKYARD_MAX_PROJECT_SIZE = File.objects.get().size + 10
    refused = upload(alice_token, upload_form("demo", "2.0"))
    assert_refused(refused, 400, "Project size too large. Limit for project 'demo'")
    assert File.objects.count() == 1


def test_project_creation_is_recorded(upload, alice_token):
    upload(alice_token, upload_form("demo", "1.0"))
    upload(alice_token, upload_form("demo", "2.0"))
    assert ProjectEvent.objects.filter(tag="project:create").count() == 1


def test_operator_tokens_may_import_many_projects(upload, alice, settings):
    settings.PACKYARD_NEW_PROJECTS_PER_HOUR = 1
    _, raw = token_mint(user=alice, description="migration", by_operator=True)
    for name in ("one", "two", "three"):
        assert upload(raw, upload_form(name, "1.0")).status_code == 200


def test_malformed_content_length_is_not_a_server_error(client, alice_token):
    response = client.post(
        "/legacy/",
        data=b"x",
        content_type="multipart/form-data; boundary=b",
        CONTENT_LENGTH="lots",
        HTTP_AUTHORIZATION=basic_auth("__token__", alice_token),
    )
    assert response.status_code == 400


def test_failed_token_checks_are_limited_per_address(upload, client, alice_token, settings):
    settings.PACKYARD_TOKEN_FAILURE_LIMIT = (3, 300)
    forged = alice_token[:-4] + "AAAA"
    for _ in range(3):
        assert upload(forged, upload_form()).status_code == 403
    refused = upload(alice_token, upload_form())
    assert_refused(refused, 429, "Too many failed API token checks from this address.")
    assert 0 < int(refused["Retry-After"]) <= 300
    assert not Project.objects.exists()
    elsewhere = client.post(
        "/legacy/",
        upload_form(),
        HTTP_AUTHORIZATION=basic_auth("__token__", alice_token),
        REMOTE_ADDR="192.0.2.7",
    )
    assert elsewhere.status_code == 200
