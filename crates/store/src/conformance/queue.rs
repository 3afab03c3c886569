//! Runs as jobs: taking them, completions with their steps, retries, recovery after a restart.

use super::*;

pub async fn completion_records_steps_and_retry_schedule(b: &dyn Backend) {
    let store = b.open().await;
    store.ingest(new_event("e1", None, 1)).await.unwrap();
    store.mark_running(vec![lease("e1-run0")], 1, 2).await.unwrap();
    let failed = NewStep { status: "failed", error: Some("boom".into()), ..step("failed") };
    store
        .complete(Completion {
            run_id: "e1-run0".into(),
            lease: Some("lease-e1-run0".into()),
            attempt: 1,
            status: RunStatus::Retrying,
            finished_at: 5,
            error: Some("boom".into()),
            error_step: Some("0".into()),
            next_run_at: Some(99),
            steps: vec![failed],
        })
        .await
        .unwrap();
    let run = store.run("e1-run0".into()).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Retrying);
    assert_eq!(run.attempt, 2, "the next attempt is numbered");
    assert_eq!(run.next_attempt_at, Some(99));
    assert_eq!(run.error.as_deref(), Some("boom"));
    let due = store.pending_runs(None, 10).await.unwrap();
    assert_eq!((due.len(), due[0].attempt, due[0].run_at), (1, 2, 99), "the retry waits for its time");
    // The retry is taken again under a lease of its own.
    store.mark_running(vec![("e1-run0".into(), "lease-2".into())], 99, 200).await.unwrap();
    store
        .complete(Completion { lease: Some("lease-2".into()), ..completion("e1-run0", 2, RunStatus::Succeeded, 100) })
        .await
        .unwrap();
    let run = store.run("e1-run0".into()).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Succeeded);
    let steps = run.steps.unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!((steps[0].attempt, steps[1].attempt), (1, 2));
    assert_eq!(steps[0].error.as_deref(), Some("boom"));
    assert_eq!(steps[1].output.as_ref().unwrap().get(), r#"{"x":1}"#);
    assert_eq!(steps[1].logs.as_ref().unwrap().get(), r#"["hello"]"#);
    assert!(store.pending_runs(None, 10).await.unwrap().is_empty());
}

pub async fn recovery_requeues_interrupted_runs(b: &dyn Backend) {
    {
        let store = b.open().await;
        store.ingest(new_event("e1", None, 2)).await.unwrap();
        store.mark_running(vec![lease("e1-run0")], 1, 2).await.unwrap();
        // The mark is not awaited by its callers; a later write commits after it.
        store.ingest(new_event("e2", None, 0)).await.unwrap();
        assert_eq!(store.queue_counts().await.unwrap().running, 1);
    }
    let store = b.open().await;
    assert_eq!(store.recover().await.unwrap(), 1);
    let pending = store.pending_runs(None, 10).await.unwrap();
    let ids: Vec<_> = pending.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["e1-run0", "e1-run1"]);
    assert_eq!(store.queue_counts().await.unwrap().running, 0);
    assert_eq!(store.pending_runs(None, 1).await.unwrap().len(), 1, "the limit holds");
    let (_, status) = store.run_input("e1-run0".into()).await.unwrap().unwrap();
    assert_eq!(status, RunStatus::Queued);
}

pub async fn pending_runs_leave_out_paused_components_unless_asked_for(b: &dyn Backend) {
    let store = b.open().await;
    store.activate(deployment("d1", "orders", "development", 0)).await.unwrap();
    store.ingest(new_event("e1", None, 1)).await.unwrap();
    let pending = store.pending_runs(None, 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    let p = &pending[0];
    assert_eq!(
        (p.event_id.as_str(), p.component.as_str(), p.environment.as_str(), p.deployment_id.as_str()),
        ("e1", "orders", "development", "d1")
    );
    assert_eq!((p.attempt, p.max_attempts), (1, 3));
    assert!(store.set_paused("orders".into(), "development".into(), true).await.unwrap());
    assert!(store.pending_runs(None, 10).await.unwrap().is_empty());
    let scoped = store.pending_runs(Some(("orders".into(), "development".into())), 10).await.unwrap();
    assert_eq!(scoped.len(), 1);
    assert!(store.set_paused("orders".into(), "development".into(), false).await.unwrap());
    assert_eq!(store.pending_runs(None, 10).await.unwrap().len(), 1);
    assert!(!store.set_paused("orders".into(), "production".into(), true).await.unwrap(), "not deployed there");
}

pub async fn running_runs_are_counted_until_they_end(b: &dyn Backend) {
    let store = b.open().await;
    store.ingest(new_event("e1", None, 2)).await.unwrap();
    store.mark_running(vec![lease("e1-run0"), lease("e1-run1")], 10, 20).await.unwrap();
    store.extend_leases(vec![lease("e1-run0"), lease("e1-run1")], 40).await.unwrap();
    // Marks need not be awaited to their commit (SQLite); a later awaited write commits after them.
    assert!(store.reclaim_expired(0).await.unwrap().is_empty());
    let counts = store.queue_counts().await.unwrap();
    assert_eq!((counts.queued, counts.running, counts.retrying), (0, 2, 0));
    assert_eq!(store.run("e1-run0".into()).await.unwrap().unwrap().status, RunStatus::Running);
    store.complete(completion("e1-run0", 1, RunStatus::Succeeded, 50)).await.unwrap();
    store
        .complete(Completion { next_run_at: Some(60), ..completion("e1-run1", 1, RunStatus::Retrying, 50) })
        .await
        .unwrap();
    // A lease extended after the run ended does not take it back.
    store.extend_leases(vec![lease("e1-run0")], 90).await.unwrap();
    let counts = store.queue_counts().await.unwrap();
    assert_eq!((counts.queued, counts.running, counts.retrying), (0, 0, 1));
    assert_eq!(store.run("e1-run0".into()).await.unwrap().unwrap().status, RunStatus::Succeeded);
}

pub async fn a_completion_under_a_lost_lease_is_refused(b: &dyn Backend) {
    let store = b.open().await;
    store.ingest(new_event("e1", None, 1)).await.unwrap();
    store.mark_running(vec![("e1-run0".into(), "old".into())], 10, 100).await.unwrap();
    // A lease is only extended by its holder.
    store.extend_leases(vec![("e1-run0".into(), "someone-else".into())], 10_000).await.unwrap();
    assert!(store.reclaim_expired(100).await.unwrap().is_empty(), "not expired before its end");
    assert_eq!(store.reclaim_expired(101).await.unwrap(), ["e1-run0"]);
    assert_eq!(store.run("e1-run0".into()).await.unwrap().unwrap().status, RunStatus::Queued);
    // Taken again; a run already held is not taken a second time.
    store.mark_running(vec![("e1-run0".into(), "new".into())], 110, 500).await.unwrap();
    store.mark_running(vec![("e1-run0".into(), "third".into())], 120, 500).await.unwrap();
    store.extend_leases(vec![("e1-run0".into(), "new".into())], 900).await.unwrap();
    assert!(store.reclaim_expired(600).await.unwrap().is_empty(), "the holder extended its lease");

    // The slow first attempt ends: refused, nothing of it written.
    let stale = Completion { lease: Some("old".into()), ..completion("e1-run0", 1, RunStatus::Failed, 700) };
    assert!(matches!(store.complete(stale).await, Err(StoreError::LeaseLost)));
    let third = Completion { lease: Some("third".into()), ..completion("e1-run0", 1, RunStatus::Failed, 700) };
    assert!(matches!(store.complete(third).await, Err(StoreError::LeaseLost)));
    let run = store.run("e1-run0".into()).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Running);
    assert!(run.steps.unwrap().is_empty());
    // The holder's completion is recorded; afterwards not even it may complete again.
    let held = Completion { lease: Some("new".into()), ..completion("e1-run0", 1, RunStatus::Succeeded, 800) };
    store.complete(held.clone()).await.unwrap();
    assert_eq!(store.run("e1-run0".into()).await.unwrap().unwrap().status, RunStatus::Succeeded);
    assert!(matches!(store.complete(held).await, Err(StoreError::LeaseLost)));
    // Without a lease (a run ended before it was taken), a completion is recorded as it is.
    store.ingest(new_event("e2", None, 1)).await.unwrap();
    store.complete(Completion { lease: None, ..completion("e2-run0", 1, RunStatus::Failed, 5) }).await.unwrap();
    assert_eq!(store.run("e2-run0".into()).await.unwrap().unwrap().status, RunStatus::Failed);
}

pub async fn claims_take_due_runs_once_under_their_lease(b: &dyn Backend) {
    let store = b.open().await;
    // 40 runs due now, one due later, one of a paused component.
    for i in 0..20 {
        store.ingest(new_event(&format!("e{i:02}"), None, 2)).await.unwrap();
    }
    let mut later = new_event("late", None, 1);
    later.received_at = 1_700_000_999_000;
    store.ingest(later).await.unwrap();
    store.activate(deployment("p1", "paused", "development", 0)).await.unwrap();
    store.set_paused("paused".into(), "development".into(), true).await.unwrap();
    let mut paused = new_event("p", None, 1);
    paused.component = "paused".into();
    store.ingest(paused).await.unwrap();

    let now = 1_700_000_000_000;
    let first = store.claim("c1".into(), 5, now, now + 1_000).await.unwrap();
    let ids: Vec<_> = first.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["e00-run0", "e00-run1", "e01-run0", "e01-run1", "e02-run0"], "oldest due first");
    assert_eq!(store.run("e00-run0".into()).await.unwrap().unwrap().status, RunStatus::Running);

    // Eight claims at once share out the rest: each run once, none due later, none paused.
    let mut tasks = Vec::new();
    for c in 0..8 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move { s.claim(format!("t{c}"), 10, now, now + 1_000).await.unwrap() }));
    }
    let mut seen: Vec<String> = first.iter().map(|r| r.id.clone()).collect();
    for t in tasks {
        seen.extend(t.await.unwrap().into_iter().map(|r| r.id));
    }
    let total = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!((total, seen.len()), (40, 40), "every due run handed out once");
    assert!(store.claim("c9".into(), 10, now, now + 1_000).await.unwrap().is_empty());

    // A claimed run completes under the claim's token, and only under it.
    let wrong = Completion { lease: Some("t-other".into()), ..completion("e00-run0", 1, RunStatus::Succeeded, now) };
    assert!(matches!(store.complete(wrong).await, Err(StoreError::LeaseLost)));
    let right = Completion { lease: Some("c1".into()), ..completion("e00-run0", 1, RunStatus::Succeeded, now) };
    store.complete(right).await.unwrap();
    // Once its time comes, the later run is claimed too.
    let late = store.claim("c10".into(), 10, 1_700_000_999_000, 1_700_001_000_000).await.unwrap();
    assert_eq!(late.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["late-run0"]);
}

pub async fn completions_in_a_batch_are_each_fenced_by_their_lease(b: &dyn Backend) {
    let store = b.open().await;
    store.ingest(new_event("e1", None, 3)).await.unwrap();
    store.mark_running(vec![lease("e1-run0"), lease("e1-run1"), lease("e1-run2")], 1, 1_000).await.unwrap();
    let stale = Completion { lease: Some("an-older-lease".into()), ..completion("e1-run1", 1, RunStatus::Failed, 5) };
    let retry = Completion { next_run_at: Some(50), ..completion("e1-run2", 1, RunStatus::Retrying, 5) };
    let recorded =
        store.complete_batch(vec![completion("e1-run0", 1, RunStatus::Succeeded, 5), stale, retry]).await.unwrap();
    assert_eq!(recorded, [true, false, true]);
    let run = |id: &'static str| {
        let store = store.clone();
        async move { store.run(id.into()).await.unwrap().unwrap() }
    };
    let done = run("e1-run0").await;
    assert_eq!((done.status, done.finished_at, done.steps.map(|s| s.len())), (RunStatus::Succeeded, Some(5), Some(1)));
    let held = run("e1-run1").await;
    assert_eq!(
        (held.status, held.steps.map(|s| s.len())),
        (RunStatus::Running, Some(0)),
        "a lost lease writes nothing"
    );
    let retrying = run("e1-run2").await;
    assert_eq!((retrying.status, retrying.attempt, retrying.next_attempt_at), (RunStatus::Retrying, 2, Some(50)));
    assert!(store.complete_batch(Vec::new()).await.unwrap().is_empty());
}
