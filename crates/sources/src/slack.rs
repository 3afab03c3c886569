//! Slack requests: Events API envelopes (JSON), slash commands (flat form) and interactivity
//! (form with a `payload` JSON field), all signed with the app's signing secret (v0).

use bytes::Bytes;
use onset_model::catalog::slack::{interaction, name_of, slash_command};
use serde::Deserialize;

use crate::delivery::{Answer, Delivery, essence, form_field, malformed};
use crate::{PayloadError, Verifier, VerifySpec};

/// Requests older or newer than this are refused (replay protection, as Slack's SDKs do).
const TOLERANCE: onset_model::Duration = onset_model::Duration::from_secs(300);

/// `X-Slack-Signature: v0=hex(HMAC-SHA256(secret, "v0:{timestamp}:{body}"))`.
pub fn verifier(signing_secret: crate::Secret) -> Result<Verifier, crate::VerifierBuildError> {
    Verifier::new(VerifySpec::Hmac {
        header: "x-slack-signature".into(),
        algorithm: crate::verify::Algorithm::Sha256,
        encoding: crate::verify::Encoding::Hex,
        prefix: Some("v0=".into()),
        secret: crate::verify::Secrets::One(signing_secret),
        timestamp_header: Some("x-slack-request-timestamp".into()),
        tolerance: Some(TOLERANCE),
        signed: Some("v0:{timestamp}:{body}".into()),
    })
}

/// Slack's unsigned `ssl_check=1` probe of a slash command URL: answered 200, never stored.
pub fn is_ssl_check(content_type: Option<&str>, body: &[u8]) -> bool {
    essence(content_type) == "application/x-www-form-urlencoded"
        && form_field(body, "ssl_check").as_deref() == Some("1")
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    challenge: Option<String>,
    #[serde(default)]
    event_id: Option<String>,
    #[serde(default)]
    event: Option<Inner>,
}

#[derive(Deserialize)]
struct Inner {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    channel_type: Option<String>,
}

#[derive(Deserialize)]
struct Interaction {
    #[serde(rename = "type")]
    kind: String,
}

/// Names a verified request and says how to answer it.
pub fn classify(content_type: Option<&str>, body: Bytes) -> Result<Delivery, PayloadError> {
    if essence(content_type) == "application/x-www-form-urlencoded" {
        if let Some(json) = form_field(&body, "payload") {
            crate::check_json(json.as_bytes())
                .map_err(|e| malformed(format!("the interactivity `payload` is not valid JSON ({e})")))?;
            let i: Interaction = serde_json::from_str(&json).map_err(|e| {
                malformed(format!("the interactivity `payload` is not a JSON object with a type ({e})"))
            })?;
            return Ok(Delivery {
                name: interaction(&i.kind),
                delivery_id: None,
                payload: Bytes::from(json),
                answer: Answer::Empty,
            });
        }
        let command = form_field(&body, "command").ok_or_else(|| {
            malformed("a form-encoded Slack request is a slash command (`command`) or interactivity (`payload`)")
        })?;
        let payload = crate::normalize_payload(content_type, body)?;
        return Ok(Delivery { name: slash_command(&command), delivery_id: None, payload, answer: Answer::Empty });
    }
    crate::check_json(&body).map_err(|e| malformed(format!("the Slack request is not valid JSON ({e})")))?;
    let envelope: Envelope = serde_json::from_slice(&body)
        .map_err(|e| malformed(format!("the Slack request is not a JSON object with a `type` ({e})")))?;
    let (name, answer) = match (envelope.kind.as_str(), &envelope.event) {
        ("url_verification", _) => {
            let challenge =
                envelope.challenge.clone().ok_or_else(|| malformed("`url_verification` without a `challenge`"))?;
            (name_of("url_verification", None), Answer::Challenge(challenge))
        }
        ("event_callback", Some(inner)) => (name_of(&inner.kind, inner.channel_type.as_deref()), Answer::Empty),
        ("event_callback", None) => return Err(malformed("an `event_callback` without its `event`")),
        (top, _) => (name_of(top, None), Answer::Empty),
    };
    Ok(Delivery { name, delivery_id: envelope.event_id, payload: body, answer })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &str = "application/x-www-form-urlencoded";

    #[test]
    fn slacks_own_vectors_verify() {
        let v = verifier(crate::Secret::new("8f742231b10e8888abcd99yyyzzz85a5")).unwrap();
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let mut h = http::HeaderMap::new();
        h.insert("x-slack-request-timestamp", "1531420618".parse().unwrap());
        h.insert(
            "x-slack-signature",
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503".parse().unwrap(),
        );
        assert!(v.verify(&crate::Request::new(&h, body.as_bytes()), 1531420618 + 10).is_ok());
        assert_eq!(
            v.verify(&crate::Request::new(&h, body.as_bytes()), 1531420618 + 301).unwrap_err().code,
            "timestamp_out_of_tolerance"
        );
        let d = classify(Some(FORM), Bytes::from(body)).unwrap();
        assert_eq!((d.name.channel.as_str(), d.name.event.as_str()), ("SlashCommandService", "onWebhookCollect"));
        let payload: serde_json::Value = serde_json::from_slice(&d.payload).unwrap();
        assert_eq!(payload["command"], "/webhook-collect");
    }

    #[test]
    fn envelopes_interactions_and_challenges() {
        let d = classify(
            Some("application/json"),
            Bytes::from_static(br#"{"type":"event_callback","event_id":"Ev1","event":{"type":"reaction_added"}}"#),
        )
        .unwrap();
        assert_eq!((d.name.channel.as_str(), d.delivery_id.as_deref()), ("ReactionService", Some("Ev1")));
        let d = classify(
            Some("application/json"),
            Bytes::from_static(br#"{"type":"url_verification","challenge":"abc","token":"t"}"#),
        )
        .unwrap();
        assert_eq!(d.answer, Answer::Challenge("abc".into()));
        let d = classify(Some(FORM), Bytes::from_static(b"payload=%7B%22type%22%3A%22block_actions%22%7D")).unwrap();
        assert_eq!((d.name.channel.as_str(), d.name.event.as_str()), ("InteractionService", "onBlockActions"));
        assert_eq!(&d.payload[..], br#"{"type":"block_actions"}"#);
        assert!(is_ssl_check(Some(FORM), b"ssl_check=1&token=x"));
        assert!(!is_ssl_check(Some("application/json"), b"ssl_check=1"));
        assert!(classify(Some(FORM), Bytes::from_static(b"a=1")).is_err());
    }
}
