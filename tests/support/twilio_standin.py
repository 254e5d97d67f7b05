"""A local stand-in for Twilio's Messages API, checked against Twilio's OpenAPI description.

It runs an HTTP server on 127.0.0.1 in a thread (the twilio client is synchronous),
validates every request against ``messages-v2010.openapi.json`` (path, method, Basic
auth, form fields) and answers like Twilio, or with scripted failures.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CREATE_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"


@dataclass
class Recorded:
    path: str
    account: str | None
    form: dict[str, str]


@dataclass
class TwilioStandIn:
    spec_path: Path
    account_sid: str
    auth_token: str
    requests: list[Recorded] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    failures: deque[tuple[int, int]] = field(default_factory=deque)  # (HTTP status, Twilio code)

    def __post_init__(self) -> None:
        spec = json.loads(self.spec_path.read_text(encoding="utf-8"))
        body = spec["paths"][CREATE_PATH]["post"]["requestBody"]["content"]
        schema = body["application/x-www-form-urlencoded"]["schema"]
        self.known_fields = set(schema["properties"])
        self.required = set(schema.get("required", []))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail_next(self, status: int, code: int, times: int = 1) -> None:
        self.failures.extend([(status, code)] * times)

    def start(self) -> TwilioStandIn:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def check(
        self, path: str, auth: str | None, form: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        prefix, suffix = "/2010-04-01/Accounts/", "/Messages.json"
        if not (path.startswith(prefix) and path.endswith(suffix)):
            self.violations.append(f"unknown path {path}")
            return 404, {
                "code": 20404,
                "message": "The requested resource was not found",
                "status": 404,
            }
        account = path[len(prefix) : -len(suffix)]
        expected = (
            "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        )
        if auth != expected or account != self.account_sid:
            self.violations.append("bad credentials")
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        unknown = set(form) - self.known_fields
        missing = {f for f in self.required if f not in form}
        if unknown or missing:
            self.violations.append(f"unknown fields {sorted(unknown)}, missing {sorted(missing)}")
            return 400, {"code": 21000, "message": "invalid parameters", "status": 400}
        if "Body" not in form and "MediaUrl" not in form and "ContentSid" not in form:
            return 400, {"code": 21602, "message": "Message body is required.", "status": 400}
        if "From" not in form and "MessagingServiceSid" not in form:
            return 400, {
                "code": 21603,
                "message": "A 'From' phone number is required.",
                "status": 400,
            }
        if self.failures:
            status, code = self.failures.popleft()
            return status, {"code": code, "message": f"scripted failure {code}", "status": status}
        sid = "SM" + secrets.token_hex(16)
        return 201, {
            "sid": sid,
            "account_sid": account,
            "to": form["To"],
            "from": form.get("From"),
            "body": form.get("Body"),
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "uri": f"{prefix}{account}/Messages/{sid}.json",
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length).decode()
                form = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
                auth = self.headers.get("Authorization")
                status, body = standin.check(self.path, auth, form)
                standin.requests.append(Recorded(self.path, auth, form))
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler
