//! Handshakes a provider makes before (or beside) its deliveries, answered by the trigger as
//! the provider's documentation requires and never stored as events.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::{Algorithm, HmacAny, Request, Verifier, VerifyError};

/// The handshakes Onset answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Handshake {
    /// Slack `url_verification`: the challenge back (signed like every request).
    Slack,
    /// Zoom `endpoint.url_validation`: `plainToken` and its HMAC-SHA256 as `encryptedToken`.
    Zoom,
    /// Discord PING (`type: 1`, signed): `{"type": 1}`.
    Discord,
    /// WebSub / Meta: `GET ?hub.mode=subscribe&hub.challenge=…` (and `hub.verify_token`).
    Hub,
    /// X (Twitter) CRC: `GET ?crc_token=…` → `sha256=` base64 HMAC of the token.
    Crc,
    /// Asana: `X-Hook-Secret` echoed; the secret signs what follows.
    Asana,
    /// Trello: `HEAD` answered 200.
    Trello,
    /// Twitch EventSub `webhook_callback_verification` (signed): the challenge as text.
    Twitch,
    /// Okta event hooks: `GET` with `X-Okta-Verification-Challenge` → `{"verification": …}`.
    Okta,
}

/// What to answer a handshake with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeAnswer {
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// A secret the handshake handed over, to seal and verify with from now on.
    pub learned: Option<String>,
}

impl HandshakeAnswer {
    fn json(body: &Value) -> Self {
        Self {
            status: 200,
            content_type: Some("application/json"),
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
            learned: None,
        }
    }

    fn text(body: impl Into<Vec<u8>>) -> Self {
        Self { status: 200, content_type: Some("text/plain"), headers: Vec::new(), body: body.into(), learned: None }
    }
}

impl Handshake {
    /// Every handshake, for the catalog.
    pub const ALL: [Handshake; 9] = [
        Handshake::Slack,
        Handshake::Zoom,
        Handshake::Discord,
        Handshake::Hub,
        Handshake::Crc,
        Handshake::Asana,
        Handshake::Trello,
        Handshake::Twitch,
        Handshake::Okta,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Handshake::Slack => "slack",
            Handshake::Zoom => "zoom",
            Handshake::Discord => "discord",
            Handshake::Hub => "hub",
            Handshake::Crc => "crc",
            Handshake::Asana => "asana",
            Handshake::Trello => "trello",
            Handshake::Twitch => "twitch",
            Handshake::Okta => "okta",
        }
    }

    /// One line on what the trigger answers.
    pub fn describe(self) -> &'static str {
        match self {
            Handshake::Slack => "answers Slack's url_verification challenge",
            Handshake::Zoom => "answers Zoom's endpoint.url_validation with the encrypted token",
            Handshake::Discord => "answers Discord's PING with a PONG",
            Handshake::Hub => "answers the hub.challenge of a subscription (GET)",
            Handshake::Crc => "answers X's CRC check (GET crc_token)",
            Handshake::Asana => "echoes Asana's X-Hook-Secret and verifies with it from then on",
            Handshake::Trello => "answers Trello's HEAD check",
            Handshake::Twitch => "answers Twitch's webhook_callback_verification challenge",
            Handshake::Okta => "answers Okta's one-time verification challenge (GET)",
        }
    }

    /// Whether the handshake hands over the secret later deliveries are signed with.
    pub fn hands_over_secret(self) -> bool {
        self == Handshake::Asana
    }

    /// Whether the handshake comes without a body (GET or HEAD).
    pub fn bodyless(self) -> bool {
        matches!(self, Handshake::Hub | Handshake::Crc | Handshake::Trello | Handshake::Okta)
    }
}

fn query_value(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn json_body(req: &Request<'_>) -> Option<Value> {
    serde_json::from_slice(req.body).ok()
}

fn mac_hex(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacAny::new(Algorithm::Sha256, key);
    mac.update(data);
    mac.finish()
}

impl Verifier {
    /// Answers the trigger's handshake when `req` is one (`None` for an ordinary delivery).
    /// Signed handshakes are verified first; a refused one is an error.
    pub fn answer_handshake(&self, req: &Request<'_>, now: i64) -> Option<Result<HandshakeAnswer, VerifyError>> {
        let handshake = self.handshake?;
        let method = req.method;
        match handshake {
            Handshake::Slack | Handshake::Zoom | Handshake::Discord if method == "POST" => {
                let body = json_body(req)?;
                let answer = match handshake {
                    Handshake::Slack if body.get("type")? == "url_verification" => {
                        let challenge = body.get("challenge")?.as_str()?.to_string();
                        json!({ "challenge": challenge })
                    }
                    Handshake::Zoom if body.get("event")? == "endpoint.url_validation" => {
                        let plain = body.pointer("/payload/plainToken")?.as_str()?.to_string();
                        let key = self.first_hmac_key()?;
                        json!({ "plainToken": plain, "encryptedToken": hex::encode(mac_hex(&key, plain.as_bytes())) })
                    }
                    Handshake::Discord if body.get("type")? == 1 => json!({ "type": 1 }),
                    _ => return None,
                };
                Some(self.verify(req, now).map(|()| HandshakeAnswer::json(&answer)))
            }
            Handshake::Twitch if method == "POST" => {
                let kind = req.headers.get("twitch-eventsub-message-type")?.to_str().ok()?;
                if kind != "webhook_callback_verification" {
                    return None;
                }
                let challenge = json_body(req)?.get("challenge")?.as_str()?.to_string();
                Some(self.verify(req, now).map(|()| HandshakeAnswer::text(challenge)))
            }
            Handshake::Hub if method == "GET" => {
                let mode = query_value(req.query, "hub.mode")?;
                let challenge = query_value(req.query, "hub.challenge")?;
                if mode != "subscribe" && mode != "unsubscribe" {
                    return None;
                }
                if let Some(expected) = &self.hub_token {
                    let given = query_value(req.query, "hub.verify_token").unwrap_or_default();
                    if !bool::from(given.as_bytes().ct_eq(expected.expose().as_bytes())) {
                        return Some(Err(VerifyError {
                            code: "verify_token_mismatch",
                            message: "hub.verify_token is not the trigger's verify_token".into(),
                            location: "query hub.verify_token".into(),
                        }));
                    }
                }
                Some(Ok(HandshakeAnswer::text(challenge)))
            }
            Handshake::Crc if method == "GET" => {
                let token = query_value(req.query, "crc_token")?;
                let key = self.first_hmac_key()?;
                let response = format!("sha256={}", B64.encode(mac_hex(&key, token.as_bytes())));
                Some(Ok(HandshakeAnswer::json(&json!({ "response_token": response }))))
            }
            Handshake::Asana if method == "POST" => {
                let secret = req.headers.get("x-hook-secret")?.to_str().ok()?.trim().to_string();
                if secret.is_empty() {
                    return None;
                }
                let mut answer = HandshakeAnswer::text(Vec::new());
                answer.content_type = None;
                answer.headers.push(("x-hook-secret", secret.clone()));
                answer.learned = Some(secret);
                Some(Ok(answer))
            }
            Handshake::Trello if method == "HEAD" => {
                let mut answer = HandshakeAnswer::text(Vec::new());
                answer.content_type = None;
                Some(Ok(answer))
            }
            Handshake::Okta if method == "GET" => {
                let challenge = req.headers.get("x-okta-verification-challenge")?.to_str().ok()?.to_string();
                Some(Ok(HandshakeAnswer::json(&json!({ "verification": challenge }))))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::KeyPair as _;

    fn verifier(v: Value) -> Verifier {
        Verifier::from_json(Some(&v)).unwrap()
    }

    fn get<'a>(headers: &'a http::HeaderMap, query: &'a str) -> Request<'a> {
        Request { method: "GET", query, ..Request::new(headers, b"") }
    }

    fn signed_post(v: &Verifier, body: &'static [u8], headers: &mut http::HeaderMap, now: i64) {
        let signed = v.sign(&Request::new(headers, body), now, "m1").unwrap();
        for (k, val) in signed {
            headers.insert(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), val.parse().unwrap());
        }
    }

    #[test]
    fn zoom_url_validation() {
        let v = verifier(json!({ "preset": "zoom", "secret": "zoom-secret" }));
        let body: &[u8] = br#"{"event":"endpoint.url_validation","payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680}"#;
        let mut h = http::HeaderMap::new();
        signed_post(&v, body, &mut h, 1000);
        let answer = v.answer_handshake(&Request::new(&h, body), 1000).unwrap().unwrap();
        let expected = hex::encode(mac_hex(b"zoom-secret", b"qgg8vlvZRS6UYooatFL8Aw"));
        let got: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(got, json!({ "plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected }));
        // Unsigned, it is refused; an ordinary event is no handshake.
        assert!(v.answer_handshake(&Request::new(&http::HeaderMap::new(), body), 1000).unwrap().is_err());
        assert!(v.answer_handshake(&Request::new(&h, br#"{"event":"meeting.started"}"#), 1000).is_none());
    }

    #[test]
    fn discord_ping_is_verified_with_ed25519() {
        let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&[7; 32]).unwrap();
        let v = verifier(json!({ "preset": "discord", "public_key": hex::encode(pair.public_key().as_ref()) }));
        let body = br#"{"type":1,"id":"i1"}"#;
        let mut message = b"1700000000".to_vec();
        message.extend_from_slice(body);
        let mut h = http::HeaderMap::new();
        h.insert("x-signature-timestamp", "1700000000".parse().unwrap());
        h.insert("x-signature-ed25519", hex::encode(pair.sign(&message).as_ref()).parse().unwrap());
        let answer = v.answer_handshake(&Request::new(&h, body), 1_700_000_010).unwrap().unwrap();
        assert_eq!(answer.body, br#"{"type":1}"#);
        let err =
            v.answer_handshake(&Request::new(&h, br#"{"type":1,"id":"i2"}"#), 1_700_000_010).unwrap().unwrap_err();
        assert_eq!(err.code, "signature_mismatch");
    }

    #[test]
    fn hub_crc_okta_trello_and_asana() {
        let h = http::HeaderMap::new();
        let v = verifier(json!({ "preset": "meta", "secret": "app", "verify_token": "vt" }));
        let ok = v.answer_handshake(&get(&h, "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=vt"), 0);
        assert_eq!(ok.unwrap().unwrap().body, b"1158201444");
        let bad = v.answer_handshake(&get(&h, "hub.mode=subscribe&hub.challenge=1&hub.verify_token=no"), 0);
        assert_eq!(bad.unwrap().unwrap_err().code, "verify_token_mismatch");
        assert!(v.answer_handshake(&get(&h, "x=1"), 0).is_none());

        let v = verifier(json!({ "preset": "x", "secret": "consumer" }));
        let answer = v.answer_handshake(&get(&h, "crc_token=abc"), 0).unwrap().unwrap();
        let expected = format!("sha256={}", B64.encode(mac_hex(b"consumer", b"abc")));
        assert_eq!(serde_json::from_slice::<Value>(&answer.body).unwrap(), json!({ "response_token": expected }));

        let v = verifier(json!({ "preset": "okta", "secret": "Bearer t" }));
        let mut oh = http::HeaderMap::new();
        oh.insert("x-okta-verification-challenge", "chal".parse().unwrap());
        let answer = v.answer_handshake(&get(&oh, ""), 0).unwrap().unwrap();
        assert_eq!(answer.body, br#"{"verification":"chal"}"#);

        let v = verifier(json!({ "preset": "trello", "secret": "s" }));
        let head = Request { method: "HEAD", ..Request::new(&h, b"") };
        assert_eq!(v.answer_handshake(&head, 0).unwrap().unwrap().status, 200);

        let v = verifier(json!({ "preset": "asana" }));
        let mut ah = http::HeaderMap::new();
        ah.insert("x-hook-secret", "hs".parse().unwrap());
        let answer = v.answer_handshake(&Request::new(&ah, b""), 0).unwrap().unwrap();
        assert_eq!((answer.learned.as_deref(), answer.headers[0].1.as_str()), (Some("hs"), "hs"));
        // Before the secret is learned nothing verifies; after, deliveries signed with it do.
        let body = br#"{"events":[]}"#;
        let mut sh = http::HeaderMap::new();
        sh.insert("x-hook-signature", hex::encode(mac_hex(b"hs", body)).parse().unwrap());
        assert!(v.verify(&Request::new(&sh, body), 0).is_err());
        v.learn(b"hs");
        assert!(v.has_learned());
        v.verify(&Request::new(&sh, body), 0).unwrap();
    }

    #[test]
    fn twitch_and_slack_challenges() {
        let v = verifier(json!({ "preset": "twitch", "secret": "twitch-secret" }));
        let body: &[u8] =
            br#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"type":"channel.follow"}}"#;
        let mut h = http::HeaderMap::new();
        h.insert("twitch-eventsub-message-type", "webhook_callback_verification".parse().unwrap());
        signed_post(&v, body, &mut h, 1_700_000_000);
        let answer = v.answer_handshake(&Request::new(&h, body), 1_700_000_000).unwrap().unwrap();
        assert_eq!(
            (answer.body.as_slice(), answer.content_type),
            (&b"pogchamp-kappa-360noscope-vohiyo"[..], Some("text/plain"))
        );

        let v = verifier(json!({ "preset": "slack", "secret": "8f742231b10e8888abcd99yyyzzz85a5" }));
        let body: &[u8] = br#"{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
        let mut h = http::HeaderMap::new();
        signed_post(&v, body, &mut h, 1_700_000_000);
        let answer = v.answer_handshake(&Request::new(&h, body), 1_700_000_000).unwrap().unwrap();
        assert!(
            String::from_utf8(answer.body).unwrap().contains("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
        );
    }

    #[test]
    fn ecdsa_public_keys() {
        let rng = ring::rand::SystemRandom::new();
        let doc = ring::signature::EcdsaKeyPair::generate_pkcs8(&ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .unwrap();
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            doc.as_ref(),
            &rng,
        )
        .unwrap();
        let v = verifier(json!({ "preset": "sendgrid", "public_key": B64.encode(pair.public_key().as_ref()) }));
        let body = br#"[{"email":"a@example.com","event":"delivered"}]"#;
        let mut message = b"1700000000".to_vec();
        message.extend_from_slice(body);
        let sig = pair.sign(&rng, &message).unwrap();
        let mut h = http::HeaderMap::new();
        h.insert("x-twilio-email-event-webhook-timestamp", "1700000000".parse().unwrap());
        h.insert("x-twilio-email-event-webhook-signature", B64.encode(sig.as_ref()).parse().unwrap());
        v.verify(&Request::new(&h, body), 1_700_000_000).unwrap();
        assert!(v.verify(&Request::new(&h, b"[]"), 1_700_000_000).is_err());
        assert_eq!(v.verify(&Request::new(&h, body), 1_700_009_000).unwrap_err().code, "timestamp_out_of_tolerance");
    }
}
