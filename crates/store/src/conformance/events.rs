//! Ingest with deduplication, batches, replays, and the queries of events and runs.

use super::*;

pub async fn ingest_stores_event_and_runs_and_dedups_by_delivery_id(b: &dyn Backend) {
    let store = b.open().await;
    assert_eq!(store.ingest(new_event("e1", Some("d-1"), 2)).await.unwrap(), IngestOutcome::Stored);
    assert_eq!(
        store.ingest(new_event("e2", Some("d-1"), 2)).await.unwrap(),
        IngestOutcome::Duplicate { event_id: "e1".into() }
    );
    // No delivery id: every request is a new event.
    assert_eq!(store.ingest(new_event("e3", None, 0)).await.unwrap(), IngestOutcome::Stored);
    assert_eq!(store.ingest(new_event("e4", None, 0)).await.unwrap(), IngestOutcome::Stored);
    // The same delivery id for another component is another event.
    let mut other = new_event("e5", Some("d-1"), 0);
    other.component = "invoices".into();
    assert_eq!(store.ingest(other).await.unwrap(), IngestOutcome::Stored);

    let e1 = store.event("e1".into()).await.unwrap().unwrap();
    assert_eq!(e1.runs.len(), 2);
    assert_eq!(e1.status, "handled");
    assert_eq!(e1.delivery_id.as_deref(), Some("d-1"));
    assert_eq!(e1.payload.unwrap().get(), r#"{"id": 1}"#);
    assert!(store.event("e2".into()).await.unwrap().is_none(), "a duplicate stores nothing");
    assert_eq!(store.event("e3".into()).await.unwrap().unwrap().status, "unhandled");
    assert!(store.event("nope".into()).await.unwrap().is_none());
    store.ping().await.unwrap();
}

pub async fn concurrent_ingests_all_commit(b: &dyn Backend) {
    let store = b.open().await;
    let mut tasks = Vec::new();
    for i in 0..500 {
        let s = store.clone();
        tasks.push(tokio::spawn(
            async move { s.ingest(new_event(&format!("e{i:04}"), Some(&format!("d{i}")), 1)).await },
        ));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), IngestOutcome::Stored);
    }
    let page = store.events(ListFilter { limit: 500, ..Default::default() }).await.unwrap();
    assert_eq!(page.items.len(), 500);
    assert!(page.next_cursor.is_none());
    assert_eq!(store.queue_counts().await.unwrap().queued, 500);
}

pub async fn lists_are_newest_first_with_a_cursor_and_filter(b: &dyn Backend) {
    let store = b.open().await;
    for i in 0..5 {
        store.ingest(new_event(&format!("e{i}"), None, 1)).await.unwrap();
    }
    let first = store.events(ListFilter { limit: 2, ..Default::default() }).await.unwrap();
    let ids: Vec<_> = first.items.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["e4", "e3"]);
    assert!(first.items[0].payload.is_none(), "lists leave payloads out");
    let second = store.events(ListFilter { limit: 2, before: first.next_cursor, ..Default::default() }).await.unwrap();
    let ids: Vec<_> = second.items.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["e2", "e1"]);
    let runs = store
        .runs(ListFilter {
            limit: 10,
            status: Some("queued".into()),
            component: Some("orders".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(runs.items.len(), 5);
    let none = store.runs(ListFilter { limit: 10, status: Some("dead".into()), ..Default::default() }).await.unwrap();
    assert!(none.items.is_empty());
    let elsewhere = store
        .events(ListFilter { limit: 10, environment: Some("production".into()), ..Default::default() })
        .await
        .unwrap();
    assert!(elsewhere.items.is_empty());
}

pub async fn replays_add_runs_once(b: &dyn Backend) {
    let store = b.open().await;
    store.ingest(new_event("e1", None, 1)).await.unwrap();
    let new_run = |id: &str| NewRun {
        id: id.into(),
        channel: "/".into(),
        event: "POST".into(),
        handler: "POST /".into(),
        deployment_id: "d2".into(),
        max_attempts: 1,
    };
    let made = store.add_runs("e1".into(), vec![(new_run("r2"), Some("e1-run0".into()))], 10).await.unwrap();
    assert_eq!(made, ["r2"]);
    let again = store.add_runs("e1".into(), vec![(new_run("r3"), Some("e1-run0".into()))], 10).await.unwrap();
    assert!(again.is_empty(), "a run is replayed once");
    let r2 = store.run("r2".into()).await.unwrap().unwrap();
    assert_eq!(r2.replay_of.as_deref(), Some("e1-run0"));
    assert_eq!(r2.deployment_id, "d2");
    // Without a run it replaces, a replay adds a run every time.
    assert_eq!(store.add_runs("e1".into(), vec![(new_run("r4"), None)], 11).await.unwrap(), ["r4"]);
}

pub async fn a_batch_runs_once_over_the_members_never_stored_before(b: &dyn Backend) {
    let store = b.open().await;
    let member = |id: &str, delivery: &str, n: u32| {
        let mut e = new_event(id, Some(delivery), 0);
        e.payload = bytes::Bytes::from(format!(r#"{{"n":{n}}}"#));
        e.params = format!(r#"{{"offset":{n}}}"#);
        e
    };
    let (outcomes, batch) = store
        .ingest_batch(vec![member("m1", "d-1", 1), member("m2", "d-2", 2)], new_event("b1", None, 1))
        .await
        .unwrap();
    assert_eq!(outcomes, vec![IngestOutcome::Stored, IngestOutcome::Stored]);
    let batch = batch.expect("new members make a batch");
    assert_eq!(&batch.payload[..], br#"[{"n":1},{"n":2}]"#);
    let b1 = store.event("b1".into()).await.unwrap().unwrap();
    assert_eq!((b1.status.as_str(), b1.runs.len()), ("handled", 1));
    assert_eq!(b1.params.unwrap().get(), r#"[{"offset":1},{"offset":2}]"#);
    let m1 = store.event("m1".into()).await.unwrap().unwrap();
    assert_eq!((m1.status.as_str(), m1.runs.len()), ("batched", 0));

    // Redelivered in another grouping: only the new member is in the next batch.
    let (outcomes, batch) = store
        .ingest_batch(vec![member("m3", "d-2", 2), member("m4", "d-3", 3)], new_event("b2", None, 1))
        .await
        .unwrap();
    assert_eq!(outcomes[0], IngestOutcome::Duplicate { event_id: "m2".into() });
    assert_eq!(&batch.unwrap().payload[..], br#"[{"n":3}]"#);
    // All known: no batch, no run.
    let (_, batch) = store.ingest_batch(vec![member("m5", "d-1", 1)], new_event("b3", None, 1)).await.unwrap();
    assert!(batch.is_none());
    assert!(store.event("b3".into()).await.unwrap().is_none());
}

pub async fn run_input_has_what_a_worker_needs(b: &dyn Backend) {
    let store = b.open().await;
    let mut e = new_event("e1", Some("d-9"), 1);
    e.trace = Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into());
    e.query = r#"{"q":"1"}"#.into();
    store.ingest(e).await.unwrap();
    let (input, status) = store.run_input("e1-run0".into()).await.unwrap().unwrap();
    assert_eq!(status, RunStatus::Queued);
    assert_eq!(&input.payload[..], br#"{"id": 1}"#);
    assert_eq!(input.headers, r#"{"content-type":"application/json"}"#);
    assert_eq!(input.query, r#"{"q":"1"}"#);
    assert_eq!(input.delivery_id.as_deref(), Some("d-9"));
    assert_eq!(input.received_at, 1_700_000_000_000);
    assert_eq!(input.trace.as_deref(), Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    assert!(store.run_input("nope".into()).await.unwrap().is_none());
}

pub async fn dead_runs_are_listed_for_replay(b: &dyn Backend) {
    let store = b.open().await;
    store.ingest(new_event("e1", None, 2)).await.unwrap();
    store.mark_running(vec![lease("e1-run0"), lease("e1-run1")], 1, 1_000).await.unwrap();
    store.complete(completion("e1-run0", 1, RunStatus::Dead, 5)).await.unwrap();
    store.complete(completion("e1-run1", 1, RunStatus::Succeeded, 5)).await.unwrap();
    let dead = store.dead_runs("orders".into(), "development".into()).await.unwrap();
    assert_eq!(dead, vec![("e1-run0".into(), "e1".into(), "/".into(), "POST".into())]);
    assert!(store.dead_runs("orders".into(), "production".into()).await.unwrap().is_empty());
    // Once replayed, a dead run is not offered again.
    let run = NewRun {
        id: "r9".into(),
        channel: "/".into(),
        event: "POST".into(),
        handler: "POST /".into(),
        deployment_id: "d1".into(),
        max_attempts: 1,
    };
    store.add_runs("e1".into(), vec![(run, Some("e1-run0".into()))], 6).await.unwrap();
    assert!(store.dead_runs("orders".into(), "development".into()).await.unwrap().is_empty());
}
