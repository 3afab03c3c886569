//! What only SQLite does (the directory lock, the bounded writer queue), and the conformance
//! suite on SQLite.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::conformance::{Backend, new_event};
use crate::*;

fn options(dir: &Path) -> StoreOptions {
    StoreOptions { data_dir: dir.to_path_buf(), durability: Durability::Normal, queue_capacity: 1024 }
}

/// A data directory of its own.
pub struct Sqlite(tempfile::TempDir);

#[async_trait::async_trait]
impl Backend for Sqlite {
    async fn open(&self) -> Arc<dyn Store> {
        // The writer thread of a dropped store ends when its last handle goes; the directory
        // lock goes with it.
        for _ in 0..100 {
            match SqliteStore::open(&options(self.0.path())) {
                Ok(s) => return Arc::new(s),
                Err(StoreError::Locked(_)) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                Err(e) => panic!("{e}"),
            }
        }
        panic!("the data directory stayed locked");
    }
}

pub async fn backend() -> Sqlite {
    Sqlite(tempfile::tempdir().unwrap())
}

mod conformance {
    crate::conformance!(crate::sqlite::tests::backend);
}

#[tokio::test]
async fn one_process_per_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&options(dir.path())).unwrap();
    assert!(matches!(SqliteStore::open(&options(dir.path())), Err(StoreError::Locked(_))));
    store.ingest(new_event("e1", None, 0)).await.unwrap();
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
