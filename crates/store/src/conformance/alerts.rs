//! Operational alerts and their deliveries.

use super::*;

fn alert(id: &str, key: &str, at: i64) -> AlertRow {
    AlertRow {
        id: id.into(),
        kind: "run_dead".into(),
        key: key.into(),
        component: Some("orders".into()),
        environment: Some("development".into()),
        message: format!("alert {id}"),
        detail: r#"{"run":"r1"}"#.into(),
        raised_at: at,
        resolved_at: None,
        delivered_at: None,
        attempts: 0,
        next_attempt_at: at,
        last_error: None,
    }
}

pub async fn an_alert_is_raised_once_until_resolved(b: &dyn Backend) {
    let store = b.open().await;
    assert!(store.raise_alert(alert("a1", "run_dead/r1", 1)).await.unwrap());
    assert!(!store.raise_alert(alert("a2", "run_dead/r1", 2)).await.unwrap(), "open already");
    assert!(store.raise_alert(alert("a3", "run_dead/r2", 3)).await.unwrap());
    assert_eq!(store.open_alert_keys("run_dead".into()).await.unwrap().len(), 2);
    assert!(store.open_alert_keys("disk_full".into()).await.unwrap().is_empty());
    assert!(store.resolve_alert("run_dead/r1".into(), 4).await.unwrap());
    assert!(!store.resolve_alert("run_dead/r1".into(), 5).await.unwrap(), "nothing open to resolve");
    assert_eq!(store.open_alert_keys("run_dead".into()).await.unwrap(), ["run_dead/r2"]);
    let open = store.alerts(false, 10).await.unwrap();
    assert_eq!(open.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["a3"]);
    let all = store.alerts(true, 10).await.unwrap();
    assert_eq!(all.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["a3", "a1"], "newest first");
    assert_eq!(all[1].resolved_at, Some(4));
    assert_eq!(all[1].detail, r#"{"run":"r1"}"#);
    // Resolved, the same key may be raised again.
    assert!(store.raise_alert(alert("a4", "run_dead/r1", 6)).await.unwrap());
    assert_eq!(store.alerts(true, 1).await.unwrap().len(), 1, "the limit holds");
}

pub async fn deliveries_are_retried_until_delivered(b: &dyn Backend) {
    let store = b.open().await;
    store.raise_alert(alert("a1", "k1", 10)).await.unwrap();
    store.raise_alert(alert("a2", "k2", 20)).await.unwrap();
    let due = store.alerts_to_deliver(20, 5).await.unwrap();
    assert_eq!(due.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["a1", "a2"], "oldest first");
    store.alert_attempt("a1".into(), None, Some("503 from the receiver".into()), 40).await.unwrap();
    store.alert_attempt("a2".into(), Some(21), None, 0).await.unwrap();
    assert!(store.alerts_to_deliver(30, 5).await.unwrap().is_empty(), "a1 waits for its next attempt");
    let due = store.alerts_to_deliver(40, 5).await.unwrap();
    assert_eq!((due.len(), due[0].attempts, due[0].last_error.as_deref()), (1, 1, Some("503 from the receiver")));
    assert!(store.alerts_to_deliver(40, 1).await.unwrap().is_empty(), "attempts are bounded");
    let a2 = store.alerts(true, 10).await.unwrap().into_iter().find(|a| a.id == "a2").unwrap();
    assert_eq!((a2.delivered_at, a2.attempts), (Some(21), 1));
}
