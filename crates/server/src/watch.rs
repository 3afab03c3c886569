//! Re-deploying the project when its files change (polling: no platform watcher needed).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::app::App;

/// Paths, sizes and modification times of the project's YAML files.
fn fingerprint(dir: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut out = Vec::new();
    let mut visit = |p: PathBuf| {
        if let Ok(meta) = std::fs::metadata(&p) {
            out.push((p, meta.len(), meta.modified().ok()));
        }
    };
    visit(dir.join("onset.yaml"));
    // Component files and the script files beside them, one directory level deep.
    if let Ok(entries) = std::fs::read_dir(dir.join("components")) {
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                if let Ok(inner) = std::fs::read_dir(&path) {
                    inner.flatten().for_each(|f| visit(f.path()));
                }
            } else {
                visit(path);
            }
        }
    }
    // Imported connectors' documents: a change redeploys the components that call them.
    if let Ok(entries) = std::fs::read_dir(dir.join("connectors")) {
        entries.flatten().for_each(|e| visit(e.path()));
    }
    out.sort();
    out
}

pub async fn watch_project(app: Arc<App>, dir: PathBuf) {
    let mut last = fingerprint(&dir);
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = app.shutdown.cancelled() => break,
        }
        let now = fingerprint(&dir);
        if now == last {
            continue;
        }
        last = now;
        match crate::deploy_project_once(&app, &dir).await {
            Ok(()) => tracing::info!("project re-deployed after a change"),
            Err(e) => tracing::error!("the changed project was not deployed; the previous build stays active:\n{e}"),
        }
    }
}
