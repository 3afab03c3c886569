//! OAuth2 for managed APIs (`trigger.with.security: { scheme: oauth2 }`).
//!
//! Onset's own authorization server: `POST /oauth2/token` takes an application's client id and
//! secret (client-credentials grant, RFC 6749 §4.4) and answers an Ed25519-signed JWT (RFC 9068)
//! whose `aud` names the APIs the application is subscribed to, `<base>/hooks/<env>/<component>`.
//! Signing keys live in the store, their private half sealed with the master key, so every node
//! signs and checks with the same keys; a new key is made when the newest is
//! `--oauth2-key-rotation` old, and earlier ones stay published at `/.well-known/jwks.json` while
//! tokens they signed can still be valid.
//!
//! At the ingress a token is checked against Onset's keys or an external issuer's JWKS (fetched,
//! kept for [`JWKS_KEPT_FOR`] and fetched again when a token names a key it does not hold). A
//! token's signature is checked once and remembered until it expires; its claims each time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use onset_gateway::jwt::{self, Claims, Expect, SigningKey, TokenError, VerifyingKey};
use onset_gateway::security::OAuth2 as Scheme;
use onset_store::SigningKeyRow;
use serde_json::{Map, Value, json};

use crate::app::{App, now_ms};
use crate::error::ApiError;

/// How long an external issuer's keys are used before they are fetched again.
pub const JWKS_KEPT_FOR: Duration = Duration::from_secs(300);
/// An issuer's JWKS is fetched at most this often, however many unknown keys tokens name.
pub const JWKS_REFETCH_AFTER: Duration = Duration::from_secs(1);
/// Tokens whose signature was checked, remembered at most.
const REMEMBER_AT_MOST: usize = 10_000;
/// The name the private keys are sealed under (it is no component's).
const SEALED_AS: &str = "~oauth2";

#[derive(Default)]
pub struct OAuth2 {
    own: RwLock<Arc<OwnKeys>>,
    /// One load or rotation of the own keys at a time.
    loading: tokio::sync::Mutex<()>,
    remote: Mutex<HashMap<String, Arc<Remote>>>,
    /// Token → whose keys checked it and its claims.
    checked: Mutex<HashMap<Box<str>, Checked>>,
    client: std::sync::OnceLock<reqwest::Client>,
}

#[derive(Default)]
struct OwnKeys {
    /// The newest key and when it was made (ms).
    signing: Option<(Arc<SigningKey>, i64)>,
    public: Vec<VerifyingKey>,
    loaded: Option<Instant>,
}

#[derive(Default)]
struct Remote {
    keys: Mutex<(Arc<Vec<VerifyingKey>>, Option<Instant>)>,
    fetching: tokio::sync::Mutex<()>,
}

/// A token whose signature was checked: by whose keys, and its claims.
type Checked = (Arc<str>, Arc<Map<String, Value>>);

/// Whose keys sign the tokens an API takes.
const OWN: &str = "onset";

/// Why a token request is refused (RFC 6749 §5.2).
#[derive(Debug)]
pub struct TokenRequestError {
    status: StatusCode,
    error: &'static str,
    description: String,
    basic: bool,
}

impl TokenRequestError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self { status, error, description: description.into(), basic: false }
    }
}

impl From<TokenRequestError> for ApiError {
    fn from(e: TokenRequestError) -> Self {
        let mut out = ApiError::new(e.status, e.error, e.description.clone());
        out.full = Some(Box::new(json!({
            "error": e.error, "error_description": e.description, "code": e.error, "message": e.description
        })));
        if e.basic {
            out = out.with_header(axum::http::header::WWW_AUTHENTICATE, r#"Basic realm="onset""#.to_string());
        }
        out
    }
}

impl OAuth2 {
    fn own(&self) -> Arc<OwnKeys> {
        self.own.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn client(&self) -> &reqwest::Client {
        self.client.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::limited(3))
                .build()
                .unwrap_or_default()
        })
    }

    /// Forgets the tokens checked (the keys changed).
    fn forget_checked(&self) {
        self.checked.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    fn remember(&self, token: &str, source: Arc<str>, claims: Arc<Map<String, Value>>, now: i64) {
        let mut checked = self.checked.lock().unwrap_or_else(PoisonError::into_inner);
        if checked.len() >= REMEMBER_AT_MOST {
            checked.retain(|_, (_, c)| c.get("exp").and_then(Value::as_i64).is_some_and(|exp| exp > now));
            if checked.len() >= REMEMBER_AT_MOST {
                checked.clear();
            }
        }
        checked.insert(token.into(), (source, claims));
    }

    fn recalled(&self, token: &str, source: &str) -> Option<Arc<Map<String, Value>>> {
        let checked = self.checked.lock().unwrap_or_else(PoisonError::into_inner);
        checked.get(token).filter(|(s, _)| &**s == source).map(|(_, c)| c.clone())
    }
}

/// The signing keys are (re)read from the store.
async fn load_own(app: &App) -> Result<Arc<OwnKeys>, String> {
    let rows = app.store.signing_keys().await.map_err(|e| e.to_string())?;
    let keyring = app.keyring();
    let mut public = Vec::with_capacity(rows.len());
    for row in &rows {
        let jwk: Value = serde_json::from_str(&row.public_jwk).map_err(|e| format!("signing key {}: {e}", row.kid))?;
        if let Some(k) = VerifyingKey::from_jwk(&jwk)? {
            public.push(k);
        }
    }
    // The newest key signs, if this node holds the master key it was sealed with.
    let signing = match rows.first() {
        Some(row) => match keyring.get(&row.key_id).map(|k| k.open(SEALED_AS, "", &row.kid, &row.sealed)) {
            Some(Ok(b64)) => {
                let pkcs8 = base64::engine::general_purpose::STANDARD.decode(b64).map_err(|e| e.to_string())?;
                Some((Arc::new(SigningKey::from_pkcs8(&pkcs8)?), row.created_at))
            }
            Some(Err(e)) => return Err(e),
            None => None,
        },
        None => None,
    };
    let keys = Arc::new(OwnKeys { signing, public, loaded: Some(Instant::now()) });
    *app.oauth2.own.write().unwrap_or_else(PoisonError::into_inner) = keys.clone();
    Ok(keys)
}

/// The key new tokens are signed with: the newest, or a new one when there is none, this node
/// cannot open it, or it is `--oauth2-key-rotation` old.
async fn signing_key(app: &App) -> Result<Arc<SigningKey>, String> {
    let rotation = i64::try_from(app.config.oauth2_key_rotation.as_millis()).unwrap_or(i64::MAX);
    let current = |keys: &OwnKeys| {
        keys.signing.as_ref().filter(|(_, made)| now_ms().saturating_sub(*made) < rotation).map(|(k, _)| k.clone())
    };
    if let Some(k) = current(&app.oauth2.own()) {
        return Ok(k);
    }
    let _one = app.oauth2.loading.lock().await;
    let keys = load_own(app).await?;
    if let Some(k) = current(&keys) {
        return Ok(k);
    }
    rotate(app).await?;
    let keys = load_own(app).await?;
    keys.signing.as_ref().map(|(k, _)| k.clone()).ok_or_else(|| "the new signing key could not be read back".into())
}

/// Makes a new signing key and drops those no valid token can name any more.
pub async fn rotate(app: &App) -> Result<String, String> {
    let (key, pkcs8) = SigningKey::generate()?;
    let keyring = app.keyring();
    let sealing = keyring.sealing();
    let b64 = base64::engine::general_purpose::STANDARD.encode(pkcs8);
    let now = now_ms();
    let row = SigningKeyRow {
        kid: key.kid.clone(),
        public_jwk: key.verifying_key().to_jwk().to_string(),
        sealed: sealing.seal(SEALED_AS, "", &key.kid, &b64)?,
        key_id: sealing.id.clone(),
        created_at: now,
    };
    let existing = app.store.signing_keys().await.map_err(|e| e.to_string())?;
    let lifetime = i64::try_from(app.config.oauth2_token_lifetime.as_millis()).unwrap_or(i64::MAX);
    app.store.add_signing_key(row, drop_before(&existing, now, lifetime)).await.map_err(|e| e.to_string())?;
    tracing::info!(kid = %key.kid, "made a new OAuth2 signing key");
    Ok(key.kid.clone())
}

/// Keys made before the answer are dropped: a key stays while a token it signed can be valid,
/// i.e. until the next newer key is `lifetime` old (the newest stays, being replaced now).
fn drop_before(newest_first: &[SigningKeyRow], now: i64, lifetime: i64) -> i64 {
    let mut keep_from = now;
    let mut replaced_at = now;
    for row in newest_first {
        if replaced_at.saturating_add(lifetime) <= now {
            break;
        }
        keep_from = row.created_at;
        replaced_at = row.created_at;
    }
    keep_from
}

/// `GET /.well-known/jwks.json`: every key that may have signed a valid token.
pub async fn jwks(app: &App) -> Result<Value, String> {
    if app.oauth2.own().loaded.is_none_or(|at| at.elapsed() > Duration::from_secs(5)) {
        let _one = app.oauth2.loading.lock().await;
        load_own(app).await?;
    }
    if app.oauth2.own().public.is_empty() {
        signing_key(app).await?;
    }
    let keys: Vec<Value> = app.oauth2.own().public.iter().map(VerifyingKey::to_jwk).collect();
    Ok(json!({ "keys": keys }))
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
pub fn metadata(base: &str) -> Value {
    json!({
        "issuer": base,
        "token_endpoint": format!("{base}/oauth2/token"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "response_types_supported": ["token"],
        "token_endpoint_auth_signing_alg_values_supported": ["EdDSA"]
    })
}

/// `POST /oauth2/token`: a client-credentials grant.
pub async fn issue(app: &App, base: &str, headers: &HeaderMap, body: &[u8]) -> Result<Value, TokenRequestError> {
    let bad = |error: &'static str, d: String| TokenRequestError::new(StatusCode::BAD_REQUEST, error, d);
    let form: Vec<(String, String)> =
        form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let one = |name: &str| -> Result<Option<&str>, TokenRequestError> {
        let mut values = form.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(bad("invalid_request", format!("`{name}` is given more than once")));
        }
        Ok(first)
    };
    match one("grant_type")? {
        Some("client_credentials") => {}
        Some(other) => {
            return Err(bad(
                "unsupported_grant_type",
                format!("grant_type `{other}` is not offered; use client_credentials"),
            ));
        }
        None => return Err(bad("invalid_request", "the form needs grant_type=client_credentials".into())),
    }
    // The client authenticates with HTTP Basic or in the form, not both (RFC 6749 §2.3.1).
    let basic = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
        let (scheme, rest) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("basic").then(|| rest.trim().to_string())
    });
    let (client_id, secret, by_basic) = match (basic, one("client_id")?, one("client_secret")?) {
        (Some(b), _, None) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b)
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .ok_or_else(|| bad("invalid_request", "the Basic credentials are not base64 of id:secret".into()))?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| bad("invalid_request", "the Basic credentials are not id:secret".into()))?;
            (form_decode(id), form_decode(secret), true)
        }
        (None, Some(id), Some(secret)) => (id.to_string(), secret.to_string(), false),
        (Some(_), _, Some(_)) => {
            return Err(bad(
                "invalid_request",
                "give the client secret in the Authorization header or the form, not both".into(),
            ));
        }
        (None, _, _) => {
            let mut e = TokenRequestError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "authenticate the client: HTTP Basic with the client id and secret, or client_id and client_secret in the form",
            );
            e.basic = true;
            return Err(e);
        }
    };
    let application = app.store.application_by_client_id(client_id.clone()).await.map_err(internal)?;
    let Some(application) = application.filter(|a| a.secret_hash == crate::auth::hash(&secret)) else {
        let mut e =
            TokenRequestError::new(StatusCode::UNAUTHORIZED, "invalid_client", "the client id or secret is wrong");
        e.basic = by_basic;
        return Err(e);
    };

    let named: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "resource" || k == "audience")
        .flat_map(|(_, v)| v.split_ascii_whitespace())
        .collect();
    mint(app, base, &application, &named, one("scope")?, |_| true).await
}

/// A token for `application`: for the APIs `named` (all its subscribed APIs that take Onset's
/// tokens and whose environment `allowed` lets through, when none is named), with the scopes
/// asked (all those APIs define when none).
pub async fn mint(
    app: &App,
    base: &str,
    application: &onset_store::ApplicationRow,
    named: &[&str],
    asked: Option<&str>,
    allowed: impl Fn(&str) -> bool,
) -> Result<Value, TokenRequestError> {
    let bad = |error: &'static str, d: String| TokenRequestError::new(StatusCode::BAD_REQUEST, error, d);
    // The APIs the token is for: those named (RFC 8707 `resource`, or `audience`), else every
    // subscribed API that takes Onset's tokens.
    let subscriptions = app.store.subscriptions(Some(application.id.clone()), None).await.map_err(internal)?;
    let offered: Vec<(String, Vec<String>)> = subscriptions
        .iter()
        .filter(|s| allowed(&s.environment))
        .filter_map(|s| {
            let d = app.active(&s.environment, &s.component)?;
            let onset_gateway::security::Security::OAuth2(scheme) = &d.security else { return None };
            if scheme.external.is_some() {
                return None;
            }
            let scopes = scheme.all_scopes().into_iter().map(str::to_string).collect();
            Some((format!("{base}/hooks/{}/{}", s.environment, s.component), scopes))
        })
        .collect();
    let audiences: Vec<&(String, Vec<String>)> = if named.is_empty() {
        offered.iter().collect()
    } else {
        let mut out = Vec::new();
        for n in named {
            let n = n.trim_end_matches('/');
            let Some(api) = offered.iter().find(|(url, _)| url == n) else {
                return Err(bad(
                    "invalid_target",
                    format!(
                        "`{n}` is not an API application `{}` is subscribed to that takes Onset's tokens; it may ask for {}",
                        application.name,
                        list(offered.iter().map(|(u, _)| u.as_str()))
                    ),
                ));
            };
            out.push(api);
        }
        out
    };
    if audiences.is_empty() {
        return Err(bad(
            "invalid_target",
            format!(
                "application `{}` is subscribed to no API that takes Onset's OAuth2 tokens (security scheme oauth2 without an external issuer); subscribe it first",
                application.name
            ),
        ));
    }
    let allowed: Vec<&str> = audiences.iter().flat_map(|(_, s)| s.iter().map(String::as_str)).collect();
    let scopes: Vec<&str> = match asked {
        Some(asked) => {
            let asked: Vec<&str> = asked.split_ascii_whitespace().collect();
            if let Some(unknown) = asked.iter().find(|s| !allowed.contains(s)) {
                return Err(bad(
                    "invalid_scope",
                    format!(
                        "scope `{unknown}` is not one these APIs define; they define {}",
                        list(allowed.iter().copied())
                    ),
                ));
            }
            asked
        }
        None => allowed,
    };
    let mut scopes_once: Vec<&str> = Vec::with_capacity(scopes.len());
    for s in scopes {
        if !scopes_once.contains(&s) {
            scopes_once.push(s);
        }
    }
    let key = signing_key(app).await.map_err(TokenRequestError::internal)?;
    let now = now_ms() / 1000;
    let lifetime = i64::try_from(app.config.oauth2_token_lifetime.as_secs()).unwrap_or(i64::MAX / 2);
    let aud = if audiences.len() == 1 {
        json!(audiences[0].0)
    } else {
        json!(audiences.iter().map(|(u, _)| u).collect::<Vec<_>>())
    };
    let scope = scopes_once.join(" ");
    let claims = json!({
        "iss": base, "sub": application.client_id, "client_id": application.client_id, "aud": aud,
        "iat": now, "nbf": now, "exp": now + lifetime, "jti": uuid::Uuid::new_v4().to_string(), "scope": scope
    });
    Ok(json!({
        "access_token": key.sign(&claims), "token_type": "Bearer", "expires_in": lifetime, "scope": scope
    }))
}

impl TokenRequestError {
    fn internal(detail: String) -> Self {
        tracing::error!(%detail, "cannot issue an OAuth2 token");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the token could not be issued; the server log has the detail",
        )
    }
}

fn internal(e: onset_store::StoreError) -> TokenRequestError {
    TokenRequestError::internal(e.to_string())
}

fn list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let all: Vec<String> = items.map(|s| format!("`{s}`")).collect();
    if all.is_empty() { "none".into() } else { all.join(", ") }
}

/// A form-urlencoded value decoded (`+` is a space).
fn form_decode(s: &str) -> String {
    form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// Why a bearer token does not let a request through.
pub enum Refused {
    /// 401 (`token_*`).
    Token(TokenError),
    /// The external issuer's keys could not be had (503).
    Unavailable(String),
}

/// Checks a bearer token for an API: signature by Onset's keys or the external issuer's, then
/// issuer, audience and time. The scope and subscription checks are the caller's.
pub async fn check(app: &App, scheme: &Scheme, token: &str, base: &str, api_url: &str) -> Result<Claims, Refused> {
    let now = now_ms() / 1000;
    let (source, issuer, audience): (&str, &str, &str) = match &scheme.external {
        None => (OWN, base, api_url),
        Some(e) => (&e.jwks_url, &e.issuer, e.audience.as_deref().unwrap_or(api_url)),
    };
    let expect = Expect { issuer, audience, now, leeway: 0 };
    if let Some(claims) = app.oauth2.recalled(token, source) {
        return jwt::check_claims(&claims, &expect).map_err(Refused::Token);
    }
    let unverified = jwt::decode(token).map_err(Refused::Token)?;
    let key = match &scheme.external {
        None => own_key(app, &unverified).await?,
        Some(e) => remote_key(app, &e.jwks_url, &unverified).await?,
    };
    unverified.verify(&key).map_err(Refused::Token)?;
    let claims = jwt::check_claims(&unverified.claims, &expect).map_err(Refused::Token)?;
    app.oauth2.remember(token, Arc::from(source), Arc::new(unverified.claims), now);
    Ok(claims)
}

async fn own_key(app: &App, token: &jwt::Unverified<'_>) -> Result<VerifyingKey, Refused> {
    if let Some(k) = token.key_in(&app.oauth2.own().public) {
        return Ok(k.clone());
    }
    // Perhaps another node made a new key: read them again, at most once a second.
    {
        let _one = app.oauth2.loading.lock().await;
        if app.oauth2.own().loaded.is_none_or(|at| at.elapsed() >= JWKS_REFETCH_AFTER) {
            load_own(app).await.map_err(Refused::Unavailable)?;
        }
    }
    token.key_in(&app.oauth2.own().public).cloned().ok_or_else(|| {
        Refused::Token(TokenError {
            code: "token_invalid",
            message: "the token is signed by a key Onset does not have (foreign or expired long ago); get a new one from /oauth2/token".into(),
        })
    })
}

async fn remote_key(app: &App, url: &str, token: &jwt::Unverified<'_>) -> Result<VerifyingKey, Refused> {
    let remote = {
        let mut all = app.oauth2.remote.lock().unwrap_or_else(PoisonError::into_inner);
        all.entry(url.to_string()).or_default().clone()
    };
    let snapshot = || remote.keys.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let (keys, fetched) = snapshot();
    if fetched.is_some_and(|at| at.elapsed() < JWKS_KEPT_FOR)
        && let Some(k) = token.key_in(&keys)
    {
        return Ok(k.clone());
    }
    let _one = remote.fetching.lock().await;
    let (keys, fetched_now) = snapshot();
    let refreshed_meanwhile = fetched_now != fetched;
    let may_fetch = fetched_now.is_none_or(|at| at.elapsed() >= JWKS_REFETCH_AFTER);
    let keys = if !refreshed_meanwhile && may_fetch {
        match fetch_jwks(app, url).await {
            Ok(fresh) => {
                // A key withdrawn: the tokens it signed are checked again (and refused).
                if keys.iter().any(|k| !fresh.contains(k)) {
                    app.oauth2.forget_checked();
                }
                let fresh = Arc::new(fresh);
                *remote.keys.lock().unwrap_or_else(PoisonError::into_inner) = (fresh.clone(), Some(Instant::now()));
                fresh
            }
            // The keys held still check tokens while the issuer cannot be reached.
            Err(e) if !keys.is_empty() => {
                tracing::warn!(url, error = %e, "cannot fetch the issuer's JWKS; using the keys held");
                keys
            }
            Err(e) => return Err(Refused::Unavailable(e)),
        }
    } else {
        keys
    };
    token.key_in(&keys).cloned().ok_or_else(|| {
        Refused::Token(TokenError {
            code: "token_invalid",
            message: match &token.kid {
                Some(kid) => format!("the issuer's JWKS has no key `{kid}`"),
                None => "the token names no key (`kid`) and the issuer's JWKS has more than one".into(),
            },
        })
    })
}

async fn fetch_jwks(app: &App, url: &str) -> Result<Vec<VerifyingKey>, String> {
    let resp = app.oauth2.client().get(url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("GET {url} answered {}", resp.status()));
    }
    let body = resp.bytes().await.map_err(|e| format!("GET {url}: {e}"))?;
    if body.len() > 1 << 20 {
        return Err(format!("the JWKS at {url} is over 1 MiB"));
    }
    jwt::parse_jwks(&body).map_err(|e| format!("{url}: {e}"))
}

/// Drops what is held after the signing keys changed on this node.
pub fn keys_changed(app: &App) {
    app.oauth2.forget_checked();
    *app.oauth2.own.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(OwnKeys::default());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kid: &str, at: i64) -> SigningKeyRow {
        SigningKeyRow {
            kid: kid.into(),
            public_jwk: String::new(),
            sealed: String::new(),
            key_id: String::new(),
            created_at: at,
        }
    }

    #[test]
    fn keys_stay_while_a_token_they_signed_can_be_valid() {
        let hour = 3_600_000;
        // k3 made at 10h (replaced now, at 20h), k2 at 9.5h, k1 at 1h: k2 was replaced at 10h,
        // more than an hour ago, so its tokens have all expired.
        let rows = [row("k3", 10 * hour), row("k2", 19 * hour / 2), row("k1", hour)];
        assert_eq!(drop_before(&rows, 20 * hour, hour), 10 * hour);
        // Replaced 30 minutes ago: k2 stays, k1 (replaced at 9.5h) goes.
        assert_eq!(drop_before(&rows, 10 * hour + hour / 2, hour), 19 * hour / 2);
        assert_eq!(drop_before(&[], 5, hour), 5);
    }

    #[test]
    fn form_values_are_decoded() {
        assert_eq!(form_decode("a%3Ab+c"), "a:b c");
    }
}
