//! Email messages built from a step's input (`email.send` over SMTP, `google.gmail.send` through
//! Gmail's API): addresses parsed with the field they came from, text and HTML bodies,
//! attachments from base64, bcc in the envelope only.

use base64::Engine as _;
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use onset_engine::CallError;
use serde_json::Value;

use crate::http::fail;

/// Attachments larger than this in all (decoded) fail the step before anything is sent.
pub const MAX_ATTACHMENTS: usize = 20 << 20;

fn bad(op: &str, message: String) -> CallError {
    fail(format!("{op}: {message}"), false)
}

/// `to`, `cc` or `bcc`: one address or a list.
fn mailboxes(op: &str, input: &Value, field: &str) -> Result<Vec<Mailbox>, CallError> {
    let one = |text: &str| {
        text.trim().parse::<Mailbox>().map_err(|e| {
            bad(
                op,
                format!(
                    "`{field}`: `{text}` is not an email address (`Name <user@example.com>` or `user@example.com`): {e}"
                ),
            )
        })
    };
    match input.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![one(s)?]),
        Some(Value::Array(list)) => list.iter().map(|v| one(v.as_str().unwrap_or_default())).collect(),
        Some(_) => Err(bad(op, format!("`{field}` is an address or a list of addresses"))),
    }
}

/// A Message-ID in the sender's domain, unique enough to find the message in a mailbox.
fn message_id(from: &Mailbox) -> String {
    format!("<{:016x}{:016x}@{}>", fastrand::u64(..), fastrand::u64(..), from.email.domain())
}

fn body(op: &str, input: &Value) -> Result<MultiPart, CallError> {
    let text = input["text"].as_str();
    let html = input["html"].as_str();
    let content = match (text, html) {
        (Some(t), Some(h)) => MultiPart::alternative_plain_html(t.to_string(), h.to_string()),
        (Some(t), None) => MultiPart::mixed().singlepart(SinglePart::plain(t.to_string())),
        (None, Some(h)) => MultiPart::mixed().singlepart(SinglePart::html(h.to_string())),
        (None, None) => return Err(bad(op, "give `text`, `html` or both: the message has no body".into())),
    };
    let Some(files) = input["attachments"].as_array().filter(|a| !a.is_empty()) else {
        return Ok(content);
    };
    let mut mixed = MultiPart::mixed().multipart(content);
    let mut total = 0;
    for (i, file) in files.iter().enumerate() {
        let name = file["filename"].as_str().unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(file["content"].as_str().unwrap_or_default().trim())
            .map_err(|e| bad(op, format!("`attachments[{i}].content` ({name}) is not base64: {e}")))?;
        total += bytes.len();
        if total > MAX_ATTACHMENTS {
            return Err(bad(op, format!("the attachments are over {} MiB in all", MAX_ATTACHMENTS >> 20)));
        }
        let kind = file["content_type"].as_str().unwrap_or("application/octet-stream");
        let kind = ContentType::parse(kind).map_err(|_| {
            bad(op, format!("`attachments[{i}].content_type` `{kind}` is not a media type (e.g. text/csv)"))
        })?;
        mixed = mixed.singlepart(Attachment::new(name.to_string()).body(bytes, kind));
    }
    Ok(mixed)
}

/// The message `input` describes (`from`, `to`, `cc`, `bcc`, `reply_to`, `subject`, `text`,
/// `html`, `attachments`), its Message-ID and every envelope recipient. Without `from` in the
/// input, `default_from`; without either, an error that ends with `no_from_fix`. `keep_bcc`
/// keeps the Bcc header, for an API that reads the recipients from the headers (Gmail's).
pub(crate) fn message(
    op: &str,
    input: &Value,
    default_from: Option<&str>,
    no_from_fix: &str,
    keep_bcc: bool,
) -> Result<(Message, String, Vec<String>), CallError> {
    let from = match input["from"].as_str().or(default_from) {
        Some(f) => {
            f.trim().parse::<Mailbox>().map_err(|e| bad(op, format!("`from`: `{f}` is not an email address: {e}")))?
        }
        None => return Err(bad(op, format!("no sender: {no_from_fix}"))),
    };
    let id = message_id(&from);
    let mut builder = Message::builder().from(from).message_id(Some(id.clone()));
    if keep_bcc {
        builder = builder.keep_bcc();
    }
    let (to, cc, bcc) = (mailboxes(op, input, "to")?, mailboxes(op, input, "cc")?, mailboxes(op, input, "bcc")?);
    if to.is_empty() {
        return Err(bad(op, "`to` names no recipient".into()));
    }
    let recipients: Vec<String> = to.iter().chain(&cc).chain(&bcc).map(|m| m.email.to_string()).collect();
    for m in to {
        builder = builder.to(m);
    }
    for m in cc {
        builder = builder.cc(m);
    }
    for m in bcc {
        builder = builder.bcc(m);
    }
    if let Some(r) = input["reply_to"].as_str().filter(|r| !r.trim().is_empty()) {
        let r = r
            .trim()
            .parse::<Mailbox>()
            .map_err(|e| bad(op, format!("`reply_to`: `{r}` is not an email address: {e}")))?;
        builder = builder.reply_to(r);
    }
    let builder = builder.subject(input["subject"].as_str().unwrap_or_default());
    let message =
        builder.multipart(body(op, input)?).map_err(|e| bad(op, format!("the message cannot be built: {e}")))?;
    Ok((message, id, recipients))
}
