//! The example project the README's run command serves works as the walk-through says.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[tokio::test]
async fn the_shop_example_verifies_shapes_and_forwards_orders() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop/components");
    let orders = std::fs::read_to_string(dir.join("orders.yaml")).unwrap();
    let audit = std::fs::read_to_string(dir.join("audit.yaml")).unwrap();
    let sample = std::fs::read_to_string(dir.join("../samples/order.json")).unwrap();
    // The example forwards to the audit component on the server's own address.
    let port = free_port();
    let mut options = Options::new(&[("orders.yaml", &orders), ("audit.yaml", &audit)])
        .env("ONSET_CONFIG__ORDERS__SECRET", SECRET)
        .env("ONSET_CONFIG__ORDERS__SINK", &format!("http://127.0.0.1:{port}/hooks/development/audit"));
    options.port = Some(port);
    let s = start_with(options).await;

    let unsigned = s.post_json("/hooks/development/orders", &json!({})).await;
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);

    let ts = now_secs();
    let sig = official_signature(SECRET, "msg_example", ts, &sample);
    let r = s
        .client
        .post(s.url("/hooks/development/orders"))
        .header("content-type", "application/json")
        .header("webhook-id", "msg_example")
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig)
        .body(sample.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let id = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    let run = s.wait_run_status(&id, "succeeded").await;
    assert_eq!(run["steps"][0]["output"], json!({ "order": "o-1001", "total": 42.5 }));

    // The forwarded order arrived at audit as an event of its own and ran there.
    let audit_events = s.get("/api/v1/events?component=audit").await;
    let forwarded = audit_events["items"][0]["id"].as_str().unwrap().to_string();
    let audit_event = s.wait_run_status(&forwarded, "succeeded").await;
    assert_eq!(audit_event["component"], "audit");
    let event = s.get(&format!("/api/v1/events/{forwarded}")).await;
    assert_eq!(event["payload"], json!({ "order": "o-1001", "total": 42.5 }));

    let r = s.client.put(s.url("/hooks/development/orders/orders/o-1001")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "every resource of the component is verified");
}
