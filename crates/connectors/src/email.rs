//! `email.send` over SMTP with an `smtp` account (lettre): plain, STARTTLS or implicit TLS, AUTH
//! when the account has a user name, a pooled transport per account. The message is built here
//! (text, HTML or both, attachments from base64, bcc in the envelope only) and the server's answer
//! comes back; SMTP's 4xx answers and lost connections are transient, 5xx are not.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use onset_engine::CallError;
use serde_json::{Value, json};

use crate::accounts::{Account, Tokens};
use crate::http::fail;
use crate::{Connector, Operation};

/// A connection, a command or the message's transfer that takes longer fails the attempt.
const TIMEOUT: Duration = Duration::from_secs(30);

type Transport = AsyncSmtpTransport<Tokio1Executor>;

#[derive(Default)]
pub struct EmailConnector {
    transports: Mutex<HashMap<String, Transport>>,
}

impl std::fmt::Debug for EmailConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmailConnector")
    }
}

fn bad(op: &str, message: String) -> CallError {
    fail(format!("{op}: {message}"), false)
}

/// How the account's connection is secured, and its default port.
fn security(account: &Account) -> Result<(&str, u16), String> {
    match account.get("security").unwrap_or("starttls") {
        "none" => Ok(("none", 25)),
        "starttls" => Ok(("starttls", 587)),
        "tls" => Ok(("tls", 465)),
        other => Err(format!("`security` is none, starttls or tls, not `{other}`")),
    }
}

fn transport(account: &Account) -> Result<Transport, String> {
    let host = account.get("host").filter(|h| !h.is_empty()).ok_or("the account has no `host`")?;
    let (mode, default_port) = security(account)?;
    let port = match account.get("port") {
        Some(p) => p.parse().map_err(|_| format!("`port` is a number, not `{p}`"))?,
        None => default_port,
    };
    let mut builder = Transport::builder_dangerous(host).port(port).timeout(Some(TIMEOUT));
    if mode != "none" {
        let mut tls = TlsParameters::builder(host.to_string());
        if let Some(pem) = account.get("ca_cert").filter(|p| !p.is_empty()) {
            let cert = Certificate::from_pem(pem.as_bytes())
                .map_err(|e| format!("`ca_cert` is not a PEM certificate: {e}"))?;
            tls = tls.add_root_certificate(cert);
        }
        let tls = tls.build_rustls().map_err(|e| format!("TLS set-up: {e}"))?;
        builder = builder.tls(if mode == "tls" { Tls::Wrapper(tls) } else { Tls::Required(tls) });
    }
    if let Some(user) = account.get("username").filter(|u| !u.is_empty()) {
        builder =
            builder.credentials(Credentials::new(user.to_string(), account.get("password").unwrap_or("").to_string()));
    }
    if let Some(helo) = account.get("helo").filter(|h| !h.is_empty()) {
        builder = builder.hello_name(ClientId::Domain(helo.to_string()));
    }
    Ok(builder.build())
}

/// The server's answer as one line: `250 2.0.0 Ok: queued as …`.
fn answer(code: impl std::fmt::Display, lines: impl Iterator<Item = impl AsRef<str>>) -> String {
    let text: Vec<String> = lines.map(|l| l.as_ref().to_string()).collect();
    format!("{code} {}", text.join(" ")).trim().to_string()
}

/// Whether the connection failed in TLS's handshake (lettre reports it as a connection error):
/// the server's certificate or protocol, which another attempt does not change.
fn tls_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut at = Some(e);
    while let Some(e) = at {
        if e.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.get_ref().is_some_and(|inner| inner.is::<rustls::Error>())
        {
            return true;
        }
        at = e.source();
    }
    false
}

fn smtp_failure(op: &str, account: &Account, e: &lettre::transport::smtp::Error) -> CallError {
    let host = account.get("host").unwrap_or("?");
    if e.is_permanent() {
        let mut message = format!("{op}: the SMTP server {host} refused: {e}");
        if e.status().is_some_and(|c| c.to_string().starts_with("53")) {
            message.push_str(&format!(
                " (check the user name and password of account `{}`: `onset account test {} --env {}`)",
                account.name, account.name, account.environment
            ));
        }
        return fail(message, false);
    }
    if e.is_tls() || tls_refused(e) {
        return fail(
            format!(
                "{op}: TLS with {host} failed: {e} (a private CA goes in the account's `ca_cert`; `security` none, starttls or tls must match the port)"
            ),
            false,
        );
    }
    // 4xx answers, timeouts, lost or refused connections: another attempt may get through.
    fail(format!("{op}: SMTP server {host}: {e}"), true)
}

impl EmailConnector {
    fn transport(&self, op: &str, account: &Account) -> Result<Transport, CallError> {
        let key = account.fingerprint();
        let mut all = self.transports.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(t) = all.get(&key) {
            return Ok(t.clone());
        }
        let t = transport(account).map_err(|e| bad(op, format!("account `{}`: {e}", account.name)))?;
        all.insert(key, t.clone());
        Ok(t)
    }

    async fn send(&self, op: &str, input: &Value, account: &Account) -> Result<Value, CallError> {
        let fix = format!("give `from`, or set it on the account (`onset account set {} … from=…`)", account.name);
        let (message, id, recipients) = crate::mime::message(op, input, account.get("from"), &fix, false)?;
        let transport = self.transport(op, account)?;
        let response = transport.send(message).await.map_err(|e| smtp_failure(op, account, &e))?;
        Ok(json!({
            "message_id": id,
            "recipients": recipients,
            "response": answer(response.code(), response.message()),
        }))
    }
}

impl Connector for EmailConnector {
    fn operations(&self) -> &'static [Operation] {
        std::sync::LazyLock::force(&crate::catalog::EMAIL).as_slice()
    }

    fn call<'a>(
        &'a self,
        operation: &'static Operation,
        input: Value,
        account: Option<Arc<Account>>,
        _: &'a Tokens,
    ) -> onset_engine::CallFuture<'a> {
        Box::pin(async move {
            let account = crate::required_account(operation, account)?;
            self.send(&operation.name, &input, &account).await
        })
    }

    fn test_account<'a>(&'a self, account: &'a Account, _tokens: &'a Tokens) -> Option<crate::TestFuture<'a>> {
        (account.kind == "smtp").then(|| {
            Box::pin(async move {
                let t = self.transport("account test", account).map_err(|e| e.message)?;
                let host = account.get("host").unwrap_or("?");
                match t.test_connection().await {
                    Ok(true) => Ok(format!(
                        "{host} answered EHLO{}",
                        if account.get("username").is_some_and(|u| !u.is_empty()) { " and took the login" } else { "" }
                    )),
                    Ok(false) => Err(format!("{host} did not answer NOOP")),
                    Err(e) => Err(smtp_failure("account test", account, &e).message),
                }
            }) as crate::TestFuture<'a>
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(fields: &[(&str, &str)]) -> Account {
        Account {
            environment: "test".into(),
            name: "mail".into(),
            kind: "smtp".into(),
            fields: fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn messages_carry_every_part_and_hide_bcc() {
        let a = account(&[("host", "smtp.example.com"), ("from", "Onset <bot@example.com>")]);
        let input = json!({
            "to": ["Ann <ann@example.com>", "bob@example.com"], "cc": "cy@example.com", "bcc": ["dee@example.com"],
            "subject": "Issue #7", "text": "plain", "html": "<b>bold</b>",
            "attachments": [{ "filename": "rows.csv", "content": "YSxiCjEsMgo=", "content_type": "text/csv" }]
        });
        let (m, id, recipients) = crate::mime::message("email.send", &input, a.get("from"), "", false).unwrap();
        assert_eq!(recipients, ["ann@example.com", "bob@example.com", "cy@example.com", "dee@example.com"]);
        assert!(id.ends_with("@example.com>"), "{id}");
        let text = String::from_utf8(m.formatted()).unwrap();
        assert!(text.contains("From: Onset <bot@example.com>"), "{text}");
        assert!(text.contains("Cc: cy@example.com") && !text.contains("dee@example.com"), "bcc stays out: {text}");
        assert!(text.contains("multipart/alternative") && text.contains("filename=\"rows.csv\""), "{text}");
        assert_eq!(m.envelope().to().len(), 4);
    }

    #[test]
    fn bad_input_says_what_and_how() {
        let a = account(&[("host", "smtp.example.com")]);
        let err = |input: Value| {
            crate::mime::message("email.send", &input, a.get("from"), "give `from`", false).unwrap_err().message
        };
        assert!(err(json!({ "to": "a@example.com", "subject": "s", "text": "t" })).contains("no sender"));
        let with_from = |mut v: Value| {
            v["from"] = json!("bot@example.com");
            v
        };
        assert!(
            err(with_from(json!({ "to": "not an address", "subject": "s", "text": "t" })))
                .contains("`to`: `not an address`")
        );
        assert!(err(with_from(json!({ "to": "a@example.com", "subject": "s" }))).contains("no body"));
        let e = err(with_from(
            json!({ "to": "a@example.com", "subject": "s", "text": "t", "attachments": [{ "filename": "x", "content": "%%%" }] }),
        ));
        assert!(e.contains("attachments[0].content") && e.contains("base64"), "{e}");
        let e = transport(&account(&[("host", "h"), ("security", "ssl")])).unwrap_err();
        assert!(e.contains("none, starttls or tls"), "{e}");
    }
}
