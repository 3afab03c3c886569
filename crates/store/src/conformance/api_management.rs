//! Plans, applications with their keys, subscriptions.

use super::*;

fn app(id: &str, owner: &str, at: i64) -> ApplicationRow {
    ApplicationRow {
        id: id.into(),
        name: format!("app {id}"),
        owner: owner.into(),
        client_id: format!("client-{id}"),
        secret_hash: format!("hash-{id}"),
        created_at: at,
    }
}

fn key(hash: &str, app: &str, kind: &str, at: i64) -> ApiKeyRow {
    ApiKeyRow {
        hash: hash.into(),
        application_id: app.into(),
        kind: kind.into(),
        prefix: hash.chars().take(4).collect(),
        created_at: at,
        revoked_at: None,
    }
}

pub async fn the_wso2_plans_are_seeded_and_more_can_be_made(b: &dyn Backend) {
    let store = b.open().await;
    let plans: Vec<_> = store.plans().await.unwrap().into_iter().map(|p| (p.name, p.rate_limit)).collect();
    assert_eq!(
        plans,
        [
            ("Bronze".to_string(), Some("1000/m".to_string())),
            ("Gold".into(), Some("5000/m".into())),
            ("Silver".into(), Some("2000/m".into())),
            ("Unlimited".into(), None),
        ]
    );
    let trial = PlanRow {
        name: "Trial".into(),
        rate_limit: Some("10/m".into()),
        daily_quota: Some(100),
        monthly_quota: Some(1000),
        created_at: 5,
    };
    assert!(store.create_plan(trial.clone()).await.unwrap());
    assert!(!store.create_plan(trial.clone()).await.unwrap(), "a name is taken once");
    assert!(store.plans().await.unwrap().contains(&trial));
}

pub async fn a_key_is_found_by_its_hash_until_replaced_or_its_application_deleted(b: &dyn Backend) {
    let store = b.open().await;
    store.create_application(app("a1", "consumer:c1", 1)).await.unwrap();
    store.create_application(app("a2", "token:admin", 2)).await.unwrap();
    assert_eq!(store.applications(Some("consumer:c1".into())).await.unwrap(), [app("a1", "consumer:c1", 1)]);
    assert_eq!(store.applications(None).await.unwrap().len(), 2);
    assert_eq!(store.application("a2".into()).await.unwrap(), Some(app("a2", "token:admin", 2)));

    store.replace_key(key("sand-1", "a1", "sandbox", 10)).await.unwrap();
    store.replace_key(key("prod-1", "a1", "production", 11)).await.unwrap();
    let (k, a) = store.key_by_hash("sand-1".into()).await.unwrap().unwrap();
    assert_eq!((k.kind.as_str(), a.id.as_str()), ("sandbox", "a1"));
    // Regenerating the sandbox key revokes the old one; the production key stays.
    store.replace_key(key("sand-2", "a1", "sandbox", 20)).await.unwrap();
    assert!(store.key_by_hash("sand-1".into()).await.unwrap().is_none());
    assert!(store.key_by_hash("sand-2".into()).await.unwrap().is_some());
    let kinds: Vec<_> = store.keys("a1".into()).await.unwrap().into_iter().map(|k| (k.kind, k.hash)).collect();
    assert_eq!(kinds, [("production".to_string(), "prod-1".to_string()), ("sandbox".into(), "sand-2".into())]);

    let sub = SubscriptionRow {
        id: "s1".into(),
        application_id: "a1".into(),
        component: "orders".into(),
        environment: "development".into(),
        plan: "Bronze".into(),
        created_at: 30,
    };
    assert!(store.subscribe(sub.clone()).await.unwrap());
    assert!(!store.subscribe(SubscriptionRow { id: "s2".into(), ..sub.clone() }).await.unwrap(), "once per API");
    assert_eq!(store.subscriptions(Some("a1".into()), None).await.unwrap(), std::slice::from_ref(&sub));
    assert_eq!(store.subscriptions(None, Some(("orders".into(), "development".into()))).await.unwrap(), [sub]);
    assert!(store.subscriptions(None, Some(("orders".into(), "production".into()))).await.unwrap().is_empty());

    // Deleting the application takes its keys and subscriptions.
    assert!(store.delete_application("a1".into()).await.unwrap());
    assert!(!store.delete_application("a1".into()).await.unwrap());
    assert!(store.key_by_hash("prod-1".into()).await.unwrap().is_none());
    assert!(store.subscriptions(None, None).await.unwrap().is_empty());
    store
        .subscribe(SubscriptionRow {
            id: "s3".into(),
            application_id: "a2".into(),
            component: "orders".into(),
            environment: "production".into(),
            plan: "Gold".into(),
            created_at: 40,
        })
        .await
        .unwrap();
    assert!(store.unsubscribe("s3".into()).await.unwrap());
    assert!(!store.unsubscribe("s3".into()).await.unwrap());
}

pub async fn applications_are_found_by_client_id_and_signing_keys_rotate(b: &dyn Backend) {
    let store = b.open().await;
    store.create_application(app("a1", "token:admin", 10)).await.unwrap();
    assert_eq!(store.application_by_client_id("client-a1".into()).await.unwrap().map(|a| a.id).as_deref(), Some("a1"));
    assert!(store.application_by_client_id("client-zz".into()).await.unwrap().is_none());

    let key = |kid: &str, at: i64| SigningKeyRow {
        kid: kid.into(),
        public_jwk: format!(r#"{{"kid":"{kid}"}}"#),
        sealed: format!("sealed-{kid}"),
        key_id: "m1".into(),
        created_at: at,
    };
    assert!(store.signing_keys().await.unwrap().is_empty());
    store.add_signing_key(key("k1", 100), 0).await.unwrap();
    store.add_signing_key(key("k2", 200), 50).await.unwrap();
    let kids = |rows: Vec<SigningKeyRow>| rows.into_iter().map(|k| k.kid).collect::<Vec<_>>();
    assert_eq!(kids(store.signing_keys().await.unwrap()), ["k2", "k1"], "newest first");
    // Two nodes adding the same key at once keep one.
    store.add_signing_key(key("k2", 200), 50).await.unwrap();
    // A rotation drops the keys too old to have signed a token still valid.
    store.add_signing_key(key("k3", 300), 150).await.unwrap();
    let rows = store.signing_keys().await.unwrap();
    assert_eq!(rows[0], key("k3", 300));
    assert_eq!(kids(rows), ["k3", "k2"]);
}

pub async fn quota_windows_are_shared_out_up_to_their_limit(b: &dyn Backend) {
    let store = b.open().await;
    // Two nodes take chunks of 3 of a window of 7: never more than 7 in all.
    let mut granted = Vec::new();
    for _ in 0..4 {
        granted.push(store.take_quota("api a".into(), 60_000, 3, 7, 120_000).await.unwrap());
    }
    assert_eq!(granted, [3, 3, 1, 0]);
    // Another window, another key: their own counts.
    assert_eq!(store.take_quota("api a".into(), 120_000, 3, 7, 180_000).await.unwrap(), 3);
    assert_eq!(store.take_quota("api b".into(), 60_000, 10, 7, 120_000).await.unwrap(), 7);
    // Taken at once, the grants still add up to the limit.
    let take = || store.take_quota("api c".into(), 0, 2, 9, 60_000);
    let (a, b, c, d, e) = tokio::join!(take(), take(), take(), take(), take());
    assert_eq!([a, b, c, d, e].into_iter().map(Result::unwrap).sum::<u64>(), 9);
    assert_eq!(store.prune_quotas(130_000).await.unwrap(), 3, "the windows that ended");
    assert_eq!(store.take_quota("api a".into(), 60_000, 3, 7, 120_000).await.unwrap(), 3, "pruned: counted anew");
}

pub async fn consumers_have_one_account_per_email(b: &dyn Backend) {
    let store = b.open().await;
    let ann = ConsumerRow {
        id: "c1".into(),
        email: "ann@example.com".into(),
        name: "Ann".into(),
        password_hash: "pbkdf2$x".into(),
        created_at: 5,
    };
    assert!(store.create_consumer(ann.clone()).await.unwrap());
    assert!(!store.create_consumer(ConsumerRow { id: "c2".into(), ..ann.clone() }).await.unwrap(), "one per address");
    assert_eq!(store.consumer("ann@example.com".into()).await.unwrap(), Some(ann.clone()));
    assert_eq!(store.consumer("c1".into()).await.unwrap(), Some(ann));
    assert!(store.consumer("c2".into()).await.unwrap().is_none());
}
