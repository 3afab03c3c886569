//! The server's shared state: store, active deployments, scheduler, connectors, metrics.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use onset_connectors::Registry;
use onset_model::SourceFile;
use onset_store::Store;
use tokio_util::sync::CancellationToken;

use crate::deploy::Deployed;
use crate::metrics::Metrics;
use crate::scheduler::{HandlerKey, Scheduler};
use crate::service::deployments::Failure;

/// The environment `serve --project` deploys to.
pub const DEVELOPMENT: &str = "development";

/// What a node does in a cluster (`--role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Ingress, control plane, runs and sources (the only role of a node without PostgreSQL).
    #[default]
    All,
    /// Ingress and control plane; runs nothing, every run waits in the database for a worker.
    Ingress,
    /// Runs and sources; no public ingress (`/hooks/…` answers 404), the control plane stays.
    Worker,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Ingress => "ingress",
            Role::Worker => "worker",
        }
    }

    /// Runs handlers and sources.
    pub fn runs(self) -> bool {
        self != Role::Ingress
    }

    /// Takes events at `/hooks/…`.
    pub fn ingress(self) -> bool {
        self != Role::Worker
    }
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    /// `postgres://…`: keep everything in PostgreSQL instead of SQLite in the data directory.
    pub database_url: Option<String>,
    /// The PostgreSQL schema the tables live in (created if missing); the connection's default
    /// (`public`) without it.
    pub database_schema: Option<String>,
    /// What this node does (several nodes share a PostgreSQL database).
    pub role: Role,
    pub project: Option<PathBuf>,
    /// Larger request bodies are refused with 413.
    pub max_body: u64,
    /// Request-body bytes the ingress holds at once; beyond it requests get 503 before their body
    /// is read.
    pub max_inflight_body: u64,
    /// A request's head must arrive whole within this, counted from when the connection waits
    /// for one.
    pub header_timeout: Duration,
    /// A keep-alive connection without a request for this long is closed; a body that sends
    /// nothing for this long is answered 408.
    pub idle_timeout: Duration,
    /// Connections open at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Succeeded runs (and events no handler took) are kept this long after they finish.
    pub retain_succeeded: Duration,
    /// Failed and dead runs are kept this long after they finish.
    pub retain_failed: Duration,
    /// How often retention prunes.
    pub prune_every: Duration,
    /// How often metric roll-ups are written.
    pub series_flush: Duration,
    /// Count metric series at all (off only to measure their cost).
    pub series: bool,
    /// A source failing this long raises an alert.
    pub alert_source_down: Duration,
    /// The data directory's disk this full (percent) raises an alert.
    pub alert_disk_percent: u8,
    /// Alerts are POSTed here, signed with `alert_webhook_secret` (Standard Webhooks).
    pub alert_webhook: Option<String>,
    /// `whsec_…`; never logged.
    pub alert_webhook_secret: Option<String>,
    /// How often sources and the disk are checked for alerts.
    pub alert_check_every: Duration,
    /// Where spans go (OTLP/HTTP); no tracing without it.
    pub otlp_endpoint: Option<String>,
    /// The share of new traces recorded (0 to 1); an incoming `traceparent` decides for itself.
    pub otlp_sample_ratio: f64,
    /// How spans are encoded (`--otlp-protocol`, default protobuf).
    pub otlp_protocol: crate::traces::Protocol,
    /// How long SIGTERM waits for runs in flight.
    pub shutdown_timeout: Duration,
    pub deny_private_networks: bool,
    pub durability: onset_store::Durability,
    /// Runs executing at once.
    pub workers: usize,
    /// Writes waiting for the database beyond this are refused with 503.
    pub ingest_queue: usize,
    /// Runs waiting in memory at most; the rest wait in the database and are loaded as room frees.
    pub max_waiting: usize,
    /// A running run's lease, extended every third of it while the run goes on; also the lease
    /// of singletons (schedules, pollers) in a cluster. A node that dies gives its runs and
    /// singletons to the others after at most this long.
    pub lease: Duration,
    /// `ONSET_CONFIG__…` variables, read once at start.
    pub config_env: HashMap<String, String>,
    /// Re-deploy the project when its files change.
    pub watch: bool,
    /// The address providers reach this server at (`--public-url`), for registering webhooks.
    pub public_url: Option<String>,
    /// `ONSET_MASTER_KEY`, read once at start; without it `master_key_file`, else the key file
    /// in the data directory.
    pub master_key: Option<String>,
    /// `--master-key-file`: master keys, one per line, newest first (the same on every node).
    pub master_key_file: Option<PathBuf>,
    /// `ONSET_ADMIN_TOKEN`: the first admin token of a store that has none (else a random one);
    /// ignored once the store has tokens.
    pub admin_token: Option<String>,
    /// Google Calendar channels are renewed when less than this remains before they expire.
    pub channel_renewal: Duration,
    /// How often channel expirations are checked.
    pub renewal_check: Duration,
    /// `--client-ip-header`: the header a trusted proxy puts the client's address in
    /// (`x-forwarded-for`: its last entry), for per-client limits; else the connection's peer.
    pub client_ip_header: Option<String>,
    /// How long an access token of `/oauth2/token` is valid (`--oauth2-token-lifetime`).
    pub oauth2_token_lifetime: Duration,
    /// A new signing key is made when the newest is this old (`--oauth2-key-rotation`); the
    /// previous ones stay published while tokens they signed may still be valid.
    pub oauth2_key_rotation: Duration,
}

impl ServerConfig {
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            database_url: None,
            database_schema: None,
            role: Role::All,
            project: None,
            max_body: 25 << 20,
            max_inflight_body: 256 << 20,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
            retain_succeeded: Duration::from_secs(7 * 86_400),
            retain_failed: Duration::from_secs(30 * 86_400),
            prune_every: Duration::from_secs(60),
            series_flush: Duration::from_secs(5),
            series: true,
            alert_source_down: Duration::from_secs(60),
            alert_disk_percent: 90,
            alert_webhook: None,
            alert_webhook_secret: None,
            alert_check_every: Duration::from_secs(5),
            otlp_endpoint: None,
            otlp_sample_ratio: 1.0,
            otlp_protocol: crate::traces::Protocol::Protobuf,
            shutdown_timeout: Duration::from_secs(30),
            deny_private_networks: false,
            durability: onset_store::Durability::Normal,
            workers: 64,
            ingest_queue: 8192,
            max_waiting: crate::scheduler::MAX_WAITING,
            lease: Duration::from_secs(30),
            config_env: HashMap::new(),
            watch: true,
            public_url: None,
            master_key: None,
            master_key_file: None,
            admin_token: None,
            channel_renewal: Duration::from_secs(3600),
            renewal_check: Duration::from_secs(60),
            client_ip_header: None,
            oauth2_token_lifetime: Duration::from_secs(3600),
            oauth2_key_rotation: Duration::from_secs(30 * 86_400),
        }
    }
}

pub struct App {
    pub config: ServerConfig,
    /// Everything kept, whichever backend holds it.
    pub store: Arc<dyn Store>,
    pub scheduler: Scheduler,
    pub connectors: Registry,
    /// Accounts opened for runs on this node.
    pub accounts: crate::service::accounts::Cache,
    pub metrics: Metrics,
    /// Exports spans when `--otlp-endpoint` is set.
    pub tracer: Option<Arc<crate::traces::Tracer>>,
    /// Woken when an alert is raised, so the webhook hears of it at once.
    pub alerts_changed: tokio::sync::Notify,
    /// Alerts raised while the store could not record them (a full disk), by key.
    unstored_alerts: std::sync::Mutex<HashMap<String, onset_store::AlertRow>>,
    /// Counts for the metric series, written as roll-ups every `series_flush`.
    pub series: crate::series::Series,
    /// Memory for request bodies in flight (`--max-inflight-body`).
    pub body_budget: crate::body_budget::BodyBudget,
    /// Requests counted against rate limits on this node.
    pub limiter: onset_gateway::Limiter,
    /// Which APIs are deprecated or retired where.
    pub lifecycle: crate::lifecycle::Board,
    /// What API keys may call, as last looked up.
    pub keys: crate::keys::KeyCache,
    /// Onset's OAuth2 signing keys, external issuers' keys and tokens checked recently.
    pub oauth2: crate::oauth2::OAuth2,
    /// What this node holds of rate-limit windows shared with the other nodes.
    pub shared_limits: crate::quotas::Shared,
    /// `(environment, component)` → the active deployment.
    active: RwLock<HashMap<(String, String), Arc<Deployed>>>,
    /// Every deployment loaded in this process, by id (retries run on their own build).
    builds: RwLock<HashMap<String, Arc<Deployed>>>,
    /// False once shutdown began: ingress answers 503.
    pub intake_open: AtomicBool,
    /// Unix ms of the dispatcher's last loop (readiness).
    pub dispatcher_beat: AtomicI64,
    pub shutdown: CancellationToken,
    /// Seals and opens config values; replaced by a key rotation.
    pub keyring: RwLock<Arc<crate::secrets::Keyring>>,
    /// Environment names in promotion order.
    pub environments: RwLock<Vec<String>>,
    /// Woken when a deployment is installed, so schedules and pollers follow at once.
    pub sources_changed: tokio::sync::Notify,
    /// What schedules and pollers last did.
    pub source_health: crate::timed::HealthBoard,
    /// This process's name among the nodes sharing the store (and the holder of its leases).
    pub node_id: String,
    pub started_at: i64,
    /// Leases this node holds, with until when.
    leases_held: std::sync::Mutex<HashMap<String, i64>>,
    /// On a shared store, completions go to the batch writer ([`crate::worker::complete_batches`]).
    pub completions: Option<tokio::sync::mpsc::Sender<crate::worker::Pending>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("data_dir", &self.config.data_dir).finish_non_exhaustive()
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub(crate) fn sha256_hex(text: &str) -> String {
    use std::fmt::Write as _;
    let digest = <sha2::Sha256 as sha2::Digest>::digest(text.as_bytes());
    digest.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

pub(crate) fn parse(file: &SourceFile) -> Result<onset_model::Component, Vec<String>> {
    onset_model::parse_component(file).map_err(|errs| errs.iter().map(ToString::to_string).collect())
}

pub(crate) fn files_json(files: &std::collections::BTreeMap<String, String>) -> String {
    serde_json::to_string(files).unwrap_or_else(|_| "{}".into())
}

impl App {
    pub fn new(
        config: ServerConfig,
        store: Arc<dyn Store>,
        connectors: Registry,
        keyring: crate::secrets::Keyring,
        shutdown: CancellationToken,
    ) -> Self {
        let body_budget = crate::body_budget::BodyBudget::new(config.max_inflight_body);
        let series_enabled = config.series;
        let scheduler =
            if config.role.runs() { Scheduler::new(config.workers, config.max_waiting) } else { Scheduler::refusing() };
        Self {
            scheduler,
            config,
            store,
            connectors,
            accounts: Default::default(),
            metrics: Metrics::new(),
            body_budget,
            limiter: onset_gateway::Limiter::new(),
            lifecycle: crate::lifecycle::Board::default(),
            keys: crate::keys::KeyCache::default(),
            oauth2: crate::oauth2::OAuth2::default(),
            shared_limits: crate::quotas::Shared::default(),
            series: crate::series::Series::new(series_enabled),
            alerts_changed: tokio::sync::Notify::new(),
            tracer: None,
            unstored_alerts: std::sync::Mutex::new(HashMap::new()),
            active: RwLock::new(HashMap::new()),
            builds: RwLock::new(HashMap::new()),
            intake_open: AtomicBool::new(true),
            dispatcher_beat: AtomicI64::new(now_ms()),
            shutdown,
            keyring: RwLock::new(Arc::new(keyring)),
            environments: RwLock::new(vec![DEVELOPMENT.to_string(), "production".to_string()]),
            sources_changed: tokio::sync::Notify::new(),
            source_health: crate::timed::HealthBoard::default(),
            node_id: new_id(),
            started_at: now_ms(),
            leases_held: std::sync::Mutex::new(HashMap::new()),
            completions: None,
        }
    }

    /// Holds (takes or renews) the lease `name` for this node for one lease time: `true` while
    /// this node is the one that may do it. Always `true` on a store only this process uses.
    pub async fn hold(&self, name: &str) -> bool {
        if !self.store.shared() {
            return true;
        }
        let now = now_ms();
        let lease = self.config.lease.as_millis() as i64;
        // Renewed once a third of it has passed, not on every call.
        if self.held().get(name).is_some_and(|until| until - now > lease * 2 / 3) {
            return true;
        }
        let until = now + lease;
        match self.store.acquire_lease(name.to_string(), self.node_id.clone(), now, until).await {
            Ok(true) => {
                self.held().insert(name.to_string(), until);
                true
            }
            Ok(false) => {
                self.held().remove(name);
                false
            }
            Err(e) => {
                tracing::warn!(lease = name, error = %e, "cannot take or renew a lease; letting it go");
                self.held().remove(name);
                false
            }
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.leases_held.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Gives up a lease this node holds (at shutdown, or when the work is gone).
    pub async fn let_go(&self, name: &str) {
        if self.store.shared()
            && self.held().remove(name).is_some()
            && let Err(e) = self.store.release_lease(name.to_string(), self.node_id.clone()).await
        {
            tracing::warn!(lease = name, error = %e, "cannot give up a lease; it ends by itself");
        }
    }

    pub fn active(&self, environment: &str, component: &str) -> Option<Arc<Deployed>> {
        let map = self.active.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&(environment.to_string(), component.to_string())).cloned()
    }

    pub fn active_all(&self) -> Vec<Arc<Deployed>> {
        let map = self.active.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut all: Vec<_> = map.values().cloned().collect();
        all.sort_by(|a, b| (a.name(), &a.environment).cmp(&(b.name(), &b.environment)));
        all
    }

    pub fn knows_environment(&self, environment: &str) -> bool {
        self.environments.read().unwrap_or_else(std::sync::PoisonError::into_inner).iter().any(|e| e == environment)
    }

    pub(crate) fn install(&self, deployed: Arc<Deployed>) {
        for handler in deployed.compiled.handlers() {
            let key = HandlerKey::new(deployed.name(), &deployed.environment, &handler.channel, &handler.event);
            self.scheduler.set_limit(key, handler.concurrency);
        }
        self.builds
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(deployed.id.clone(), deployed.clone());
        self.active
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((deployed.environment.clone(), deployed.name().to_string()), deployed);
        self.sources_changed.notify_one();
    }

    async fn build(&self, id: String, environment: &str, file: &SourceFile) -> Result<Deployed, Failure> {
        let component = parse(file)?;
        self.build_parsed(id, environment, component, file).await
    }

    pub(crate) async fn build_parsed(
        &self,
        id: String,
        environment: &str,
        component: onset_model::Component,
        file: &SourceFile,
    ) -> Result<Deployed, Failure> {
        let values = self.config_values(&component, environment).await?;
        // The project's OpenAPI documents the component calls, carried with it.
        let imported = onset_connectors::openapi::from_files(&file.files)?;
        let mut deployed = Deployed::build(
            id,
            environment,
            component,
            file.text.clone(),
            (&values, &self.config.config_env),
            &self.connectors.in_deployment(environment, &imported),
        )?;
        deployed.files = file.files.clone();
        deployed.imported = imported;
        Ok(deployed)
    }

    /// Stops taking a component's events in an environment (after its registration is gone and
    /// the store says so).
    pub(crate) fn deactivate(&self, environment: &str, component: &str) {
        self.active
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&(environment.to_string(), component.to_string()));
        self.sources_changed.notify_one();
    }

    /// A deployment by id: loaded in this process, or rebuilt from its stored source.
    pub async fn build_by_id(&self, id: &str) -> Result<Arc<Deployed>, String> {
        if let Some(d) = self.builds.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(id) {
            return Ok(d.clone());
        }
        let (environment, source, files) = self
            .store
            .deployment_source(id.to_string())
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("deployment {id} is not in the store"))?;
        let files = serde_json::from_str(&files).map_err(|e| format!("deployment {id}: stored files: {e}"))?;
        let file = SourceFile { path: PathBuf::from(format!("deployment {id}")), text: source, files };
        let built = Arc::new(self.build(id.to_string(), &environment, &file).await.map_err(|e| e.to_string())?);
        self.builds.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id.to_string(), built.clone());
        Ok(built)
    }

    /// Drops a build from the cache, so its next use rebuilds it (its config changed).
    pub(crate) fn forget_build(&self, id: &str) {
        self.builds.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(id);
    }

    /// Re-activates what the store says is active (a restart without `--project`, or
    /// components the project no longer has).
    pub async fn restore_activations(&self) -> Result<(), String> {
        for a in self.store.activations().await.map_err(|e| e.to_string())? {
            self.scheduler.set_paused(&a.component, &a.environment, a.paused);
            match self.build_by_id(&a.deployment_id).await {
                Ok(d) => self.install(d),
                Err(e) => tracing::error!(component = %a.component, environment = %a.environment, error = %e,
                    "the active deployment cannot be rebuilt; its events are refused until it is deployed again"),
            }
        }
        Ok(())
    }

    /// Alerts not yet recorded (see [`crate::alerts::raise`]).
    pub fn unstored_alerts(&self) -> std::sync::MutexGuard<'_, HashMap<String, onset_store::AlertRow>> {
        self.unstored_alerts.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn dispatcher_alive(&self) -> bool {
        now_ms() - self.dispatcher_beat.load(Ordering::Relaxed) < 5_000
    }
}
