//! Metric roll-ups.

use serde_json::json;

use super::*;

fn rollup(start: i64, handler: &str, counts: serde_json::Value) -> Rollup {
    Rollup {
        resolution: 60_000,
        start,
        component: "orders".into(),
        environment: "development".into(),
        handler: handler.into(),
        counts,
    }
}

pub async fn rollups_add_up_and_are_read_by_range(b: &dyn Backend) {
    let store = b.open().await;
    store
        .add_rollups(vec![
            rollup(60_000, "", json!({ "received": 2, "rejected": { "signature_mismatch": 1 } })),
            rollup(120_000, "POST /", json!({ "succeeded": 1, "duration": [1, 0, 2] })),
            Rollup { resolution: 3_600_000, ..rollup(0, "", json!({ "received": 2 })) },
        ])
        .await
        .unwrap();
    store
        .add_rollups(vec![
            rollup(60_000, "", json!({ "received": 3, "rejected": { "signature_mismatch": 1, "body_too_large": 2 } })),
            rollup(120_000, "POST /", json!({ "succeeded": 1, "duration": [0, 1, 1, 4], "max": { "queue_depth": 3 } })),
            rollup(120_000, "POST /", json!({ "max": { "queue_depth": 2 } })),
        ])
        .await
        .unwrap();
    let minutes = store.rollups(60_000, Some("orders".into()), Some("development".into()), 0, 180_000).await.unwrap();
    assert_eq!(minutes.len(), 2);
    assert_eq!(minutes[0].start, 60_000);
    assert_eq!(
        minutes[0].counts,
        json!({ "received": 5, "rejected": { "signature_mismatch": 2, "body_too_large": 2 } })
    );
    assert_eq!(minutes[1].handler, "POST /");
    assert_eq!(
        minutes[1].counts,
        json!({ "succeeded": 2, "duration": [1, 1, 3, 4], "max": { "queue_depth": 3 } }),
        "counters add up, maxima keep the larger"
    );
    assert_eq!(store.rollups(60_000, None, None, 100_000, 180_000).await.unwrap().len(), 1, "from ≤ start < to");
    assert!(store.rollups(60_000, Some("invoices".into()), None, 0, 180_000).await.unwrap().is_empty());
    assert_eq!(store.rollups(3_600_000, None, None, 0, 3_600_000).await.unwrap().len(), 1);
    assert_eq!(store.prune_rollups(60_000, 120_000).await.unwrap(), 1);
    assert_eq!(store.rollups(60_000, None, None, 0, 180_000).await.unwrap().len(), 1);
    assert_eq!(store.rollups(3_600_000, None, None, 0, 3_600_000).await.unwrap().len(), 1, "other resolutions stay");
}

pub async fn waiting_runs_are_counted_per_component(b: &dyn Backend) {
    let store = b.open().await;
    store.ingest(new_event("e1", None, 2)).await.unwrap();
    let mut later = new_event("e2", None, 1);
    later.component = "invoices".into();
    store.ingest(later).await.unwrap();
    store.mark_running(vec![lease("e1-run0")], 1, 2).await.unwrap();
    store
        .complete(Completion {
            next_run_at: Some(1_700_000_009_000),
            ..completion("e1-run0", 1, RunStatus::Retrying, 5)
        })
        .await
        .unwrap();
    let mut waiting = store.waiting_by_component(1_700_000_001_000).await.unwrap();
    waiting.sort();
    assert_eq!(
        waiting,
        [
            ("invoices".into(), "development".into(), 1, Some(1_700_000_000_000)),
            ("orders".into(), "development".into(), 2, Some(1_700_000_000_000)),
        ]
    );
    let before = store.waiting_by_component(1_600_000_000_000).await.unwrap();
    assert!(before.iter().all(|(_, _, _, due)| due.is_none()), "nothing is due yet: {before:?}");
}
