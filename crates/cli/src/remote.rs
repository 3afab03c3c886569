//! Talking to a running server's control plane: `--server` (`ONSET_SERVER`, default
//! `http://127.0.0.1:8080`) with `--token` (`ONSET_TOKEN`, else `./.onset/admin-token`).

use std::path::PathBuf;

use serde_json::Value;

#[derive(clap::Args, Debug, Clone)]
pub struct RemoteArgs {
    /// The server's address.
    #[arg(long, env = "ONSET_SERVER", default_value = "http://127.0.0.1:8080", global = true)]
    pub server: String,
    /// A control-plane token; without it, the admin token of a local server (./.onset/admin-token).
    #[arg(long, env = "ONSET_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
}

pub struct Remote {
    base: String,
    token: String,
    client: reqwest::Client,
}

impl Remote {
    pub fn new(args: &RemoteArgs) -> Result<Remote, String> {
        let token = match &args.token {
            Some(t) => t.clone(),
            None => {
                let path = PathBuf::from(".onset/admin-token");
                std::fs::read_to_string(&path)
                    .map_err(|_| {
                        "no token: pass --token or set ONSET_TOKEN (a local server writes its admin token to \
                         <data-dir>/admin-token)"
                            .to_string()
                    })?
                    .trim()
                    .to_string()
            }
        };
        onset_server::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Remote { base: args.server.trim_end_matches('/').to_string(), token, client })
    }

    /// Sends a request and returns the status with the JSON answer, whatever the status.
    pub async fn call_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let url = format!("{}{path}", self.base);
        let mut req = self.client.request(method, &url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| format!("cannot reach the server at {}: {e}", self.base))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        if status == 401 || status == 403 {
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            return Err(format!("{status}: {}", v["message"].as_str().unwrap_or(&text)));
        }
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }

    /// Sends a request; a non-2xx answer becomes the server's own error message.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let mut req = self.client.request(method.clone(), &url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| format!("cannot reach the server at {}: {e}", self.base))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            Ok(value)
        } else {
            let message = value["message"].as_str().map_or_else(|| value.to_string(), str::to_string);
            Err(format!("{method} {path}: {status}: {message}"))
        }
    }
}
