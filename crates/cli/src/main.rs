//! `onset`: the command line.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use onset_server::{Durability, ServerConfig};
use tokio_util::sync::CancellationToken;

mod accounts;
mod apis;
mod catalog;
mod curl;
mod deploy;
mod observe;
mod remote;
mod run;
mod settings;
mod tokens;

#[derive(Parser)]
#[command(name = "onset", version, about = "Event-driven integrations: receive, store, run, retry, observe")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum DurabilityArg {
    /// Survives a crash of the process (SQLite synchronous=NORMAL).
    Normal,
    /// Survives a power cut too (synchronous=FULL); slower.
    Full,
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    /// Ingress, control plane, runs and sources.
    All,
    /// Ingress and control plane; runs wait in the database for worker nodes.
    Ingress,
    /// Runs and sources; no /hooks ingress.
    Worker,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    /// One human-readable line an event.
    Text,
    /// One JSON object a line (`timestamp`, `level`, `fields.message`, `target`, `span`).
    Json,
}

/// `onset serve`'s flags.
#[derive(clap::Args)]
struct DatabaseArgs {
    /// Keep the state in PostgreSQL instead of SQLite: postgres://user:password@host:5432/database.
    #[arg(long, env = "ONSET_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// The PostgreSQL schema for Onset's tables (created if missing); default the connection's (public).
    #[arg(long, env = "ONSET_DATABASE_SCHEMA", requires = "database_url")]
    database_schema: Option<String>,
}

#[derive(clap::Args)]
struct ClusterArgs {
    /// What this node does when several share one PostgreSQL database (--database-url).
    #[arg(long, value_enum, default_value = "all", env = "ONSET_ROLE")]
    role: RoleArg,
    /// A running run's lease, extended every third of it while it runs; schedules and pollers
    /// are leased as long in a cluster. A node that dies hands its work over after this long.
    #[arg(long, default_value = "30s", env = "ONSET_LEASE")]
    lease: String,
    /// Master keys for config values, one per line (base64 or hex of 32 bytes), newest first; the
    /// same file on every node. Without it: ONSET_MASTER_KEY, else <data-dir>/master.key.
    #[arg(long, env = "ONSET_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Project directory (onset.yaml + components/); deployed to `development` on start and on change.
    #[arg(long)]
    project: Option<PathBuf>,
    /// Where the state lives (SQLite), and the master key and first admin token files.
    #[arg(long, default_value = ".onset", env = "ONSET_DATA_DIR")]
    data_dir: PathBuf,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
    #[arg(long, default_value = "127.0.0.1:8080", env = "ONSET_LISTEN")]
    listen: String,
    /// Largest accepted request body, with a unit (e.g. 25MiB).
    #[arg(long, default_value = "25MiB")]
    max_body: String,
    /// Memory all request bodies in flight may take together; beyond it the ingress answers 503
    /// (with Retry-After) before reading a body.
    #[arg(long, default_value = "256MiB")]
    max_inflight_body: String,
    /// A request's headers must arrive whole within this (slow or half-open clients are cut off).
    #[arg(long, default_value = "10s")]
    header_timeout: String,
    /// Keep-alive connections without a request for this long are closed; a request body that
    /// sends nothing for this long is answered 408.
    #[arg(long, default_value = "60s")]
    idle_timeout: String,
    /// Connections open at once; further ones wait in the listen backlog (keep under `ulimit -n`).
    #[arg(long, default_value_t = 4096)]
    max_connections: usize,
    /// How long succeeded runs (and events no handler took) are kept after they finish.
    #[arg(long, default_value = "7d", env = "ONSET_RETAIN_SUCCEEDED")]
    retain_succeeded: String,
    /// How long failed and dead runs are kept after they finish.
    #[arg(long, default_value = "30d", env = "ONSET_RETAIN_FAILED")]
    retain_failed: String,
    /// How often what is past retention is pruned (in small batches).
    #[arg(long, default_value = "1m")]
    prune_every: String,
    /// A schedule, poller or broker consumer failing this long raises an alert.
    #[arg(long, default_value = "1m")]
    alert_source_down: String,
    /// The data directory's disk this full (percent) raises an alert.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u8).range(1..=100))]
    alert_disk_percent: u8,
    /// POST each alert here once (Standard Webhooks, retried with backoff).
    #[arg(long, env = "ONSET_ALERT_WEBHOOK")]
    alert_webhook: Option<String>,
    /// The secret that signs alert deliveries: whsec_ followed by base64.
    #[arg(long, env = "ONSET_ALERT_WEBHOOK_SECRET", hide_env_values = true)]
    alert_webhook_secret: Option<String>,
    /// Send traces here over OTLP/HTTP, e.g. http://127.0.0.1:4318; off without it.
    #[arg(long, env = "ONSET_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    /// How spans are encoded: http/protobuf or http/json.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_PROTOCOL", default_value = "http/protobuf")]
    otlp_protocol: String,
    /// The share of new traces recorded, 0 to 1 (an incoming traceparent decides for itself).
    #[arg(long, default_value_t = 1.0)]
    otlp_sample_ratio: f64,
    /// Do not count metric series (GET /api/v1/metrics/series stays empty); for measuring their cost.
    #[arg(long)]
    no_series: bool,
    /// How long SIGTERM waits for runs in flight, with a unit (e.g. 30s).
    #[arg(long, default_value = "30s")]
    shutdown_timeout: String,
    /// Refuse calls to private and loopback networks (cloud metadata is always refused).
    #[arg(long)]
    deny_private_networks: bool,
    /// The header a trusted proxy puts the client's address in (e.g. x-forwarded-for, whose last
    /// entry is taken), for rate_limit_per_ip; without it, the connection's address.
    #[arg(long)]
    client_ip_header: Option<String>,
    /// How long an access token of POST /oauth2/token is valid, with a unit.
    #[arg(long, default_value = "1h")]
    oauth2_token_lifetime: String,
    /// Make a new OAuth2 signing key when the newest is this old (earlier ones stay in the JWKS
    /// while tokens they signed are valid).
    #[arg(long, default_value = "30d")]
    oauth2_key_rotation: String,
    #[arg(long, value_enum, default_value = "normal")]
    durability: DurabilityArg,
    /// Runs executing at once.
    #[arg(long, default_value_t = 64)]
    workers: usize,
    /// Do not re-deploy the project when its files change.
    #[arg(long)]
    no_watch: bool,
    /// The address providers (GitHub, Google) reach this server at, e.g. https://hooks.example.com;
    /// needed to register webhooks at deploy.
    #[arg(long, env = "ONSET_PUBLIC_URL")]
    public_url: Option<String>,
    /// How the server's own log lines are written (to standard error).
    #[arg(long, value_enum, default_value = "text", env = "ONSET_LOG_FORMAT")]
    log_format: LogFormat,
}

#[derive(Subcommand)]
enum ConnectorCommand {
    /// Checks an OpenAPI 3.0/3.1 document (YAML or JSON), keeps it in the project as
    /// `connectors/NAME.yaml` (deployed with the components that call it) and lists its
    /// operations and the http accounts its security schemes take.
    Import {
        /// The document.
        spec: std::path::PathBuf,
        /// The connector's name: operations become `NAME.<operationId>`.
        #[arg(long)]
        name: String,
        /// The project directory (with onset.yaml).
        #[arg(long, default_value = ".")]
        project: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Receive events, run handlers and serve the control plane, all in one process.
    Serve(Box<ServeArgs>),
    /// Check the project's files and report every problem with file:line:column (exit 1 if any).
    Validate {
        #[arg(long, default_value = ".")]
        project: PathBuf,
    },
    /// Print the JSON Schema (draft-07) of component files, for editors.
    Schema,
    /// Print the control plane's OpenAPI 3.1 document (also at GET /api/v1/openapi.json), or with
    /// COMPONENT the OpenAPI document of that component's API in an environment (from the server).
    Openapi {
        component: Option<String>,
        #[arg(long, default_value = "development")]
        env: String,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// Write a Postman collection (v2.1) of COMPONENT's API in an environment, and its environment
    /// file, into --out: `<component>.postman_collection.json`, `<component>.<env>.postman_environment.json`.
    Postman {
        component: String,
        #[arg(long, default_value = "development")]
        env: String,
        #[arg(long, default_value = ".")]
        out: PathBuf,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// Publish, deprecate or retire COMPONENT's API in an environment.
    Lifecycle {
        component: String,
        /// published, deprecated or retired.
        #[arg(value_parser = ["published", "deprecated", "retired"])]
        state: String,
        #[arg(long, default_value = "development")]
        env: String,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// Create or bring up to date Onset's tables in PostgreSQL (`serve --database-url` does this too).
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List trigger types, their settings, channels and events (--json adds samples and schemas);
    /// `onset catalog connectors` lists the operations `call:` steps can name.
    Catalog {
        /// One trigger type (github, slack, google-calendar, http), or `connectors`.
        #[arg(value_name = "TYPE")]
        kind: Option<String>,
        #[arg(long)]
        json: bool,
        /// List the http type's webhook presets (`verify: { preset: NAME, … }`).
        #[arg(long)]
        presets: bool,
    },
    /// Print a curl command whose request the component's trigger accepts, signed by the server
    /// with the environment's secret.
    Curl {
        #[command(flatten)]
        args: curl::CurlArgs,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// Validate the project and deploy each component to an environment of a running server.
    Deploy {
        #[arg(long, default_value = ".")]
        project: PathBuf,
        #[arg(long, default_value = "development")]
        env: String,
        /// Deploy from a git repository instead (the commit is kept with the build).
        #[arg(long)]
        git: Option<String>,
        /// Branch, tag or commit of --git (default HEAD).
        #[arg(long = "ref")]
        git_ref: Option<String>,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// Deploy the build active in one environment to the next, with that environment's config.
    Promote {
        component: String,
        #[arg(long, default_value = "development")]
        from: String,
        /// Default: the environment after --from.
        #[arg(long)]
        to: Option<String>,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// Write the source active in an environment (the web UI's last deploy, say) into a project
    /// directory: components/COMPONENT.yaml and the files it carries.
    Pull {
        component: String,
        #[arg(long, default_value = "development")]
        env: String,
        #[arg(long, default_value = ".")]
        project: PathBuf,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// Make an earlier deployment active again (default: the one before the active one).
    Rollback {
        component: String,
        #[arg(long)]
        env: String,
        /// A deployment id.
        #[arg(long)]
        to: Option<String>,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// Remove a component from an environment (and its registration with the provider).
    Undeploy {
        component: String,
        #[arg(long)]
        env: String,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// A deployment's status and timestamped log.
    Logs {
        #[arg(long)]
        deployment: String,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// Environments of a running server, in promotion order.
    Env {
        #[command(subcommand)]
        command: settings::EnvCommand,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// Config values per component and environment (secrets sealed at rest, masked in lists).
    Config {
        #[command(subcommand)]
        command: settings::ConfigCommand,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// Accounts: named credential sets per environment that `call:` steps use (secret fields
    /// sealed, never shown back).
    Account {
        #[command(subcommand)]
        command: accounts::AccountCommand,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// Imported connectors: an OpenAPI document's operations as `NAME.<operationId>`.
    Connector {
        #[command(subcommand)]
        command: ConnectorCommand,
    },
    /// The master key that seals config values.
    Keys {
        #[command(subcommand)]
        command: settings::KeysCommand,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// Applications that call managed APIs, and their keys.
    App {
        #[command(subcommand)]
        command: apis::AppCommand,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// Subscribe an application (id or name) to a component's API in an environment under a plan.
    Subscribe {
        app: String,
        component: String,
        #[arg(long, default_value = "development")]
        env: String,
        #[arg(long, default_value = "Bronze")]
        plan: String,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// Plans subscriptions are made under.
    Plan {
        #[command(subcommand)]
        command: apis::PlanCommand,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// Control-plane tokens of a running server.
    Token {
        #[command(subcommand)]
        command: tokens::TokenCommand,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// Events received, newest first: what arrived and the runs it started.
    Events {
        #[command(flatten)]
        filter: observe::ListArgs,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// Runs, newest first; `onset runs show ID` shows one run's steps.
    #[command(args_conflicts_with_subcommands = true)]
    Runs {
        #[command(subcommand)]
        command: Option<observe::RunsCommand>,
        #[command(flatten)]
        filter: observe::ListArgs,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// Run an event again on the active deployment, or every dead-lettered run of a component.
    Replay {
        /// The event to run again.
        event: Option<String>,
        /// Replay the dead-lettered runs of this component instead (with --env).
        #[arg(long, value_name = "COMPONENT")]
        dead: Option<String>,
        #[arg(long)]
        env: Option<String>,
        #[command(flatten)]
        remote: remote::RemoteArgs,
    },
    /// Write a component with a handler for every event of a channel, and sample payloads.
    New {
        /// The component's name ([a-z0-9-]+).
        component: String,
        #[arg(long)]
        trigger: String,
        /// The channel whose events get handlers (e.g. IssuesService).
        #[arg(long)]
        channel: Option<String>,
        /// Only this event (e.g. onOpened).
        #[arg(long)]
        event: Option<String>,
        #[arg(long, default_value = ".")]
        project: PathBuf,
    },
    /// Run one handler locally on a payload, without a server, and show every step.
    Run {
        /// The component's name.
        component: String,
        #[arg(long, default_value = ".")]
        project: PathBuf,
        /// `Channel.event` (e.g. `IssuesService.onOpened`) or, for http triggers, `"POST /orders"`.
        #[arg(long)]
        event: String,
        /// JSON file with the event's payload (`-` reads standard input).
        #[arg(long)]
        payload: PathBuf,
        /// A config value, `key=value`; repeatable. Wins over ONSET_CONFIG__ variables.
        #[arg(long = "config", value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// Print the run as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn parse<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>().map_err(|e| format!("--{flag}: {e}"))
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let ServeArgs {
        project,
        data_dir,
        database,
        cluster,
        listen,
        max_body,
        max_inflight_body,
        header_timeout,
        idle_timeout,
        max_connections,
        retain_succeeded,
        retain_failed,
        prune_every,
        alert_source_down,
        alert_disk_percent,
        alert_webhook,
        alert_webhook_secret,
        otlp_endpoint,
        otlp_protocol,
        otlp_sample_ratio,
        no_series,
        shutdown_timeout,
        deny_private_networks,
        client_ip_header,
        oauth2_token_lifetime,
        oauth2_key_rotation,
        durability,
        workers,
        no_watch,
        public_url,
        log_format: _,
    } = args;
    let max_body: onset_model::ByteSize = parse("max-body", &max_body)?;
    let shutdown_timeout: onset_model::Duration = parse("shutdown-timeout", &shutdown_timeout)?;
    let mut config = ServerConfig::new(data_dir);
    config.database_url = database.database_url;
    config.database_schema = database.database_schema;
    config.role = match cluster.role {
        RoleArg::All => onset_server::Role::All,
        RoleArg::Ingress => onset_server::Role::Ingress,
        RoleArg::Worker => onset_server::Role::Worker,
    };
    config.lease = parse::<onset_model::Duration>("lease", &cluster.lease)?.as_std();
    if config.lease < std::time::Duration::from_secs(1) {
        return Err(format!("--lease {}: at least 1s (leases are renewed every third of it)", cluster.lease));
    }
    config.project = project;
    config.max_body = max_body.0;
    config.max_inflight_body = parse::<onset_model::ByteSize>("max-inflight-body", &max_inflight_body)?.0;
    config.header_timeout = parse::<onset_model::Duration>("header-timeout", &header_timeout)?.as_std();
    config.idle_timeout = parse::<onset_model::Duration>("idle-timeout", &idle_timeout)?.as_std();
    config.max_connections = max_connections;
    config.retain_succeeded = parse::<onset_model::Duration>("retain-succeeded", &retain_succeeded)?.as_std();
    config.retain_failed = parse::<onset_model::Duration>("retain-failed", &retain_failed)?.as_std();
    config.prune_every = parse::<onset_model::Duration>("prune-every", &prune_every)?.as_std();
    if config.prune_every.is_zero() {
        return Err("--prune-every is a duration above zero, such as 30s".into());
    }
    config.alert_source_down = parse::<onset_model::Duration>("alert-source-down", &alert_source_down)?.as_std();
    config.alert_disk_percent = alert_disk_percent;
    config.alert_webhook = alert_webhook;
    config.alert_webhook_secret = alert_webhook_secret;
    if !(0.0..=1.0).contains(&otlp_sample_ratio) {
        return Err(format!("--otlp-sample-ratio is between 0 and 1, not {otlp_sample_ratio}"));
    }
    config.otlp_endpoint = otlp_endpoint;
    config.otlp_sample_ratio = otlp_sample_ratio;
    config.otlp_protocol = onset_server::OtlpProtocol::parse(&otlp_protocol)
        .ok_or_else(|| format!("--otlp-protocol is http/protobuf or http/json, not `{otlp_protocol}`"))?;
    config.series = !no_series;
    config.shutdown_timeout = shutdown_timeout.as_std();
    config.deny_private_networks = deny_private_networks;
    config.client_ip_header = client_ip_header.map(|h| h.to_ascii_lowercase());
    config.oauth2_token_lifetime =
        parse::<onset_model::Duration>("oauth2-token-lifetime", &oauth2_token_lifetime)?.as_std();
    config.oauth2_key_rotation = parse::<onset_model::Duration>("oauth2-key-rotation", &oauth2_key_rotation)?.as_std();
    if config.oauth2_token_lifetime < std::time::Duration::from_secs(1)
        || config.oauth2_key_rotation < std::time::Duration::from_secs(1)
    {
        return Err("--oauth2-token-lifetime and --oauth2-key-rotation are at least 1s".into());
    }
    config.durability = match durability {
        DurabilityArg::Normal => Durability::Normal,
        DurabilityArg::Full => Durability::Full,
    };
    config.workers = workers;
    if let Some(url) = &public_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(format!("--public-url `{url}` is not an http(s) address such as https://hooks.example.com"));
    }
    config.public_url = public_url;
    config.master_key = std::env::var("ONSET_MASTER_KEY").ok().filter(|k| !k.is_empty());
    config.master_key_file = cluster.master_key_file;
    config.admin_token = std::env::var("ONSET_ADMIN_TOKEN").ok().filter(|k| !k.is_empty());
    config.watch = !no_watch;
    config.config_env = std::env::vars().filter(|(k, _)| k.starts_with("ONSET_CONFIG__")).collect::<HashMap<_, _>>();

    let listener =
        tokio::net::TcpListener::bind(&listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stopping: intake closed, waiting for runs in flight");
        signal.cancel();
    });
    onset_server::run(config, listener, shutdown).await.map_err(|e| e.to_string())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            // Without signal handlers the process still stops on the default action.
            std::future::pending::<()>().await;
        }
    }
}

fn validate(project: &std::path::Path) -> Result<(), String> {
    let mut problems: Vec<String> = match onset_model::Project::load(project) {
        Ok(_) => Vec::new(),
        // The loader's own errors cover the manifest; component files get the full pass below.
        Err(errors) => errors.iter().filter(|e| e.file.ends_with("onset.yaml")).map(ToString::to_string).collect(),
    };
    let (files, diagnostics) = onset_server::validate_project(project);
    problems.extend(diagnostics.iter().map(ToString::to_string));
    for p in &problems {
        println!("{p}");
    }
    if problems.is_empty() {
        println!("ok: {files} component file(s) in {}", project.display());
        Ok(())
    } else {
        Err(format!("{} problem(s) in {}", problems.len(), project.display()))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A local run shows its steps itself; the server logs what it does.
    let (default_filter, format) = match &cli.command {
        Command::Serve(args) => ("info", args.log_format),
        _ => ("warn", LogFormat::Text),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ONSET_LOG").unwrap_or_else(|_| default_filter.into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        LogFormat::Json => logs.json().with_ansi(false).init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(*args).await,
            Command::Validate { project } => validate(&project),
            Command::Schema => {
                print!("{}", onset_sources::schema::component_schema());
                Ok(())
            }
            Command::Openapi { component: None, .. } => {
                println!("{}", serde_json::to_string_pretty(&onset_server::openapi()).unwrap_or_default());
                Ok(())
            }
            Command::Lifecycle { component, state, env, remote } => {
                let remote = remote::Remote::new(&remote)?;
                let path = format!("/api/v1/components/{component}/lifecycle?environment={env}");
                let v = remote.call(reqwest::Method::POST, &path, Some(&serde_json::json!({ "state": state }))).await?;
                let since = v["deprecated_at"].as_str().map(|t| format!(" (since {t})")).unwrap_or_default();
                println!("{component} in {env}: {}{since}", v["state"].as_str().unwrap_or_default());
                Ok(())
            }
            Command::Postman { component, env, out, remote } => {
                let remote = remote::Remote::new(&remote)?;
                for (file, name) in [
                    ("collection", format!("{component}.postman_collection.json")),
                    ("environment", format!("{component}.{env}.postman_environment.json")),
                ] {
                    let path = format!("/api/v1/components/{component}/postman.json?environment={env}&file={file}");
                    let doc = remote.call(reqwest::Method::GET, &path, None).await?;
                    let target = out.join(&name);
                    let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
                    std::fs::write(&target, text + "\n").map_err(|e| format!("{}: {e}", target.display()))?;
                    println!("wrote {}", target.display());
                }
                Ok(())
            }
            Command::Openapi { component: Some(component), env, remote } => {
                let remote = remote::Remote::new(&remote)?;
                let path = format!("/api/v1/components/{component}/openapi.json?environment={env}");
                let doc = remote.call(reqwest::Method::GET, &path, None).await?;
                println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
                Ok(())
            }
            Command::Migrate { database } => {
                let url = database.database_url.ok_or("onset migrate needs --database-url (or ONSET_DATABASE_URL)")?;
                onset_server::migrate(&url, database.database_schema).await.map_err(|e| e.to_string())?;
                println!("the database is up to date");
                Ok(())
            }
            Command::Catalog { kind, json, presets } => catalog::print(kind.as_deref(), json, presets),
            Command::App { command, remote } => apis::app(&remote::Remote::new(&remote)?, command).await,
            Command::Subscribe { app, component, env, plan, remote } => {
                apis::subscribe(&remote::Remote::new(&remote)?, &app, &component, &env, &plan).await
            }
            Command::Plan { command, remote } => apis::plan(&remote::Remote::new(&remote)?, command).await,
            Command::Token { command, remote } => tokens::run(&remote::Remote::new(&remote)?, command).await,
            Command::Events { filter, remote } => observe::events(&remote::Remote::new(&remote)?, filter).await,
            Command::Runs { command: Some(observe::RunsCommand::Show { id, json }), remote, .. } => {
                observe::show_run(&remote::Remote::new(&remote)?, &id, json).await
            }
            Command::Runs { command: None, filter, remote } => {
                observe::runs(&remote::Remote::new(&remote)?, filter).await
            }
            Command::Curl { args, remote } => curl::run(&remote::Remote::new(&remote)?, args).await,
            Command::Replay { event, dead, env, remote } => {
                observe::replay(&remote::Remote::new(&remote)?, event, dead, env).await
            }
            Command::Deploy { project, env, git, git_ref, remote } => {
                let args = deploy::DeployArgs { project, env, git, git_ref };
                deploy::deploy(&remote::Remote::new(&remote)?, args).await
            }
            Command::Promote { component, from, to, remote } => {
                deploy::promote(&remote::Remote::new(&remote)?, &component, &from, to.as_deref()).await
            }
            Command::Pull { component, env, project, remote } => {
                deploy::pull(&remote::Remote::new(&remote)?, &component, &env, &project).await
            }
            Command::Rollback { component, env, to, remote } => {
                deploy::rollback(&remote::Remote::new(&remote)?, &component, &env, to.as_deref()).await
            }
            Command::Undeploy { component, env, remote } => {
                deploy::undeploy(&remote::Remote::new(&remote)?, &component, &env).await
            }
            Command::Logs { deployment, remote } => deploy::logs(&remote::Remote::new(&remote)?, &deployment).await,
            Command::Env { command, remote } => settings::env(&remote::Remote::new(&remote)?, command).await,
            Command::Config { command, remote } => settings::config(&remote::Remote::new(&remote)?, command).await,
            Command::Connector { command: ConnectorCommand::Import { spec, name, project } } => {
                catalog::import_connector(&spec, &name, &project)
            }
            Command::Account { command, remote } => accounts::run(&remote::Remote::new(&remote)?, command).await,
            Command::Keys { command, remote } => settings::keys(&remote::Remote::new(&remote)?, command).await,
            Command::New { component, trigger, channel, event, project } => {
                catalog::new_component(&project, &component, &trigger, channel.as_deref(), event.as_deref()).map(
                    |files| {
                        for f in &files {
                            println!("wrote {f}");
                        }
                        if let Some(sample) = files.get(1) {
                            let event = std::path::Path::new(sample)
                                .file_stem()
                                .map(|s| s.to_string_lossy().into_owned())
                                .unwrap_or_default();
                            println!(
                                "try: onset run {component} --project {} --event {event} --payload {sample}",
                                project.display()
                            );
                        }
                    },
                )
            }
            Command::Run { component, project, event, payload, config, json } => {
                run::run(component, project, event, payload, config, json).await
            }
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
