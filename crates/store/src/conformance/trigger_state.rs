//! What trigger sources keep between deliveries.

use super::*;

pub async fn state_values_are_set_listed_and_removed(b: &dyn Backend) {
    let store = b.open().await;
    let set = |component: &str, key: &str, value: Option<&str>| {
        store.set_trigger_state(component.into(), "development".into(), key.into(), value.map(Into::into))
    };
    set("orders", "cursor", Some("10")).await.unwrap();
    set("orders", "cursor", Some("11")).await.unwrap();
    set("invoices", "cursor", Some("3")).await.unwrap();
    set("orders", "other", Some("x")).await.unwrap();
    let get = |component: &str, key: &str| store.trigger_state(component.into(), "development".into(), key.into());
    assert_eq!(get("orders", "cursor").await.unwrap().as_deref(), Some("11"), "the last value wins");
    assert_eq!(
        store.trigger_states("cursor".into()).await.unwrap(),
        [("invoices".into(), "development".into(), "3".into()), ("orders".into(), "development".into(), "11".into())]
    );
    set("orders", "cursor", None).await.unwrap();
    assert_eq!(get("orders", "cursor").await.unwrap(), None);
    assert_eq!(get("orders", "other").await.unwrap().as_deref(), Some("x"));
}

pub async fn a_calendar_sync_applies_at_once(b: &dyn Backend) {
    let store = b.open().await;
    let mut event = new_event("c1", Some("item-1@etag-1"), 1);
    event.component = "calendar".into();
    let batch = SyncBatch {
        component: "calendar".into(),
        environment: "development".into(),
        events: vec![event.clone()],
        upserts: vec![("item-1".into(), "etag-1".into()), ("item-2".into(), "etag-2".into())],
        deletes: Vec::new(),
        state: vec![("sync_token".into(), Some("t1".into()))],
    };
    assert_eq!(store.apply_sync(batch).await.unwrap(), [IngestOutcome::Stored]);
    let items = store.calendar_items("calendar".into(), "development".into()).await.unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items["item-1"], "etag-1");
    let token = store.trigger_state("calendar".into(), "development".into(), "sync_token".into()).await.unwrap();
    assert_eq!(token.as_deref(), Some("t1"));

    // The same change found again (a crash before the token was kept) runs nothing twice.
    let again = SyncBatch {
        component: "calendar".into(),
        environment: "development".into(),
        events: vec![NewEvent { id: "c2".into(), ..event }],
        upserts: vec![("item-2".into(), "etag-3".into())],
        deletes: vec!["item-1".into()],
        state: vec![("sync_token".into(), None)],
    };
    assert_eq!(store.apply_sync(again).await.unwrap(), [IngestOutcome::Duplicate { event_id: "c1".into() }]);
    let items = store.calendar_items("calendar".into(), "development".into()).await.unwrap();
    assert_eq!(items.into_iter().collect::<Vec<_>>(), [("item-2".to_string(), "etag-3".to_string())]);
    assert_eq!(store.trigger_state("calendar".into(), "development".into(), "sync_token".into()).await.unwrap(), None);
    store.clear_calendar_items("calendar".into(), "development".into()).await.unwrap();
    assert!(store.calendar_items("calendar".into(), "development".into()).await.unwrap().is_empty());
}
