use super::*;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::any;

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn connector(deny_private: bool) -> HttpConnector {
    HttpConnector::new(HttpConnectorOptions {
        policy: NetworkPolicy { deny_private },
        default_timeout: Duration::from_secs(5),
    })
    .unwrap()
}

async fn fake_api() -> SocketAddr {
    serve(
        Router::new()
            .route(
                "/echo",
                any(|headers: HeaderMap, body: String| async move {
                    let ct = headers.get("content-type").map(|v| v.to_str().unwrap().to_string());
                    (
                        [("content-type", "application/json")],
                        json!({ "got": body, "content_type": ct, "q": headers.get("x-q").map(|v| v.to_str().unwrap()) })
                            .to_string(),
                    )
                }),
            )
            .route("/missing", any(|| async { (StatusCode::NOT_FOUND, "no such thing") }))
            .route("/busy", any(|| async { StatusCode::SERVICE_UNAVAILABLE }))
            .route("/slow-down", any(|| async { StatusCode::TOO_MANY_REQUESTS }))
            .route(
                "/sleep",
                any(|| async {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    "late"
                }),
            ),
    )
    .await
}

#[tokio::test]
async fn object_bodies_go_as_json_and_json_answers_are_parsed() {
    let addr = fake_api().await;
    let out = connector(false)
        .request(json!({ "method": "post", "url": format!("http://{addr}/echo"), "body": { "a": 1 }, "headers": { "x-q": "v" } }))
        .await
        .unwrap();
    assert_eq!(out["status"], 200);
    assert_eq!(out["body"]["got"], r#"{"a":1}"#);
    assert_eq!(out["body"]["content_type"], "application/json");
    assert_eq!(out["body"]["q"], "v");
}

#[tokio::test]
async fn status_classes_decide_retryability() {
    let addr = fake_api().await;
    let c = connector(false);
    let e = c.request(json!({ "url": format!("http://{addr}/missing") })).await.unwrap_err();
    assert!(!e.retryable);
    assert!(e.message.contains("HTTP 404") && e.message.contains("no such thing"), "{}", e.message);
    assert!(c.request(json!({ "url": format!("http://{addr}/busy") })).await.unwrap_err().retryable);
    assert!(c.request(json!({ "url": format!("http://{addr}/slow-down") })).await.unwrap_err().retryable);
    let e = c.request(json!({ "url": format!("http://{addr}/sleep"), "timeout": "100ms" })).await.unwrap_err();
    assert!(e.retryable && e.message.contains("no answer"), "{}", e.message);
}

#[tokio::test]
async fn network_errors_are_retryable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let e = connector(false).request(json!({ "url": format!("http://{addr}/") })).await.unwrap_err();
    assert!(e.retryable, "{}", e.message);
}

#[tokio::test]
async fn metadata_is_refused_and_private_networks_on_request() {
    let e = connector(false).request(json!({ "url": "http://169.254.169.254/latest/meta-data/" })).await.unwrap_err();
    assert!(!e.retryable && e.message.contains("always refused"), "{}", e.message);
    let e = connector(false).request(json!({ "url": "http://metadata.google.internal/" })).await.unwrap_err();
    assert!(e.message.contains("cloud-metadata"), "{}", e.message);
    let addr = fake_api().await;
    // By IP literal and by a name that resolves to loopback.
    let e = connector(true).request(json!({ "url": format!("http://{addr}/echo") })).await.unwrap_err();
    assert!(e.message.contains("--deny-private-networks"), "{}", e.message);
    let e =
        connector(true).request(json!({ "url": format!("http://localhost:{}/echo", addr.port()) })).await.unwrap_err();
    assert!(!e.retryable && e.message.contains("--deny-private-networks"), "{}", e.message);
}

#[tokio::test]
async fn redirects_to_forbidden_addresses_are_refused() {
    let app = Router::new()
        .route("/go", any(|| async { (StatusCode::FOUND, [("location", "http://169.254.169.254/latest")], "") }));
    let addr = serve(app).await;
    let e = connector(false).request(json!({ "url": format!("http://{addr}/go") })).await.unwrap_err();
    assert!(e.message.contains("always refused"), "{}", e.message);
}

#[tokio::test]
async fn bad_input_is_explained() {
    let c = connector(false);
    assert!(c.request(json!({})).await.unwrap_err().message.contains("needs `url`"));
    assert!(c.request(json!({ "url": "ftp://x/" })).await.unwrap_err().message.contains("only http"));
    assert!(c.request(json!({ "url": "http://x/", "timeout": 5 })).await.unwrap_err().message.contains("duration"));
}

fn account(pairs: &[(&str, &str)]) -> Account {
    Account {
        environment: String::new(),
        name: "api".into(),
        kind: "http".into(),
        fields: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    }
}

/// Answers what authenticated the request: its Authorization header and query.
async fn whoami() -> SocketAddr {
    serve(Router::new().route(
        "/v2/whoami",
        any(|headers: HeaderMap, uri: axum::http::Uri| async move {
            let auth = headers.get("authorization").map(|v| v.to_str().unwrap().to_string());
            let key = headers.get("x-api-key").map(|v| v.to_str().unwrap().to_string());
            axum::Json(json!({ "authorization": auth, "x_api_key": key, "query": uri.query() }))
        }),
    ))
    .await
}

#[tokio::test]
async fn static_credentials_are_applied_and_base_url_prefixes_relative_urls() {
    let addr = whoami().await;
    let http = connector(false);
    let tokens = Tokens::default();
    let base = format!("http://{addr}/v2");
    let call = |a: Account| {
        let http = &http;
        let tokens = &tokens;
        async move { http.request_as(json!({ "url": "/whoami?x=1" }), Some(&a), tokens).await.unwrap()["body"].clone() }
    };
    let b = call(account(&[("auth", "bearer"), ("token", "t0k"), ("base_url", &base)])).await;
    assert_eq!(b["authorization"], "Bearer t0k");
    let b = call(account(&[("auth", "basic"), ("username", "ann"), ("password", "pw"), ("base_url", &base)])).await;
    assert_eq!(b["authorization"], "Basic YW5uOnB3");
    let b = call(account(&[("auth", "api_key"), ("name", "x-api-key"), ("value", "k1"), ("base_url", &base)])).await;
    assert_eq!(b["x_api_key"], "k1");
    let b =
        call(account(&[("auth", "api_key"), ("in", "query"), ("name", "key"), ("value", "k 2"), ("base_url", &base)]))
            .await;
    assert_eq!(b["query"], "x=1&key=k+2");
    // A header the step sets is replaced by the account's, not sent twice.
    let a = account(&[("auth", "bearer"), ("token", "mine"), ("base_url", &base)]);
    let out = http
        .request_as(json!({ "url": "whoami", "headers": { "Authorization": "Bearer theirs" } }), Some(&a), &tokens)
        .await
        .unwrap();
    assert_eq!(out["body"]["authorization"], "Bearer mine");
}

/// What the token endpoint was sent: the Authorization header and the form.
type Requests = Vec<(Option<String>, String)>;

/// A token endpoint (RFC 6749) and an API that takes only its current token.
#[derive(Clone, Default)]
struct Issuer {
    fetched: Arc<std::sync::atomic::AtomicUsize>,
    forms: Arc<std::sync::Mutex<Requests>>,
    revoked: Arc<std::sync::atomic::AtomicBool>,
}

async fn issuer(state: Issuer, refuse: bool) -> SocketAddr {
    use std::sync::atomic::Ordering;
    let token_state = state.clone();
    let api_state = state.clone();
    serve(
        Router::new()
            .route(
                "/token",
                any(move |headers: HeaderMap, body: String| {
                    let s = token_state.clone();
                    async move {
                        let n = s.fetched.fetch_add(1, Ordering::SeqCst) + 1;
                        let auth = headers.get("authorization").map(|v| v.to_str().unwrap().to_string());
                        s.forms.lock().unwrap().push((auth, body));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        if refuse {
                            return (
                                StatusCode::BAD_REQUEST,
                                axum::Json(json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})),
                            );
                        }
                        (StatusCode::OK, axum::Json(json!({"access_token": format!("at-{n}"), "token_type": "Bearer", "expires_in": 3599})))
                    }
                }),
            )
            .route(
                "/api",
                any(move |headers: HeaderMap| {
                    let s = api_state.clone();
                    async move {
                        let auth = headers.get("authorization").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
                        let current = format!("Bearer at-{}", s.fetched.load(Ordering::SeqCst));
                        if auth != current || s.revoked.swap(false, Ordering::SeqCst) {
                            return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_token"})));
                        }
                        (StatusCode::OK, axum::Json(json!({"auth": auth})))
                    }
                }),
            ),
    )
    .await
}

#[tokio::test]
async fn client_credentials_are_fetched_once_for_fifty_concurrent_calls_and_again_after_a_401() {
    use std::sync::atomic::Ordering;
    let state = Issuer::default();
    let addr = issuer(state.clone(), false).await;
    let http = Arc::new(connector(false));
    let tokens = Arc::new(Tokens::default());
    let a = Arc::new(account(&[
        ("auth", "oauth2_client_credentials"),
        ("token_url", &format!("http://{addr}/token")),
        ("client_id", "app"),
        ("client_secret", "s3cret"),
        ("scope", "read write"),
    ]));
    let mut calls = Vec::new();
    for _ in 0..50 {
        let (http, tokens, a) = (http.clone(), tokens.clone(), a.clone());
        let url = format!("http://{addr}/api");
        calls.push(tokio::spawn(async move { http.request_as(json!({ "url": url }), Some(&a), &tokens).await }));
    }
    for c in calls {
        assert_eq!(c.await.unwrap().unwrap()["body"]["auth"], "Bearer at-1");
    }
    assert_eq!(state.fetched.load(Ordering::SeqCst), 1, "one refresh for every caller");
    let (auth, form) = state.forms.lock().unwrap()[0].clone();
    assert_eq!(auth.as_deref(), Some("Basic YXBwOnMzY3JldA=="), "client_secret_basic");
    assert_eq!(form, "grant_type=client_credentials&scope=read+write");
    // The API stops taking the token: it is dropped, fetched again, and the call goes through.
    state.revoked.store(true, Ordering::SeqCst);
    let out = http.request_as(json!({ "url": format!("http://{addr}/api") }), Some(&a), &tokens).await.unwrap();
    assert_eq!(out["body"]["auth"], "Bearer at-2");
    assert_eq!(state.fetched.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_refused_refresh_names_the_account_the_providers_answer_and_the_fix() {
    let state = Issuer::default();
    let addr = issuer(state.clone(), true).await;
    let http = connector(false);
    let a = account(&[
        ("auth", "oauth2_refresh_token"),
        ("token_url", &format!("http://{addr}/token")),
        ("client_id", "app"),
        ("client_secret", "s3cret"),
        ("client_auth", "body"),
        ("refresh_token", "rt-old"),
    ]);
    let err = http
        .request_as(json!({ "url": format!("http://{addr}/api") }), Some(&a), &Tokens::default())
        .await
        .unwrap_err();
    assert!(!err.retryable, "{err:?}");
    for part in [
        "account `api`",
        "HTTP 400: invalid_grant (Token has been expired or revoked.)",
        "refresh_token",
        "onset account set api",
    ] {
        assert!(err.message.contains(part), "{part}: {}", err.message);
    }
    assert!(!err.message.contains("s3cret") && !err.message.contains("rt-old"), "{}", err.message);
    let (auth, form) = state.forms.lock().unwrap()[0].clone();
    assert_eq!(auth, None, "client_secret_post");
    assert_eq!(form, "grant_type=refresh_token&refresh_token=rt-old&client_id=app&client_secret=s3cret");
}

#[test]
fn retry_after_is_read_as_seconds_or_a_date_and_capped() {
    let mut h = reqwest::header::HeaderMap::new();
    assert_eq!(retry_after(&h), None);
    h.insert("retry-after", "120".parse().unwrap());
    assert_eq!(retry_after(&h), Some(Duration::from_secs(120)));
    h.insert("retry-after", "999999".parse().unwrap());
    assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
    let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(90);
    let date = jiff::fmt::rfc2822::to_string(&soon.to_zoned(jiff::tz::TimeZone::UTC)).unwrap();
    h.insert("retry-after", date.parse().unwrap());
    let wait = retry_after(&h).unwrap();
    assert!((85..=90).contains(&wait.as_secs()), "{date}: {wait:?}");
    h.insert("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
    assert_eq!(retry_after(&h), Some(Duration::ZERO), "a date in the past: now");
}

#[tokio::test]
async fn a_429_carries_the_providers_retry_after() {
    let addr = serve(
        Router::new()
            .route("/limited", any(|| async { (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "7")], "slow down") })),
    )
    .await;
    let err = connector(false).request(json!({ "url": format!("http://{addr}/limited") })).await.unwrap_err();
    assert!(err.retryable);
    assert_eq!(err.retry_after, Some(Duration::from_secs(7)));
}
