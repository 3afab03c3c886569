//! `onset app`, `onset subscribe` and `onset plan`: API management from the command line.

use reqwest::Method;
use serde_json::json;

use crate::remote::Remote;

#[derive(clap::Subcommand, Debug)]
pub enum AppCommand {
    /// Register an application; its client id and secret are printed (the secret only now).
    Create { name: String },
    /// List applications.
    List,
    /// Remove an application (by id or name) with its keys and subscriptions.
    Delete { app: String },
    /// The application's keys in use (prefixes), or with --regenerate new sandbox and production
    /// keys, printed only now (the previous ones stop working at once).
    Keys {
        app: String,
        #[arg(long)]
        regenerate: bool,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum PlanCommand {
    /// Define a plan (admin).
    Create {
        name: String,
        /// N/s, N/m, N/h or N/d; none: unlimited.
        #[arg(long)]
        rate: Option<String>,
        #[arg(long)]
        daily: Option<i64>,
        #[arg(long)]
        monthly: Option<i64>,
    },
    /// List plans.
    List,
}

pub async fn app(remote: &Remote, cmd: AppCommand) -> Result<(), String> {
    match cmd {
        AppCommand::Create { name } => {
            let made = remote.call(Method::POST, "/api/v1/applications", Some(&json!({ "name": name }))).await?;
            let s = |k: &str| made[k].as_str().unwrap_or_default().to_string();
            println!(
                "id            {}\nclient_id     {}\nclient_secret {}",
                s("id"),
                s("client_id"),
                s("client_secret")
            );
            eprintln!("application `{}` registered; the client secret is shown only now", s("name"));
        }
        AppCommand::List => {
            let list = remote.call(Method::GET, "/api/v1/applications", None).await?;
            println!("{:<38} {:<24} {:<22} CREATED", "ID", "NAME", "OWNER");
            for a in list["items"].as_array().into_iter().flatten() {
                let s = |k: &str| a[k].as_str().unwrap_or("").to_string();
                println!("{:<38} {:<24} {:<22} {}", s("id"), s("name"), s("owner"), s("created_at"));
            }
        }
        AppCommand::Delete { app } => {
            let done = remote.call(Method::DELETE, &format!("/api/v1/applications/{app}"), None).await?;
            println!("application {} removed", done["id"].as_str().unwrap_or_default());
        }
        AppCommand::Keys { app, regenerate: true } => {
            let keys = remote.call(Method::POST, &format!("/api/v1/applications/{app}/keys"), None).await?;
            println!("sandbox    {}", keys["sandbox"].as_str().unwrap_or_default());
            println!("production {}", keys["production"].as_str().unwrap_or_default());
            eprintln!("new keys, shown only now; the sandbox key calls development, the production key production");
        }
        AppCommand::Keys { app, regenerate: false } => {
            let keys = remote.call(Method::GET, &format!("/api/v1/applications/{app}/keys"), None).await?;
            let items = keys["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                println!("no keys yet: onset app keys {app} --regenerate");
            }
            for k in items {
                let s = |f: &str| k[f].as_str().unwrap_or("").to_string();
                println!("{:<11} {}…  {}", s("kind"), s("prefix"), s("created_at"));
            }
        }
    }
    Ok(())
}

pub async fn subscribe(remote: &Remote, app: &str, component: &str, env: &str, plan: &str) -> Result<(), String> {
    let body = json!({ "application": app, "component": component, "environment": env, "plan": plan });
    let s = remote.call(Method::POST, "/api/v1/subscriptions", Some(&body)).await?;
    println!(
        "{app} subscribed to {component} in {env} under {} (subscription {})",
        s["plan"].as_str().unwrap_or_default(),
        s["id"].as_str().unwrap_or_default()
    );
    Ok(())
}

pub async fn plan(remote: &Remote, cmd: PlanCommand) -> Result<(), String> {
    match cmd {
        PlanCommand::Create { name, rate, daily, monthly } => {
            let body = json!({ "name": name, "rate_limit": rate, "daily_quota": daily, "monthly_quota": monthly });
            remote.call(Method::POST, "/api/v1/plans", Some(&body)).await?;
            println!("plan {name} created");
        }
        PlanCommand::List => {
            let list = remote.call(Method::GET, "/api/v1/plans", None).await?;
            println!("{:<16} {:<12} {:<10} MONTHLY", "PLAN", "RATE", "DAILY");
            for p in list["items"].as_array().into_iter().flatten() {
                let n = |k: &str| p[k].as_i64().map_or("—".to_string(), |v| v.to_string());
                println!(
                    "{:<16} {:<12} {:<10} {}",
                    p["name"].as_str().unwrap_or_default(),
                    p["rate_limit"].as_str().unwrap_or("unlimited"),
                    n("daily_quota"),
                    n("monthly_quota")
                );
            }
        }
    }
    Ok(())
}
