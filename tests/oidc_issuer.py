"""An OpenID Connect issuer of the tests' own, on loopback: a discovery document, a JWKS, and
identity tokens signed with its RSA or EC keys, as GitHub's, GitLab's or any CI system's token
service gives them. It also answers GitHub Actions' token request (`ACTIONS_ID_TOKEN_REQUEST_URL`)
for clients that fetch their identity token themselves."""

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

REQUEST_TOKEN = "test-actions-request-token"


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _ec() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@dataclass
class SigningKey:
    kid: str
    private: Any
    algorithm: str

    def jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        public: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        return public | {"kid": self.kid, "use": "sig", "alg": self.algorithm}


@dataclass
class TestIssuer:
    """Start with `start()`; `url` is the issuer, `token(...)` a signed identity token."""

    __test__ = False  # not a test class, despite its name

    keys: list[SigningKey] = field(default_factory=list)
    # Claims the GitHub-style token request answers with (the end-to-end tests set them).
    request_claims: dict[str, Any] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self) -> "TestIssuer":
        self.keys = [SigningKey("rsa-1", _rsa(), "RS256"), SigningKey("ec-1", _ec(), "ES256")]
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests.append(self.path)
                path = urlsplit(self.path)
                if path.path == "/.well-known/openid-configuration":
                    self._json({"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks"})
                elif path.path == "/jwks":
                    self._json({"keys": [key.jwk() for key in issuer.keys]})
                elif path.path == "/actions-token":
                    self._actions_token(parse_qs(path.query).get("audience", [""])[0])
                else:
                    self.send_error(404)

            def _actions_token(self, audience: str) -> None:
                scheme, _, credential = self.headers.get("Authorization", "").partition(" ")
                if scheme.lower() != "bearer" or credential != REQUEST_TOKEN:
                    self.send_error(401)
                    return
                self._json({"value": issuer.token(aud=audience, **issuer.request_claims)})

            def _json(self, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def rotate(self) -> SigningKey:
        """A new RSA key, published in place of the old one (as issuers rotate)."""
        new = SigningKey(f"rsa-{uuid.uuid4().hex[:8]}", _rsa(), "RS256")
        self.keys = [new, *self.keys[1:]]
        return new

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": "testserver",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def token(
        self, *, key: SigningKey | None = None, headers: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        """A signed identity token; a claim given as None is left out."""
        key = key or self.keys[0]
        return jwt.encode(
            self.claims(**claims),
            key.private,
            algorithm=key.algorithm,
            headers={"kid": key.kid, **(headers or {})},
        )


def github_claims(
    repository: str = "octo/demo", workflow: str = "release.yml", **overrides: Any
) -> dict[str, Any]:
    """What GitHub Actions puts in a token for a release workflow run."""
    claims = {
        "sub": f"repo:{repository}:ref:refs/tags/v1.0",
        "repository": repository,
        "repository_id": "4242",
        "repository_owner": repository.split("/")[0],
        "repository_owner_id": "77",
        "job_workflow_ref": f"{repository}/.github/workflows/{workflow}@refs/tags/v1.0",
        "workflow_ref": f"{repository}/.github/workflows/{workflow}@refs/tags/v1.0",
        "ref": "refs/tags/v1.0",
        "sha": "0123456789abcdef0123456789abcdef01234567",
        "run_id": "1001",
        "event_name": "push",
    }
    return claims | overrides


def gitlab_claims(project_path: str = "group/demo", **overrides: Any) -> dict[str, Any]:
    """What GitLab CI puts in an `id_tokens` token."""
    claims = {
        "sub": f"project_path:{project_path}:ref_type:tag:ref:v1.0",
        "project_path": project_path,
        "project_id": "31",
        "namespace_id": "9",
        "namespace_path": project_path.split("/")[0],
        "ci_config_ref_uri": f"gitlab.example/{project_path}//.gitlab-ci.yml@refs/tags/v1.0",
        "ref": "v1.0",
        "ref_path": "refs/tags/v1.0",
        "sha": "89abcdef0123456789abcdef0123456789abcdef",
        "pipeline_id": "555",
        "job_id": "556",
    }
    return claims | overrides
