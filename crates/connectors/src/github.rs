//! `github.*`: GitHub's REST API with a `github` account, either a token or a GitHub App
//! (an RS256 app JWT, exchanged for an installation token that is cached until shortly before it
//! expires and fetched once for every concurrent caller). GitHub's error answers become step
//! errors with its message and what to do; rate limits wait for their reset.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use onset_engine::CallError;
use reqwest::{Method, header};
use serde_json::{Value, json};

use crate::accounts::{Account, Tokens};
use crate::http::{HttpConnector, ReadError, describe, fail, read_limited, retry_after, segment};
use crate::{Connector, Operation};

/// The REST API when the account gives no `base_url` (GitHub Enterprise: `https://HOST/api/v3`).
pub const GITHUB_API: &str = "https://api.github.com";
const API_VERSION: &str = "2022-11-28";
const MAX_ANSWER: usize = 4 << 20;
/// An app JWT lives 9 minutes (GitHub takes at most 10) and claims to start a minute ago.
const JWT_LIFE: i64 = 540;
const JWT_SKEW: i64 = 60;

#[derive(Debug, Clone)]
pub struct GitHubConnector {
    client: reqwest::Client,
    timeout: Duration,
}

/// The app JWT GitHub asks for: RS256, `iss` the app id, `iat` a minute back, `exp` 9 minutes on.
pub fn app_jwt(app_id: &str, private_key_pem: &str, now: i64) -> Result<String, String> {
    let iss = app_id.parse::<u64>().map_or_else(|_| json!(app_id), |n| json!(n));
    crate::jwt::rs256(&json!({ "iat": now - JWT_SKEW, "exp": now + JWT_LIFE, "iss": iss }), private_key_pem)
}

/// What to do about a GitHub error status.
fn hint(status: u16, account: &str) -> String {
    match status {
        401 => format!(
            " (the credentials of account `{account}` are wrong or revoked: `onset account set {account} --type github --env ENV token=…`)"
        ),
        403 => " (the token or app lacks the permission, or the repository forbids it)".into(),
        404 => " (no such repository, issue or file, or the credentials cannot see it)".into(),
        _ => String::new(),
    }
}

impl GitHubConnector {
    /// Shares the `http` connector's client: the same network policy and TLS set-up.
    pub fn new(http: &HttpConnector) -> Self {
        Self { client: http.client.clone(), timeout: http.options.default_timeout }
    }

    fn base(account: &Account) -> &str {
        account.get("base_url").unwrap_or(GITHUB_API).trim_end_matches('/')
    }

    /// The token requests carry: the account's own, or the app's installation token.
    async fn token(&self, account: &Account, tokens: &Tokens) -> Result<String, CallError> {
        if let Some(token) = account.get("token") {
            return Ok(token.to_string());
        }
        let (Some(app_id), Some(pem), Some(installation)) =
            (account.get("app_id"), account.get("private_key"), account.get("installation_id"))
        else {
            return Err(fail(
                format!(
                    "account `{}` has neither `token` nor `app_id`, `private_key` and `installation_id`",
                    account.name
                ),
                false,
            ));
        };
        let key = format!("{}/installation", account.fingerprint());
        tokens.get(account, &key, || self.installation_token(account, app_id, pem, installation)).await
    }

    async fn installation_token(
        &self,
        account: &Account,
        app_id: &str,
        pem: &str,
        installation: &str,
    ) -> Result<(String, Option<Duration>), CallError> {
        let name = &account.name;
        let now = jiff::Timestamp::now().as_second();
        let jwt = app_jwt(app_id, pem, now).map_err(|why| fail(format!("account `{name}`: {why}"), false))?;
        let url = format!("{}/app/installations/{installation}/access_tokens", Self::base(account));
        let (status, answer, _) = self.send(Method::POST, &url, &jwt, None).await?;
        if status != 201 && status != 200 {
            let said = answer["message"].as_str().unwrap_or("no message");
            return Err(fail(
                format!(
                    "account `{name}`: GitHub refused an installation token (HTTP {status}: {said}); check `app_id`, \
                     `private_key` and `installation_id` (`onset account set {name} --type github --env ENV …`)"
                ),
                status >= 500 || status == 429,
            ));
        }
        let Some(token) = answer["token"].as_str() else {
            return Err(fail(format!("account `{name}`: GitHub's installation token answer has no token"), false));
        };
        let life = answer["expires_at"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|at| Duration::from_secs(u64::try_from(at.as_second() - now).unwrap_or(0)));
        Ok((token.to_string(), life))
    }

    /// One request: the status, the JSON answer and the wait GitHub asks for, if any.
    async fn send(
        &self,
        method: Method,
        url: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value, Option<Duration>), CallError> {
        let mut req = self
            .client
            .request(method, url)
            .bearer_auth(token)
            .header(header::ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", API_VERSION)
            .timeout(self.timeout);
        if let Some(b) = body {
            req = req.header(header::CONTENT_TYPE, "application/json").body(b.to_string());
        }
        let mut resp = req.send().await.map_err(|e| fail(format!("{url}: {}", describe(&e)), true))?;
        let status = resp.status().as_u16();
        // A secondary limit says Retry-After; the primary one says when the window resets.
        let reset = resp
            .headers()
            .get("x-ratelimit-reset")
            .and_then(|v| v.to_str().ok()?.parse::<i64>().ok())
            .filter(|_| resp.headers().get("x-ratelimit-remaining").is_some_and(|v| v == "0"))
            .map(|at| Duration::from_secs(u64::try_from(at - jiff::Timestamp::now().as_second()).unwrap_or(0).max(1)));
        let wait = retry_after(resp.headers()).or(reset).map(|w| w.min(crate::http::MAX_RETRY_AFTER));
        let bytes = read_limited(&mut resp, MAX_ANSWER).await.map_err(|e| match e {
            ReadError::Network(e) => fail(format!("{url}: {}", describe(&e)), true),
            ReadError::TooLarge => fail(format!("{url}: GitHub's answer is over {MAX_ANSWER} bytes"), false),
        })?;
        let answer = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, answer, wait))
    }

    /// A REST call that must succeed: errors carry GitHub's message, its validation details and
    /// a fix; rate limits are retried after their reset.
    async fn rest(
        &self,
        op: &str,
        account: &Account,
        tokens: &Tokens,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), CallError> {
        let token = self.token(account, tokens).await?;
        let url = format!("{}{path}", Self::base(account));
        let (status, answer, wait) = self.send(method.clone(), &url, &token, body).await?;
        if (200..300).contains(&status) || (method == Method::GET && status == 404) {
            return Ok((status, answer));
        }
        let said = answer["message"].as_str().unwrap_or("no message");
        let details: Vec<String> = answer["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| match (e["field"].as_str(), e["code"].as_str(), e["message"].as_str()) {
                (_, _, Some(m)) => m.to_string(),
                (Some(f), Some(c), None) => format!("{f}: {c}"),
                _ => e.to_string(),
            })
            .collect();
        let details = if details.is_empty() { String::new() } else { format!(" [{}]", details.join("; ")) };
        let limited = status == 429 || (status == 403 && wait.is_some());
        if status == 401 && account.get("token").is_none() {
            // The installation token went stale early: the next attempt fetches another.
            tokens.forget(&format!("{}/installation", account.fingerprint()), &token).await;
        }
        let hint = if limited { String::new() } else { hint(status, &account.name) };
        let mut e = fail(
            format!("{op}: GitHub answered HTTP {status}: {said}{details}{hint}"),
            limited || status >= 500 || status == 401 && account.get("token").is_none(),
        );
        if limited {
            e.retry_after = wait;
        }
        Err(e)
    }

    async fn perform(
        &self,
        op: &'static Operation,
        input: Value,
        account: &Account,
        tokens: &Tokens,
    ) -> Result<Value, CallError> {
        let name = op.name.as_str();
        let seg = |field: &str| -> String {
            let text = input[field].as_str().map_or_else(|| input[field].to_string(), str::to_string);
            segment(&text)
        };
        let repo = format!("/repos/{}/{}", seg("owner"), seg("repo"));
        let pick = |fields: &[&str]| -> Value {
            let mut out = serde_json::Map::new();
            for f in fields {
                if let Some(v) = input.get(*f) {
                    out.insert((*f).to_string(), v.clone());
                }
            }
            Value::Object(out)
        };
        let post = |path: String, body: Value| async move {
            self.rest(name, account, tokens, Method::POST, &path, Some(&body)).await.map(|(_, v)| v)
        };
        match name {
            "github.createIssue" => {
                post(format!("{repo}/issues"), pick(&["title", "body", "labels", "assignees", "milestone"])).await
            }
            "github.createComment" => {
                post(format!("{repo}/issues/{}/comments", input["issue_number"]), pick(&["body"])).await
            }
            "github.addLabels" => {
                let labels = post(format!("{repo}/issues/{}/labels", input["issue_number"]), pick(&["labels"])).await?;
                Ok(json!({ "labels": labels }))
            }
            "github.createCommitStatus" => {
                post(
                    format!("{repo}/statuses/{}", seg("sha")),
                    pick(&["state", "target_url", "description", "context"]),
                )
                .await
            }
            "github.putFile" => self.put_file(name, &input, &repo, account, tokens).await,
            other => Err(fail(format!("the github connector has no operation `{other}`"), false)),
        }
    }

    async fn put_file(
        &self,
        op: &str,
        input: &Value,
        repo: &str,
        account: &Account,
        tokens: &Tokens,
    ) -> Result<Value, CallError> {
        let content = match (input["content"].as_str(), input["content_base64"].as_str()) {
            (Some(text), None) => base64::engine::general_purpose::STANDARD.encode(text),
            (None, Some(b64)) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|e| fail(format!("{op}: `with.content_base64` is not base64: {e}"), false))?;
                base64::engine::general_purpose::STANDARD.encode(bytes)
            }
            _ => return Err(fail(format!("{op}: give `content` (text) or `content_base64`, one of them"), false)),
        };
        let path: String = input["path"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches('/')
            .split('/')
            .map(segment)
            .collect::<Vec<_>>()
            .join("/");
        let branch = input["branch"].as_str();
        let mut body = json!({ "message": input["message"], "content": content });
        if let Some(b) = branch {
            body["branch"] = json!(b);
        }
        // Updating needs the sha of the blob being replaced: asked for when not given.
        let sha = match input["sha"].as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                let query = branch.map(|b| format!("?ref={}", segment(b))).unwrap_or_default();
                let (status, found) = self
                    .rest(op, account, tokens, Method::GET, &format!("{repo}/contents/{path}{query}"), None)
                    .await?;
                if status == 404 { None } else { found["sha"].as_str().map(str::to_string) }
            }
        };
        let created = sha.is_none();
        if let Some(s) = sha {
            body["sha"] = json!(s);
        }
        let (_, mut answer) =
            self.rest(op, account, tokens, Method::PUT, &format!("{repo}/contents/{path}"), Some(&body)).await?;
        answer["created"] = json!(created);
        Ok(answer)
    }
}

impl Connector for GitHubConnector {
    fn operations(&self) -> &'static [Operation] {
        std::sync::LazyLock::force(&crate::catalog::GITHUB).as_slice()
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

    fn test_account<'a>(&'a self, account: &'a Account, _tokens: &'a Tokens) -> Option<crate::TestFuture<'a>> {
        (account.kind == "github").then(|| {
            Box::pin(async move {
                let fresh = Tokens::default();
                if account.get("token").is_none() {
                    self.token(account, &fresh).await.map_err(|e| e.message)?;
                    return Ok("GitHub issued an installation token for the app".to_string());
                }
                let (_, who) = self
                    .rest("account test", account, &fresh, Method::GET, "/user", None)
                    .await
                    .map_err(|e| e.message)?;
                Ok(format!("GET /user: GitHub takes the token: `{}`", who["login"].as_str().unwrap_or("?")))
            }) as crate::TestFuture<'a>
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_jwt_is_rs256_with_githubs_claims() {
        // A 2048-bit test key, PKCS#1 as GitHub issues them (generated for this test only).
        let pem = include_str!("../testdata/github-app-test-key.pem");
        let jwt = app_jwt("12345", pem, 1_700_000_000).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let decode = |p: &str| -> Value {
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
        };
        assert_eq!(decode(parts[0]), json!({ "alg": "RS256", "typ": "JWT" }));
        assert_eq!(decode(parts[1]), json!({ "iat": 1_699_999_940, "exp": 1_700_000_540, "iss": 12345 }));
        // The signature checks with the key's public half.
        let key = crate::jwt::rsa_key(pem).unwrap();
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            ring::signature::KeyPair::public_key(&key).as_ref(),
        );
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        public.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig).unwrap();
        assert!(app_jwt("1", "-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----", 0).is_err());
    }
}
