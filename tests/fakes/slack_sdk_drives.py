"""Drives the Slack fake (tests/fakes/slack.py) with Slack's own client, slack_sdk: every answer
the fake gives is one the provider's own client accepts, errors and rate limits included.

usage: python3 slack_sdk_drives.py BASE_URL   (e.g. http://127.0.0.1:PORT)
"""

import sys

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

base = sys.argv[1].rstrip("/") + "/api/"
client = WebClient(token="xoxb-onset-test-token", base_url=base)

who = client.auth_test()
assert who["ok"] and who["bot_id"] == "B0BOT", who.data

posted = client.chat_postMessage(channel="C0GENERAL", text="hello from slack_sdk")
assert posted["ok"] and posted["channel"] == "C0GENERAL" and posted["message"]["text"] == "hello from slack_sdk"
updated = client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="edited")
assert updated["ts"] == posted["ts"] and updated["text"] == "edited"
assert client.reactions_add(channel="C0GENERAL", timestamp=posted["ts"], name="eyes")["ok"]
try:
    client.reactions_add(channel="C0GENERAL", timestamp=posted["ts"], name="eyes")
    raise AssertionError("a second identical reaction is refused")
except SlackApiError as e:
    assert e.response["error"] == "already_reacted"

# files_upload_v2 is the getUploadURLExternal / upload / completeUploadExternal flow.
uploaded = client.files_upload_v2(channel="C0GENERAL", content="a,b\n1,2\n", filename="rows.csv", title="Rows")
assert uploaded["ok"] and uploaded["files"][0]["name"] == "rows.csv", uploaded.data

user = client.users_lookupByEmail(email="ann@example.com")
assert user["user"]["id"] == "U0ANN"
for call, error in [
    (lambda: client.users_lookupByEmail(email="nobody@example.com"), "users_not_found"),
    (lambda: client.chat_postMessage(channel="C_MISSING", text="x"), "channel_not_found"),
    (lambda: WebClient(token="xoxb-wrong", base_url=base).auth_test(), "invalid_auth"),
]:
    try:
        call()
        raise AssertionError(f"{error} expected")
    except SlackApiError as e:
        assert e.response["error"] == error, e.response.data

try:
    client.chat_postMessage(channel="C_BUSY", text="x")
    raise AssertionError("rate limited first")
except SlackApiError as e:
    assert e.response.status_code == 429 and e.response.headers["Retry-After"] == "1", e.response
    assert e.response["error"] == "ratelimited"
assert client.chat_postMessage(channel="C_BUSY", text="x")["ok"]
print("ok")
