//! Rate limits of http triggers: the API's and a resource's, exact counts, the IETF headers on
//! the 429, nothing of a refused request stored, and credentials checked first.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

const LIMITED: &str = r#"
component: limited
trigger:
  type: http
  with: { rate_limit: 10/m }
handlers:
  /:
    POST: { steps: [ { log: ok } ] }
  /slow:
    POST:
      rate_limit: 2/m
      steps: [ { log: slow } ]
"#;

#[tokio::test]
async fn the_api_and_a_resource_take_exactly_their_limit_and_refusals_store_nothing() {
    let s = start(&[("limited.yaml", LIMITED)]).await;
    let post = |path: &'static str, n: u32| {
        s.client.post(s.url(&format!("/hooks/development/limited{path}"))).json(&json!({ "n": n })).send()
    };
    // The resource: 2 a minute, then 429 naming its policy; the refusal is not counted by the API.
    assert_eq!(post("/slow", 0).await.unwrap().status(), 202);
    assert_eq!(post("/slow", 1).await.unwrap().status(), 202);
    let r = post("/slow", 2).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let h = |name: &str| r.headers().get(name).unwrap().to_str().unwrap().to_string();
    let retry: u64 = h("retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(h("ratelimit-policy"), "\"resource\";q=2;w=60");
    assert_eq!(h("ratelimit"), format!("\"resource\";r=0;t={retry}"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");

    // The API: 10 a minute in all (2 went to /slow), so 8 more pass and the 11th is refused.
    for n in 0..8 {
        assert_eq!(post("", n).await.unwrap().status(), 202, "request {n}");
    }
    let r = post("", 8).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["ratelimit-policy"], "\"api\";q=10;w=60");
    assert!(r.headers()["ratelimit"].to_str().unwrap().starts_with("\"api\";r=0;t="));
    assert_eq!(post("/slow", 3).await.unwrap().status(), 429);

    // Exactly the accepted ones were stored.
    let events = s.wait_events(10).await;
    assert_eq!(events.len(), 10);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(s.events().await.len(), 10, "nothing of the 429s");
    let metrics = s.client.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.lines().any(|l| l.contains("onset_events_received_total")
            && l.contains("outcome=\"rate_limited\"")
            && l.ends_with(" 3")),
        "{metrics}"
    );
}

#[tokio::test]
async fn bad_credentials_are_401_before_a_limit_is_429() {
    let s = start(&[(
        "tok.yaml",
        "component: tok\ntrigger:\n  type: http\n  with: { rate_limit: 1/m, verify: { scheme: token, header: x-token, secret: s3cret } }\nhandlers:\n  /:\n    POST: { steps: [ { log: ok } ] }\n",
    )])
    .await;
    let send = |token: Option<&str>| {
        let mut r = s.client.post(s.url("/hooks/development/tok")).json(&json!({}));
        if let Some(t) = token {
            r = r.header("x-token", t);
        }
        r.send()
    };
    assert_eq!(send(Some("s3cret")).await.unwrap().status(), 202);
    assert_eq!(send(None).await.unwrap().status(), 401, "no credentials: 401 even over the limit");
    assert_eq!(send(Some("wrong")).await.unwrap().status(), 401);
    assert_eq!(send(Some("s3cret")).await.unwrap().status(), 429);
}

#[tokio::test]
async fn a_rate_that_does_not_parse_is_refused_at_deploy_with_its_place() {
    let err = deploy_error(&[(
        "bad.yaml",
        "component: bad\ntrigger:\n  type: http\n  with: { rate_limit: 10/sec }\nhandlers:\n  /:\n    POST:\n      rate_limit: lots\n      steps: [ { log: ok } ]\n",
    )])
    .await;
    assert!(err.contains("bad.yaml:4:") && err.contains("`10/sec` is not a rate"), "{err}");
    assert!(err.contains("bad.yaml:8:") && err.contains("`lots` is not a rate"), "{err}");
}

const PER_IP: &str = r#"
component: open
trigger:
  type: http
  with: { rate_limit_per_ip: 2/m }
handlers:
  /:
    POST: { steps: [ { log: ok } ] }
"#;

#[tokio::test]
async fn an_open_api_limits_each_client_address() {
    // The connection's address: every request here comes from 127.0.0.1.
    let s = start(&[("open.yaml", PER_IP)]).await;
    let post = |forwarded: Option<&'static str>| {
        let mut r = s.client.post(s.url("/hooks/development/open")).json(&json!({}));
        if let Some(f) = forwarded {
            r = r.header("x-forwarded-for", f);
        }
        r.send()
    };
    assert_eq!(post(None).await.unwrap().status(), 202);
    assert_eq!(post(Some("203.0.113.9")).await.unwrap().status(), 202, "not trusted: still 127.0.0.1");
    let r = post(None).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["ratelimit-policy"], "\"ip\";q=2;w=60");
    assert!(r.json::<serde_json::Value>().await.unwrap()["message"].as_str().unwrap().contains("per client address"));
    assert_eq!(s.events().await.len(), 2);

    // Behind a proxy: the address it adds last counts, each with its own allowance.
    let mut options = Options::new(&[("open.yaml", PER_IP)]);
    options.tune = Some(|c| c.client_ip_header = Some("x-forwarded-for".into()));
    let s = start_with(options).await;
    let post = |forwarded: &'static str| {
        s.client.post(s.url("/hooks/development/open")).header("x-forwarded-for", forwarded).json(&json!({})).send()
    };
    for _ in 0..2 {
        assert_eq!(post("198.51.100.1, 203.0.113.7").await.unwrap().status(), 202);
    }
    assert_eq!(post("203.0.113.7").await.unwrap().status(), 429, "the same client, whatever it claims before");
    assert_eq!(post("203.0.113.8").await.unwrap().status(), 202, "another client");
    assert_eq!(s.events().await.len(), 3);
}
