//! `http.request`: method, url, headers, query, body, timeout. Object and list bodies are sent
//! as JSON. 2xx/3xx succeed; 4xx fails the step for good (408 and 429 may be retried); 5xx and
//! network errors are retryable.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use onset_engine::CallError;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde_json::{Map, Value, json};

use crate::accounts::{Account, Tokens};
use crate::network::NetworkPolicy;
use crate::{Connector, Operation};

pub(crate) mod auth;

/// Bodies of responses larger than this fail the step instead of filling memory.
const MAX_RESPONSE_BYTES: usize = 10 << 20;

#[derive(Debug, Clone)]
pub struct HttpConnectorOptions {
    pub policy: NetworkPolicy,
    /// Used when a step gives no `timeout`.
    pub default_timeout: Duration,
}

impl Default for HttpConnectorOptions {
    fn default() -> Self {
        Self { policy: NetworkPolicy::default(), default_timeout: Duration::from_secs(30) }
    }
}

#[derive(Debug, Clone)]
pub struct HttpConnector {
    pub(crate) client: reqwest::Client,
    pub(crate) options: HttpConnectorOptions,
}

/// Refuses names and addresses the policy forbids, after resolution, so a DNS answer cannot
/// smuggle a forbidden address past the check.
struct GuardedResolver(NetworkPolicy);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0;
        let host = name.as_str().to_string();
        Box::pin(async move {
            policy.check_host(&host).map_err(Refused)?;
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            for addr in &addrs {
                policy.check_ip(addr.ip()).map_err(|why| Refused(format!("{host} resolves to {why}")))?;
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

fn refused_in_chain(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<Refused>() {
            return Some(r.0.clone());
        }
        cur = e.source();
    }
    None
}

/// One path segment, percent-encoded (RFC 3986 unreserved characters kept).
#[cfg_attr(not(any(feature = "github", feature = "google")), allow(dead_code))]
pub(crate) fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) fn fail(message: impl Into<String>, retryable: bool) -> CallError {
    CallError { message: message.into(), retryable, retry_after: None }
}

impl HttpConnector {
    pub fn new(options: HttpConnectorOptions) -> Result<Self, String> {
        crate::install_crypto_provider();
        let policy = options.policy;
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver(policy)))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 5 {
                    return attempt.error("more than 5 redirects");
                }
                let verdict = match attempt.url().host() {
                    Some(url::Host::Ipv4(ip)) => policy.check_ip(ip.into()),
                    Some(url::Host::Ipv6(ip)) => policy.check_ip(ip.into()),
                    Some(url::Host::Domain(d)) => policy.check_host(d),
                    None => Ok(()),
                };
                match verdict {
                    Ok(()) => attempt.follow(),
                    Err(why) => attempt.error(Refused(why)),
                }
            }))
            .user_agent(concat!("onset/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self { client, options })
    }

    /// `http.request` without an account.
    pub async fn request(&self, input: Value) -> Result<Value, CallError> {
        self.request_as(input, None, &Tokens::default()).await
    }

    /// `http.request`, authenticated by `account` when one is given (its `base_url` prefixes a
    /// relative `url`).
    pub async fn request_as(
        &self,
        input: Value,
        account: Option<&Account>,
        tokens: &Tokens,
    ) -> Result<Value, CallError> {
        let Value::Object(input) = input else {
            return Err(fail("http.request takes `with: { method, url, headers, body }`", false));
        };
        let given = input.get("url").and_then(Value::as_str).ok_or_else(|| fail("http.request needs `url`", false))?;
        let joined;
        let url_text = match account.and_then(|a| a.get("base_url")) {
            Some(base) if !given.starts_with("http://") && !given.starts_with("https://") => {
                joined = format!("{}/{}", base.trim_end_matches('/'), given.trim_start_matches('/'));
                joined.as_str()
            }
            _ => given,
        };
        let url = reqwest::Url::parse(url_text).map_err(|e| fail(format!("`{url_text}` is not a URL: {e}"), false))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(fail(format!("`{url_text}`: only http and https URLs can be called"), false));
        }
        let policy = self.options.policy;
        match url.host() {
            Some(url::Host::Ipv4(ip)) => policy.check_ip(ip.into()).map_err(|e| fail(e, false))?,
            Some(url::Host::Ipv6(ip)) => policy.check_ip(ip.into()).map_err(|e| fail(e, false))?,
            Some(url::Host::Domain(d)) => policy.check_host(d).map_err(|e| fail(e, false))?,
            None => return Err(fail(format!("`{url_text}` has no host"), false)),
        }
        let method_text = input.get("method").and_then(Value::as_str).unwrap_or("GET").to_ascii_uppercase();
        let method = reqwest::Method::from_bytes(method_text.as_bytes())
            .map_err(|_| fail(format!("`{method_text}` is not an HTTP method"), false))?;
        let timeout = match input.get("timeout") {
            None | Some(Value::Null) => self.options.default_timeout,
            Some(Value::String(s)) => s
                .parse::<onset_model::Duration>()
                .map_err(|e| fail(format!("http.request timeout: {e}"), false))?
                .as_std(),
            Some(_) => return Err(fail("http.request `timeout` is a duration such as `10s`", false)),
        };

        let mut req = self.client.request(method, url).timeout(timeout);
        let mut has_content_type = false;
        let mut has_traceparent = false;
        if let Some(headers) = input.get("headers") {
            let Value::Object(headers) = headers else {
                return Err(fail("http.request `headers` is a mapping of names to values", false));
            };
            for (name, value) in headers {
                has_content_type |= name.eq_ignore_ascii_case("content-type");
                has_traceparent |= name.eq_ignore_ascii_case("traceparent");
                let text = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                req = req.header(name.as_str(), text);
            }
        }
        // A traced run's call carries its step's trace context (one given in `headers` wins).
        if !has_traceparent && let Some(tp) = onset_engine::trace::current_traceparent() {
            req = req.header("traceparent", tp);
        }
        if let Some(query) = input.get("query") {
            let Value::Object(query) = query else {
                return Err(fail("http.request `query` is a mapping of names to values", false));
            };
            let pairs: Vec<(String, String)> = query
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                .collect();
            req = req.query(&pairs);
        }
        match input.get("body") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => req = req.body(s.clone()),
            Some(other) => {
                if !has_content_type {
                    req = req.header("content-type", "application/json");
                }
                req = req.body(other.to_string());
            }
        }

        let mut request = req.build().map_err(|e| fail(format!("{url_text}: {}", describe(&e)), false))?;
        let bearer = match account {
            Some(a) => auth::apply(self, a, tokens, &mut request).await?,
            None => None,
        };
        let retry = bearer.as_ref().and_then(|_| request.try_clone());
        let sent = |request| async {
            self.client.execute(request).await.map_err(|e| match refused_in_chain(&e) {
                Some(why) => fail(why, false),
                None if e.is_timeout() => fail(format!("{url_text}: no answer within {timeout:?}"), true),
                None => fail(format!("{url_text}: {}", describe(&e)), true),
            })
        };
        let mut resp = sent(request).await?;
        // An OAuth2 token the API no longer takes (revoked, rotated early) is fetched again, once.
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED
            && let (Some((key, token)), Some(mut again), Some(a)) = (bearer, retry, account)
        {
            tokens.forget(&key, &token).await;
            auth::apply(self, a, tokens, &mut again).await?;
            resp = sent(again).await?;
        }
        let status = resp.status();
        let wait = retry_after(resp.headers());
        let mut headers = Map::new();
        for (name, value) in resp.headers() {
            headers.insert(name.as_str().to_string(), Value::String(String::from_utf8_lossy(value.as_bytes()).into()));
        }
        let is_json =
            resp.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|ct| ct.contains("json"));
        let body = read_limited(&mut resp, MAX_RESPONSE_BYTES).await.map_err(|e| match e {
            ReadError::Network(e) => fail(format!("{url_text}: {}", describe(&e)), true),
            ReadError::TooLarge => fail(format!("{url_text}: the response is over {MAX_RESPONSE_BYTES} bytes"), false),
        })?;
        let body = if body.is_empty() {
            Value::Null
        } else if is_json {
            serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()))
        } else {
            Value::String(String::from_utf8_lossy(&body).into())
        };
        let code = status.as_u16();
        if status.is_client_error() || status.is_server_error() {
            let retryable = status.is_server_error() || code == 408 || code == 429;
            let mut excerpt = body.to_string();
            excerpt.truncate(300);
            let mut e = fail(format!("{url_text} answered HTTP {code}: {excerpt}"), retryable);
            if matches!(code, 429 | 503) {
                e.retry_after = wait;
            }
            return Err(e);
        }
        Ok(json!({ "status": code, "headers": headers, "body": body }))
    }
}

impl Connector for HttpConnector {
    fn operations(&self) -> &'static [Operation] {
        std::sync::LazyLock::force(&crate::catalog::HTTP).as_slice()
    }

    fn call<'a>(
        &'a self,
        _: &'static Operation,
        input: Value,
        account: Option<std::sync::Arc<Account>>,
        tokens: &'a Tokens,
    ) -> onset_engine::CallFuture<'a> {
        Box::pin(async move { self.request_as(input, account.as_deref(), tokens).await })
    }

    fn test_account<'a>(&'a self, account: &'a Account, tokens: &'a Tokens) -> Option<crate::TestFuture<'a>> {
        (account.kind == "http").then(|| Box::pin(auth::test(self, account, tokens)) as crate::TestFuture<'a>)
    }
}

/// Why an answer was not read whole.
pub(crate) enum ReadError {
    Network(reqwest::Error),
    /// Longer than the limit the caller gave.
    TooLarge,
}

/// The answer's body, at most `max` bytes (a longer one is not kept in memory).
pub(crate) async fn read_limited(resp: &mut reqwest::Response, max: usize) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(ReadError::Network)? {
        if body.len() + chunk.len() > max {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The longest `Retry-After` honoured: a provider asking for more gets its run retried after this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3), at most [`MAX_RETRY_AFTER`].
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let text = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match text.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = jiff::fmt::rfc2822::parse(text).ok()?.timestamp();
            let secs = at.as_second().saturating_sub(jiff::Timestamp::now().as_second());
            Duration::from_secs(u64::try_from(secs).unwrap_or(0))
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The innermost cause is the informative one (e.g. "connection refused").
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut cur = std::error::Error::source(e);
    while let Some(s) = cur {
        msg = s.to_string();
        cur = s.source();
    }
    msg
}

#[cfg(test)]
mod tests;
