"""Small AWS endpoints on 127.0.0.1 for the worker's credential tests: an ECS-style
container credentials endpoint and an STS answering AssumeRoleWithWebIdentity.
Never link-local (169.254.x.x): the worker is pointed here through
AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_ENDPOINT_URL_STS."""
import http.server
import json
import threading
import urllib.parse
from datetime import datetime, timedelta, timezone


def _expiry(delta):
    return (datetime.now(timezone.utc) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


class _LocalServer:
    """A threaded HTTP server whose subclasses answer through reply(method,
    headers, body) -> (status, content_type, body bytes)."""

    def __init__(self):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length) if length else b""
                status, content_type, reply = outer.reply(self.command, self.headers, body)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = _serve
            do_POST = _serve

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class CredentialsEndpoint(_LocalServer):
    """ECS container credentials that expire in 2 minutes: inside the worker's
    5-minute refresh margin, so it keeps coming back for fresh ones.
    keys(n) gives the n-th (access key id, secret) handed out."""

    def __init__(self, token, keys):
        self.token = token
        self.keys = keys
        self.requests = 0
        self.bad_tokens = 0
        super().__init__()

    @property
    def url(self):
        return self.base_url + "/v2/credentials/task"

    def reply(self, method, headers, body):
        self.requests += 1
        if headers.get("Authorization") != self.token:
            self.bad_tokens += 1
            return 401, "text/plain", b""
        key_id, secret = self.keys(self.requests)
        return 200, "application/json", json.dumps({
            "AccessKeyId": key_id,
            "SecretAccessKey": secret,
            "Token": f"session-{self.requests}",
            "Expiration": _expiry(timedelta(minutes=2)),
        }).encode()


class FakeSts(_LocalServer):
    """STS answering AssumeRoleWithWebIdentity (form POST, XML reply) with the
    given key, as EKS IRSA would with a role's."""

    def __init__(self, key_id, secret):
        self.key_id = key_id
        self.secret = secret
        self.calls = []
        super().__init__()

    @property
    def url(self):
        return self.base_url

    def reply(self, method, headers, body):
        self.calls.append(dict(urllib.parse.parse_qsl(body.decode())))
        return 200, "text/xml", (
            '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            "<AssumeRoleWithWebIdentityResult><Credentials>"
            f"<AccessKeyId>{self.key_id}</AccessKeyId>"
            f"<SecretAccessKey>{self.secret}</SecretAccessKey>"
            "<SessionToken>irsa-session</SessionToken>"
            f"<Expiration>{_expiry(timedelta(hours=1))}</Expiration>"
            "</Credentials></AssumeRoleWithWebIdentityResult>"
            "</AssumeRoleWithWebIdentityResponse>").encode()
