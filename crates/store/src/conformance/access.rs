//! Tokens and the audit log.

use super::*;

fn token(id: &str, hash: &str, at: i64) -> TokenRow {
    TokenRow {
        id: id.into(),
        name: format!("name of {id}"),
        hash: hash.into(),
        role: "developer".into(),
        can_promote: true,
        created_at: at,
        revoked_at: None,
    }
}

pub async fn tokens_are_found_by_hash_until_revoked(b: &dyn Backend) {
    let store = b.open().await;
    store.create_token(token("t1", "h1", 1)).await.unwrap();
    store.create_token(token("t2", "h2", 2)).await.unwrap();
    let found = store.token_by_hash("h2".into()).await.unwrap().unwrap();
    assert_eq!((found.id.as_str(), found.role.as_str(), found.can_promote), ("t2", "developer", true));
    assert!(store.token_by_hash("h3".into()).await.unwrap().is_none());
    assert!(store.revoke_token("t2".into(), 5).await.unwrap());
    assert!(!store.revoke_token("t2".into(), 6).await.unwrap(), "revoked once");
    assert!(!store.revoke_token("t9".into(), 6).await.unwrap());
    assert!(store.token_by_hash("h2".into()).await.unwrap().is_none(), "a revoked token is not found");
    let all = store.tokens().await.unwrap();
    let seen: Vec<_> = all.iter().map(|t| (t.id.as_str(), t.revoked_at)).collect();
    assert_eq!(seen, [("t1", None), ("t2", Some(5))], "oldest first, revoked ones too");
}

pub async fn the_audit_log_pages_newest_first(b: &dyn Backend) {
    let store = b.open().await;
    for i in 0..5 {
        store
            .add_audit(AuditRow {
                id: format!("a{i}"),
                at: i,
                actor: "admin".into(),
                action: "deploy".into(),
                target: format!("development/c{i}"),
                detail: serde_json::json!({ "n": i }),
            })
            .await
            .unwrap();
    }
    let first = store.audit(2, None).await.unwrap();
    let ids: Vec<_> = first.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a4", "a3"]);
    assert_eq!(first[0].detail, serde_json::json!({ "n": 4 }));
    let next = store.audit(10, Some("a3".into())).await.unwrap();
    let ids: Vec<_> = next.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a2", "a1", "a0"]);
}
