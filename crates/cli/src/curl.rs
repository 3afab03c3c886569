//! `onset curl COMPONENT --env E`: a runnable curl command whose request the component's trigger
//! accepts, signed by the server's signing service with that environment's secret (the secret
//! never leaves the server).

use std::path::PathBuf;

use reqwest::Method;
use serde_json::{Value, json};

use crate::remote::Remote;

#[derive(clap::Args, Debug)]
pub struct CurlArgs {
    /// The component whose trigger the request is for.
    pub component: String,
    #[arg(long, default_value = "development")]
    pub env: String,
    #[arg(long, default_value = "POST")]
    pub method: String,
    /// The resource under the component's ingress URL.
    #[arg(long, default_value = "/")]
    pub path: String,
    /// The body, from a file (sent byte for byte with --data-binary); default `{}`.
    #[arg(long)]
    pub payload: Option<PathBuf>,
    /// Extra headers, `Name: value` (repeatable); the content type defaults to application/json.
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// An application's API key, for a component with `security: { scheme: api_key }`: sent in
    /// the header or query parameter the component names.
    #[arg(long)]
    pub api_key: Option<String>,
    /// An OAuth2 access token, for a component with `security: { scheme: oauth2 }` (from
    /// `POST /oauth2/token` or the component's external issuer): sent as `Authorization: Bearer`.
    #[arg(long)]
    pub access_token: Option<String>,
}

/// `it's` → `'it'\''s'`: one argument for any POSIX shell.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

pub async fn run(remote: &Remote, args: CurlArgs) -> Result<(), String> {
    let body = match &args.payload {
        Some(path) => std::fs::read(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
            .and_then(|b| String::from_utf8(b).map_err(|_| format!("{} is not UTF-8 text", path.display())))?,
        None => "{}".to_string(),
    };
    let mut headers = serde_json::Map::new();
    for h in &args.headers {
        let (name, value) = h.split_once(':').ok_or_else(|| format!("--header `{h}` is not `Name: value`"))?;
        headers.insert(name.trim().to_string(), Value::String(value.trim().to_string()));
    }
    let (path, mut query) = match args.path.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (args.path.clone(), None),
    };
    // How the API takes credentials, as the component's API document declares it.
    let doc = if args.api_key.is_some() || args.access_token.is_some() {
        let env = form_urlencoded::Serializer::new(String::new()).append_pair("environment", &args.env).finish();
        remote.call(Method::GET, &format!("/api/v1/components/{}/openapi.json?{env}", args.component), None).await?
    } else {
        Value::Null
    };
    if let Some(token) = &args.access_token {
        let schemes = doc.pointer("/components/securitySchemes");
        if schemes.and_then(|s| s.get("oauth2").or_else(|| s.get("bearer"))).is_none() {
            return Err(format!(
                "`{}` takes no access token in {} (its trigger has no `security: {{ scheme: oauth2 }}`)",
                args.component, args.env
            ));
        }
        headers.insert("Authorization".into(), Value::String(format!("Bearer {token}")));
    }
    if let Some(key) = &args.api_key {
        let scheme = doc.pointer("/components/securitySchemes/apiKey").ok_or_else(|| {
            format!(
                "`{}` takes no API key in {} (its trigger has no `security: {{ scheme: api_key }}`)",
                args.component, args.env
            )
        })?;
        let name = scheme["name"].as_str().unwrap_or("x-api-key").to_string();
        if scheme["in"] == "query" {
            let pair = form_urlencoded::Serializer::new(String::new()).append_pair(&name, key).finish();
            query = Some(match query {
                Some(q) if !q.is_empty() => format!("{q}&{pair}"),
                _ => pair,
            });
        } else {
            headers.insert(name, Value::String(key.clone()));
        }
    }
    let request = json!({ "body": body, "method": args.method, "path": path, "query": query, "headers": headers });
    let q = form_urlencoded::Serializer::new(String::new()).append_pair("environment", &args.env).finish();
    let signed =
        remote.call(Method::POST, &format!("/api/v1/components/{}/sign?{q}", args.component), Some(&request)).await?;
    let method = signed["method"].as_str().unwrap_or("POST");
    let mut line = format!("curl -sS -X {method} {}", quote(signed["url"].as_str().unwrap_or_default()));
    for (name, value) in signed["headers"].as_object().into_iter().flatten() {
        line.push_str(&format!(" \\\n  -H {}", quote(&format!("{name}: {}", value.as_str().unwrap_or_default()))));
    }
    match &args.payload {
        Some(path) => {
            let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            line.push_str(&format!(" \\\n  --data-binary {}", quote(&format!("@{}", absolute.display()))));
        }
        None => line.push_str(&format!(" \\\n  --data-binary {}", quote(&body))),
    }
    println!("{line}");
    let has_timestamp = signed["signed"].as_array().is_some_and(|s| s.len() > 1);
    if has_timestamp {
        eprintln!("# the signature carries a timestamp: run the command within the trigger's tolerance");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_for_the_shell() {
        assert_eq!(super::quote("it's"), r"'it'\''s'");
        assert_eq!(super::quote("a b"), "'a b'");
    }
}
