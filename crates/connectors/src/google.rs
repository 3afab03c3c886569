//! `google.*`: Sheets, Calendar and Gmail with a `google` account, either a service account (an
//! RS256 assertion exchanged for an access token, RFC 7523, optionally acting for a user of the
//! domain) or an OAuth2 refresh token. Access tokens are cached until shortly before they expire
//! and fetched once for every concurrent caller, for steps and for the Google Calendar trigger
//! alike. Google's error answers become step errors with its message and what to do.

use std::sync::Arc;
use std::time::Duration;

use onset_engine::CallError;
use reqwest::{Method, header};
use serde_json::{Map, Value, json};

use crate::accounts::{Account, Tokens};
use crate::http::auth::{secret_header, token_endpoint};
use crate::http::{HttpConnector, ReadError, describe, fail, read_limited, retry_after, segment};
use crate::{Connector, Operation};

/// Google's OAuth2 token endpoint, unless the account or its key file names another.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// What a service account asks for unless the account says `scopes`: what the operations use.
pub const DEFAULT_SCOPES: &str = "https://www.googleapis.com/auth/spreadsheets \
     https://www.googleapis.com/auth/calendar https://www.googleapis.com/auth/gmail.send";
const SHEETS: &str = "https://sheets.googleapis.com";
const CALENDAR: &str = "https://www.googleapis.com";
const GMAIL: &str = "https://gmail.googleapis.com";
const MAX_ANSWER: usize = 8 << 20;
/// A service account's assertion lives an hour, the most Google takes.
const ASSERTION_LIFE: i64 = 3600;
/// Google's own reasons for a 403 that another attempt, later, gets past.
const RATE_LIMITED: &[&str] = &["rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"];

#[derive(Debug, Clone)]
pub struct GoogleConnector {
    client: reqwest::Client,
    timeout: Duration,
}

/// One request of an operation: what `api` sends with the account's token.
struct Call {
    method: Method,
    url: String,
    query: Vec<(&'static str, String)>,
    body: Option<Value>,
}

impl Call {
    fn new(method: Method, url: String, query: Vec<(&'static str, String)>, body: Option<Value>) -> Self {
        Call { method, url, query, body }
    }
}

/// A service account's identity: from its key file's JSON, or from the account's fields.
struct ServiceAccount {
    client_email: String,
    private_key: String,
    token_url: String,
}

fn service_account(account: &Account) -> Result<Option<ServiceAccount>, String> {
    if let Some(text) = account.get("service_account").filter(|t| !t.trim().is_empty()) {
        let key: Value = serde_json::from_str(text)
            .map_err(|e| format!("`service_account` is the key file's JSON (IAM → Service accounts → Keys): {e}"))?;
        let field = |name: &str| {
            key[name]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("`service_account` has no `{name}`: is it a service account's key file?"))
        };
        let token_url = account
            .get("token_url")
            .map(str::to_string)
            .or_else(|| key["token_uri"].as_str().map(str::to_string))
            .unwrap_or_else(|| GOOGLE_TOKEN_URL.into());
        return Ok(Some(ServiceAccount {
            client_email: field("client_email")?,
            private_key: field("private_key")?,
            token_url,
        }));
    }
    match (account.get("client_email"), account.get("private_key")) {
        (Some(email), Some(key)) => Ok(Some(ServiceAccount {
            client_email: email.to_string(),
            private_key: key.to_string(),
            token_url: account.get("token_url").unwrap_or(GOOGLE_TOKEN_URL).to_string(),
        })),
        _ => Ok(None),
    }
}

/// The assertion a service account trades for an access token (RFC 7523 §2.1, as Google asks):
/// its audience is always Google's token endpoint, wherever the grant is sent.
pub fn service_account_assertion(
    client_email: &str,
    private_key_pem: &str,
    scopes: &str,
    subject: Option<&str>,
    now: i64,
) -> Result<String, String> {
    let mut claims = json!({
        "iss": client_email,
        "scope": scopes,
        "aud": GOOGLE_TOKEN_URL,
        "iat": now,
        "exp": now + ASSERTION_LIFE,
    });
    if let Some(sub) = subject {
        claims["sub"] = json!(sub);
    }
    crate::jwt::rs256(&claims, private_key_pem)
}

/// What to do about a Google error status.
fn hint(status: u16, account: &Account) -> String {
    let who = account
        .get("client_email")
        .map(str::to_string)
        .or_else(|| service_account(account).ok().flatten().map(|s| s.client_email));
    match (status, who) {
        (401, _) => format!(
            " (Google refused the credentials of account `{}`: `onset account test {} --env {}`)",
            account.name, account.name, account.environment
        ),
        (403, Some(email)) => {
            format!(
                " (share the sheet or calendar with {email}, and enable its API in the account's Google Cloud project)"
            )
        }
        (403, None) => " (the account's user cannot reach it, or the API is not enabled in its project)".into(),
        (404, _) => " (no such spreadsheet, range, calendar or event, or the account cannot see it)".into(),
        _ => String::new(),
    }
}

impl GoogleConnector {
    /// Shares the `http` connector's client: the same network policy and TLS set-up.
    pub fn new(http: &HttpConnector) -> Self {
        Self { client: http.client.clone(), timeout: http.options.default_timeout }
    }

    fn root<'a>(account: &'a Account, default: &'a str) -> &'a str {
        account.get("base_url").unwrap_or(default).trim_end_matches('/')
    }

    fn cache_key(account: &Account) -> String {
        format!("{}/google", account.fingerprint())
    }

    /// An access token for `account`, from the cache or fetched once for every concurrent caller.
    pub async fn access_token(&self, account: &Account, tokens: &Tokens) -> Result<String, CallError> {
        tokens.get(account, &Self::cache_key(account), || self.fetch_token(account, tokens)).await
    }

    /// Asks Google's token endpoint for an access token, with the account's service-account
    /// assertion or its refresh token.
    async fn fetch_token(&self, account: &Account, tokens: &Tokens) -> Result<(String, Option<Duration>), CallError> {
        let name = &account.name;
        let wrong = |why: String| fail(format!("account `{name}`: {why}"), false);
        let fix = format!("check the account's credentials (`onset account set {name} --type google --env ENV …`)");
        if let Some(sa) = service_account(account).map_err(wrong)? {
            let scopes = account.get("scopes").unwrap_or(DEFAULT_SCOPES);
            let now = jiff::Timestamp::now().as_second();
            let assertion =
                service_account_assertion(&sa.client_email, &sa.private_key, scopes, account.get("subject"), now)
                    .map_err(wrong)?;
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
                .append_pair("assertion", &assertion)
                .finish();
            let fix = format!(
                "check `service_account` and `subject`, and that the service account may act for that user \
                 (domain-wide delegation) with these scopes (`onset account set {name} --type google --env ENV …`)"
            );
            let issued = token_endpoint(&self.client, self.timeout, account, &sa.token_url, body, None, &fix).await?;
            return Ok((issued.token, issued.life));
        }
        let (Some(client_id), Some(refresh)) = (account.get("client_id"), tokens.field(account, "refresh_token"))
        else {
            return Err(wrong(
                "give it `service_account` (the key file's JSON) or `client_id`, `client_secret` and `refresh_token`"
                    .into(),
            ));
        };
        let token_url = account.get("token_url").unwrap_or(GOOGLE_TOKEN_URL);
        // Built before the await: the serializer is not Send.
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "refresh_token").append_pair("client_id", client_id);
            if let Some(secret) = account.get("client_secret") {
                form.append_pair("client_secret", secret);
            }
            form.append_pair("refresh_token", &refresh).finish()
        };
        let issued = token_endpoint(&self.client, self.timeout, account, token_url, body, None, &fix).await?;
        Ok(issued.keep(account, tokens))
    }

    /// One API call with the account's access token; a 401 drops the token and tries once more
    /// with a fresh one.
    async fn api(&self, op: &str, account: &Account, tokens: &Tokens, call: Call) -> Result<Value, CallError> {
        let Call { method, url, query, body } = call;
        let url = url.as_str();
        let mut refreshed = false;
        loop {
            let token = self.access_token(account, tokens).await?;
            let mut req = self
                .client
                .request(method.clone(), url)
                .header(header::AUTHORIZATION, secret_header(&format!("Bearer {token}"), account)?)
                .header(header::ACCEPT, "application/json")
                .timeout(self.timeout);
            if !query.is_empty() {
                req = req.query(&query);
            }
            if let Some(b) = &body {
                req = req.header(header::CONTENT_TYPE, "application/json").body(b.to_string());
            }
            let mut resp = req.send().await.map_err(|e| fail(format!("{op}: {url}: {}", describe(&e)), true))?;
            let status = resp.status().as_u16();
            let wait = retry_after(resp.headers());
            let bytes = read_limited(&mut resp, MAX_ANSWER).await.map_err(|e| match e {
                ReadError::Network(e) => fail(format!("{op}: {url}: {}", describe(&e)), true),
                ReadError::TooLarge => fail(format!("{op}: Google's answer is over {} MiB", MAX_ANSWER >> 20), false),
            })?;
            let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if status == 401 && !refreshed {
                tokens.forget(&Self::cache_key(account), &token).await;
                refreshed = true;
                continue;
            }
            if (200..300).contains(&status) {
                return Ok(answer);
            }
            let error = &answer["error"];
            let said = error["message"].as_str().unwrap_or("no message");
            let state = error["status"].as_str().unwrap_or("");
            let reason = error["errors"][0]["reason"].as_str().unwrap_or("");
            let limited = status == 429 || (status == 403 && RATE_LIMITED.contains(&reason));
            let retryable = limited || status >= 500 || status == 408;
            let hint = if limited { String::new() } else { hint(status, account) };
            let mut e = fail(format!("{op}: Google answered HTTP {status} {state}: {said}{hint}"), retryable);
            if limited {
                e.retry_after = wait.or(Some(Duration::from_secs(1)));
            }
            return Err(e);
        }
    }

    async fn perform(
        &self,
        op: &'static Operation,
        input: Value,
        account: &Account,
        tokens: &Tokens,
    ) -> Result<Value, CallError> {
        let name = op.name.as_str();
        let text = |field: &str| input[field].as_str().unwrap_or_default();
        let sheet = |suffix: &str| {
            format!(
                "{}/v4/spreadsheets/{}/values/{}{suffix}",
                Self::root(account, SHEETS),
                segment(text("spreadsheet_id")),
                segment(input["range"].as_str().unwrap_or("Sheet1!A1"))
            )
        };
        let input_option = input["value_input_option"].as_str().unwrap_or("USER_ENTERED").to_string();
        let calendar = |suffix: &str| {
            format!(
                "{}/calendar/v3/calendars/{}/events{suffix}",
                Self::root(account, CALENDAR),
                segment(input["calendar_id"].as_str().unwrap_or("primary"))
            )
        };
        match name {
            "google.sheets.appendRow" => {
                let query = [("valueInputOption", input_option), ("insertDataOption", "INSERT_ROWS".into())];
                let body = json!({ "majorDimension": "ROWS", "values": [input["values"]] });
                self.api(name, account, tokens, Call::new(Method::POST, sheet(":append"), query.into(), Some(body)))
                    .await
            }
            "google.sheets.readRange" => {
                let render = input["value_render_option"].as_str().unwrap_or("FORMATTED_VALUE").to_string();
                let query = vec![("valueRenderOption", render)];
                self.api(name, account, tokens, Call::new(Method::GET, sheet(""), query, None)).await
            }
            "google.sheets.updateRange" => {
                let body = json!({ "range": input["range"], "majorDimension": "ROWS", "values": input["values"] });
                let query = [("valueInputOption", input_option)];
                self.api(name, account, tokens, Call::new(Method::PUT, sheet(""), query.into(), Some(body))).await
            }
            "google.calendar.createEvent" => {
                let when = |field: &str| {
                    let value = text(field);
                    // A bare date is an all-day event.
                    let mut at =
                        if value.len() == 10 { json!({ "date": value }) } else { json!({ "dateTime": value }) };
                    if let Some(zone) = input["time_zone"].as_str() {
                        at["timeZone"] = json!(zone);
                    }
                    at
                };
                let mut event = Map::new();
                for field in ["summary", "description", "location"] {
                    if let Some(v) = input[field].as_str() {
                        event.insert(field.into(), json!(v));
                    }
                }
                event.insert("start".into(), when("start"));
                event.insert("end".into(), when("end"));
                if let Some(guests) = input["attendees"].as_array() {
                    let guests: Vec<Value> = guests.iter().map(|g| json!({ "email": g })).collect();
                    event.insert("attendees".into(), Value::Array(guests));
                }
                let send = input["send_updates"].as_str().unwrap_or("none").to_string();
                let body = Value::Object(event);
                self.api(
                    name,
                    account,
                    tokens,
                    Call::new(Method::POST, calendar(""), vec![("sendUpdates", send)], Some(body)),
                )
                .await
            }
            "google.calendar.listEvents" => {
                let single = input["single_events"].as_bool().unwrap_or(true);
                let mut query = vec![
                    ("singleEvents", single.to_string()),
                    ("maxResults", input["max_results"].as_u64().unwrap_or(250).to_string()),
                ];
                if single {
                    query.push(("orderBy", "startTime".into()));
                }
                for (field, param) in
                    [("time_min", "timeMin"), ("time_max", "timeMax"), ("q", "q"), ("page_token", "pageToken")]
                {
                    if let Some(v) = input[field].as_str() {
                        query.push((param, v.to_string()));
                    }
                }
                self.api(name, account, tokens, Call::new(Method::GET, calendar(""), query, None)).await
            }
            "google.gmail.send" => {
                let fix =
                    "give `from` (the mailbox's address or one of its aliases), or `subject` on a service account";
                let (message, _, _) = crate::mime::message(name, &input, account.get("subject"), fix, true)?;
                let raw = crate::jwt::b64url(&message.formatted());
                let url = format!("{}/gmail/v1/users/me/messages/send", Self::root(account, GMAIL));
                let body = Some(json!({ "raw": raw }));
                self.api(name, account, tokens, Call::new(Method::POST, url, Vec::new(), body)).await
            }
            other => Err(fail(format!("{other}: not a google operation"), false)),
        }
    }
}

impl Connector for GoogleConnector {
    fn operations(&self) -> &'static [Operation] {
        std::sync::LazyLock::force(&crate::catalog::GOOGLE).as_slice()
    }

    fn call<'a>(
        &'a self,
        operation: &'static Operation,
        input: Value,
        account: Option<Arc<Account>>,
        tokens: &'a Tokens,
    ) -> onset_engine::CallFuture<'a> {
        Box::pin(async move {
            let account = crate::required_account(operation, account)?;
            self.perform(operation, input, &account, tokens).await
        })
    }

    fn test_account<'a>(&'a self, account: &'a Account, tokens: &'a Tokens) -> Option<crate::TestFuture<'a>> {
        (account.kind == "google").then(|| {
            Box::pin(async move {
                // Asked now, never from the cache: the point is whether Google takes the credentials.
                let (_, life) = self.fetch_token(account, tokens).await.map_err(|e| e.message)?;
                let who = match service_account(account) {
                    Ok(Some(sa)) => format!(" to service account {}", sa.client_email),
                    _ => String::new(),
                };
                let life = life.map_or_else(String::new, |d| format!(", valid for {} s", d.as_secs()));
                Ok(format!("Google issued an access token{who}{life}"))
            }) as crate::TestFuture<'a>
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn the_assertion_carries_googles_claims() {
        let pem = include_str!("../testdata/google-sa-test-key.pem");
        let jwt = service_account_assertion(
            "bot@p.iam.gserviceaccount.com",
            pem,
            "s1 s2",
            Some("ann@example.com"),
            1_700_000_000,
        )
        .unwrap();
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(
            claims,
            json!({ "iss": "bot@p.iam.gserviceaccount.com", "scope": "s1 s2", "aud": GOOGLE_TOKEN_URL,
                    "iat": 1_700_000_000, "exp": 1_700_003_600, "sub": "ann@example.com" })
        );
        // The key file's JSON, `\n` escapes and all.
        let file = json!({ "type": "service_account", "client_email": "bot@p.iam.gserviceaccount.com", "private_key": pem,
                           "token_uri": "https://oauth2.googleapis.com/token" });
        let account = Account {
            environment: "e".into(),
            name: "g".into(),
            kind: "google".into(),
            fields: [("service_account".to_string(), file.to_string())].into_iter().collect(),
        };
        let sa = service_account(&account).unwrap().unwrap();
        assert_eq!(sa.client_email, "bot@p.iam.gserviceaccount.com");
        assert!(service_account_assertion(&sa.client_email, &sa.private_key, "s", None, 0).is_ok());
    }

    /// The Google fake (tests/fakes/google_apis.py) with this crate's test key, killed on drop.
    struct Fake(std::process::Child, String);

    impl Drop for Fake {
        fn drop(&mut self) {
            let _ = self.0.kill();
        }
    }

    fn fake() -> Fake {
        use std::io::BufRead as _;
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let mut child = std::process::Command::new("python3")
            .arg(format!("{root}/tests/fakes/google_apis.py"))
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/google-sa-test-key.pub.pem"))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs the Google fake");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("PORT ").expect("the fake says its port").to_string();
        Fake(child, format!("http://127.0.0.1:{port}"))
    }

    #[tokio::test]
    async fn fifty_concurrent_calls_share_one_token_grant_and_a_revoked_token_is_replaced() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let fake = fake();
        let http = HttpConnector::new(crate::HttpConnectorOptions::default()).unwrap();
        let google = Arc::new(GoogleConnector::new(&http));
        let tokens = Arc::new(Tokens::default());
        let key = json!({
            "type": "service_account", "client_email": "bot@onset-test.iam.gserviceaccount.com",
            "private_key": include_str!("../testdata/google-sa-test-key.pem"), "token_uri": format!("{}/token", fake.1)
        });
        let account = Arc::new(Account {
            environment: "test".into(),
            name: "sheets".into(),
            kind: "google".into(),
            fields: [("service_account", key.to_string()), ("base_url", fake.1.clone())]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        });
        let op = crate::catalog::GOOGLE.iter().find(|o| o.name == "google.sheets.appendRow").unwrap();
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..50 {
            let (google, tokens, account) = (google.clone(), tokens.clone(), account.clone());
            calls.spawn(async move {
                let input = json!({ "spreadsheet_id": "sheet-1", "values": [i, "row"] });
                google.call(op, input, Some(account), &tokens).await
            });
        }
        while let Some(done) = calls.join_next().await {
            assert_eq!(done.unwrap().unwrap()["updates"]["updatedRows"], 1);
        }
        let state: Value = http.client.get(format!("{}/_state", fake.1)).send().await.unwrap().json().await.unwrap();
        assert_eq!(state["grants"]["jwt-bearer"], 1, "one token grant for 50 concurrent calls");
        assert_eq!(state["sheets"]["sheet-1"]["Sheet1"].as_array().unwrap().len(), 51);
        // Google's verifier took the assertion; its claims are Google's.
        let claims = &state["assertions"][0];
        assert_eq!(claims["aud"], GOOGLE_TOKEN_URL);
        assert_eq!(claims["scope"], DEFAULT_SCOPES);
        // A token Google stops taking (401) is dropped and fetched again, once, by the call.
        http.client.post(format!("{}/_revoke", fake.1)).send().await.unwrap();
        let input = json!({ "spreadsheet_id": "sheet-1", "range": "Sheet1!A1:B2" });
        let read = crate::catalog::GOOGLE.iter().find(|o| o.name == "google.sheets.readRange").unwrap();
        let got = google.call(read, input, Some(account.clone()), &tokens).await.unwrap();
        assert_eq!(got["values"][0], json!(["number", "title"]));
        let state: Value = http.client.get(format!("{}/_state", fake.1)).send().await.unwrap().json().await.unwrap();
        assert_eq!(state["grants"]["jwt-bearer"], 2);
    }
}
