//! Traces: a local OTLP/HTTP receiver gets the spans of one event (ingest, verify, store, the run,
//! its steps and the outbound call) with the right parent links, under the caller's trace; the
//! sink of the call sees the call step's `traceparent`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};

use crate::support::*;

/// Collects every span exported to it (OTLP/HTTP, JSON encoding).
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let spans = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route(
            "/v1/traces",
            post(|State(spans): State<Arc<Mutex<Vec<Value>>>>, body: String| async move {
                let v: Value = serde_json::from_str(&body).unwrap();
                for rs in v["resourceSpans"].as_array().unwrap() {
                    for ss in rs["scopeSpans"].as_array().unwrap() {
                        spans.lock().unwrap().extend(ss["spans"].as_array().unwrap().iter().cloned());
                    }
                }
                "{}"
            }),
        )
        .with_state(spans.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), spans)
}

fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["attributes"].as_array()?.iter().find(|a| a["key"] == key)?["value"]["stringValue"].as_str()
}

#[tokio::test]
async fn one_event_is_one_trace_from_ingest_to_the_outbound_call() {
    let (endpoint, spans) = receiver().await;
    let sink = Sink::start(SinkPlan(vec![(200, 0)])).await;
    let yaml = format!(
        "component: traced\ntrigger: {{ type: http }}\nhandlers:\n  /:\n    POST:\n      steps:\n        - id: shaped\n          map: {{ n: \"{{{{ event.n }}}}\" }}\n        - call: http.request\n          with: {{ method: POST, url: \"{}\", body: \"{{{{ steps.shaped.output }}}}\" }}\n",
        sink.url()
    );
    let mut o = Options::new(&[("traced.yaml", &yaml)]);
    o.tune_with = Some(Arc::new(move |c| {
        c.otlp_endpoint = Some(endpoint.clone());
        // The JSON encoding, read here; the protobuf one (the default) is checked against
        // OpenTelemetry's own classes in the unit tests of `traces`.
        c.otlp_protocol = onset_server::OtlpProtocol::Json;
    }));
    let s = start_with(o).await;

    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let r = s
        .client
        .post(s.url("/hooks/development/traced"))
        .header("traceparent", format!("00-{caller_trace}-{caller_span}-01"))
        .json(&json!({ "n": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let event_id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    let run = s.wait_run_status(&event_id, "succeeded").await;

    // ingest, verify, store, run, two steps.
    let mut got = Vec::new();
    for _ in 0..100 {
        got = spans.lock().unwrap().clone();
        if got.len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(got.len(), 6, "{got:#?}");
    assert!(got.iter().all(|s| s["traceId"] == caller_trace), "one trace, the caller's: {got:#?}");
    let named = |prefix: &str| got.iter().find(|s| s["name"].as_str().unwrap().starts_with(prefix)).unwrap().clone();
    let ingest = named("ingest");
    assert_eq!(ingest["parentSpanId"], caller_span, "the incoming traceparent is the parent");
    assert_eq!(ingest["kind"], 2);
    assert_eq!(attr(&ingest, "onset.event_id"), Some(event_id.as_str()));
    assert_eq!(attr(&ingest, "onset.component"), Some("traced"));
    assert_eq!(attr(&ingest, "onset.environment"), Some("development"));
    for child in ["verify", "store"] {
        assert_eq!(named(child)["parentSpanId"], ingest["spanId"], "{child}");
    }
    let run_span = named("run");
    assert_eq!(run_span["parentSpanId"], ingest["spanId"]);
    assert_eq!(attr(&run_span, "onset.run_id"), run["id"].as_str());
    assert_eq!(attr(&run_span, "onset.event_id"), Some(event_id.as_str()));
    let map = named("step 0 map");
    let call = named("step 1 call");
    for step in [&map, &call] {
        assert_eq!(step["parentSpanId"], run_span["spanId"]);
    }
    assert_eq!(call["kind"], 3, "the outbound call is a client span");
    let (ingest_start, ingest_end): (u64, u64) = (
        ingest["startTimeUnixNano"].as_str().unwrap().parse().unwrap(),
        ingest["endTimeUnixNano"].as_str().unwrap().parse().unwrap(),
    );
    assert!(ingest_start <= ingest_end);

    // The sink saw the call step's context.
    let (headers, _) = sink.received().into_iter().next().unwrap();
    assert_eq!(headers["traceparent"], format!("00-{caller_trace}-{}-01", call["spanId"].as_str().unwrap()));

    // A caller that did not sample is not traced; without a traceparent a new trace starts.
    let before = spans.lock().unwrap().len();
    let r = s
        .client
        .post(s.url("/hooks/development/traced"))
        .header("traceparent", format!("00-{caller_trace}-{caller_span}-00"))
        .json(&json!({ "n": 2 }))
        .send()
        .await
        .unwrap();
    let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    s.wait_run_status(&id, "succeeded").await;
    let r = s.client.post(s.url("/hooks/development/traced")).json(&json!({ "n": 3 })).send().await.unwrap();
    let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    s.wait_run_status(&id, "succeeded").await;
    for _ in 0..100 {
        if spans.lock().unwrap().len() >= before + 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let later: Vec<Value> = spans.lock().unwrap()[before..].to_vec();
    assert_eq!(later.len(), 6, "only the third event is traced: {later:#?}");
    assert!(later.iter().all(|s| s["traceId"] != caller_trace && s["traceId"] == later[0]["traceId"]));
}
