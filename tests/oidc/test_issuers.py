"""The operator's issuers file: JSON or TOML, checked when the server starts, and static keys
for a site that cannot reach its issuer."""

import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from packyard.oidc.issuers import _issuers_from, configured_issuers
from packyard.oidc.verify import verify

pytestmark = pytest.mark.django_db


def test_toml_and_json_say_the_same(tmp_path):
    toml = tmp_path / "issuers.toml"
    toml.write_text(
        '[[issuers]]\nurl = "https://token.actions.githubusercontent.com"\nkind = "github"\n\n'
        '[[issuers]]\nurl = "https://gitlab.com"\nkind = "gitlab"\naudience = "pypi.example"\n'
    )
    as_json = tmp_path / "issuers.json"
    as_json.write_text(
        json.dumps(
            [
                {"url": "https://token.actions.githubusercontent.com", "kind": "github"},
                {"url": "https://gitlab.com", "kind": "gitlab", "audience": "pypi.example"},
            ]
        )
    )
    from_toml = _issuers_from(str(toml), "index.example")
    from_json = _issuers_from(str(as_json), "index.example")
    assert {u: (i.kind, i.audience) for u, i in from_toml.items()} == {
        "https://token.actions.githubusercontent.com": ("github", "index.example"),
        "https://gitlab.com": ("gitlab", "pypi.example"),
    }
    assert from_toml.keys() == from_json.keys()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('{"url": "https://a.example", "kind": "github"}', "expected a list of issuers"),
        ('[{"url": "https://a.example", "kind": "jenkins"}]', "kind must be one of"),
        ('[{"url": "http://ci.example", "kind": "github"}]', "must be an https:// address"),
        ('[{"url": "https://a.example", "kind": "github", "aud": "x"}]', "unknown keys ['aud']"),
        (
            '[{"url": "https://a.example", "kind": "github"}, '
            '{"url": "https://a.example", "kind": "gitlab"}]',
            "https://a.example twice",
        ),
        ("[{", "PACKYARD_OIDC_ISSUERS_FILE"),
    ],
    ids=["not-a-list", "kind", "plain-http", "unknown-key", "twice", "broken-json"],
)
def test_a_mistake_in_the_file_stops_the_server_saying_what(tmp_path, content, says):
    path = tmp_path / "issuers.json"
    path.write_text(content)
    with pytest.raises(ImproperlyConfigured) as caught:
        _issuers_from(str(path), "index.example")
    assert says in str(caught.value)


def test_an_air_gapped_site_gives_the_keys_in_a_file(tmp_path, settings, oidc_servers):
    github = oidc_servers["github"]
    jwks = tmp_path / "github-keys.json"
    jwks.write_text(json.dumps({"keys": [key.jwk() for key in github.keys]}))
    path = tmp_path / "issuers.json"
    path.write_text(
        json.dumps(
            [
                {
                    "url": github.url,
                    "kind": "github",
                    "audience": "testserver",
                    "jwks_file": str(jwks),
                }
            ]
        )
    )
    settings.PACKYARD_OIDC_ISSUERS_FILE = str(path)
    github.requests.clear()
    assert verify(github.token()).issuer.url == github.url
    assert github.requests == []  # nothing fetched
    assert configured_issuers()[github.url].jwks_file == str(jwks)


def test_a_keys_file_without_a_usable_key_stops_the_server(tmp_path):
    jwks = tmp_path / "keys.json"
    jwks.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}))
    path = tmp_path / "issuers.json"
    path.write_text(
        json.dumps([{"url": "https://ci.example", "kind": "generic", "jwks_file": str(jwks)}])
    )
    with pytest.raises(ImproperlyConfigured, match="no RSA or EC signing key"):
        _issuers_from(str(path), "index.example")
