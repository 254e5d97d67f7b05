"""A local stand-in for Twilio's Messages API, checked against Twilio's OpenAPI description.

It runs an HTTP server on 127.0.0.1 in a thread (the twilio client is synchronous) and
checks every request against ``messages-v2010.openapi.json``: the path and method exist,
path parameters match their schema, Basic auth is the account SID and token, and the
form holds only the create-message fields, with the required ones and valid enums. It
answers like Twilio (a Message with a fresh ``SM…`` sid, status ``queued``) or, when
scripted, with a failure. Anything our client does wrong lands in ``violations``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CREATE_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
FORM = "application/x-www-form-urlencoded"
Json = dict[str, Any]


def load_spec(path: Path) -> Json:
    """The spec with every local ``$ref`` replaced by what it points to."""
    spec: Json = json.loads(path.read_text(encoding="utf-8"))

    def lookup(ref: str) -> Any:
        if not ref.startswith("#/"):
            raise ValueError(f"{path}: only local $refs are supported, got {ref}")
        node: Any = spec
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                return resolve(lookup(node["$ref"]))
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: Json = resolve(spec)
    return resolved


def template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    pattern = "".join(f"(?P<{p}>[^/]+)" if i % 2 else re.escape(p) for i, p in enumerate(parts))
    return re.compile(pattern + "$")


@dataclass(frozen=True)
class Failure:
    status: int
    code: int
    retry_after: str | None = None


@dataclass
class Recorded:
    method: str
    path: str
    user: str | None
    form: dict[str, str]
    status: int = 0


@dataclass
class Answer:
    status: int
    body: Json
    headers: dict[str, str] = field(default_factory=dict)


def error(status: int, code: int, message: str) -> Answer:
    return Answer(status, {"code": code, "message": message, "more_info": "", "status": status})


class TwilioStandIn:
    def __init__(self, spec_path: Path, account_sid: str, auth_token: str) -> None:
        self.spec = load_spec(spec_path)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.failures: deque[Failure] = deque()
        self.routes = [(template_regex(t), t) for t in self.spec["paths"]]
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail_next(
        self, status: int, code: int, times: int = 1, retry_after: str | None = None
    ) -> None:
        """Answer the next ``times`` valid requests with this Twilio error."""
        with self.lock:
            self.failures.extend([Failure(status, code, retry_after)] * times)

    def start(self) -> TwilioStandIn:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ checking
    def violate(self, message: str) -> None:
        with self.lock:
            self.violations.append(message)

    def answer(self, method: str, path: str, headers: Any, raw: bytes) -> tuple[Recorded, Answer]:
        url = urllib.parse.urlsplit(path)
        pairs = urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True)
        user = basic_user(headers.get("Authorization"))
        recorded = Recorded(method, url.path, user and user[0], dict(pairs))
        return recorded, self.check(method, url.path, headers, user, pairs)

    def route(self, path: str) -> tuple[str, dict[str, str]] | None:
        """The spec's path template that ``path`` matches, and its parameters."""
        for regex, template in self.routes:
            match = regex.match(path)
            if match:
                return template, match.groupdict()
        return None

    def check(
        self,
        method: str,
        path: str,
        headers: Any,
        user: tuple[str, str] | None,
        pairs: list[tuple[str, str]],
    ) -> Answer:
        route = self.route(path)
        if route is None:
            self.violate(f"{method} {path}: no such path in the spec")
            return error(404, 20404, "The requested resource was not found")
        template, params = route
        operation = self.spec["paths"][template].get(method.lower())
        if operation is None:
            self.violate(f"{method} {template}: no such operation in the spec")
            return error(405, 20004, "Method not allowed")
        problems = check_path_params(operation, params)
        if user is None or user != (params.get("AccountSid"), self.auth_token):
            self.violate(f"{method} {path}: Basic auth is not AccountSid:AuthToken")
            return error(401, 20003, "Authenticate")
        if (method, template) != ("POST", CREATE_PATH):
            self.violate(f"{method} {template}: only message creation is expected")
            return error(405, 20004, "Method not allowed")
        if not headers.get("Content-Type", "").startswith(FORM):
            problems.append(f"Content-Type {headers.get('Content-Type')!r} is not {FORM}")
        problems += check_form(operation["requestBody"]["content"][FORM]["schema"], pairs)
        if problems:
            for problem in problems:
                self.violate(f"{method} {path}: {problem}")
            return error(400, 21000, "; ".join(problems))
        return self.create(params["AccountSid"], dict(pairs), operation)

    def create(self, account: str, form: dict[str, str], operation: Json) -> Answer:
        with self.lock:
            failure = self.failures.popleft() if self.failures else None
        if failure is not None:
            answer = error(failure.status, failure.code, f"scripted failure {failure.code}")
            if failure.retry_after is not None:
                answer.headers["Retry-After"] = failure.retry_after
            return answer
        schema = operation["responses"]["201"]["content"]["application/json"]["schema"]
        sid = "SM" + secrets.token_hex(16)
        message: Json = dict.fromkeys(schema["properties"])
        message.update(
            sid=sid,
            account_sid=account,
            to=form["To"],
            body=form.get("Body"),
            status="queued",
            num_segments="1",
            num_media="0",
            direction="outbound-api",
            api_version="2010-04-01",
            uri=f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
        )
        message["from"] = form.get("From")
        message["messaging_service_sid"] = form.get("MessagingServiceSid")
        return Answer(201, message)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                recorded, answer = standin.answer(
                    self.command, self.path, self.headers, self.rfile.read(length)
                )
                recorded.status = answer.status
                with standin.lock:
                    standin.requests.append(recorded)
                payload = json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler


def basic_user(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password


def check_path_params(operation: Json, params: dict[str, str]) -> list[str]:
    problems = []
    for param in operation.get("parameters", []):
        if param["in"] != "path":
            continue
        value, schema = params.get(param["name"]), param.get("schema", {})
        if value is None:
            problems.append(f"path parameter {param['name']} missing")
        elif "pattern" in schema and not re.search(schema["pattern"], value):
            problems.append(f"path parameter {param['name']}={value!r} !~ {schema['pattern']}")
    return problems


def check_form(schema: Json, pairs: list[tuple[str, str]]) -> list[str]:
    properties: Json = schema["properties"]
    names = [name for name, _ in pairs]
    problems = [f"unknown field {n}" for n in sorted(set(names) - set(properties))]
    problems += [
        f"required field {n} missing" for n in schema.get("required", []) if n not in names
    ]
    for name, value in pairs:
        prop = properties.get(name)
        if prop is not None:
            problems += check_value(name, value, prop.get("items", prop))
        if prop is not None and prop.get("type") != "array" and names.count(name) > 1:
            problems.append(f"field {name} repeated but not an array")
    if not {"Body", "MediaUrl", "ContentSid"} & set(names):
        problems.append("one of Body, MediaUrl, ContentSid is required (Twilio 21602)")
    if not {"From", "MessagingServiceSid"} & set(names):
        problems.append("From or MessagingServiceSid is required (Twilio 21603)")
    return problems


def check_value(name: str, value: str, schema: Json) -> list[str]:
    kind, fmt = schema.get("type"), schema.get("format")
    if "enum" in schema and value not in schema["enum"]:
        return [f"{name}={value!r} not in {schema['enum']}"]
    if kind == "boolean" and value.lower() not in ("true", "false"):
        return [f"{name}={value!r} is not a boolean"]
    if kind == "integer" and not value.lstrip("-").isdigit():
        return [f"{name}={value!r} is not an integer"]
    if fmt == "uri" and not re.match(r"https?://[^\s/]+", value):
        return [f"{name}={value!r} is not an absolute URI"]
    if fmt == "phone-number" and not re.fullmatch(r"(whatsapp:|messenger:)?\+[1-9]\d{6,14}", value):
        return [f"{name} is not an E.164 number or channel address"]
    return []
