//! `onset env`, `onset config` and `onset keys`: environments, per-environment config values
//! and the master key of a running server.

use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::remote::Remote;

#[derive(clap::Subcommand, Debug)]
pub enum EnvCommand {
    /// Add an environment after another in the promotion order.
    Create {
        name: String,
        #[arg(long)]
        after: String,
    },
    /// List environments in promotion order.
    List,
}

#[derive(clap::Subcommand, Debug)]
pub enum ConfigCommand {
    /// Set values for a component in an environment: `key=value`, several at once.
    Set {
        component: String,
        #[arg(value_name = "KEY=VALUE", required = true)]
        values: Vec<String>,
        #[arg(long, default_value = "development")]
        env: String,
    },
    /// What a deploy uses for each key, and where it comes from (secrets masked).
    List {
        component: String,
        #[arg(long, default_value = "development")]
        env: String,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum KeysCommand {
    /// Re-seal every config value under a new master key.
    Rotate {
        /// The new key (base64 of 32 bytes), needed when the server's key comes from ONSET_MASTER_KEY.
        #[arg(long, env = "ONSET_NEW_MASTER_KEY", hide_env_values = true)]
        new_key: Option<String>,
    },
}

fn query(env: &str) -> String {
    form_urlencoded::Serializer::new(String::new()).append_pair("environment", env).finish()
}

pub async fn env(remote: &Remote, cmd: EnvCommand) -> Result<(), String> {
    match cmd {
        EnvCommand::Create { name, after } => {
            let made = remote
                .call(Method::POST, "/api/v1/environments", Some(&json!({ "name": name, "after": after })))
                .await?;
            let order: Vec<&str> =
                made["environments"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            println!("environment {name} created: {}", order.join(" → "));
        }
        EnvCommand::List => {
            let list = remote.call(Method::GET, "/api/v1/environments", None).await?;
            for e in list["items"].as_array().into_iter().flatten() {
                println!("{}", e["name"].as_str().unwrap_or_default());
            }
        }
    }
    Ok(())
}

pub async fn config(remote: &Remote, cmd: ConfigCommand) -> Result<(), String> {
    match cmd {
        ConfigCommand::Set { component, values, env } => {
            let mut map = Map::new();
            for pair in &values {
                let (k, v) =
                    pair.split_once('=').ok_or_else(|| format!("`{pair}` is not key=value (e.g. sheet_id=1BxiM)"))?;
                map.insert(k.trim().to_string(), Value::String(v.to_string()));
            }
            let path = format!("/api/v1/config/{component}?{}", query(&env));
            let answer = remote.call(Method::PUT, &path, Some(&json!({ "values": map }))).await?;
            let keys: Vec<&str> = answer["keys"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let then = if answer["reactivated"] == true { "; the active build uses them now" } else { "" };
            println!("{component} in {env}: set {}{then}", keys.join(", "));
        }
        ConfigCommand::List { component, env } => {
            let list = remote.call(Method::GET, &format!("/api/v1/config/{component}?{}", query(&env)), None).await?;
            if list["deployed"] == false {
                println!("({component} is not deployed to {env}: values set so far, masked)");
            }
            println!("{:<20} {:<9} {:<22} VALUE", "KEY", "TYPE", "SOURCE");
            for i in list["items"].as_array().into_iter().flatten() {
                let value = match &i["value"] {
                    Value::String(s) => s.clone(),
                    Value::Null => "—".to_string(),
                    other => other.to_string(),
                };
                println!(
                    "{:<20} {:<9} {:<22} {value}",
                    i["key"].as_str().unwrap_or_default(),
                    i["type"].as_str().unwrap_or("?"),
                    i["source"].as_str().unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

pub async fn keys(remote: &Remote, cmd: KeysCommand) -> Result<(), String> {
    let KeysCommand::Rotate { new_key } = cmd;
    let body = json!({ "new_key": new_key });
    let answer = remote.call(Method::POST, "/api/v1/keys/rotate", Some(&body)).await?;
    println!(
        "master key {} in use; {} value(s) re-sealed",
        answer["key_id"].as_str().unwrap_or_default(),
        answer["resealed"]
    );
    if answer["source"] == "environment" {
        println!("set ONSET_MASTER_KEY to the new key before the server restarts");
    }
    Ok(())
}
