//! An `http` account applied to one request: bearer, basic, an API key in a header or the query,
//! or an OAuth2 access token (client credentials or refresh token) from the token cache.

use std::time::Duration;

use base64::Engine as _;
use onset_engine::CallError;
use reqwest::header::{self, HeaderValue};
use serde_json::Value;

use super::{HttpConnector, ReadError, describe, fail, read_limited};
use crate::accounts::{Account, Tokens};

/// Token endpoint answers larger than this are not read.
const MAX_TOKEN_ANSWER: usize = 64 << 10;

pub(crate) fn secret_header(text: &str, account: &Account) -> Result<HeaderValue, CallError> {
    let mut value = HeaderValue::from_str(text).map_err(|_| {
        fail(format!("account `{}`: a credential holds characters a header cannot carry", account.name), false)
    })?;
    value.set_sensitive(true);
    Ok(value)
}

fn needs(account: &Account, field: &str) -> Result<String, CallError> {
    account.get(field).map(str::to_string).ok_or_else(|| {
        fail(
            format!(
                "account `{}` has no `{field}`; set it: `onset account set {} --type http --env ENV {field}=…`",
                account.name, account.name
            ),
            false,
        )
    })
}

/// Adds the account's credentials to `request`. For OAuth2, answers the cache key and token
/// used, so that a 401 can drop that token and fetch another.
pub(super) async fn apply(
    http: &HttpConnector,
    account: &Account,
    tokens: &Tokens,
    request: &mut reqwest::Request,
) -> Result<Option<(String, String)>, CallError> {
    let auth = account.get("auth").unwrap_or("none");
    match auth {
        "none" => Ok(None),
        "bearer" => {
            let token = needs(account, "token")?;
            request.headers_mut().insert(header::AUTHORIZATION, secret_header(&format!("Bearer {token}"), account)?);
            Ok(None)
        }
        "basic" => {
            let pair = format!("{}:{}", needs(account, "username")?, account.get("password").unwrap_or_default());
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            tokens.remember(&encoded);
            request.headers_mut().insert(header::AUTHORIZATION, secret_header(&format!("Basic {encoded}"), account)?);
            Ok(None)
        }
        "api_key" => {
            let (name, value) = (needs(account, "name")?, needs(account, "value")?);
            if account.get("in") == Some("query") {
                request.url_mut().query_pairs_mut().append_pair(&name, &value);
            } else {
                let name = header::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| fail(format!("account `{}`: `{name}` is not a header name", account.name), false))?;
                request.headers_mut().insert(name, secret_header(&value, account)?);
            }
            Ok(None)
        }
        "oauth2_client_credentials" | "oauth2_refresh_token" => {
            let key = account.fingerprint();
            let token = tokens.get(account, &key, || fetch_token(http, account, auth, tokens)).await?;
            request.headers_mut().insert(header::AUTHORIZATION, secret_header(&format!("Bearer {token}"), account)?);
            Ok(Some((key, token)))
        }
        other => Err(fail(format!("account `{}`: unknown auth `{other}`", account.name), false)),
    }
}

/// Asks the token endpoint for an access token (RFC 6749 §4.4 or §6), the client authenticated
/// with HTTP Basic (the default) or in the body.
async fn fetch_token(
    http: &HttpConnector,
    account: &Account,
    grant: &str,
    tokens: &Tokens,
) -> Result<(String, Option<Duration>), CallError> {
    let token_url = needs(account, "token_url")?;
    let client_id = needs(account, "client_id")?;
    let client_secret = account.get("client_secret");
    let basic = account.get("client_auth").unwrap_or("basic") == "basic" && client_secret.is_some();
    // Built before the first await: the serializer is not Send.
    let body = {
        let mut form = form_urlencoded::Serializer::new(String::new());
        if grant == "oauth2_refresh_token" {
            // The provider's rotated one, while the account as stored does not have it yet.
            let refresh = tokens.field(account, "refresh_token");
            let refresh = match refresh {
                Some(r) => r,
                None => needs(account, "refresh_token")?,
            };
            form.append_pair("grant_type", "refresh_token").append_pair("refresh_token", &refresh);
        } else {
            form.append_pair("grant_type", "client_credentials");
        }
        if let Some(scope) = account.get("scope") {
            form.append_pair("scope", scope);
        }
        if !basic {
            form.append_pair("client_id", &client_id);
            if let Some(secret) = client_secret {
                form.append_pair("client_secret", secret);
            }
        }
        form.finish()
    };
    let basic = match (basic, client_secret) {
        (true, Some(secret)) => {
            // RFC 6749 §2.3.1: both parts form-encoded, then Basic.
            let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", enc(&client_id), enc(secret)));
            Some(secret_header(&format!("Basic {pair}"), account)?)
        }
        _ => None,
    };
    let fix = format!(
        "check the account's client_id, client_secret{} and scope (`onset account set {} --type http --env ENV …`)",
        if grant == "oauth2_refresh_token" { ", refresh_token" } else { "" },
        account.name
    );
    let issued =
        token_endpoint(&http.client, http.options.default_timeout, account, &token_url, body, basic, &fix).await?;
    Ok(issued.keep(account, tokens))
}

/// A token endpoint's answer: the access token, its lifetime when given, and a new refresh
/// token when the provider rotates them.
pub(crate) struct Issued {
    pub token: String,
    pub life: Option<Duration>,
    pub refresh_token: Option<String>,
}

impl Issued {
    /// Keeps a rotated refresh token (the old one stops working) and answers what the token
    /// cache keeps.
    pub(crate) fn keep(self, account: &Account, tokens: &Tokens) -> (String, Option<Duration>) {
        let current = tokens.field(account, "refresh_token");
        if let Some(new) = self.refresh_token.filter(|r| !r.is_empty() && Some(r) != current.as_ref()) {
            tokens.rotated(account, "refresh_token", new);
        }
        (self.token, self.life)
    }
}

/// POSTs a token request (`body`, form-encoded) to `token_url` and reads the access token and its
/// lifetime from the answer (RFC 6749 §5.1); a refusal carries the provider's words (§5.2, never
/// the request's secrets) and ends with `fix`.
pub(crate) async fn token_endpoint(
    client: &reqwest::Client,
    timeout: Duration,
    account: &Account,
    token_url: &str,
    body: String,
    authorization: Option<HeaderValue>,
    fix: &str,
) -> Result<Issued, CallError> {
    let mut req = client
        .post(token_url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .timeout(timeout);
    if let Some(value) = authorization {
        req = req.header(header::AUTHORIZATION, value);
    }
    let name = &account.name;
    let refused = |why: String, retryable: bool| {
        fail(format!("account `{name}`: cannot get an access token from {token_url}: {why}; {fix}"), retryable)
    };
    let mut resp = req.body(body).send().await.map_err(|e| refused(describe(&e), true))?;
    let status = resp.status();
    let body = read_limited(&mut resp, MAX_TOKEN_ANSWER).await.map_err(|e| match e {
        ReadError::Network(e) => refused(describe(&e), true),
        ReadError::TooLarge => refused(format!("the answer is over {MAX_TOKEN_ANSWER} bytes"), false),
    })?;
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !status.is_success() {
        let said = match (json["error"].as_str(), json["error_description"].as_str()) {
            (Some(e), Some(d)) => format!("{e} ({d})"),
            (Some(e), None) => e.to_string(),
            _ => String::from_utf8_lossy(&body).chars().take(200).collect(),
        };
        let code = status.as_u16();
        return Err(refused(format!("HTTP {code}: {said}"), status.is_server_error() || code == 429));
    }
    let Some(token) = json["access_token"].as_str().filter(|t| !t.is_empty()) else {
        return Err(refused("the answer has no access_token".into(), false));
    };
    let life = match &json["expires_in"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    let refresh_token = json["refresh_token"].as_str().map(str::to_string);
    Ok(Issued { token: token.to_string(), life: life.map(Duration::from_secs), refresh_token })
}

/// `onset account test` for an `http` account: GET its `test_url` with the credentials, or for
/// OAuth2 without one, obtain a token (never from the cache: the point is to ask now).
pub(super) async fn test(http: &HttpConnector, account: &Account, tokens: &Tokens) -> Result<String, String> {
    let fresh = Tokens::default();
    if let Some(url) = account.get("test_url") {
        let out =
            http.request_as(serde_json::json!({ "url": url }), Some(account), &fresh).await.map_err(|e| e.message)?;
        return Ok(format!("GET {url} answered HTTP {}", out["status"]));
    }
    match account.get("auth").unwrap_or("none") {
        grant @ ("oauth2_client_credentials" | "oauth2_refresh_token") => {
            // A rotated refresh token is kept through the registry's tokens, not the fresh cache.
            let (_, life) = fetch_token(http, account, grant, tokens).await.map_err(|e| e.message)?;
            let life = life.map_or_else(String::new, |d| format!(", valid for {} s", d.as_secs()));
            Ok(format!("the token endpoint issued an access token{life}"))
        }
        _ => Err(format!(
            "nothing to call: give account `{}` a `test_url` these credentials can GET \
             (`onset account set {} --type http --env ENV test_url=https://…`)",
            account.name, account.name
        )),
    }
}
