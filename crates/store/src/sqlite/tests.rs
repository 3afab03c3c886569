use std::path::Path;

use super::*;
use crate::*;

fn options(dir: &Path) -> StoreOptions {
    StoreOptions { data_dir: dir.to_path_buf(), durability: Durability::Normal, queue_capacity: 1024 }
}

fn new_event(id: &str, delivery: Option<&str>, runs: usize) -> NewEvent {
    NewEvent {
        id: id.into(),
        component: "orders".into(),
        environment: "development".into(),
        channel: "/".into(),
        event: "POST".into(),
        delivery_id: delivery.map(Into::into),
        received_at: 1_700_000_000_000,
        headers: r#"{"content-type":"application/json"}"#.into(),
        query: "{}".into(),
        params: "{}".into(),
        payload: bytes::Bytes::from_static(br#"{"id": 1}"#),
        runs: (0..runs)
            .map(|i| NewRun {
                id: format!("{id}-run{i}"),
                channel: "/".into(),
                event: "POST".into(),
                handler: "POST /".into(),
                deployment_id: "d1".into(),
                max_attempts: 3,
            })
            .collect(),
        trace: None,
    }
}

#[tokio::test]
async fn ingest_stores_event_and_runs_and_dedups_by_delivery_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&options(dir.path())).unwrap();
    assert_eq!(store.ingest(new_event("e1", Some("d-1"), 2)).await.unwrap(), IngestOutcome::Stored);
    assert_eq!(
        store.ingest(new_event("e2", Some("d-1"), 2)).await.unwrap(),
        IngestOutcome::Duplicate { event_id: "e1".into() }
    );
    // No delivery id: every request is a new event.
    assert_eq!(store.ingest(new_event("e3", None, 0)).await.unwrap(), IngestOutcome::Stored);
    assert_eq!(store.ingest(new_event("e4", None, 0)).await.unwrap(), IngestOutcome::Stored);

    let e1 = store.event("e1".into()).await.unwrap().unwrap();
    assert_eq!(e1.runs.len(), 2);
    assert_eq!(e1.status, "handled");
    assert_eq!(e1.payload.unwrap().get(), r#"{"id": 1}"#);
    assert!(store.event("e2".into()).await.unwrap().is_none(), "a duplicate stores nothing");
    assert_eq!(store.event("e3".into()).await.unwrap().unwrap().status, "unhandled");
}

#[tokio::test]
async fn concurrent_ingests_all_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&options(dir.path())).unwrap();
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
}

#[tokio::test]
async fn lists_are_newest_first_with_a_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&options(dir.path())).unwrap();
    for i in 0..5 {
        store.ingest(new_event(&format!("e{i}"), None, 1)).await.unwrap();
    }
    let first = store.events(ListFilter { limit: 2, ..Default::default() }).await.unwrap();
    let ids: Vec<_> = first.items.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["e4", "e3"]);
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
}

#[tokio::test]
async fn completion_records_steps_and_retry_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&options(dir.path())).unwrap();
    store.ingest(new_event("e1", None, 1)).await.unwrap();
    store.mark_running(vec!["e1-run0".into()], 1, 2).await.unwrap();
    let step = NewStep {
        logs: Some(r#"["hello"]"#.into()),
        path: "0".into(),
        id: Some("a".into()),
        name: None,
        kind: "map",
        status: "failed",
        input: None,
        output: Some(r#"{"x":1}"#.into()),
        error: Some("boom".into()),
        started_at: 1,
        duration_ms: 0.5,
    };
    store
        .complete(Completion {
            run_id: "e1-run0".into(),
            attempt: 1,
            status: RunStatus::Retrying,
            finished_at: 5,
            error: Some("boom".into()),
            error_step: Some("0".into()),
            next_run_at: Some(99),
            steps: vec![step.clone()],
        })
        .await
        .unwrap();
    let run = store.run("e1-run0".into()).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Retrying);
    assert_eq!(run.attempt, 2, "the next attempt is numbered");
    assert_eq!(run.next_attempt_at, Some(99));
    store
        .complete(Completion {
            run_id: "e1-run0".into(),
            attempt: 2,
            status: RunStatus::Succeeded,
            finished_at: 100,
            error: None,
            error_step: None,
            next_run_at: None,
            steps: vec![NewStep { status: "succeeded", error: None, ..step }],
        })
        .await
        .unwrap();
    let run = store.run("e1-run0".into()).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Succeeded);
    let steps = run.steps.unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!((steps[0].attempt, steps[1].attempt), (1, 2));
    assert_eq!(steps[1].output.as_ref().unwrap().get(), r#"{"x":1}"#);
    assert_eq!(steps[1].logs.as_ref().unwrap().get(), r#"["hello"]"#);
}

#[tokio::test]
async fn recovery_requeues_interrupted_runs_and_the_directory_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(&options(dir.path())).unwrap();
        assert!(matches!(SqliteStore::open(&options(dir.path())), Err(StoreError::Locked(_))));
        store.ingest(new_event("e1", None, 2)).await.unwrap();
        store.mark_running(vec!["e1-run0".into()], 1, 2).await.unwrap();
        // Wait for the (unawaited) mark to commit.
        store.ingest(new_event("e2", None, 0)).await.unwrap();
        assert_eq!(store.queue_counts().await.unwrap().running, 1);
    }
    // The writer thread ends when the last handle goes; give it a moment to release the lock.
    let mut reopened = None;
    for _ in 0..50 {
        match SqliteStore::open(&options(dir.path())) {
            Ok(s) => {
                reopened = Some(s);
                break;
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
    let store = reopened.expect("the lock is released with the store");
    assert_eq!(store.recover().await.unwrap(), 1);
    let pending = store.pending_runs(None, 10).await.unwrap();
    let ids: Vec<_> = pending.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["e1-run0", "e1-run1"]);
    assert_eq!(store.queue_counts().await.unwrap().running, 0);
    assert_eq!(store.pending_runs(None, 1).await.unwrap().len(), 1, "the limit holds");
    let (_, status) = store.run_input("e1-run0".into()).await.unwrap().unwrap();
    assert_eq!(status, RunStatus::Queued);
}

#[tokio::test]
async fn pending_runs_leave_out_paused_components_unless_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&options(dir.path())).unwrap();
    store
        .activate(NewDeployment {
            id: "d1".into(),
            component: "orders".into(),
            environment: "development".into(),
            build: "b".into(),
            source: "s".into(),
            files: "{}".into(),
            created_at: 0,
            meta: "{}".into(),
            created_by: None,
        })
        .await
        .unwrap();
    store.ingest(new_event("e1", None, 1)).await.unwrap();
    assert_eq!(store.pending_runs(None, 10).await.unwrap().len(), 1);
    assert!(store.set_paused("orders".into(), "development".into(), true).await.unwrap());
    assert!(store.pending_runs(None, 10).await.unwrap().is_empty());
    let scoped = store.pending_runs(Some(("orders".into(), "development".into())), 10).await.unwrap();
    assert_eq!(scoped.len(), 1);
}

#[tokio::test]
async fn replays_add_runs_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&options(dir.path())).unwrap();
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
}

#[tokio::test]
async fn a_full_queue_answers_busy() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&StoreOptions { queue_capacity: 1, ..options(dir.path()) }).unwrap();
    let mut busy = 0;
    let mut waiting = Vec::new();
    for i in 0..200 {
        let s = store.clone();
        let event = new_event(&format!("e{i}"), None, 0);
        // Submit synchronously-ish: spawn all at once so the one-slot queue overflows.
        waiting.push(tokio::spawn(async move { s.ingest(event).await }));
    }
    for w in waiting {
        match w.await.unwrap() {
            Err(StoreError::Busy) => busy += 1,
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert!(busy > 0, "some ingests must be refused with Busy");
}

#[tokio::test]
async fn a_batch_runs_once_over_the_members_never_stored_before() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&options(dir.path())).unwrap();
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

#[tokio::test]
async fn pruning_deletes_finished_events_with_runs_and_steps_never_open_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&options(dir.path())).unwrap();
    store.ingest(new_event("e1", Some("d-1"), 1)).await.unwrap();
    store.ingest(new_event("e2", Some("d-2"), 1)).await.unwrap();
    store.ingest(new_event("e3", None, 0)).await.unwrap();
    let done = |run: &str, status| Completion {
        run_id: run.into(),
        attempt: 1,
        status,
        finished_at: 1_700_000_000_500,
        error: None,
        error_step: None,
        next_run_at: None,
        steps: vec![NewStep {
            logs: None,
            path: "0".into(),
            id: None,
            name: None,
            kind: "log",
            status: "succeeded",
            input: None,
            output: Some("\"hi\"".into()),
            error: None,
            started_at: 1,
            duration_ms: 0.1,
        }],
    };
    store.complete(done("e1-run0", RunStatus::Succeeded)).await.unwrap();

    let candidates = store.prune_candidates(None, 10).await.unwrap();
    let by_id = |id: &str| candidates.iter().find(|c| c.id == id).unwrap().clone();
    assert_eq!((by_id("e1").open_runs, by_id("e1").succeeded_at), (0, Some(1_700_000_000_500)));
    assert_eq!(by_id("e2").open_runs, 1, "e2's run is still queued");
    assert_eq!((by_id("e3").open_runs, by_id("e3").succeeded_at, by_id("e3").failed_at), (0, None, None));
    assert_eq!(store.prune_candidates(Some("e2".into()), 10).await.unwrap().len(), 1, "after e2: e3 alone");

    // e2 has a run still queued: asked to, the store keeps it all the same.
    let n = store.prune_events(vec!["e1".into(), "e2".into(), "e3".into()]).await.unwrap();
    assert_eq!(n, 2);
    assert!(store.event("e1".into()).await.unwrap().is_none());
    assert!(store.run("e1-run0".into()).await.unwrap().is_none());
    assert!(store.event("e2".into()).await.unwrap().is_some());
    // The delivery id went with its event: a redelivery is a new event.
    assert_eq!(store.ingest(new_event("e4", Some("d-1"), 1)).await.unwrap(), IngestOutcome::Stored);
    let (size, free) = store.file_usage().await.unwrap();
    assert!(size > 0 && free <= size);
}
