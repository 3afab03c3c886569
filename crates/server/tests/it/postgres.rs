//! Nodes on PostgreSQL (`--database-url`): everything is kept in the database and survives a
//! restart; a second node on the same schema shares it, and what is changed through one node is
//! in force on the other within a second or so.

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
    /// Started, not waited for: the test's nodes run on the runtime this drop blocks, and one may
    /// be inside a transaction the drop would wait on forever; once they are gone (at the latest
    /// when the test ends) it goes through. It gives up after a minute rather than linger.
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0);
        std::thread::spawn(move || {
            let _ = std::process::Command::new("psql")
                .env("PGOPTIONS", "--client-min-messages=warning -c lock_timeout=60s")
                .arg(database_url())
                .args(["-q", "-c", &sql])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        });
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

const TOKEN: &str = "onset_it_cluster_admin_token_0123456789abcdef";

/// Options for a node on `schema` with the shared admin token and master key.
fn node(schema: &str, files: &[(&str, &str)]) -> Options {
    let mut o = Options::new(files);
    let name = schema.to_string();
    o.tune_with = Some(Arc::new(move |c| {
        c.database_url = Some(database_url());
        c.database_schema = Some(name.clone());
        c.admin_token = Some(TOKEN.into());
        c.master_key = Some("ab".repeat(32));
    }));
    o
}

/// Polls `check` on node B until it holds, up to 5 s; answers how long it took.
async fn within_5s<F, Fut>(what: &str, mut check: F) -> std::time::Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while !check().await {
        assert!(start.elapsed() < std::time::Duration::from_secs(5), "{what} was not in force on node B within 5 s");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let took = start.elapsed();
    println!("cluster: {what} made through node A was in force on node B after {} ms", took.as_millis());
    took
}

#[tokio::test]
async fn a_change_through_one_node_is_in_force_on_the_other() {
    let schema = Schema::new();
    let a = start_with(node(&schema.0, &[("orders.yaml", ORDERS)])).await;
    // Node B starts on the same project: the same build, no second deployment.
    let b = start_with(node(&schema.0, &[("orders.yaml", ORDERS)])).await;
    assert_eq!(a.get("/api/v1/deployments").await["items"].as_array().unwrap().len(), 1);

    let send_b = |id: String| {
        b.client.post(b.url("/hooks/development/orders")).header("x-request-id", id).json(&json!({ "n": 1 })).send()
    };
    // A run accepted by B and handled anywhere sees the config A set.
    let r = a
        .api
        .put(a.url("/api/v1/config/orders?environment=development"))
        .json(&json!({ "values": { "greeting": "from-a" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut n = 0;
    within_5s("a config change", || {
        n += 1;
        let sent = send_b(format!("cfg-{n}"));
        async {
            let id = sent.await.unwrap().json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
            b.wait_run_status(&id, "succeeded").await["steps"][0]["output"]["greeting"] == "from-a"
        }
    })
    .await;

    // A pause through A: B accepts events but runs none of them.
    let r = a.api.post(a.url("/api/v1/components/orders/pause?environment=development")).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    within_5s("a pause", || async { b.get("/api/v1/components").await["items"][0]["paused"] == json!(true) }).await;
    let paused_id = send_b("while-paused".into()).await.unwrap().json::<Value>().await.unwrap()["event_id"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let run = &b.get(&format!("/api/v1/events/{paused_id}")).await["runs"][0];
    assert_eq!(run["status"], "queued", "no node runs a paused component's events: {run}");
    let r = a.api.post(a.url("/api/v1/components/orders/resume?environment=development")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    b.wait_run_status(&paused_id, "succeeded").await;

    // A deploy through A: B takes events with the new build.
    let changed = ORDERS.replace(
        "greeting: { type: string, default: hello }",
        "greeting: { type: string, default: hello }\n  extra: { type: string, default: two }",
    );
    let r = a
        .api
        .post(a.url("/api/v1/deployments"))
        .json(&json!({ "environment": "development", "source": changed }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let new_id = r.json::<Value>().await.unwrap()["deployment"]["id"].as_str().map(str::to_string);
    within_5s("a deploy", || async {
        let items = b.get("/api/v1/components").await["items"].clone();
        items[0]["deployment_id"].as_str().map(str::to_string) == new_id && new_id.is_some()
    })
    .await;

    // A token made and revoked through A stops working on B.
    let made = a
        .api
        .post(a.url("/api/v1/tokens"))
        .json(&json!({ "name": "ci", "role": "viewer" }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let (token, id) = (made["token"].as_str().unwrap().to_string(), made["id"].as_str().unwrap().to_string());
    let as_ci = || b.client.get(b.url("/api/v1/components")).bearer_auth(&token).send();
    assert_eq!(as_ci().await.unwrap().status(), 200, "a token made on A works on B");
    let r = a.api.delete(a.url(&format!("/api/v1/tokens/{id}"))).send().await.unwrap();
    assert!(r.status().is_success());
    within_5s("a token revocation", || async { as_ci().await.unwrap().status() == 401 }).await;
}

/// Options for a node on `schema` whose master keys come from `key_file`.
fn keyed(schema: &str, key_file: &std::path::Path) -> Options {
    let mut o = Options::new(&[("orders.yaml", ORDERS)]);
    let (name, file) = (schema.to_string(), key_file.to_path_buf());
    o.tune_with = Some(Arc::new(move |c| {
        c.database_url = Some(database_url());
        c.database_schema = Some(name.clone());
        c.admin_token = Some(TOKEN.into());
        c.master_key_file = Some(file.clone());
    }));
    o
}

async fn greeting_on(s: &TestServer, id: &str) -> Value {
    let r = s
        .client
        .post(s.url("/hooks/development/orders"))
        .header("x-request-id", id)
        .json(&json!({ "n": 1 }))
        .send()
        .await
        .unwrap();
    let event = r.json::<Value>().await.unwrap()["event_id"].as_str().unwrap().to_string();
    s.wait_run_status(&event, "succeeded").await["steps"][0]["output"]["greeting"].clone()
}

#[tokio::test]
async fn a_key_rotation_across_two_nodes_keeps_every_value_readable() {
    let schema = Schema::new();
    let keys = tempfile::tempdir().unwrap();
    let file = keys.path().join("master-keys");
    let (old, new) = ("11".repeat(32), "22".repeat(32));
    std::fs::write(&file, format!("{old}\n")).unwrap();
    let o = keyed(&schema.0, &file);
    let a = start_with(o.clone_for_restart()).await;
    let b = start_with(o.clone_for_restart()).await;
    let r = a
        .api
        .put(a.url("/api/v1/config/orders?environment=development"))
        .json(&json!({ "values": { "greeting": "sealed-before" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let sealed_with = |schema: &str| {
        let out = std::process::Command::new("psql")
            .arg(database_url())
            .args(["-Atc", &format!("SELECT DISTINCT key_id FROM {schema}.config_values")])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let first_key = sealed_with(&schema.0);

    // The new key is added (first) on node A only: the rotation is refused, naming node B.
    std::fs::write(&file, format!("{new}\n{old}\n")).unwrap();
    let a = a.restart(&o).await;
    let rotate = |s: &TestServer| s.api.post(s.url("/api/v1/keys/rotate")).json(&json!({})).send();
    let refused = rotate(&a).await.unwrap();
    assert_eq!(refused.status(), 409);
    let why = refused.json::<Value>().await.unwrap();
    let b_id = b.get("/readyz").await["node"].as_str().unwrap().to_string();
    assert!(why.to_string().contains(&b_id) && why.to_string().contains("do not hold"), "{why}");
    assert_eq!(sealed_with(&schema.0), first_key, "nothing was re-sealed");

    // Node B gets the key too: the rotation re-seals every value under it.
    let b = b.restart(&o).await;
    let rotated = rotate(&a).await.unwrap();
    assert_eq!(rotated.status(), 200, "{}", rotated.text().await.unwrap());
    let rotated = rotated.json::<Value>().await.unwrap();
    assert_eq!((rotated["resealed"].as_u64(), rotated["source"].as_str()), (Some(1), Some("key-file")));
    let new_key = rotated["key_id"].as_str().unwrap().to_string();
    assert_ne!(new_key, first_key);
    assert_eq!(sealed_with(&schema.0), new_key);
    assert_eq!(greeting_on(&a, "after-rotation-a").await, "sealed-before");
    assert_eq!(greeting_on(&b, "after-rotation-b").await, "sealed-before");
    // B seals what it sets now with the new key (it followed the rotation); A reads it.
    let r = b
        .api
        .put(b.url("/api/v1/config/orders?environment=development"))
        .json(&json!({ "values": { "greeting": "sealed-after" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(sealed_with(&schema.0), new_key);

    // The old key is dropped everywhere: every value still opens on both nodes.
    std::fs::write(&file, format!("{new}\n")).unwrap();
    let a = a.restart(&o).await;
    let b = b.restart(&o).await;
    assert_eq!(greeting_on(&a, "old-key-gone-a").await, "sealed-after");
    assert_eq!(greeting_on(&b, "old-key-gone-b").await, "sealed-after");
}

/// An API's rate limit holds across two nodes: together they accept the limit, within a tenth
/// below it and never above, whichever node each request reaches.
#[tokio::test]
async fn a_rate_limit_holds_across_two_nodes() {
    const LIMITED: &str = r#"
component: limited
trigger:
  type: http
  with: { rate_limit: 200/d }
handlers:
  /:
    POST: { steps: [ { log: ok } ] }
"#;
    let schema = Schema::new();
    let a = start_with(node(&schema.0, &[("limited.yaml", LIMITED)])).await;
    let b = start_with(node(&schema.0, &[("limited.yaml", LIMITED)])).await;
    let send = |s: &TestServer| {
        let (client, url) = (s.client.clone(), s.url("/hooks/development/limited"));
        async move {
            let mut accepted = 0u32;
            let mut refused = None;
            for n in 0..200 {
                let r = client.post(&url).json(&json!({ "n": n })).send().await.unwrap();
                match r.status().as_u16() {
                    202 => accepted += 1,
                    429 => refused = Some(r.headers()["ratelimit-policy"].to_str().unwrap().to_string()),
                    other => panic!("{other}"),
                }
            }
            (accepted, refused)
        }
    };
    let ((on_a, refused_a), (on_b, refused_b)) = tokio::join!(send(&a), send(&b));
    let total = on_a + on_b;
    assert!((180..=200).contains(&total), "accepted {on_a} + {on_b} = {total} of a limit of 200");
    assert!(on_a > 0 && on_b > 0, "both nodes took requests: {on_a}, {on_b}");
    assert_eq!(refused_a.or(refused_b).as_deref(), Some("\"api\";q=200;w=86400"));
    let events = a.get("/api/v1/events?limit=500").await["items"].as_array().unwrap().len();
    assert_eq!(events as u32, total, "only what was accepted is stored");
}

/// New keys made through one node: the replaced key is refused on that node at its next request
/// and on the other within the cluster's bound (announced by the database; 1 s at most), and the
/// new key works on both.
#[tokio::test]
async fn a_replaced_api_key_stops_on_both_nodes() {
    const KEYED: &str = r#"
component: keyed
trigger:
  type: http
  with: { security: { scheme: api_key } }
handlers:
  /:
    POST: { steps: [ { log: ok } ] }
"#;
    let schema = Schema::new();
    let a = start_with(node(&schema.0, &[("keyed.yaml", KEYED)])).await;
    let b = start_with(node(&schema.0, &[("keyed.yaml", KEYED)])).await;
    let r = a.api.post(a.url("/api/v1/applications")).json(&json!({ "name": "shop" })).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let r = a
        .api
        .post(a.url("/api/v1/subscriptions"))
        .json(&json!({ "application": "shop", "component": "keyed" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let issue = || async {
        let r = a.api.post(a.url("/api/v1/applications/shop/keys")).send().await.unwrap();
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["sandbox"].as_str().unwrap().to_string()
    };
    let call = |s: &TestServer, key: &str| {
        s.client.post(s.url("/hooks/development/keyed")).header("x-api-key", key).json(&json!({})).send()
    };
    let old = issue().await;
    assert_eq!(call(&a, &old).await.unwrap().status(), 202);
    assert_eq!(call(&b, &old).await.unwrap().status(), 202, "B has looked the key up and keeps it");
    let new = issue().await;
    assert_eq!(call(&a, &old).await.unwrap().status(), 401, "refused on A at once");
    assert_eq!(call(&a, &new).await.unwrap().status(), 202);
    // B kept its lookup of the old key; the database's announcement makes it drop it (the
    // cluster's bound: at once, within 1 s should the announcement be lost).
    let start = std::time::Instant::now();
    while call(&b, &old).await.unwrap().status() != 401 {
        assert!(
            start.elapsed() < std::time::Duration::from_millis(1500),
            "the replaced key still works on B after 1.5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    println!("cluster: a key replaced through node A was refused on node B after {} ms", start.elapsed().as_millis());
    assert_eq!(call(&b, &new).await.unwrap().status(), 202);
}
