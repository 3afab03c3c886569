//! The Onset server: ingress, workers and control plane in one process.
//!
//! [`run`] takes its listener and a shutdown token, so tests boot the whole server on
//! `127.0.0.1:0` in-process.

mod alerts;
mod api;
mod app;
mod auth;
mod body_budget;
mod cluster;
mod connections;
mod deploy;
mod error;
mod handshakes;
mod ingress;
mod keys;
mod lifecycle;
mod local;
mod metrics;
mod oauth2;
mod quotas;
mod registration;
mod retention;
mod routing;
mod scheduler;
mod secrets;
mod series;
mod service;
mod timed;
mod traces;
mod ui;
mod validation;
mod watch;
mod worker;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::routing::any;
use onset_connectors::{HttpConnector, HttpConnectorOptions, NetworkPolicy, Registry};
use onset_store::{PgOptions, PgStore, SqliteStore, Store, StoreOptions};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use app::{Role, ServerConfig};

/// How long runs a node stores are left to it before other nodes may claim them.
const RESERVE: std::time::Duration = std::time::Duration::from_secs(2);

/// The one place a backend is named: PostgreSQL when a database URL is given, else SQLite in
/// the data directory.
async fn open_store(config: &ServerConfig) -> Result<Arc<dyn Store>, ServerError> {
    // The master key file and the first admin token live here whichever database holds the rest.
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        ServerError::Start(format!("cannot create the data directory {}: {e}", config.data_dir.display()))
    })?;
    match &config.database_url {
        Some(url) => {
            // A node that runs work keeps what it stores for itself a moment (it has the events
            // in memory); an ingress-only node leaves every run to the workers at once.
            let reserve = config.role.runs().then_some(RESERVE);
            let options = PgOptions { schema: config.database_schema.clone(), reserve, ..PgOptions::new(url.clone()) };
            let store = PgStore::connect(&options).await?;
            tracing::info!(schema = config.database_schema.as_deref().unwrap_or("public"), "the store is PostgreSQL");
            Ok(Arc::new(store))
        }
        None if config.role != app::Role::All => Err(ServerError::Start(format!(
            "--role {} needs --database-url: nodes share work through PostgreSQL; without it one node does everything",
            config.role.as_str()
        ))),
        None => Ok(Arc::new(SqliteStore::open(&StoreOptions {
            data_dir: config.data_dir.clone(),
            durability: config.durability,
            queue_capacity: config.ingest_queue,
        })?)),
    }
}

/// The node's master keys, sealing with the key the store records (recorded now when it records
/// none). A node that lacks that key does not start: it could not open what others seal.
async fn load_keys(config: &ServerConfig, store: &dyn Store) -> Result<secrets::Keyring, ServerError> {
    let sealed_with: Vec<String> = store.config_values(None).await?.into_iter().map(|v| v.key_id).collect();
    if config.master_key.is_none() && config.master_key_file.is_none() {
        secrets::finish_rotation(&config.data_dir, &sealed_with).map_err(ServerError::Start)?;
    }
    let ring =
        secrets::Keyring::load(&config.data_dir, config.master_key.as_deref(), config.master_key_file.as_deref())
            .map_err(ServerError::Start)?;
    let recorded = store.sealing_key().await?;
    let sealing = recorded.clone().or_else(|| sealed_with.first().cloned()).unwrap_or_else(|| ring.newest().id.clone());
    let Some(ring) = ring.sealing_with(&sealing) else {
        return Err(ServerError::Start(format!(
            "config values are sealed with master key {sealing}, which this node does not hold (it holds {}); give it the \
             same ONSET_MASTER_KEY or --master-key-file as the other nodes (or as before a rotation)",
            ring.ids().join(", ")
        )));
    };
    if recorded.is_none() {
        store.set_sealing_key(sealing, Vec::new()).await?;
    }
    Ok(ring)
}

/// Connects to PostgreSQL and applies what migrations are missing (`onset migrate`).
pub async fn migrate(url: &str, schema: Option<String>) -> Result<(), ServerError> {
    PgStore::connect(&PgOptions { schema, max_connections: 1, ..PgOptions::new(url) }).await?;
    Ok(())
}
pub use deploy::config_env_name;
pub use local::{LocalRun, LocalRunRequest, run_local};
pub use onset_connectors::install_crypto_provider;
pub use onset_store::Durability;
pub use traces::Protocol as OtlpProtocol;
pub use validation::validate_project;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    Store(#[from] onset_store::StoreError),
    /// The project has problems; each line names the file, place and fix.
    #[error("the project cannot be deployed:\n{}", .0.join("\n"))]
    Project(Vec<String>),
    #[error("{0}")]
    Start(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn router(app: Arc<App>) -> Router {
    let hooks = if app.config.role.ingress() { any(ingress::receive) } else { any(no_ingress) };
    Router::new()
        .route("/hooks/{environment}/{component}", hooks.clone())
        .route("/hooks/{environment}/{component}/{*resource}", hooks)
        .route("/oauth2/token", axum::routing::post(api::oauth2::token))
        .route("/.well-known/jwks.json", axum::routing::get(api::oauth2::jwks))
        .route("/.well-known/oauth-authorization-server", axum::routing::get(api::oauth2::metadata))
        .route("/", axum::routing::get(ui::index))
        .route("/portal", axum::routing::get(ui::portal))
        .route("/portal/", axum::routing::get(ui::portal))
        .route("/assets/{*file}", axum::routing::get(ui::asset))
        .merge(api::router(app.clone()))
        .merge(api::portal::router())
        .fallback(not_found)
        .with_state(app)
}

async fn no_ingress() -> error::ApiError {
    error::ApiError::not_found(
        "no_ingress",
        "this node runs work only (--role worker) and takes no events; send them to a node with --role all or ingress",
    )
}

async fn not_found() -> error::ApiError {
    error::ApiError::not_found("not_found", "no such route")
}

/// The control plane's OpenAPI 3.1 document (`onset openapi`, `GET /api/v1/openapi.json`).
pub fn openapi() -> serde_json::Value {
    api::openapi()
}

use app::App;

/// Held by the node deploying `--project` at start.
const PROJECT_LEASE: &str = "deploy:project";

/// Deploys the project's components to `development`; every problem in every file is reported.
async fn deploy_project(app: &App, dir: &std::path::Path) -> Result<(), ServerError> {
    // The same one-pass check as `onset validate`: every problem at once, before anything runs.
    let (_, problems) = validate_project(dir);
    if !problems.is_empty() {
        return Err(ServerError::Project(problems.iter().map(ToString::to_string).collect()));
    }
    let project = onset_model::Project::load(dir)
        .map_err(|errs| ServerError::Project(errs.iter().map(ToString::to_string).collect()))?;
    let mut errors = Vec::new();
    for (_, file) in &project.components {
        if let Err(mut errs) = app.deploy(app::DEVELOPMENT, file).await {
            errors.append(&mut errs);
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(ServerError::Project(errors)) }
}

/// [`deploy_project`] one node at a time: nodes on one database that deploy the same project
/// (at start, or when their copies change) take turns, and the later ones find the same build
/// active and deploy nothing.
async fn deploy_project_once(app: &App, dir: &std::path::Path) -> Result<(), ServerError> {
    if !app.store.shared() {
        return deploy_project(app, dir).await;
    }
    while !app.hold(PROJECT_LEASE).await {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let deployed = match app.restore_activations().await {
        Ok(()) => deploy_project(app, dir).await,
        Err(e) => Err(ServerError::Start(e)),
    };
    app.let_go(PROJECT_LEASE).await;
    deployed
}

/// Runs the server until `shutdown` is cancelled, then stops intake, lets runs in flight finish
/// within the shutdown timeout, and returns.
pub async fn run(config: ServerConfig, listener: TcpListener, shutdown: CancellationToken) -> Result<(), ServerError> {
    match (&config.alert_webhook, &config.alert_webhook_secret) {
        (Some(_), None) => {
            return Err(ServerError::Start(
                "--alert-webhook needs --alert-webhook-secret (whsec_…) to sign the deliveries".into(),
            ));
        }
        (_, Some(secret)) => {
            alerts::webhook_key(secret).map_err(ServerError::Start)?;
        }
        _ => {}
    }
    let store = open_store(&config).await?;
    let http = HttpConnector::new(HttpConnectorOptions {
        policy: NetworkPolicy { deny_private: config.deny_private_networks },
        ..HttpConnectorOptions::default()
    })
    .map_err(ServerError::Start)?;
    let scripts = onset_script::ScriptPool::new(2)
        .map_err(|e| ServerError::Start(format!("cannot start the script runner: {e}")))?;
    let connectors = Registry::new(http).with_scripts(scripts, onset_script::Limits::default());
    let keyring = load_keys(&config, store.as_ref()).await?;
    let tracer = match &config.otlp_endpoint {
        Some(endpoint) => Some(
            traces::Tracer::start(endpoint, config.otlp_sample_ratio, config.otlp_protocol, shutdown.clone())
                .map_err(ServerError::Start)?,
        ),
        None => None,
    };
    let mut app = App::new(config, store, connectors, keyring, shutdown.clone());
    app.tracer = tracer;
    let completions = if app.store.shared() {
        let (tx, rx) = tokio::sync::mpsc::channel(worker::COMPLETION_QUEUE);
        app.completions = Some(tx);
        Some(rx)
    } else {
        None
    };
    let app = Arc::new(app);
    app.connectors.set_accounts(Arc::new(service::accounts::StoreAccounts(Arc::downgrade(&app))));
    let weak = Arc::downgrade(&app);
    app.connectors.tokens().observe(Arc::new(move |account, outcome| {
        let Some(app) = weak.upgrade() else { return };
        let (environment, name) = (account.environment.clone(), account.name.clone());
        tokio::spawn(async move { service::accounts::token_outcome(&app, &environment, &name, outcome).await });
    }));
    let weak = Arc::downgrade(&app);
    app.connectors.tokens().on_rotation(Arc::new(move |account, field, value| {
        let Some(app) = weak.upgrade() else { return };
        let account = account.clone();
        tokio::spawn(async move { service::accounts::rotate(&app, &account, field, value).await });
    }));
    app.load_environments().await?;
    app.lifecycle.load(app.store.as_ref()).await?;

    auth::bootstrap(&app).await.map_err(ServerError::Start)?;
    app.restore_activations().await.map_err(ServerError::Start)?;
    if let Some(dir) = app.config.project.clone() {
        deploy_project_once(&app, &dir).await?;
    }
    let shared = app.store.shared();
    if !shared {
        // Only this process uses the store: whatever is `running` was the previous process's.
        // On a shared store those runs are other nodes', taken back only when their lease ends.
        let reclaimed = app.store.recover().await?;
        if reclaimed > 0 {
            tracing::info!(runs = reclaimed, "re-queued runs interrupted by the previous process");
        }
        worker::reload(&app, None).await;
    }

    let mut tasks = tokio::task::JoinSet::new();
    if let Some(queue) = completions {
        tasks.spawn(worker::complete_batches(app.clone(), queue));
    }
    if app.config.role.runs() {
        tasks.spawn(worker::dispatch(app.clone()));
        tasks.spawn(worker::keep_leases(app.clone()));
        tasks.spawn(timed::host::renew_loop(app.clone()));
        tasks.spawn(timed::supervise(app.clone()));
    }
    if shared {
        tasks.spawn(cluster::follow(app.clone()));
        tasks.spawn(cluster::heartbeat(app.clone()));
    }
    tasks.spawn(worker::probe_disk(app.clone()));
    tasks.spawn(retention::prune_loop(app.clone()));
    tasks.spawn(series::flush_loop(app.clone(), app.config.series_flush));
    tasks.spawn(alerts::watch(app.clone(), app.config.alert_check_every));
    tasks.spawn(alerts::deliver(app.clone()));
    if app.config.watch
        && let Some(dir) = app.config.project.clone()
    {
        tasks.spawn(watch::watch_project(app.clone(), dir));
    }

    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %app.config.data_dir.display(), "onset is serving");
    let limits = connections::ConnectionLimits {
        max_connections: app.config.max_connections,
        header_timeout: app.config.header_timeout,
        idle_timeout: app.config.idle_timeout,
    };
    let server = tokio::spawn(connections::serve(listener, router(app.clone()), limits, shutdown.clone()));

    shutdown.cancelled().await;
    app.intake_open.store(false, Ordering::Relaxed);
    let deadline = tokio::time::Instant::now() + app.config.shutdown_timeout;
    while app.scheduler.running() > 0 {
        let finished = app.scheduler.finished.notified();
        if app.scheduler.running() == 0 {
            break;
        }
        if tokio::time::timeout_at(deadline, finished).await.is_err() {
            tracing::warn!(
                runs = app.scheduler.running(),
                "shutdown timeout: runs still in flight will run again at the next start"
            );
            break;
        }
    }
    // Connections still open after the runs are done are not waited for.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), server).await;
    // The last counts of the series are written before the store closes.
    series::flush(&app).await;
    if shared {
        cluster::leave(&app).await;
    }
    tasks.abort_all();
    tracing::info!("onset stopped");
    Ok(())
}

#[cfg(test)]
mod plug_ins {
    /// The server routes what the trigger registry returns: no trigger type is named in its
    /// code (OpenAPI examples aside), and no trigger is downcast to its type.
    #[test]
    fn the_server_names_no_trigger_type() {
        fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut all = Vec::new();
        files(&src, &mut all);
        let kinds: Vec<&str> = onset_sources::triggers::registry().map(|t| t.kind()).collect();
        assert!(kinds.len() >= 6);
        let mut found = Vec::new();
        for path in all.iter().filter(|p| !p.ends_with("api/doc.rs")) {
            let text = std::fs::read_to_string(path).unwrap();
            for kind in &kinds {
                if text.contains(&format!("\"{kind}\"")) {
                    found.push(format!("{}: \"{kind}\"", path.display()));
                }
            }
            // Spelt in pieces so this test does not find itself.
            for typed in
                [["downcast", "_ref"], ["Google", "Calendar"], ["triggers::", "GitHub"], ["triggers::", "Slack"]]
            {
                let typed = typed.concat();
                if text.contains(&typed) {
                    found.push(format!("{}: {typed}", path.display()));
                }
            }
        }
        assert!(found.is_empty(), "trigger-type-specific code in crates/server:\n{}", found.join("\n"));
    }
}
