//! `onset token create|list|revoke`.

use reqwest::Method;
use serde_json::json;

use crate::remote::Remote;

#[derive(clap::Subcommand, Debug)]
pub enum TokenCommand {
    /// Make a token; it is printed once.
    Create {
        /// Who or what uses it (e.g. `ci`, `grafana`).
        name: String,
        /// admin, developer or viewer.
        #[arg(long, default_value = "developer")]
        role: String,
        /// Let a developer token promote into production.
        #[arg(long)]
        promote: bool,
    },
    /// List tokens (never their values).
    List,
    /// Revoke a token by id; it is refused from then on.
    Revoke { id: String },
}

pub async fn run(remote: &Remote, cmd: TokenCommand) -> Result<(), String> {
    match cmd {
        TokenCommand::Create { name, role, promote } => {
            let permissions: Vec<&str> = if promote { vec!["promote"] } else { vec![] };
            let body = json!({ "name": name, "role": role, "permissions": permissions });
            let made = remote.call(Method::POST, "/api/v1/tokens", Some(&body)).await?;
            println!("{}", made["token"].as_str().unwrap_or_default());
            eprintln!(
                "token {} ({}, {}) created; it is shown only now",
                made["id"].as_str().unwrap_or_default(),
                made["name"].as_str().unwrap_or_default(),
                made["role"].as_str().unwrap_or_default()
            );
        }
        TokenCommand::List => {
            let list = remote.call(Method::GET, "/api/v1/tokens", None).await?;
            println!("{:<38} {:<16} {:<10} {:<8} {:<26} REVOKED", "ID", "NAME", "ROLE", "PROMOTE", "CREATED");
            for t in list["items"].as_array().into_iter().flatten() {
                let s = |k: &str| t[k].as_str().unwrap_or("").to_string();
                println!(
                    "{:<38} {:<16} {:<10} {:<8} {:<26} {}",
                    s("id"),
                    s("name"),
                    s("role"),
                    t["can_promote"].as_bool().unwrap_or(false),
                    s("created_at"),
                    s("revoked_at")
                );
            }
        }
        TokenCommand::Revoke { id } => {
            remote.call(Method::DELETE, &format!("/api/v1/tokens/{id}"), None).await?;
            println!("token {id} revoked");
        }
    }
    Ok(())
}
