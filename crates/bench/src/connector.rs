//! `connector`: what a `call: http.request` costs over the same request made with a bare client,
//! both against one local sink, one call at a time, in the same run: the registry's input check,
//! the account lookup and credentials, and the answer's conversion. Alternating batches keep
//! drift (CPU frequency, the sink's warm-up) out of the difference.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use onset_connectors::accounts::AccountFuture;
use onset_connectors::{Account, AccountSource, HttpConnector, Registry};
use onset_engine::Connectors;
use serde_json::{Value, json};

const BATCH: usize = 200;

/// One bearer-token account, found without a store.
struct OneAccount(Arc<Account>);

impl AccountSource for OneAccount {
    fn account<'a>(&'a self, _: &'a str, name: &'a str) -> AccountFuture<'a> {
        Box::pin(async move { Ok((name == self.0.name).then(|| self.0.clone())) })
    }
}

fn per_call_us(total: Duration, calls: usize) -> f64 {
    total.as_secs_f64() * 1e6 / calls as f64
}

pub async fn run(duration: Duration) -> anyhow::Result<()> {
    onset_connectors::install_crypto_provider();
    let app =
        Router::new().route("/orders", post(|| async { ([("content-type", "application/json")], r#"{"ok":true}"#) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/orders", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let order =
        json!({ "order": 42, "customer": "c-1", "items": [{ "sku": "a", "qty": 2 }, { "sku": "b", "qty": 1 }] });
    let raw = reqwest::Client::builder().build()?;
    let registry = Registry::new(HttpConnector::new(Default::default()).map_err(anyhow::Error::msg)?);
    let account = Account {
        environment: "bench".into(),
        name: "sink".into(),
        kind: "http".into(),
        fields: [("auth", "bearer"), ("token", "bench-token")].into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
    };
    registry.set_accounts(Arc::new(OneAccount(Arc::new(account))));
    let scoped = registry.in_environment("bench");
    let input = json!({ "method": "POST", "url": url, "body": order });

    let raw_call = || async {
        let resp = raw
            .post(&url)
            .header("content-type", "application/json")
            .header("authorization", "Bearer bench-token")
            .body(order.to_string())
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        anyhow::ensure!(status.is_success() && body["ok"] == true, "the sink answered {status}");
        Ok(())
    };
    let connector_call = |account: Option<Value>| {
        let input = input.clone();
        let scoped = &scoped;
        async move {
            let out = scoped.call("http.request", input, account).await.map_err(|e| anyhow::anyhow!(e.message))?;
            anyhow::ensure!(out["body"]["ok"] == true, "{out}");
            Ok(())
        }
    };
    // Warm both paths (connections, caches).
    for _ in 0..BATCH {
        raw_call().await?;
        connector_call(Some(json!("sink"))).await?;
    }
    let (mut raw_t, mut plain_t, mut acct_t, mut calls) = (Duration::ZERO, Duration::ZERO, Duration::ZERO, 0);
    let until = Instant::now() + duration;
    while Instant::now() < until || calls == 0 {
        let t = Instant::now();
        for _ in 0..BATCH {
            raw_call().await?;
        }
        raw_t += t.elapsed();
        let t = Instant::now();
        for _ in 0..BATCH {
            connector_call(None).await?;
        }
        plain_t += t.elapsed();
        let t = Instant::now();
        for _ in 0..BATCH {
            connector_call(Some(json!("sink"))).await?;
        }
        acct_t += t.elapsed();
        calls += BATCH;
    }
    let raw_us = per_call_us(raw_t, calls);
    println!(
        "\nconnector call overhead, POST of a small JSON order to a local sink, one at a time, same run ({calls} calls each):\n"
    );
    println!("| call | µs per call | overhead over the raw client | under 50 µs |");
    println!("|---|---|---|---|");
    println!("| raw reqwest client (reference) | {raw_us:.1} | — | — |");
    for (label, t) in [("call: http.request", plain_t), ("call: http.request with a bearer account", acct_t)] {
        let us = per_call_us(t, calls);
        let over = us - raw_us;
        println!("| {label} | {us:.1} | {over:.1} µs | {} |", if over < 50.0 { "yes" } else { "no" });
    }
    println!();
    Ok(())
}
