//! JavaScript steps on QuickJS, sandboxed.
//!
//! A script is an ES module whose default export takes a frozen `ctx` (`event`, `meta`, `config`,
//! `vars`, `steps`) and returns a JSON-compatible value (a Promise is awaited). There is no file
//! system, network or process access: the runtime has only the language's built-ins and
//! `console`. Each call runs under a memory limit and a time limit; a runtime that hits either is
//! replaced, so the next script starts clean. Runtimes live on their own threads (QuickJS is
//! single-threaded) and keep compiled modules, so a warm call costs no compilation.

mod worker;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

/// Limits of one script call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: usize,
    pub time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { memory_bytes: 64 << 20, time: Duration::from_secs(2) }
    }
}

/// What a script gave back: its value and what it wrote with `console`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptOutput {
    pub value: serde_json::Value,
    pub logs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScriptError {
    #[error("the script ran longer than its time limit of {0:?} and was stopped")]
    Timeout(Duration),
    #[error("the script used more than its memory limit of {} MiB and was stopped", .0 >> 20)]
    Memory(usize),
    #[error("{0}")]
    Thrown(String),
    #[error("the script must `export default` a function of ctx, e.g. `export default (ctx) => ({{ ok: true }})`")]
    NoDefaultExport,
    #[error("the script's result is not JSON-compatible: {0}")]
    BadResult(String),
    #[error("the script runner is not available")]
    Unavailable,
}

struct Call {
    source: Arc<str>,
    /// `None`: only compile and find the default export.
    ctx_json: Option<String>,
    limits: Limits,
    reply: oneshot::Sender<Result<ScriptOutput, ScriptError>>,
}

/// A pool of sandboxed runtimes on dedicated threads.
#[derive(Clone)]
pub struct ScriptPool {
    tx: mpsc::SyncSender<Call>,
}

impl std::fmt::Debug for ScriptPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScriptPool")
    }
}

impl ScriptPool {
    /// `threads` runtimes (one script at a time each); calls beyond them wait their turn.
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<Call>(1024);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new().name(format!("onset-js-{i}")).spawn(move || worker::serve(&rx))?;
        }
        Ok(Self { tx })
    }

    /// Runs `source`'s default export on `ctx` (JSON).
    pub async fn run(
        &self,
        source: Arc<str>,
        ctx: &serde_json::Value,
        limits: Limits,
    ) -> Result<ScriptOutput, ScriptError> {
        self.submit(source, Some(ctx.to_string()), limits).await
    }

    /// Like [`run`](Self::run), with `ctx` already as JSON text.
    pub async fn run_json(&self, source: Arc<str>, ctx: String, limits: Limits) -> Result<ScriptOutput, ScriptError> {
        self.submit(source, Some(ctx), limits).await
    }

    /// Checks that `source` compiles and has a default export, without running it.
    pub async fn check(&self, source: Arc<str>) -> Result<(), ScriptError> {
        self.submit(source, None, Limits::default()).await.map(|_| ())
    }

    async fn submit(
        &self,
        source: Arc<str>,
        ctx_json: Option<String>,
        limits: Limits,
    ) -> Result<ScriptOutput, ScriptError> {
        let (reply, answer) = oneshot::channel();
        let call = Call { source, ctx_json, limits, reply };
        match self.tx.try_send(call) {
            Ok(()) => {}
            // The queue is bounded; waiting for room must not block the async runtime.
            Err(mpsc::TrySendError::Full(call)) => {
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || tx.send(call))
                    .await
                    .map_err(|_| ScriptError::Unavailable)?
                    .map_err(|_| ScriptError::Unavailable)?;
            }
            Err(mpsc::TrySendError::Disconnected(_)) => return Err(ScriptError::Unavailable),
        }
        answer.await.map_err(|_| ScriptError::Unavailable)?
    }
}

#[cfg(test)]
mod tests;
