//! The two references, each run as its own process like the server under test: a bare axum
//! endpoint answering 200, and one that appends each body to SQLite (WAL, synchronous=NORMAL)
//! with batched commits and answers after the commit (the durable-ingest limit of the machine).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use tokio::sync::{mpsc, oneshot};

pub async fn serve_bare(addr: &str) -> anyhow::Result<()> {
    let app = Router::new().route("/{*path}", post(|_body: Bytes| async { StatusCode::OK }));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

type Append = (Bytes, oneshot::Sender<bool>);

fn writer(path: std::path::PathBuf, mut rx: mpsc::Receiver<Append>) -> anyhow::Result<()> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch("CREATE TABLE IF NOT EXISTS bodies (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")?;
    let mut batch: Vec<Append> = Vec::with_capacity(1024);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < 1024 {
            match rx.try_recv() {
                Ok(a) => batch.push(a),
                Err(_) => break,
            }
        }
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("INSERT INTO bodies (body) VALUES (?1)")?;
            for (body, _) in &batch {
                stmt.execute([body.as_ref()])?;
            }
        }
        tx.commit()?;
        for (_, done) in batch.drain(..) {
            let _ = done.send(true);
        }
    }
    Ok(())
}

pub async fn serve_sqlite(addr: &str, dir: &str) -> anyhow::Result<()> {
    let (tx, rx) = mpsc::channel::<Append>(8192);
    let path = std::path::Path::new(dir).join("reference.db");
    std::thread::spawn(move || {
        if let Err(e) = writer(path, rx) {
            eprintln!("reference writer failed: {e}");
        }
    });
    async fn append(State(tx): State<mpsc::Sender<Append>>, body: Bytes) -> StatusCode {
        let (done, wait) = oneshot::channel();
        if tx.send((body, done)).await.is_err() {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        match wait.await {
            Ok(true) => StatusCode::OK,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    let app = Router::new().route("/{*path}", post(append)).with_state(tx);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
