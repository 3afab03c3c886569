//! `slack.*`: the Slack Web API with a `slack` account's bot token. Slack answers HTTP 200 with
//! `{"ok": false, "error": "…"}` for its own errors: those become step errors carrying Slack's
//! code and what to do about it. A 429 carries `Retry-After`, honoured by the retry.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use onset_engine::CallError;
use reqwest::header;
use serde_json::{Value, json};

use crate::accounts::{Account, Tokens};
use crate::http::{HttpConnector, ReadError, describe, fail, read_limited, retry_after};
use crate::{Connector, Operation};

/// The Web API's address when the account gives no `base_url`.
pub const SLACK_API: &str = "https://slack.com/api";
/// Slack answers larger than this fail the step.
const MAX_ANSWER: usize = 2 << 20;
/// Slack's own codes that another attempt may get past.
const TRANSIENT: &[&str] = &["ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"];

#[derive(Debug, Clone)]
pub struct SlackConnector {
    client: reqwest::Client,
    timeout: Duration,
}

enum Body {
    Json(Value),
    Form(Vec<(&'static str, String)>),
}

/// What to do about a Slack error code, when there is something to say.
fn hint(code: &str, account: &str, answer: &Value) -> String {
    match code {
        "channel_not_found" => " (check the channel id, and that the app can see the channel)".into(),
        "not_in_channel" => " (invite the app to the channel: /invite @your-app)".into(),
        "invalid_auth" | "not_authed" | "token_revoked" | "token_expired" | "account_inactive" => format!(
            " (the token of account `{account}` is wrong or revoked: `onset account set {account} --type slack --env ENV token=xoxb-…`)"
        ),
        "missing_scope" => format!(
            " (the Slack app needs the scope `{}`: add it under OAuth & Permissions and reinstall the app)",
            answer["needed"].as_str().unwrap_or("?")
        ),
        "users_not_found" => " (no member of the workspace has that email address)".into(),
        "message_not_found" => " (no message with that ts in that channel)".into(),
        _ => String::new(),
    }
}

impl SlackConnector {
    /// Shares the `http` connector's client: the same network policy and TLS set-up.
    pub fn new(http: &HttpConnector) -> Self {
        Self { client: http.client.clone(), timeout: http.options.default_timeout }
    }

    async fn api(&self, op: &str, account: &Account, method: &str, body: Body) -> Result<Value, CallError> {
        let token = account
            .get("token")
            .ok_or_else(|| fail(format!("{op}: account `{}` has no `token`", account.name), false))?;
        let base = account.get("base_url").unwrap_or(SLACK_API).trim_end_matches('/');
        let url = format!("{base}/{method}");
        let mut req = self.client.post(&url).bearer_auth(token).timeout(self.timeout);
        req = match body {
            Body::Json(v) => req.header(header::CONTENT_TYPE, "application/json; charset=utf-8").body(v.to_string()),
            Body::Form(pairs) => {
                let mut form = form_urlencoded::Serializer::new(String::new());
                for (k, v) in &pairs {
                    form.append_pair(k, v);
                }
                req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(form.finish())
            }
        };
        let mut resp = req.send().await.map_err(|e| fail(format!("{op}: {url}: {}", describe(&e)), true))?;
        let status = resp.status();
        let wait = retry_after(resp.headers());
        let bytes = read_limited(&mut resp, MAX_ANSWER).await.map_err(|e| match e {
            ReadError::Network(e) => fail(format!("{op}: {url}: {}", describe(&e)), true),
            ReadError::TooLarge => fail(format!("{op}: Slack's answer is over {MAX_ANSWER} bytes"), false),
        })?;
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.as_u16() == 429 {
            let mut e = fail(format!("{op}: Slack is rate limiting {method}"), true);
            e.retry_after = wait.or(Some(Duration::from_secs(1)));
            return Err(e);
        }
        if !status.is_success() {
            let excerpt: String = String::from_utf8_lossy(&bytes).chars().take(200).collect();
            return Err(fail(
                format!("{op}: {url} answered HTTP {}: {excerpt}", status.as_u16()),
                status.is_server_error(),
            ));
        }
        if answer["ok"] != Value::Bool(true) {
            let code = answer["error"].as_str().unwrap_or("no `ok` in the answer");
            let hint = hint(code, &account.name, &answer);
            return Err(fail(format!("{op}: Slack answered `{code}`{hint}"), TRANSIENT.contains(&code)));
        }
        Ok(answer)
    }

    async fn upload(&self, op: &str, account: &Account, input: &Value) -> Result<Value, CallError> {
        let bytes = match (input["content"].as_str(), input["content_base64"].as_str()) {
            (Some(text), None) => text.as_bytes().to_vec(),
            (None, Some(b64)) => base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| fail(format!("{op}: `with.content_base64` is not base64: {e}"), false))?,
            _ => return Err(fail(format!("{op}: give `content` (text) or `content_base64`, one of them"), false)),
        };
        let filename = input["filename"].as_str().unwrap_or_default().to_string();
        let target = self
            .api(
                op,
                account,
                "files.getUploadURLExternal",
                Body::Form(vec![("filename", filename.clone()), ("length", bytes.len().to_string())]),
            )
            .await?;
        let (Some(upload_url), Some(file_id)) = (target["upload_url"].as_str(), target["file_id"].as_str()) else {
            return Err(fail(format!("{op}: files.getUploadURLExternal gave no upload_url and file_id"), false));
        };
        let sent = self
            .client
            .post(upload_url)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .timeout(self.timeout)
            .body(bytes)
            .send()
            .await
            .map_err(|e| fail(format!("{op}: uploading the file: {}", describe(&e)), false))?;
        if !sent.status().is_success() {
            return Err(fail(format!("{op}: the upload URL answered HTTP {}", sent.status().as_u16()), false));
        }
        let title = input["title"].as_str().unwrap_or(&filename);
        let mut form = vec![("files", json!([{ "id": file_id, "title": title }]).to_string())];
        for (field, name) in
            [("channel", "channel_id"), ("initial_comment", "initial_comment"), ("thread_ts", "thread_ts")]
        {
            if let Some(v) = input[field].as_str() {
                form.push((name, v.to_string()));
            }
        }
        self.api(op, account, "files.completeUploadExternal", Body::Form(form)).await
    }

    async fn perform(&self, op: &'static Operation, input: Value, account: &Account) -> Result<Value, CallError> {
        let name = op.name.as_str();
        match name {
            "slack.postMessage" => {
                if input.get("text").is_none() && input.get("blocks").is_none() {
                    return Err(fail(format!("{name}: give `text` or `blocks`"), false));
                }
                self.api(name, account, "chat.postMessage", Body::Json(input)).await
            }
            "slack.updateMessage" => self.api(name, account, "chat.update", Body::Json(input)).await,
            "slack.addReaction" => self.api(name, account, "reactions.add", Body::Json(input)).await,
            "slack.uploadFile" => self.upload(name, account, &input).await,
            "slack.lookupUserByEmail" => {
                let email = input["email"].as_str().unwrap_or_default().to_string();
                self.api(name, account, "users.lookupByEmail", Body::Form(vec![("email", email)])).await
            }
            other => Err(fail(format!("the slack connector has no operation `{other}`"), false)),
        }
    }
}

impl Connector for SlackConnector {
    fn operations(&self) -> &'static [Operation] {
        std::sync::LazyLock::force(&crate::catalog::SLACK).as_slice()
    }

    fn call<'a>(
        &'a self,
        operation: &'static Operation,
        input: Value,
        account: Option<Arc<Account>>,
        _: &'a Tokens,
    ) -> onset_engine::CallFuture<'a> {
        Box::pin(async move {
            let account = crate::required_account(operation, account)?;
            self.perform(operation, input, &account).await
        })
    }

    fn test_account<'a>(&'a self, account: &'a Account, _tokens: &'a Tokens) -> Option<crate::TestFuture<'a>> {
        (account.kind == "slack").then(|| {
            Box::pin(async move {
                let who = self
                    .api("account test", account, "auth.test", Body::Form(Vec::new()))
                    .await
                    .map_err(|e| e.message)?;
                Ok(format!(
                    "auth.test: Slack takes the token: user `{}` in team `{}`",
                    who["user"].as_str().unwrap_or("?"),
                    who["team"].as_str().unwrap_or("?")
                ))
            }) as crate::TestFuture<'a>
        })
    }
}
