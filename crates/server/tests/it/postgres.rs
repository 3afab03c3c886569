//! One node on PostgreSQL (`--database-url`): everything it keeps is in the database, survives a
//! restart, and a second node on the same schema is refused until clustering lands.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::support::*;

fn database_url() -> String {
    std::env::var("ONSET_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema of its own, dropped at the end.
struct Schema(String);

impl Schema {
    fn new() -> Schema {
        Schema(format!("onset_it_{}", uuid::Uuid::new_v4().simple()))
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .arg(database_url())
            .args(["-q", "-c", &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0)])
            .status();
    }
}

const ORDERS: &str = r#"
component: orders
trigger:
  type: http
  with:
    delivery_id: "{{ meta.headers['x-request-id'] }}"
config:
  greeting: { type: string, default: hello }
handlers:
  /:
    POST:
      steps:
        - id: shaped
          map: { total: "{{ event.n * 2 }}", greeting: "{{ config.greeting }}" }
        - log: "{{ steps.shaped.output.greeting }} {{ steps.shaped.output.total }}"
"#;

#[tokio::test]
async fn one_node_on_postgresql_keeps_everything_in_the_database() {
    let schema = Schema::new();
    let mut o = Options::new(&[("orders.yaml", ORDERS)]);
    let name = schema.0.clone();
    o.tune_with = Some(Arc::new(move |c| {
        c.database_url = Some(database_url());
        c.database_schema = Some(name.clone());
    }));
    let s = start_with(o.clone_for_restart()).await;

    let send = |id: &'static str, n: i64| {
        s.client.post(s.url("/hooks/development/orders")).header("x-request-id", id).json(&json!({ "n": n })).send()
    };
    let first = send("r-1", 21).await.unwrap();
    assert_eq!(first.status(), 202);
    let event_id = first.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    assert_eq!(send("r-1", 21).await.unwrap().status(), 200, "a redelivery is a duplicate");
    let run = s.wait_run_status(&event_id, "succeeded").await;
    assert_eq!(run["steps"][0]["output"], json!({ "total": 42, "greeting": "hello" }));

    // Config is sealed into the database and applied at once.
    let r = s
        .api
        .put(s.url("/api/v1/config/orders?environment=development"))
        .json(&json!({ "values": { "greeting": "hi" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let second = send("r-2", 1).await.unwrap();
    let second_id = second.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    assert_eq!(s.wait_run_status(&second_id, "succeeded").await["steps"][0]["output"]["greeting"], "hi");
    assert!(!s.data_dir().join("onset.db").exists(), "nothing is kept in SQLite");

    // A second node on the same schema is refused, saying why.
    let other = tempfile::tempdir().unwrap();
    let mut config = onset_server::ServerConfig::new(other.path().to_path_buf());
    config.database_url = Some(database_url());
    config.database_schema = Some(schema.0.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = onset_server::run(config, listener, tokio_util::sync::CancellationToken::new()).await;
    let why = format!("{:?}", refused.expect_err("a second node must not start"));
    assert!(why.contains("one node per database"), "{why}");

    // After a restart the history, the deployment and the config are all there.
    let s = s.restart(&o).await;
    let events = s.events().await;
    assert_eq!(events.len(), 2);
    let deployments = s.get("/api/v1/deployments").await;
    assert_eq!(deployments["items"].as_array().unwrap().len(), 1, "the same build is not deployed again");
    let third = send_after(&s, "r-3").await;
    assert_eq!(s.wait_run_status(&third, "succeeded").await["steps"][0]["output"]["greeting"], "hi");
}

async fn send_after(s: &TestServer, id: &str) -> String {
    let r = s
        .client
        .post(s.url("/hooks/development/orders"))
        .header("x-request-id", id)
        .json(&json!({ "n": 5 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string()
}
