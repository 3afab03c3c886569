//! The conformance suite on the machine's PostgreSQL (`ONSET_TEST_DATABASE_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/test`): each case in a schema of its own, dropped after.

use std::sync::Arc;

use super::{PgOptions, PgStore};
use crate::conformance::Backend;
use crate::*;

pub fn database_url() -> String {
    std::env::var("ONSET_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema of its own on the test database.
pub struct Postgres {
    schema: String,
}

impl Postgres {
    pub fn new() -> Postgres {
        Postgres { schema: format!("onset_test_{}", uuid::Uuid::new_v4().simple()) }
    }
}

#[async_trait::async_trait]
impl Backend for Postgres {
    async fn open(&self) -> Arc<dyn Store> {
        let options =
            PgOptions { max_connections: 8, schema: Some(self.schema.clone()), ..PgOptions::new(database_url()) };
        match PgStore::connect(&options).await {
            Ok(s) => Arc::new(s),
            Err(e) => panic!("PostgreSQL at {} (scripts/test starts it): {e}", database_url()),
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let schema = self.schema.clone();
        // Dropped inside a runtime: the schema goes from a thread with one of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let pool =
                    sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&database_url()).await.ok()?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
                    .execute(&pool)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

pub async fn backend() -> Postgres {
    Postgres::new()
}

mod conformance {
    crate::conformance!(crate::postgres::tests::backend);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_exclusive_node_per_schema() {
    let (a, b) = (Postgres::new(), Postgres::new());
    let exclusive = |schema: &str| PgOptions {
        max_connections: 2,
        schema: Some(schema.to_string()),
        exclusive: true,
        ..PgOptions::new(database_url())
    };
    let first = PgStore::connect(&exclusive(&a.schema)).await.unwrap();
    match PgStore::connect(&exclusive(&a.schema)).await {
        Err(StoreError::Locked(why)) => assert!(why.contains(&a.schema) && why.contains("--database-schema"), "{why}"),
        other => panic!("a second node on the same schema must be refused: {other:?}"),
    }
    PgStore::connect(&exclusive(&b.schema)).await.expect("another schema has a node of its own");
    drop(first);
    // The lock goes with the session that held it.
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(s) = PgStore::connect(&exclusive(&a.schema)).await {
            reopened = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(reopened.is_some(), "the schema is free once its node is gone");
}

fn node(schema: &str, reserve: Option<std::time::Duration>) -> PgOptions {
    PgOptions { max_connections: 4, schema: Some(schema.to_string()), reserve, ..PgOptions::new(database_url()) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nodes_runs_are_reserved_for_it_until_the_reservation_ends() {
    let db = Postgres::new();
    let own = PgStore::connect(&node(&db.schema, Some(std::time::Duration::from_secs(60)))).await.unwrap();
    let other = PgStore::connect(&node(&db.schema, None)).await.unwrap();
    own.ingest(crate::conformance::new_event("e1", None, 1)).await.unwrap();
    let now = crate::time::now_ms();
    assert!(other.claim("b".into(), 10, now, now + 1_000).await.unwrap().is_empty(), "reserved for its node");
    let later = now + 61_000;
    let taken = other.claim("b".into(), 10, later, later + 1_000).await.unwrap();
    assert_eq!(taken.len(), 1, "a node that does not start its runs in time loses them to the others");
    assert!(own.mark_running(vec![("e1-run0".into(), "a".into())], now, now + 1_000).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_hear_of_runs_and_changes_from_the_others() {
    let db = Postgres::new();
    let a = PgStore::connect(&node(&db.schema, None)).await.unwrap();
    let b = PgStore::connect(&node(&db.schema, None)).await.unwrap();
    let heard = b.signals().expect("a shared store has signals");
    let within = std::time::Duration::from_secs(5);
    a.ingest(crate::conformance::new_event("e1", None, 1)).await.unwrap();
    tokio::time::timeout(within, heard.runs.notified()).await.expect("b hears of a's runs");
    a.activate(crate::conformance::deployment("d1", "orders", "development", 1)).await.unwrap();
    tokio::time::timeout(within, heard.state.notified()).await.expect("b hears of a's deploy");
    a.set_paused("orders".into(), "development".into(), true).await.unwrap();
    tokio::time::timeout(within, heard.state.notified()).await.expect("b hears of a's pause");
}
