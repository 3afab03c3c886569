"""A local stand-in for GitHub's REST API (https://docs.github.com/rest) answering with GitHub's
real shapes: the objects it returns, `{"message", "documentation_url", "errors"}` on failure,
`Bad credentials` for an unknown token, and the primary rate limit (403 with
`x-ratelimit-remaining: 0` and `x-ratelimit-reset`). GitHub App installation tokens are issued
only for an app JWT that PyJWT verifies with the app's public key. `GET /_seen` answers every
request; `GET /_stats` counts installation tokens issued.

Special values: repository `missing` is 404; the first call on repository `busy` is rate limited.

usage: python3 github.py PUBLIC_KEY_PEM_FILE APP_ID   (prints `PORT <n>`, serves until killed)
"""

import base64
import datetime
import hashlib
import json
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

PAT = "ghp_onsetTestToken0000000000000000000000"
PUBLIC_KEY = open(sys.argv[1]).read()
APP_ID = sys.argv[2]
DOCS = "https://docs.github.com/rest"
lock = threading.Lock()
seen, issued, files, busy = [], [], {}, set()
counter = [100]


def next_id():
    with lock:
        counter[0] += 1
        return counter[0]


def now_iso(delta=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=delta)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def error(status, message, errors=None):
    body = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors:
        body["errors"] = errors
    return status, body


class GitHub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if url.path == "/_seen":
            with lock:
                return self.answer(200, list(seen))
        if url.path == "/_stats":
            with lock:
                return self.answer(200, {"installation_tokens": len(issued)})
        body = json.loads(raw) if raw else None
        with lock:
            seen.append({"at": time.time(), "method": self.command, "path": url.path,
                         "query": dict(urllib.parse.parse_qsl(url.query)),
                         "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
        auth = self.headers.get("Authorization", "")
        token = auth.split(" ", 1)[1] if " " in auth else ""
        m = re.fullmatch(r"/app/installations/(\d+)/access_tokens", url.path)
        if m and self.command == "POST":
            return self.answer(*self.installation_token(token, m.group(1)))
        with lock:
            known = token == PAT or token in issued
        if not known:
            return self.answer(*error(401, "Bad credentials"))
        if url.path == "/user" and self.command == "GET":
            if token != PAT:
                return self.answer(*error(403, "Resource not accessible by integration"))
            return self.answer(200, {"login": "onset-bot", "id": 7, "type": "User"})
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)", url.path)
        if not m:
            return self.answer(*error(404, "Not Found"))
        owner, repo, rest = m.group(1), m.group(2), m.group(3)
        if repo == "missing":
            return self.answer(*error(404, "Not Found"))
        if repo == "busy":
            with lock:
                first = repo not in busy
                busy.add(repo)
            if first:
                reset = int(time.time()) + 2
                return self.answer(*error(403, "API rate limit exceeded for installation ID 1."),
                                   {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0",
                                    "x-ratelimit-reset": str(reset), "x-ratelimit-resource": "core"})
        status, out = self.route(self.command, owner, repo, rest, body or {}, dict(urllib.parse.parse_qsl(url.query)))
        self.answer(status, out, {"x-ratelimit-remaining": "4999"})

    def installation_token(self, token, installation):
        try:
            claims = jwt.decode(token, PUBLIC_KEY, algorithms=["RS256"], options={"require": ["exp", "iat", "iss"]})
        except jwt.PyJWTError as e:
            return error(401, f"'Issued at' claim ('iat') or signature is invalid: {e}")
        if str(claims["iss"]) != APP_ID:
            return error(401, "Integration not found")
        if claims["exp"] - claims["iat"] > 600:
            return error(401, "'Expiration time' claim ('exp') is too far in the future")
        if installation != "42":
            return error(404, "Not Found")
        time.sleep(0.05)
        with lock:
            tok = "ghs_" + hashlib.sha256(str(len(issued)).encode()).hexdigest()[:36]
            issued.append(tok)
        return 201, {"token": tok, "expires_at": now_iso(3600), "permissions": {"issues": "write", "contents": "write",
                                                                                  "statuses": "write"},
                     "repository_selection": "all"}

    def route(self, method, owner, repo, rest, body, query):
        html = f"https://github.com/{owner}/{repo}"
        if method == "POST" and rest == "/issues":
            if not body.get("title"):
                return error(422, "Validation Failed",
                             [{"resource": "Issue", "code": "missing_field", "field": "title"}])
            n = next_id()
            return 201, {"id": n * 1000, "node_id": f"I_{n}", "number": n, "title": body["title"],
                         "body": body.get("body"), "state": "open", "html_url": f"{html}/issues/{n}",
                         "url": f"https://api.github.com/repos/{owner}/{repo}/issues/{n}",
                         "labels": [{"name": l} for l in body.get("labels", [])],
                         "assignees": [{"login": a} for a in body.get("assignees", [])],
                         "user": {"login": "onset-bot[bot]", "type": "Bot"}, "created_at": now_iso()}
        m = re.fullmatch(r"/issues/(\d+)/comments", rest)
        if method == "POST" and m:
            if not body.get("body"):
                return error(422, "Validation Failed",
                             [{"resource": "IssueComment", "code": "missing_field", "field": "body"}])
            c = next_id()
            return 201, {"id": c, "node_id": f"IC_{c}", "body": body["body"],
                         "html_url": f"{html}/issues/{m.group(1)}#issuecomment-{c}",
                         "user": {"login": "onset-bot[bot]"}, "created_at": now_iso()}
        m = re.fullmatch(r"/issues/(\d+)/labels", rest)
        if method == "POST" and m:
            labels = body.get("labels")
            if not isinstance(labels, list) or not labels:
                return error(422, "Invalid request.\n\nNo subschema in \"anyOf\" matched.")
            return 200, [{"id": next_id(), "node_id": "LA_x", "name": l, "color": "ededed", "default": False}
                         for l in labels]
        m = re.fullmatch(r"/statuses/([0-9a-f]{7,40})", rest)
        if method == "POST" and m:
            if body.get("state") not in ("error", "failure", "pending", "success"):
                return error(422, "Validation Failed", [{"resource": "Status", "code": "custom", "field": "state",
                                                         "message": "state is not included in the list"}])
            s = next_id()
            return 201, {"id": s, "state": body["state"], "target_url": body.get("target_url"),
                         "description": body.get("description"), "context": body.get("context", "default"),
                         "url": f"https://api.github.com/repos/{owner}/{repo}/statuses/{m.group(1)}",
                         "created_at": now_iso()}
        m = re.fullmatch(r"/contents/(.+)", rest)
        if m:
            path = urllib.parse.unquote(m.group(1))
            key = (owner, repo, query.get("ref") or body.get("branch") or "main", path)
            if method == "GET":
                with lock:
                    f = files.get(key)
                if f is None:
                    return error(404, "Not Found")
                return 200, {"type": "file", "encoding": "base64", "size": len(f["bytes"]), "name": path.split("/")[-1],
                             "path": path, "sha": f["sha"], "content": base64.b64encode(f["bytes"]).decode()}
            if method == "PUT":
                if not body.get("message") or "content" not in body:
                    return error(422, "Invalid request.\n\n\"message\", \"content\" weren't supplied.")
                data = base64.b64decode(body["content"])
                with lock:
                    old = files.get(key)
                    if old is not None and body.get("sha") != old["sha"]:
                        return error(409 if body.get("sha") else 422,
                                     f"{path} does not match {body.get('sha')}" if body.get("sha")
                                     else "Invalid request.\n\n\"sha\" wasn't supplied.")
                    sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
                    files[key] = {"bytes": data, "sha": sha}
                commit = {"sha": hashlib.sha1(str(time.time()).encode()).hexdigest(), "message": body["message"]}
                return (201 if old is None else 200), {
                    "content": {"name": path.split("/")[-1], "path": path, "sha": sha, "size": len(data)},
                    "commit": commit}
        return error(404, "Not Found")


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), GitHub)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()
