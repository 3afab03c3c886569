//! Environments and sealed config values.

use super::*;

pub async fn environments_keep_promotion_order(b: &dyn Backend) {
    let store = b.open().await;
    assert_eq!(store.environments().await.unwrap(), ["development", "production"], "a new database has two");
    assert!(store.create_environment("staging".into(), "development".into(), 1).await.unwrap());
    assert!(store.create_environment("qa".into(), "development".into(), 2).await.unwrap());
    assert!(store.create_environment("dr".into(), "production".into(), 3).await.unwrap());
    assert_eq!(store.environments().await.unwrap(), ["development", "qa", "staging", "production", "dr"]);
    assert!(!store.create_environment("x".into(), "nowhere".into(), 4).await.unwrap(), "after an unknown one");
    assert_eq!(store.environments().await.unwrap().len(), 5);
}

pub async fn config_values_are_upserted_and_scoped(b: &dyn Backend) {
    let store = b.open().await;
    let value = |component: &str, environment: &str, key: &str, sealed: &str, at: i64| SealedValue {
        component: component.into(),
        environment: environment.into(),
        key: key.into(),
        sealed: sealed.into(),
        key_id: "k1".into(),
        updated_at: at,
    };
    store
        .set_config_values(vec![
            value("orders", "development", "token", "s1", 1),
            value("orders", "development", "limit", "s2", 1),
            value("orders", "production", "token", "s3", 1),
            value("invoices", "development", "token", "s4", 1),
        ])
        .await
        .unwrap();
    store
        .set_config_values(vec![SealedValue {
            key_id: "k2".into(),
            ..value("orders", "development", "token", "s5", 2)
        }])
        .await
        .unwrap();
    let dev = store.config_values(Some(("orders".into(), "development".into()))).await.unwrap();
    let seen: Vec<_> =
        dev.iter().map(|v| (v.key.as_str(), v.sealed.as_str(), v.key_id.as_str(), v.updated_at)).collect();
    assert_eq!(seen, [("limit", "s2", "k1", 1), ("token", "s5", "k2", 2)], "ordered by key, the newer value replaced");
    let all = store.config_values(None).await.unwrap();
    let places: Vec<_> = all.iter().map(|v| (v.component.as_str(), v.environment.as_str(), v.key.as_str())).collect();
    assert_eq!(
        places,
        [
            ("invoices", "development", "token"),
            ("orders", "development", "limit"),
            ("orders", "development", "token"),
            ("orders", "production", "token")
        ]
    );
    // One value goes; the others, and the same key elsewhere, stay.
    assert!(store.delete_config_value("orders".into(), "development".into(), "token".into()).await.unwrap());
    assert!(!store.delete_config_value("orders".into(), "development".into(), "token".into()).await.unwrap());
    let left: Vec<_> = store.config_values(None).await.unwrap().into_iter().map(|v| v.sealed).collect();
    assert_eq!(left, ["s4", "s2", "s3"]);
}

pub async fn the_sealing_key_is_recorded_with_the_values_it_sealed(b: &dyn Backend) {
    let store = b.open().await;
    assert_eq!(store.sealing_key().await.unwrap(), None, "a new database has none");
    let value = |sealed: &str, key_id: &str| SealedValue {
        component: "orders".into(),
        environment: "development".into(),
        key: "token".into(),
        sealed: sealed.into(),
        key_id: key_id.into(),
        updated_at: 1,
    };
    store.set_config_values(vec![value("old", "k1")]).await.unwrap();
    store.set_sealing_key("k1".into(), Vec::new()).await.unwrap();
    assert_eq!(store.sealing_key().await.unwrap().as_deref(), Some("k1"));
    store.set_sealing_key("k2".into(), vec![value("new", "k2")]).await.unwrap();
    assert_eq!(store.sealing_key().await.unwrap().as_deref(), Some("k2"));
    let values = store.config_values(None).await.unwrap();
    assert_eq!((values.len(), values[0].sealed.as_str(), values[0].key_id.as_str()), (1, "new", "k2"));
}

pub async fn drafts_are_saved_as_revisions_and_refuse_a_stale_base(b: &dyn Backend) {
    let store = b.open().await;
    assert_eq!(store.draft("orders".into()).await.unwrap(), None);
    let text = "# keep me\ncomponent: orders\n";
    assert_eq!(store.put_draft("orders".into(), text.into(), "ann".into(), 10, Some(0)).await.unwrap(), Some(1));
    let saved = store.draft("orders".into()).await.unwrap().unwrap();
    assert_eq!(
        (saved.text.as_str(), saved.revision, saved.updated_at, saved.updated_by.as_str()),
        (text, 1, 10, "ann"),
        "byte for byte, with who saved it"
    );
    assert_eq!(
        store.put_draft("orders".into(), "x".into(), "bob".into(), 11, Some(0)).await.unwrap(),
        None,
        "a second first save loses"
    );
    assert_eq!(store.put_draft("orders".into(), "v2".into(), "bob".into(), 12, Some(1)).await.unwrap(), Some(2));
    assert_eq!(
        store.put_draft("orders".into(), "stale".into(), "ann".into(), 13, Some(1)).await.unwrap(),
        None,
        "a save on revision 1 after revision 2 is refused"
    );
    assert_eq!(store.draft("orders".into()).await.unwrap().unwrap().text, "v2", "the refused save wrote nothing");
    assert_eq!(store.put_draft("orders".into(), "v3".into(), "cli".into(), 14, None).await.unwrap(), Some(3));
    assert_eq!(store.put_draft("other".into(), "o".into(), "cli".into(), 15, None).await.unwrap(), Some(1));
    assert_eq!(store.draft("orders".into()).await.unwrap().unwrap().revision, 3);
    let listed: Vec<_> =
        store.drafts().await.unwrap().into_iter().map(|d| (d.component, d.revision, d.updated_by, d.text)).collect();
    assert_eq!(
        listed,
        [("orders".into(), 3, "cli".into(), String::new()), ("other".into(), 1, "cli".into(), String::new())],
        "by name, without the text"
    );
}
