//! The google connector against a local Google (tests/fakes/google_apis.py) that Google's own
//! Python client accepts: a service account's assertion checked by google-auth's verifier,
//! Sheets, Calendar and Gmail requests as Google takes them, Google's errors with the fix, a 429
//! retried, and a user's refresh token.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const ISSUER: &str = "bot@onset-test.iam.gserviceaccount.com";

fn key_path(name: &str) -> String {
    format!("{}/crates/connectors/testdata/{name}", repo_root())
}

fn fake_google() -> PyFake {
    py_fake("google_apis.py", &[std::ffi::OsStr::new(&key_path("google-sa-test-key.pub.pem"))])
}

const SHEETS: &str = r#"component: sheets
trigger: { type: http }
config:
  google: { type: account, connector: google }
handlers:
  /:
    POST:
      retry: { attempts: 3, initial: 10ms, max: 20ms }
      steps:
        - id: appended
          call: google.sheets.appendRow
          account: "{{ config.google }}"
          with: { spreadsheet_id: "{{ event.sheet }}", range: "Sheet1!A1", values: ["{{ event.number }}", "{{ event.title }}"] }
        - call: google.sheets.updateRange
          account: "{{ config.google }}"
          with: { spreadsheet_id: "{{ event.sheet }}", range: "Sheet1!C2", values: [[checked]], value_input_option: RAW }
        - id: read
          call: google.sheets.readRange
          account: "{{ config.google }}"
          with: { spreadsheet_id: "{{ event.sheet }}", range: "Sheet1!A1:C" }
        - id: event
          call: google.calendar.createEvent
          account: "{{ config.google }}"
          with:
            calendar_id: team@example.com
            summary: "Triage #{{ event.number }}"
            start: "2026-12-07T10:00:00+01:00"
            end: "2026-12-07T10:30:00+01:00"
            time_zone: Europe/Paris
            attendees: [ann@example.com]
        - id: listed
          call: google.calendar.listEvents
          account: "{{ config.google }}"
          with: { calendar_id: team@example.com, time_min: "2026-12-01T00:00:00Z", q: triage }
        - id: mailed
          call: google.gmail.send
          account: "{{ config.google }}"
          with: { to: "Ann <ann@example.com>", bcc: [lead@example.com], subject: "Row {{ event.number }}", text: done, html: "<b>done</b>" }
"#;

async fn send(s: &TestServer, sheet: &str) -> String {
    let r = s.post_json("/hooks/development/sheets", &json!({ "sheet": sheet, "number": 7, "title": "Broken" })).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string()
}

async fn state(s: &TestServer, fake: &PyFake) -> Value {
    s.api.get(format!("{}/_state", fake.base)).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn google_operations_with_a_service_account_and_a_refresh_token() {
    // The fake's answers are ones Google's own client takes (its own fake: the SDK's grants
    // would count).
    let sdk_fake = fake_google();
    let out = Command::new("python3")
        .arg(format!("{}/tests/fakes/google_sdk_drives.py", repo_root()))
        .arg(&sdk_fake.base)
        .arg(key_path("google-sa-test-key.pem"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "google-api-python-client refuses the fake: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let fake = fake_google();
    let s = start_with(Options::new(&[]).env("ONSET_CONFIG__SHEETS__GOOGLE", "robot")).await;
    let key_file = json!({
        "type": "service_account", "project_id": "onset-test", "private_key_id": "k1",
        "private_key": std::fs::read_to_string(key_path("google-sa-test-key.pem")).unwrap(),
        "client_email": ISSUER, "token_uri": format!("{}/token", fake.base)
    });
    let r = s
        .api
        .put(s.url("/api/v1/accounts/robot?environment=development"))
        .json(&json!({ "type": "google", "fields": {
                "service_account": key_file.to_string(), "subject": "ann@example.com", "base_url": fake.base } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let listed =
        s.api.get(s.url("/api/v1/accounts?environment=development")).send().await.unwrap().text().await.unwrap();
    assert!(!listed.contains("PRIVATE KEY"), "the key is never shown back: {listed}");
    let r = s.api.post(s.url("/api/v1/accounts/robot/test?environment=development")).send().await.unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["detail"],
        format!("Google issued an access token to service account {ISSUER}, valid for 3599 s")
    );
    let r = s
        .api
        .post(s.url("/api/v1/deployments"))
        .json(&json!({ "environment": "development", "source": SHEETS, "path": "components/sheets.yaml" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());

    let run = s.wait_run_status(&send(&s, "sheet-1").await, "succeeded").await;
    let steps = &run["steps"];
    assert_eq!(steps[0]["output"]["updates"]["updatedRange"], "Sheet1!A2:B2", "{run}");
    assert_eq!(steps[2]["output"]["values"], json!([["number", "title"], ["7", "Broken", "checked"]]));
    assert_eq!(steps[3]["output"]["status"], "confirmed");
    assert_eq!(steps[4]["output"]["items"][0]["summary"], "Triage #7");
    assert_eq!(steps[5]["output"]["labelIds"], json!(["SENT"]));
    let st = state(&s, &fake).await;
    assert_eq!(st["grants"]["jwt-bearer"], 2, "one for the account test, one shared by the run's six calls");
    // google-auth's verifier took the assertion: Google's claims, the default scopes.
    let claims = &st["assertions"][1];
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], "https://oauth2.googleapis.com/token");
    assert_eq!(claims["sub"], "ann@example.com", "acting for the domain's user");
    assert_eq!(claims["sub"], "ann@example.com", "acting for the domain's user");
    assert!(claims["scope"].as_str().unwrap().contains("https://www.googleapis.com/auth/spreadsheets"));
    let event = &st["events"]["team@example.com"][0];
    assert_eq!(event["start"], json!({ "dateTime": "2026-12-07T10:00:00+01:00", "timeZone": "Europe/Paris" }));
    assert_eq!(event["attendees"], json!([{ "email": "ann@example.com" }]));
    let mail = &st["mails"][0];
    assert_eq!(mail["headers"]["to"], "Ann <ann@example.com>");
    assert_eq!(mail["headers"]["from"], "ann@example.com", "sent as the user the account acts for");
    assert_eq!(mail["headers"]["from"], "ann@example.com", "sent as the user the account acts for");
    assert_eq!(mail["headers"]["bcc"], "lead@example.com", "Gmail reads bcc from the message");
    assert_eq!(mail["text"].as_str().unwrap().trim_end(), "done");
    let seen: Vec<Value> = s.api.get(format!("{}/_seen", fake.base)).send().await.unwrap().json().await.unwrap();
    let append = &seen[0];
    assert_eq!(
        (append["method"].as_str(), append["path"].as_str()),
        (Some("POST"), Some("/v4/spreadsheets/sheet-1/values/Sheet1!A1:append"))
    );
    assert_eq!(append["query"], json!({ "valueInputOption": "USER_ENTERED", "insertDataOption": "INSERT_ROWS" }));
    assert_eq!(append["body"], json!({ "majorDimension": "ROWS", "values": [[7, "Broken"]] }));
    assert!(append["authorization"].as_str().unwrap().starts_with("Bearer ya29.fake-jwt-bearer-"));
    let list =
        seen.iter().find(|r| r["method"] == "GET" && r["path"].as_str().unwrap().starts_with("/calendar")).unwrap();
    assert_eq!(list["query"]["singleEvents"], "true");
    assert_eq!(list["query"]["orderBy"], "startTime");

    // Google's refusal: the step fails at once, saying whom to share the sheet with.
    let run = s.wait_run_status(&send(&s, "locked").await, "failed").await;
    assert_eq!(run["attempt"], 1);
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("PERMISSION_DENIED") && error.contains(&format!("share the sheet or calendar with {ISSUER}")),
        "{run}"
    );
    // A 429 RESOURCE_EXHAUSTED is retried.
    let run = s.wait_run_status(&send(&s, "busy").await, "failed").await;
    assert_eq!(run["attempt"], 2, "the 429 was retried, then `busy` is no sheet: {run}");
    assert!(run["error"].as_str().unwrap().contains("NOT_FOUND"), "{run}");

    // A user's refresh token: the grant carries the client and the token.
    let user = json!({ "client_id": "onset-client", "client_secret": "onset-secret", "refresh_token": "1//onset-refresh",
                       "token_url": format!("{}/token", fake.base), "base_url": fake.base });
    let r = s
        .api
        .put(s.url("/api/v1/accounts/ann?environment=development"))
        .json(&json!({ "type": "google", "fields": user }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let r = s.api.post(s.url("/api/v1/accounts/ann/test?environment=development")).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["detail"], "Google issued an access token, valid for 3599 s");
    s.api
        .put(s.url("/api/v1/accounts/ann?environment=development"))
        .json(&json!({ "type": "google", "fields": { "refresh_token": "1//revoked" } }))
        .send()
        .await
        .unwrap();
    let r = s.api.post(s.url("/api/v1/accounts/ann/test?environment=development")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let message = r.json::<Value>().await.unwrap()["message"].as_str().unwrap().to_string();
    assert!(message.contains("invalid_grant") && message.contains("onset account set ann"), "{message}");
    assert_eq!(state(&s, &fake).await["grants"]["refresh_token"], 1);
}
