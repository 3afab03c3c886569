//! The metric series: a known mix of events and runs reads back exactly, in aligned minute
//! buckets, filtered by handler, and after a restart.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const MIX: &str = r#"
component: mix
trigger:
  type: http
  with:
    verify: { scheme: token, header: x-token, secret: s3cret }
    delivery_id: "{{ meta.headers['x-id'] }}"
handlers:
  "/":
    POST:
      retry: { attempts: 2, initial: 10ms, max: 20ms }
      steps:
        - if: "event.kind == 'fail'"
          then: [ { fail: "asked to fail" } ]
        - if: "event.kind == 'dead'"
          then:
            - call: http.request
              with: { method: POST, url: "http://127.0.0.1:1/", timeout: 2s }
"#;

fn options() -> Options {
    let mut o = Options::new(&[("mix.yaml", MIX)]);
    o.tune = Some(|c| c.series_flush = Duration::from_millis(200));
    o
}

async fn send(s: &TestServer, id: &str, kind: &str, token: &str) -> u16 {
    let r = s
        .client
        .post(s.url("/hooks/development/mix"))
        .header("x-token", token)
        .header("x-id", id)
        .json(&json!({ "kind": kind }))
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

/// Every bucket's numbers added up.
fn totals(series: &Value) -> Value {
    let mut t = json!({ "received": 0, "accepted": 0, "duplicates": 0, "rejected": {},
                        "succeeded": 0, "failed": 0, "retried": 0, "dead": 0 });
    for b in series["buckets"].as_array().unwrap() {
        for k in ["received", "accepted", "duplicates"] {
            t[k] = json!(t[k].as_u64().unwrap() + b[k].as_u64().unwrap());
        }
        for k in ["succeeded", "failed", "retried", "dead"] {
            t[k] = json!(t[k].as_u64().unwrap() + b["runs"][k].as_u64().unwrap());
        }
        for (code, n) in b["rejected"].as_object().unwrap() {
            let before = t["rejected"][code].as_u64().unwrap_or(0);
            t["rejected"][code] = json!(before + n.as_u64().unwrap());
        }
    }
    t
}

#[tokio::test]
async fn a_known_mix_reads_back_exactly_in_aligned_buckets() {
    let s = start_with(options()).await;
    let started = jiff::Timestamp::now();
    let mut statuses = Vec::new();
    for i in 0..100 {
        statuses.push(send(&s, &format!("ok-{i}"), "ok", "s3cret").await);
    }
    for i in 0..10 {
        statuses.push(send(&s, &format!("fail-{i}"), "fail", "s3cret").await);
    }
    for i in 0..5 {
        statuses.push(send(&s, &format!("dead-{i}"), "dead", "s3cret").await);
    }
    for i in 0..20 {
        assert_eq!(send(&s, &format!("bad-{i}"), "ok", "wrong").await, 401);
    }
    for i in 0..3 {
        assert_eq!(send(&s, &format!("ok-{i}"), "ok", "s3cret").await, 200, "a duplicate");
    }
    assert!(statuses.iter().all(|s| *s == 202));

    let expected = json!({ "received": 138, "accepted": 115, "duplicates": 3, "rejected": { "token_mismatch": 20 },
                           "succeeded": 100, "failed": 10, "retried": 5, "dead": 5 });
    let from = (started - jiff::SignedDuration::from_secs(60)).to_string();
    let path = format!("/api/v1/metrics/series?component=mix&environment=development&from={from}&step=1m");
    let mut series = Value::Null;
    for _ in 0..200 {
        series = s.get(&path).await;
        if totals(&series) == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(totals(&series), expected, "{series:#}");

    // Aligned, consecutive minute buckets; the counts sit in those the test ran in.
    let buckets = series["buckets"].as_array().unwrap();
    let starts: Vec<jiff::Timestamp> = buckets.iter().map(|b| b["start"].as_str().unwrap().parse().unwrap()).collect();
    for pair in starts.windows(2) {
        assert_eq!((pair[1] - pair[0]).get_seconds(), 60);
    }
    assert!(starts.iter().all(|t| t.as_second() % 60 == 0));
    let first_minute = started.as_second() - started.as_second() % 60;
    for (b, start) in buckets.iter().zip(&starts) {
        if b["received"].as_u64().unwrap() > 0 || b["runs"]["succeeded"].as_u64().unwrap() > 0 {
            assert!(start.as_second() >= first_minute, "counts before the test began: {b}");
        } else {
            assert_eq!(b["duration_ms"]["p50"], 0.0, "an empty bucket is zeros: {b}");
        }
    }
    let busy = buckets.iter().find(|b| b["runs"]["succeeded"].as_u64().unwrap() > 0).unwrap();
    let p99 = busy["duration_ms"]["p99"].as_f64().unwrap();
    assert!(p99 > 0.0 && p99 <= 5_000.0, "{busy}");

    // `handler` filters the run fields only.
    let other = s.get(&format!("{path}&handler=GET%20/other")).await;
    let t = totals(&other);
    assert_eq!((t["received"].as_u64(), t["succeeded"].as_u64(), t["dead"].as_u64()), (Some(138), Some(0), Some(0)));
    let own = s.get(&format!("{path}&handler=POST%20/")).await;
    assert_eq!(totals(&own), expected);

    // Hourly buckets hold the same; a restart keeps everything.
    let hourly = s.get(&format!("/api/v1/metrics/series?component=mix&from={from}&step=1h")).await;
    assert_eq!(totals(&hourly), expected);
    let s = s.restart(&options()).await;
    assert_eq!(totals(&s.get(&path).await), expected, "roll-ups survive a restart");

    // Bad input is refused clearly.
    for (query, code) in [
        ("step=2m", "invalid_query"),
        ("from=yesterday", "invalid_time"),
        ("environment=nowhere", "unknown_environment"),
    ] {
        let r = s.api.get(s.url(&format!("/api/v1/metrics/series?{query}"))).send().await.unwrap();
        assert!(r.status().is_client_error(), "{query}");
        assert_eq!(r.json::<Value>().await.unwrap()["code"], code, "{query}");
    }
}
