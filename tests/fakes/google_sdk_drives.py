"""Drives the Google fake (tests/fakes/google_apis.py) with Google's own Python client
(google-api-python-client over google-auth's service-account credentials): the token grant and
every operation Onset uses must be answers that client takes.

usage: python3 google_sdk_drives.py BASE_URL PRIVATE_KEY.pem
"""

import base64
import sys
from email.message import EmailMessage

from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError


def main():
    base, key_file = sys.argv[1].rstrip("/"), sys.argv[2]
    with open(key_file) as f:
        info = {
            "type": "service_account",
            "client_email": "bot@onset-test.iam.gserviceaccount.com",
            "private_key": f.read(),
            "private_key_id": "test",
            "token_uri": f"{base}/token",
        }
    creds = service_account.Credentials.from_service_account_info(
        info, scopes=["https://www.googleapis.com/auth/spreadsheets", "https://www.googleapis.com/auth/calendar",
                      "https://www.googleapis.com/auth/gmail.send"])
    sheets = build("sheets", "v4", credentials=creds, client_options={"api_endpoint": f"{base}/"}, static_discovery=True)
    values = sheets.spreadsheets().values()
    appended = values.append(spreadsheetId="sheet-1", range="Sheet1!A1", valueInputOption="USER_ENTERED",
                             insertDataOption="INSERT_ROWS", body={"values": [[1, "sdk"]]}).execute()
    assert appended["updates"]["updatedRows"] == 1, appended
    got = values.get(spreadsheetId="sheet-1", range="Sheet1!A1:B").execute()
    assert got["values"][-1] == ["1", "sdk"], got
    updated = values.update(spreadsheetId="sheet-1", range="Sheet1!B2", valueInputOption="RAW",
                            body={"values": [["SDK"]]}).execute()
    assert updated["updatedCells"] == 1, updated
    try:
        values.get(spreadsheetId="locked", range="A1").execute()
        raise AssertionError("locked should be refused")
    except HttpError as e:
        assert e.resp.status == 403 and "permission" in e.reason, e

    calendar = build("calendar", "v3", credentials=creds, client_options={"api_endpoint": f"{base}/calendar/v3/"},
                     static_discovery=True)
    event = calendar.events().insert(calendarId="primary", body={
        "summary": "sdk", "start": {"dateTime": "2026-12-04T10:00:00Z"}, "end": {"dateTime": "2026-12-04T11:00:00Z"}}).execute()
    assert event["id"] and event["status"] == "confirmed", event
    listed = calendar.events().list(calendarId="primary", timeMin="2026-12-01T00:00:00Z", singleEvents=True,
                                    orderBy="startTime").execute()
    assert [e["summary"] for e in listed["items"]] == ["sdk"], listed

    gmail = build("gmail", "v1", credentials=creds, client_options={"api_endpoint": f"{base}/"}, static_discovery=True)
    message = EmailMessage()
    message["To"], message["From"], message["Subject"] = "ann@example.com", "bot@example.com", "sdk"
    message.set_content("hello")
    raw = base64.urlsafe_b64encode(message.as_bytes()).decode()
    sent = gmail.users().messages().send(userId="me", body={"raw": raw}).execute()
    assert sent["labelIds"] == ["SENT"], sent
    print("ok")


if __name__ == "__main__":
    main()
