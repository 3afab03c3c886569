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
