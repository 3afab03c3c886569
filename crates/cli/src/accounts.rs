//! `onset account`: named credential sets per environment on a running server (secret fields
//! sealed there and never shown back).

use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::remote::Remote;

#[derive(clap::Subcommand, Debug)]
pub enum AccountCommand {
    /// Create an account or change some of its fields: `field=value`, several at once (an empty
    /// value removes a field). `onset account types` lists each type's fields.
    Set {
        name: String,
        #[arg(long = "type", value_name = "TYPE")]
        kind: String,
        #[arg(value_name = "FIELD=VALUE")]
        fields: Vec<String>,
        #[arg(long, default_value = "development")]
        env: String,
    },
    /// The accounts of an environment (secret fields masked).
    List {
        #[arg(long, default_value = "development")]
        env: String,
    },
    /// Make a cheap real call with the account: its `test_url`, or an OAuth2 token request.
    Test {
        name: String,
        #[arg(long, default_value = "development")]
        env: String,
    },
    /// Remove an account from an environment.
    Delete {
        name: String,
        #[arg(long, default_value = "development")]
        env: String,
    },
    /// Account types and their fields.
    Types,
}

fn query(env: &str) -> String {
    form_urlencoded::Serializer::new(String::new()).append_pair("environment", env).finish()
}

fn path(name: &str) -> String {
    form_urlencoded::byte_serialize(name.as_bytes()).collect()
}

fn print_fields(fields: &Value) {
    for (k, v) in fields.as_object().into_iter().flatten() {
        println!("  {k:<16} {}", v.as_str().unwrap_or_default());
    }
}

pub async fn run(remote: &Remote, cmd: AccountCommand) -> Result<(), String> {
    match cmd {
        AccountCommand::Set { name, kind, fields, env } => {
            let mut map = Map::new();
            for pair in &fields {
                let (k, v) = pair.split_once('=').ok_or_else(|| {
                    format!("`{pair}` is not field=value (e.g. token=xoxb-…); `onset account types` lists the fields")
                })?;
                map.insert(k.trim().to_string(), Value::String(v.to_string()));
            }
            let url = format!("/api/v1/accounts/{}?{}", path(&name), query(&env));
            let answer = remote.call(Method::PUT, &url, Some(&json!({ "type": kind, "fields": map }))).await?;
            println!("account {name} ({kind}) set in {env}:");
            print_fields(&answer["fields"]);
        }
        AccountCommand::List { env } => {
            let list = remote.call(Method::GET, &format!("/api/v1/accounts?{}", query(&env)), None).await?;
            let items = list["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                println!(
                    "no accounts in {env}; create one with `onset account set NAME --type TYPE --env {env} FIELD=VALUE…`"
                );
            }
            for a in items {
                println!(
                    "{} ({}) updated {}",
                    a["name"].as_str().unwrap_or_default(),
                    a["type"].as_str().unwrap_or_default(),
                    a["updated_at"].as_str().unwrap_or_default()
                );
                print_fields(&a["fields"]);
            }
        }
        AccountCommand::Test { name, env } => {
            let url = format!("/api/v1/accounts/{}/test?{}", path(&name), query(&env));
            let answer = remote.call(Method::POST, &url, None).await?;
            println!("ok: {}", answer["detail"].as_str().unwrap_or_default());
        }
        AccountCommand::Delete { name, env } => {
            remote.call(Method::DELETE, &format!("/api/v1/accounts/{}?{}", path(&name), query(&env)), None).await?;
            println!("account {name} removed from {env}");
        }
        AccountCommand::Types => {
            let list = remote.call(Method::GET, "/api/v1/catalog/accounts", None).await?;
            for t in list["items"].as_array().into_iter().flatten() {
                println!(
                    "{}: {}",
                    t["type"].as_str().unwrap_or_default(),
                    t["description"].as_str().unwrap_or_default()
                );
                for f in t["fields"].as_array().into_iter().flatten() {
                    let mut note = String::new();
                    if f["secret"] == true {
                        note.push_str(" (secret)");
                    }
                    if let Some(choices) = f["choices"].as_array() {
                        let c: Vec<&str> = choices.iter().filter_map(Value::as_str).collect();
                        note.push_str(&format!(" [{}]", c.join("|")));
                    }
                    println!(
                        "  {:<16} {}{note}",
                        f["name"].as_str().unwrap_or_default(),
                        f["description"].as_str().unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(())
}
