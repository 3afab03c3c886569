//! Deployments, activations, pause flags and deployment logs.

use super::*;

pub async fn activation_history_and_rollback(b: &dyn Backend) {
    let store = b.open().await;
    store.activate(deployment("d1", "orders", "development", 10)).await.unwrap();
    store.activate(deployment("d2", "orders", "development", 20)).await.unwrap();
    store.activate(deployment("p1", "orders", "production", 30)).await.unwrap();
    let mut active = store.activations().await.unwrap();
    active.sort_by(|a, b| a.environment.cmp(&b.environment));
    let seen: Vec<_> = active.iter().map(|a| (a.environment.as_str(), a.deployment_id.as_str(), a.paused)).collect();
    assert_eq!(seen, [("development", "d2", false), ("production", "p1", false)]);

    let history = store.deployments(Some("orders".into()), Some("development".into()), 10).await.unwrap();
    let ids: Vec<_> = history.iter().map(|d| (d.id.as_str(), d.active)).collect();
    assert_eq!(ids, [("d2", true), ("d1", false)], "newest first, the active one marked");
    let d1 = store.deployment("d1".into()).await.unwrap().unwrap();
    assert_eq!(
        (d1.status.as_str(), d1.build.as_str(), d1.created_by.as_deref()),
        ("active", "build-d1", Some("admin"))
    );
    assert_eq!(d1.meta["git"]["commit"], "abc");
    assert_eq!(
        store.deployment_source("d1".into()).await.unwrap(),
        Some(("development".into(), "component: orders\n".into(), r#"{"a.js":"1"}"#.into()))
    );
    assert!(store.deployment("nope".into()).await.unwrap().is_none());
    assert_eq!(store.deployments(None, None, 2).await.unwrap().len(), 2, "the limit holds");

    // Rolled back to d1, paused, then removed.
    store.reactivate("orders".into(), "development".into(), "d1".into()).await.unwrap();
    assert!(store.set_paused("orders".into(), "development".into(), true).await.unwrap());
    let dev: Vec<_> =
        store.activations().await.unwrap().into_iter().filter(|a| a.environment == "development").collect();
    assert_eq!((dev[0].deployment_id.as_str(), dev[0].paused), ("d1", true));
    assert!(store.deactivate("orders".into(), "development".into()).await.unwrap());
    assert!(!store.deactivate("orders".into(), "development".into()).await.unwrap(), "already gone");
    assert_eq!(store.activations().await.unwrap().len(), 1);
    assert!(store.deployment("d2".into()).await.unwrap().is_some(), "history stays");
}

pub async fn failed_deployments_are_recorded_never_active(b: &dyn Backend) {
    let store = b.open().await;
    store
        .record_failed_deployment(deployment("f1", "orders", "development", 5), "config `x` is required".into())
        .await
        .unwrap();
    let f1 = store.deployment("f1".into()).await.unwrap().unwrap();
    assert_eq!((f1.status.as_str(), f1.error.as_deref(), f1.active), ("failed", Some("config `x` is required"), false));
    assert!(store.activations().await.unwrap().is_empty());
}

pub async fn deployment_logs_keep_their_order(b: &dyn Backend) {
    let store = b.open().await;
    store.activate(deployment("d1", "orders", "development", 0)).await.unwrap();
    for (at, line) in [(1, "build abc"), (1, "config resolved"), (2, "activated")] {
        store.add_deployment_log("d1".into(), at, line.into()).await.unwrap();
    }
    let log = store.deployment_logs("d1".into()).await.unwrap();
    assert_eq!(log, [(1, "build abc".into()), (1, "config resolved".into()), (2, "activated".into())]);
    assert!(store.deployment_logs("d2".into()).await.unwrap().is_empty());
}
