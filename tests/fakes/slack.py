"""A local stand-in for the Slack Web API (https://docs.slack.dev/reference/methods) answering
with Slack's real shapes: HTTP 200 with `{"ok": true, ...}` or `{"ok": false, "error": "..."}`,
HTTP 429 with `Retry-After` and `{"ok": false, "error": "ratelimited"}`, and the two-step file
upload (files.getUploadURLExternal, a POST of the bytes to the upload URL,
files.completeUploadExternal). Parameters are read from the query, a form or a JSON body, as
Slack does. `GET /_seen` answers every request it got, so tests check exactly what was sent.

Special values: channel `C_MISSING` is `channel_not_found`; the first call to channel `C_BUSY`
is rate limited (Retry-After: 1); `ann@example.com` is the only known user.

usage: python3 slack.py   (prints `PORT <n>`, serves until killed)
"""

import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "xoxb-onset-test-token"
lock = threading.Lock()
seen = []
messages = {}  # (channel, ts) -> text
reactions = set()
uploads = {}  # file_id -> {"filename", "length", "bytes"}
busy_once = set()
counter = [0]


def next_ts():
    with lock:
        counter[0] += 1
        return f"{int(time.time())}.{counter[0]:06d}"


class Slack(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8" if not isinstance(body, bytes) else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if url.path == "/_seen":
            with lock:
                return self.answer(200, list(seen))
        params = dict(urllib.parse.parse_qsl(url.query))
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if url.path.startswith("/api/") and raw:
            if ctype == "application/json":
                params.update(json.loads(raw))
            elif ctype == "application/x-www-form-urlencoded":
                params.update(dict(urllib.parse.parse_qsl(raw.decode())))
        with lock:
            seen.append({
                "at": time.time(), "method": self.command, "path": url.path, "query": dict(urllib.parse.parse_qsl(url.query)),
                "headers": {k.lower(): v for k, v in self.headers.items()}, "content_type": ctype,
                "body": raw.decode("utf-8", "replace"), "params": params,
            })
        if url.path.startswith("/upload/"):
            return self.upload(url.path.rsplit("/", 1)[1], raw)
        if not url.path.startswith("/api/"):
            return self.answer(404, {"ok": False, "error": "unknown_method"})
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else params.get("token")
        if not token:
            return self.answer(200, {"ok": False, "error": "not_authed"})
        if token != TOKEN:
            return self.answer(200, {"ok": False, "error": "invalid_auth"})
        method = url.path[len("/api/"):]
        handler = getattr(self, "m_" + method.replace(".", "_"), None)
        if handler is None:
            return self.answer(200, {"ok": False, "error": "unknown_method"})
        return handler(params)

    def channel_error(self, channel):
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel == "C_MISSING":
            return {"ok": False, "error": "channel_not_found"}
        return None

    def m_auth_test(self, p):
        self.answer(200, {"ok": True, "url": "https://onset-test.slack.com/", "team": "Onset Test", "user": "onsetbot",
                          "team_id": "T0TEST", "user_id": "U0BOT", "bot_id": "B0BOT", "is_enterprise_install": False})

    def m_chat_postMessage(self, p):
        channel = p.get("channel")
        if channel == "C_BUSY":
            with lock:
                first = channel not in busy_once
                busy_once.add(channel)
            if first:
                return self.answer(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
        err = self.channel_error(channel)
        if err:
            return self.answer(200, err)
        if not p.get("text") and not p.get("blocks") and not p.get("attachments"):
            return self.answer(200, {"ok": False, "error": "no_text"})
        ts = next_ts()
        with lock:
            messages[(channel, ts)] = p.get("text", "")
        message = {"type": "message", "subtype": "bot_message", "text": p.get("text", ""), "user": "U0BOT",
                   "bot_id": "B0BOT", "ts": ts}
        if p.get("thread_ts"):
            message["thread_ts"] = p["thread_ts"]
        self.answer(200, {"ok": True, "channel": channel, "ts": ts, "message": message})

    def m_chat_update(self, p):
        channel, ts = p.get("channel"), p.get("ts")
        err = self.channel_error(channel)
        if err:
            return self.answer(200, err)
        with lock:
            if (channel, ts) not in messages:
                return self.answer(200, {"ok": False, "error": "message_not_found"})
            messages[(channel, ts)] = p.get("text", "")
        self.answer(200, {"ok": True, "channel": channel, "ts": ts, "text": p.get("text", ""),
                          "message": {"type": "message", "text": p.get("text", ""), "user": "U0BOT", "ts": ts}})

    def m_reactions_add(self, p):
        channel, ts, name = p.get("channel"), p.get("timestamp"), p.get("name")
        err = self.channel_error(channel)
        if err:
            return self.answer(200, err)
        if not name:
            return self.answer(200, {"ok": False, "error": "invalid_name"})
        with lock:
            if (channel, ts) not in messages:
                return self.answer(200, {"ok": False, "error": "message_not_found"})
            if (channel, ts, name) in reactions:
                return self.answer(200, {"ok": False, "error": "already_reacted"})
            reactions.add((channel, ts, name))
        self.answer(200, {"ok": True})

    def m_files_getUploadURLExternal(self, p):
        if not p.get("filename"):
            return self.answer(200, {"ok": False, "error": "invalid_arguments"})
        try:
            length = int(p.get("length"))
        except (TypeError, ValueError):
            return self.answer(200, {"ok": False, "error": "invalid_arguments"})
        with lock:
            counter[0] += 1
            file_id = f"F{counter[0]:08d}"
            uploads[file_id] = {"filename": p["filename"], "length": length, "bytes": None}
        port = self.server.server_address[1]
        self.answer(200, {"ok": True, "upload_url": f"http://127.0.0.1:{port}/upload/{file_id}", "file_id": file_id})

    def upload(self, file_id, raw):
        with lock:
            u = uploads.get(file_id)
            if u is None or len(raw) != u["length"]:
                return self.answer(400, b"bad upload")
            u["bytes"] = raw
        self.answer(200, f"OK - {len(raw)}".encode())

    def m_files_completeUploadExternal(self, p):
        files = p.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        if not files:
            return self.answer(200, {"ok": False, "error": "invalid_arguments"})
        if p.get("channel_id"):
            err = self.channel_error(p["channel_id"])
            if err:
                return self.answer(200, err)
        out = []
        with lock:
            for f in files:
                u = uploads.get(f.get("id"))
                if u is None or u["bytes"] is None:
                    return self.answer(200, {"ok": False, "error": "file_not_found"})
                out.append({"id": f["id"], "name": u["filename"], "title": f.get("title") or u["filename"],
                            "size": u["length"], "mimetype": "text/plain"})
        self.answer(200, {"ok": True, "files": out})

    def m_users_lookupByEmail(self, p):
        if p.get("email") != "ann@example.com":
            return self.answer(200, {"ok": False, "error": "users_not_found"})
        self.answer(200, {"ok": True, "user": {"id": "U0ANN", "team_id": "T0TEST", "name": "ann", "real_name": "Ann Example",
                                               "profile": {"email": "ann@example.com", "display_name": "ann"}}})


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Slack)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()
