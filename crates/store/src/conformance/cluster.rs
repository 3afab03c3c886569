//! Several nodes on one store: leases on singletons, the node registry, taking runs once.

use super::*;

pub async fn a_lease_has_one_holder_until_it_ends(b: &dyn Backend) {
    let store = b.open().await;
    let acquire = |holder: &str, now: i64, until: i64| {
        let store = store.clone();
        let holder = holder.to_string();
        async move { store.acquire_lease("schedule:tick/development".into(), holder, now, until).await.unwrap() }
    };
    assert!(acquire("a", 0, 100).await, "nobody held it");
    assert!(!acquire("b", 50, 150).await, "a holds it until 100");
    assert!(acquire("a", 60, 160).await, "its holder renews it");
    assert!(!acquire("b", 150, 250).await, "renewed until 160");
    assert!(acquire("b", 161, 261).await, "a stopped renewing: b takes it over");
    assert!(!acquire("a", 170, 270).await, "and a has lost it");
    assert_eq!(
        store.leases().await.unwrap(),
        vec![LeaseRow { name: "schedule:tick/development".into(), holder: "b".into(), until: 261 }]
    );
    store.release_lease("schedule:tick/development".into(), "a".into()).await.unwrap();
    assert_eq!(store.leases().await.unwrap().len(), 1, "only its holder gives a lease up");
    store.release_lease("schedule:tick/development".into(), "b".into()).await.unwrap();
    assert!(store.leases().await.unwrap().is_empty());
    assert!(acquire("a", 180, 280).await, "a lease given up is free at once");
}

pub async fn nodes_are_listed_while_they_report(b: &dyn Backend) {
    let store = b.open().await;
    let node = |id: &str, seen_at: i64| NodeRow {
        id: id.into(),
        role: "all".into(),
        version: "0.1.0".into(),
        key_ids: vec!["k2".into(), "k1".into()],
        started_at: 10,
        seen_at,
    };
    store.heartbeat(node("n1", 100)).await.unwrap();
    store.heartbeat(node("n2", 100)).await.unwrap();
    store.heartbeat(NodeRow { role: "worker".into(), key_ids: vec!["k3".into()], ..node("n1", 200) }).await.unwrap();
    let live = store.nodes(150).await.unwrap();
    assert_eq!(live, vec![NodeRow { role: "worker".into(), key_ids: vec!["k3".into()], ..node("n1", 200) }]);
    assert_eq!(store.nodes(0).await.unwrap().len(), 2);
}

pub async fn a_run_is_taken_by_one_worker(b: &dyn Backend) {
    let store = b.open().await;
    store.ingest(new_event("e1", None, 2)).await.unwrap();
    let first = store.mark_running(vec![lease("e1-run0")], 1, 1_000).await.unwrap();
    assert_eq!(first, ["e1-run0"]);
    if store.shared() {
        // Another node asking for the same run (it had it in memory too) does not get it, and a
        // claim does not hand it out again.
        let second = store.mark_running(vec![("e1-run0".into(), "other".into()), lease("e1-run1")], 2, 1_000).await;
        assert_eq!(second.unwrap(), ["e1-run1"]);
        assert!(store.claim("third".into(), 10, 3, 1_000).await.unwrap().is_empty());
    }
    store.complete(completion("e1-run0", 1, RunStatus::Succeeded, 5)).await.unwrap();
    assert_eq!(store.run("e1-run0".into()).await.unwrap().unwrap().status, RunStatus::Succeeded);
}
