//! Pruning what is past its age.

use super::*;

pub async fn pruning_deletes_finished_events_with_runs_and_steps_never_open_ones(b: &dyn Backend) {
    let store = b.open().await;
    store.ingest(new_event("e1", Some("d-1"), 1)).await.unwrap();
    store.ingest(new_event("e2", Some("d-2"), 1)).await.unwrap();
    store.ingest(new_event("e3", None, 0)).await.unwrap();
    store.mark_running(vec![lease("e1-run0")], 1, 2).await.unwrap();
    store.complete(completion("e1-run0", 1, RunStatus::Succeeded, 1_700_000_000_500)).await.unwrap();

    let candidates = store.prune_candidates(None, 10).await.unwrap();
    let by_id = |id: &str| candidates.iter().find(|c| c.id == id).unwrap().clone();
    assert_eq!((by_id("e1").open_runs, by_id("e1").succeeded_at), (0, Some(1_700_000_000_500)));
    assert_eq!(by_id("e2").open_runs, 1, "e2's run is still queued");
    assert_eq!((by_id("e3").open_runs, by_id("e3").succeeded_at, by_id("e3").failed_at), (0, None, None));
    assert_eq!(store.prune_candidates(Some("e2".into()), 10).await.unwrap().len(), 1, "after e2: e3 alone");
    assert_eq!(store.prune_candidates(None, 2).await.unwrap().len(), 2, "the limit holds");

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
