"""A local stand-in for Google's OAuth2 token endpoint and the Sheets v4, Calendar v3 and Gmail v1
REST APIs, answering with Google's real shapes (`{"error": {"code", "message", "status",
"errors"}}` for failures).

Token endpoint (`POST /token`): the JWT-bearer grant's assertion is checked by google-auth's own
verifier (`google.auth.jwt.decode`) with the service account's public key (the PEM file given as
the first argument, `-` for none), its audience https://oauth2.googleapis.com/token and its issuer
`bot@onset-test.iam.gserviceaccount.com`; the refresh-token grant takes client `onset-client`,
secret `onset-secret` and refresh token `1//onset-refresh`. Each grant answers an access token
valid for an hour after a 200 ms pause (so concurrent callers overlap), and counts.

APIs take only tokens this endpoint issued (401 UNAUTHENTICATED otherwise). Spreadsheet
`sheet-1` and calendars `primary` and `team@example.com` exist; spreadsheet `locked` is 403
PERMISSION_DENIED; the first call to spreadsheet `busy` is 429 RESOURCE_EXHAUSTED.

`GET /_state` answers the token grants counted, the sheets, events and sent mails (parsed by
Python's email parser); `GET /_seen` every API request; `POST /_revoke` forgets the tokens issued.

usage: python3 google_apis.py PUBLIC_KEY.pem   (prints `PORT <n>`, serves until killed)
"""

import base64
import email
import email.policy
import json
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import google.auth.jwt

ISSUER = "bot@onset-test.iam.gserviceaccount.com"
CLIENT, SECRET, REFRESH = "onset-client", "onset-secret", "1//onset-refresh"
lock = threading.Lock()
state = {"grants": {"jwt-bearer": 0, "refresh_token": 0}, "sheets": {"sheet-1": {"Sheet1": [["number", "title"]], "Issues": [["number", "title", "author", "labels"]]}},
         "events": {"primary": [], "team@example.com": []}, "mails": [], "assertions": []}
seen = []
tokens = set()
busy = {"busy"}
public_key = None


def google_error(code, status, message, reason=None):
    body = {"error": {"code": code, "message": message, "status": status}}
    if reason:
        body["error"]["errors"] = [{"message": message, "domain": "global", "reason": reason}]
    return code, body


def column(letters):
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def letters(index):
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def split_range(a1):
    """`Sheet1!B2:C` -> (sheet, row, column) of its top-left cell (0-based)."""
    sheet, _, cells = a1.partition("!") if "!" in a1 else ("Sheet1", "!", a1)
    m = re.match(r"([A-Z]*)(\d*)", cells.split(":")[0])
    col = column(m.group(1)) if m.group(1) else 0
    row = int(m.group(2)) - 1 if m.group(2) else 0
    return sheet.strip("'"), row, col


class Google(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = urllib.parse.unquote(url.path)
        if path == "/_state":
            with lock:
                return self.answer(200, state)
        if path == "/_seen":
            with lock:
                return self.answer(200, seen)
        if path == "/_revoke":
            with lock:
                tokens.clear()
            return self.answer(200, {})
        if path == "/token":
            return self.answer(*self.token(raw))
        with lock:
            seen.append({"method": method, "path": path, "query": query,
                         "authorization": self.headers.get("Authorization"),
                         "content_type": self.headers.get("Content-Type"),
                         "body": json.loads(raw) if raw else None})
        auth = self.headers.get("Authorization", "")
        with lock:
            known = auth.startswith("Bearer ") and auth[7:] in tokens
        if not known:
            return self.answer(*google_error(
                401, "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
                "authError"))
        body = json.loads(raw) if raw else {}
        self.answer(*self.api(method, path, query, body))

    def token(self, raw):
        form = dict(urllib.parse.parse_qsl(raw.decode()))
        grant = form.get("grant_type")
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            # Google's audience is its token endpoint's public address wherever the grant is sent
            # (google-auth's own service-account credentials do the same).
            audience = "https://oauth2.googleapis.com/token"
            try:
                claims = google.auth.jwt.decode(form.get("assertion", ""), certs=public_key, audience=audience)
            except Exception as e:  # google-auth says why it refuses
                return 400, {"error": "invalid_grant", "error_description": f"Invalid JWT: {e}"}
            if claims.get("iss") != ISSUER:
                return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            kind = "jwt-bearer"
            with lock:
                state["assertions"].append(claims)
        elif grant == "refresh_token":
            if (form.get("client_id"), form.get("client_secret")) != (CLIENT, SECRET):
                return 401, {"error": "invalid_client", "error_description": "Unauthorized"}
            if form.get("refresh_token") != REFRESH:
                return 400, {"error": "invalid_grant", "error_description": "Bad Request"}
            kind = "refresh_token"
        else:
            return 400, {"error": "unsupported_grant_type", "error_description": f"Invalid grant_type: {grant}"}
        time.sleep(0.2)
        with lock:
            state["grants"][kind] += 1
            token = f"ya29.fake-{kind}-{state['grants'][kind]}"
            tokens.add(token)
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def api(self, method, path, query, body):
        m = re.fullmatch(r"/v4/spreadsheets/([^/]+)/values/([^/]+?)(:append)?", path)
        if m:
            return self.sheets(method, m.group(1), m.group(2), bool(m.group(3)), query, body)
        m = re.fullmatch(r"/calendar/v3/calendars/([^/]+)/events", path)
        if m:
            return self.calendar(method, m.group(1), query, body)
        if path == "/gmail/v1/users/me/messages/send" and method == "POST":
            message = email.message_from_bytes(base64.urlsafe_b64decode(body["raw"] + "=="), policy=email.policy.default)
            text, html = message.get_body(("plain",)), message.get_body(("html",))
            with lock:
                state["mails"].append({"headers": {k.lower(): str(v) for k, v in message.items()},
                                       "text": text.get_content() if text else None,
                                       "html": html.get_content() if html else None})
                n = len(state["mails"])
            return 200, {"id": f"18c{n:013x}", "threadId": f"18c{n:013x}", "labelIds": ["SENT"]}
        return google_error(404, "NOT_FOUND", f"Method not found: {method} {path}")

    def sheets(self, method, spreadsheet, a1, append, query, body):
        if spreadsheet == "locked":
            return google_error(403, "PERMISSION_DENIED", "The caller does not have permission")
        with lock:
            if spreadsheet in busy:
                busy.discard(spreadsheet)
                return google_error(429, "RESOURCE_EXHAUSTED",
                                    "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute per user'",
                                    "rateLimitExceeded")
            book = state["sheets"].get(spreadsheet)
            if book is None:
                return google_error(404, "NOT_FOUND", "Requested entity was not found.")
            sheet, row, col = split_range(a1)
            if sheet not in book:
                return google_error(400, "INVALID_ARGUMENT", f"Unable to parse range: {a1}")
            rows = book[sheet]
            if method == "GET":
                render = query.get("valueRenderOption", "FORMATTED_VALUE")
                values = [[c if render != "FORMATTED_VALUE" else str(c) for c in r] for r in rows]
                width = max((len(r) for r in rows), default=1)
                return 200, {"range": f"{sheet}!A1:{letters(width - 1)}{len(rows)}", "majorDimension": "ROWS", "values": values}
            if query.get("valueInputOption") not in ("RAW", "USER_ENTERED"):
                return google_error(400, "INVALID_ARGUMENT", "'valueInputOption' is required but not specified")
            values = body.get("values") or []
            if append:
                start = len(rows)
                rows.extend([list(r) for r in values])
                width = max((len(r) for r in values), default=1)
                updated = f"{sheet}!A{start + 1}:{letters(width - 1)}{start + len(values)}"
                return 200, {"spreadsheetId": spreadsheet, "tableRange": f"{sheet}!A1:{letters(width - 1)}{start}",
                             "updates": {"spreadsheetId": spreadsheet, "updatedRange": updated, "updatedRows": len(values),
                                         "updatedColumns": width, "updatedCells": sum(len(r) for r in values)}}
            for i, r in enumerate(values):
                while len(rows) <= row + i:
                    rows.append([])
                target = rows[row + i]
                while len(target) < col + len(r):
                    target.append("")
                target[col:col + len(r)] = r
            width = max((len(r) for r in values), default=1)
            return 200, {"spreadsheetId": spreadsheet,
                         "updatedRange": f"{sheet}!{letters(col)}{row + 1}:{letters(col + width - 1)}{row + len(values)}",
                         "updatedRows": len(values), "updatedColumns": width,
                         "updatedCells": sum(len(r) for r in values)}

    def calendar(self, method, calendar, query, body):
        with lock:
            events = state["events"].get(calendar)
            if events is None:
                return google_error(404, "NOT_FOUND", "Not Found", "notFound")
            if method == "POST":
                if "start" not in body or "end" not in body:
                    return google_error(400, "INVALID_ARGUMENT", "Missing end time.", "required")
                n = sum(len(v) for v in state["events"].values()) + 1
                event = {"kind": "calendar#event", "etag": f"\"{n}\"", "id": f"evt{n:04d}", "status": "confirmed",
                         "htmlLink": f"https://www.google.com/calendar/event?eid=evt{n:04d}",
                         "created": "2026-12-04T10:00:00.000Z", "updated": "2026-12-04T10:00:00.000Z",
                         "creator": {"email": ISSUER}, "organizer": {"email": calendar, "self": True}, **body}
                events.append(event)
                return 200, event
            items = list(events)
            if "timeMin" in query:
                items = [e for e in items if e["end"].get("dateTime", e["end"].get("date", "")) > query["timeMin"]]
            if "timeMax" in query:
                items = [e for e in items if e["start"].get("dateTime", e["start"].get("date", "")) < query["timeMax"]]
            if "q" in query:
                items = [e for e in items if query["q"].lower() in e.get("summary", "").lower()]
            items = items[: int(query.get("maxResults", 250))]
            return 200, {"kind": "calendar#events", "etag": "\"p1\"", "summary": calendar, "timeZone": "UTC",
                         "accessRole": "owner", "items": items}


def main():
    global public_key
    if len(sys.argv) > 1 and sys.argv[1] != "-":
        with open(sys.argv[1], "rb") as f:
            public_key = f.read()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Google)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
