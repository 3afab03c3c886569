//! Amazon SQS: long polling (`ReceiveMessage`, up to 10 messages, `wait_seconds` ≤ 20), the
//! visibility timeout extended while received messages are being stored, and
//! `DeleteMessageBatch` once they are. The SQS `MessageId` is the delivery id. The client speaks
//! SQS's JSON protocol with its own Signature Version 4 signer (the AWS SDK would add ~90 s of
//! build for four calls).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::Mac as _;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{Ack, Backlog, Incoming, Status, decode_body};
use crate::Secret;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqsSettings {
    /// `https://sqs.<region>.amazonaws.com/<account>/<queue>`.
    pub queue_url: String,
    pub region: String,
    /// Another endpoint (a local SQS-compatible server, a VPC endpoint).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Default: the `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` of the
    /// server's environment.
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub secret_access_key: Option<Secret>,
    #[serde(default)]
    pub session_token: Option<Secret>,
    /// Long-polling wait, 0 to 20 seconds (default 20).
    #[serde(default)]
    pub wait_seconds: Option<u8>,
    /// How long a received message stays hidden from other consumers (default 30 s); Onset
    /// extends it while the message is being stored.
    #[serde(default)]
    pub visibility_timeout: Option<onset_model::Duration>,
}

/// Messages one `ReceiveMessage` returns at most (SQS's own limit).
pub const MAX_BATCH: usize = 10;

impl SqsSettings {
    /// The queue's name: the handlers' channel.
    pub fn queue_name(&self) -> &str {
        self.queue_url.trim_end_matches('/').rsplit('/').next().unwrap_or_default()
    }

    fn endpoint(&self) -> String {
        match &self.endpoint {
            Some(e) => e.trim_end_matches('/').to_string(),
            None => format!("https://sqs.{}.amazonaws.com", self.region),
        }
    }

    fn visibility(&self) -> u64 {
        self.visibility_timeout.map_or(30, |d| d.0.as_secs().max(1))
    }

    /// What is wrong with these settings before anything connects.
    pub fn check(&self) -> Result<(), String> {
        if !(self.queue_url.starts_with("https://") || self.queue_url.starts_with("http://"))
            || self.queue_name().is_empty()
        {
            return Err(format!(
                "queue_url `{}` is not a queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>)",
                self.queue_url
            ));
        }
        if self.region.trim().is_empty() {
            return Err("region is empty (e.g. eu-west-1)".into());
        }
        if self.wait_seconds.is_some_and(|w| w > 20) {
            return Err("wait_seconds is at most 20 (SQS's long-polling limit)".into());
        }
        if self.visibility() > 43_200 {
            return Err("visibility_timeout is at most 12h (SQS's limit)".into());
        }
        self.credentials().map(|_| ())
    }

    fn credentials(&self) -> Result<Credentials, String> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let key = self.access_key_id.clone().or_else(|| env("AWS_ACCESS_KEY_ID"));
        let secret =
            self.secret_access_key.as_ref().map(|s| s.expose().to_string()).or_else(|| env("AWS_SECRET_ACCESS_KEY"));
        let (Some(key), Some(secret)) = (key, secret) else {
            return Err("access_key_id and secret_access_key are needed (in trigger.with, from config/secrets, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the server's environment)".into());
        };
        let token = self.session_token.as_ref().map(|s| s.expose().to_string()).or_else(|| env("AWS_SESSION_TOKEN"));
        Ok(Credentials { key, secret, token })
    }
}

#[derive(Clone)]
struct Credentials {
    key: String,
    secret: String,
    token: Option<String>,
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The AWS Signature Version 4 `Authorization` header of a POST to `/` with `headers` (lower-case
/// names, `host` among them), all of them signed; `amz_date` is `YYYYMMDDTHHMMSSZ`.
fn authorization(
    creds: &Credentials,
    region: &str,
    service: &str,
    amz_date: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> String {
    let mut headers: Vec<(&str, &str)> = headers.to_vec();
    headers.sort_by(|a, b| a.0.cmp(b.0));
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{}\n", v.trim())).collect();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| *k).collect();
    let signed = signed.join(";");
    let canonical = format!("POST\n/\n\n{canonical_headers}\n{signed}\n{}", hex::encode(Sha256::digest(body)));
    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical)));
    let key = hmac(format!("AWS4{}", creds.secret).as_bytes(), date.as_bytes());
    let key = hmac(&key, region.as_bytes());
    let key = hmac(&key, service.as_bytes());
    let key = hmac(&key, b"aws4_request");
    let signature = hex::encode(hmac(&key, to_sign.as_bytes()));
    format!("AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}", creds.key)
}

/// SQS actions over the JSON protocol, signed; the consumer's, and a benchmark's.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    host: String,
    region: String,
    creds: Credentials,
    queue_url: String,
}

impl Client {
    pub fn new(s: &SqsSettings) -> Result<Client, String> {
        let endpoint = s.endpoint();
        let url = reqwest::Url::parse(&endpoint).map_err(|e| format!("endpoint `{endpoint}`: {e}"))?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => return Err(format!("endpoint `{endpoint}` has no host")),
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(40))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Client {
            http,
            endpoint,
            host,
            region: s.region.clone(),
            creds: s.credentials()?,
            queue_url: s.queue_url.clone(),
        })
    }

    /// `AmazonSQS.<action>` with `body` (the queue URL added): the answer's JSON.
    pub async fn call(&self, action: &str, mut body: Value) -> Result<Value, String> {
        body["QueueUrl"] = json!(self.queue_url);
        let body = body.to_string();
        let amz_date = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string();
        let target = format!("AmazonSQS.{action}");
        let mut headers = vec![
            ("content-type", "application/x-amz-json-1.0"),
            ("host", self.host.as_str()),
            ("x-amz-date", amz_date.as_str()),
            ("x-amz-target", target.as_str()),
        ];
        if let Some(t) = &self.creds.token {
            headers.push(("x-amz-security-token", t.as_str()));
        }
        let auth = authorization(&self.creds, &self.region, "sqs", &amz_date, &headers, body.as_bytes());
        let mut request = self.http.post(format!("{}/", self.endpoint)).header("authorization", auth);
        for (k, v) in headers.iter().filter(|(k, _)| *k != "host") {
            request = request.header(*k, *v);
        }
        let response = request.body(body).send().await.map_err(|e| format!("SQS {action}: {e}"))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| format!("SQS {action}: {e}"))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !status.is_success() {
            let kind = value["__type"].as_str().unwrap_or_default().rsplit('#').next().unwrap_or_default();
            let message = value["message"].as_str().or(value["Message"].as_str()).unwrap_or_default();
            return Err(format!("SQS {action}: {status} {kind} {message}").trim().to_string());
        }
        Ok(value)
    }
}

/// Receipt handles of messages received and not yet stored, by message id.
type InFlight = Arc<Mutex<HashMap<String, String>>>;

pub async fn run(
    settings: SqsSettings,
    batch: usize,
    backlog: Backlog,
    tx: mpsc::Sender<Incoming>,
    status: watch::Sender<Status>,
    stop: CancellationToken,
) {
    let what = format!("sqs {}", settings.queue_url);
    let client = match Client::new(&settings) {
        Ok(c) => c,
        Err(e) => {
            let _ = status.send(Status::Failed(e));
            return;
        }
    };
    let in_flight: InFlight = Arc::default();
    // Deletes go out in batches of up to 10, apart from receiving; the task ends when the last
    // acknowledgement handle is gone, so what was stored before a stop is still deleted.
    let (delete_tx, delete_rx) = mpsc::unbounded_channel();
    tokio::spawn(deleter(client.clone(), delete_rx));
    tokio::spawn(extender(client.clone(), settings.visibility(), in_flight.clone(), stop.clone()));
    tokio::spawn(backlog_reporter(client.clone(), backlog, stop.clone()));
    let batch = batch.clamp(1, MAX_BATCH);
    super::reconnecting(&what, &tx, &status, &stop, || {
        receive(&settings, &client, batch, &in_flight, &delete_tx, &tx, &status)
    })
    .await;
    // Stopped: what was received and not stored becomes visible again at once, instead of
    // after its visibility timeout.
    let _ = tokio::time::timeout(Duration::from_secs(5), release(&client, &in_flight)).await;
}

async fn release(client: &Client, in_flight: &InFlight) {
    let pending = std::mem::take(&mut *in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    let pending: Vec<(String, String)> = pending.into_iter().collect();
    change_visibility(client, &pending, 0).await;
}

async fn change_visibility(client: &Client, messages: &[(String, String)], seconds: u64) {
    for chunk in messages.chunks(MAX_BATCH) {
        let entries: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, (_, receipt))| json!({ "Id": i.to_string(), "ReceiptHandle": receipt, "VisibilityTimeout": seconds }))
            .collect();
        if let Err(e) = client.call("ChangeMessageVisibilityBatch", json!({ "Entries": entries })).await {
            tracing::warn!(error = %e, "changing the visibility of received messages failed");
        }
    }
}

async fn receive(
    s: &SqsSettings,
    client: &Client,
    batch: usize,
    in_flight: &InFlight,
    delete_tx: &mpsc::UnboundedSender<String>,
    tx: &mpsc::Sender<Incoming>,
    status: &watch::Sender<Status>,
) -> Result<(), String> {
    let queue = s.queue_name().to_string();
    loop {
        // Wait for room before asking: a full ingest queue stops the polling.
        let room = tx.reserve_many(batch.min(tx.max_capacity())).await.map_err(|_| "stopped".to_string())?;
        drop(room);
        let request = json!({
            "MaxNumberOfMessages": batch,
            "WaitTimeSeconds": s.wait_seconds.unwrap_or(20),
            "VisibilityTimeout": s.visibility(),
            "AttributeNames": ["All"],
            "MessageSystemAttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        });
        // The long poll runs on its own: when Onset stops during it, the messages it still
        // receives are made visible again rather than hidden for their visibility timeout.
        let (answer_tx, answer_rx) = tokio::sync::oneshot::channel();
        let poller = client.clone();
        tokio::spawn(async move {
            let answer = poller.call("ReceiveMessage", request).await;
            if let Err(Ok(unwanted)) = answer_tx.send(answer) {
                let receipts: Vec<(String, String)> = unwanted["Messages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| Some((String::new(), m["ReceiptHandle"].as_str()?.to_string())))
                    .collect();
                change_visibility(&poller, &receipts, 0).await;
            }
        });
        let answer = answer_rx.await.map_err(|_| "the SQS poll was dropped".to_string())??;
        if !matches!(*status.borrow(), Status::Connected) {
            let _ = status.send(Status::Connected);
        }
        let messages = answer["Messages"].as_array().cloned().unwrap_or_default();
        for m in messages {
            let (Some(id), Some(receipt)) = (m["MessageId"].as_str(), m["ReceiptHandle"].as_str()) else {
                continue;
            };
            let (id, receipt) = (id.to_string(), receipt.to_string());
            in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id.clone(), receipt.clone());
            let mut headers = Map::new();
            if let Some(attrs) = m["MessageAttributes"].as_object() {
                for (name, a) in attrs {
                    let v = a.get("StringValue").or(a.get("BinaryValue")).cloned().unwrap_or(Value::Null);
                    headers.insert(name.to_ascii_lowercase(), v);
                }
            }
            let system = m["Attributes"].clone();
            let mut message = Map::new();
            message.insert("queue".into(), json!(queue));
            message.insert("message_id".into(), json!(id));
            message.insert(
                "receive_count".into(),
                json!(system["ApproximateReceiveCount"].as_str().and_then(|n| n.parse::<u64>().ok())),
            );
            message.insert("attributes".into(), system);
            let (delete, in_flight) = (delete_tx.clone(), in_flight.clone());
            let delivery_id = id.clone();
            let incoming = Incoming {
                channel: queue.clone(),
                payload: decode_body(m["Body"].as_str().unwrap_or_default().as_bytes()),
                headers,
                message,
                delivery_id: Some(delivery_id),
                ack: Ack::new(move || {
                    Box::pin(async move {
                        in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id);
                        delete.send(receipt).map_err(|_| "the SQS deleter stopped".into())
                    })
                }),
            };
            if tx.send(incoming).await.is_err() {
                return Ok(());
            }
        }
    }
}

/// Deletes stored messages, up to 10 per `DeleteMessageBatch`, retrying failures.
async fn deleter(client: Client, mut rx: mpsc::UnboundedReceiver<String>) {
    let mut batch: Vec<String> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        let mut attempt = 0;
        while !batch.is_empty() {
            let entries: Vec<Value> = batch
                .iter()
                .enumerate()
                .map(|(i, receipt)| json!({ "Id": i.to_string(), "ReceiptHandle": receipt }))
                .collect();
            match client.call("DeleteMessageBatch", json!({ "Entries": entries })).await {
                Ok(answer) => {
                    let failed: Vec<usize> = answer["Failed"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        // A receipt that is no longer valid (the message came again) is not retried.
                        .filter(|f| f["SenderFault"] != true)
                        .filter_map(|f| f["Id"].as_str()?.parse().ok())
                        .collect();
                    batch = batch.drain(..).enumerate().filter(|(i, _)| failed.contains(i)).map(|(_, m)| m).collect();
                }
                Err(e) => tracing::warn!(error = %e, "SQS DeleteMessageBatch failed; retrying"),
            }
            if !batch.is_empty() {
                // Undeleted messages come again after their visibility timeout: dedup keeps
                // them from running twice, so giving up after a while loses nothing.
                if attempt >= 5 {
                    batch.clear();
                    break;
                }
                tokio::time::sleep(super::backoff(attempt)).await;
                attempt += 1;
            }
        }
    }
}

/// Keeps messages still being stored hidden: every third of the visibility timeout, their
/// visibility is set to a whole timeout again.
async fn extender(client: Client, visibility: u64, in_flight: InFlight, stop: CancellationToken) {
    let period = Duration::from_secs(visibility.div_ceil(3).max(1));
    loop {
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            () = stop.cancelled() => return,
        }
        let pending: Vec<(String, String)> = in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        change_visibility(&client, &pending, visibility).await;
    }
}

/// Asks the queue how many messages wait, for health.
async fn backlog_reporter(client: Client, backlog: Backlog, stop: CancellationToken) {
    loop {
        let answer = client.call("GetQueueAttributes", json!({ "AttributeNames": ["ApproximateNumberOfMessages"] }));
        if let Ok(v) = answer.await
            && let Some(n) = v["Attributes"]["ApproximateNumberOfMessages"].as_str().and_then(|n| n.parse().ok())
        {
            backlog.set(n);
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
            () = stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector was produced by botocore's `SigV4Auth` (the AWS SDK for Python).
    #[test]
    fn signatures_match_the_aws_sdk() {
        let creds = Credentials {
            key: "AKIDEXAMPLE".into(),
            secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            token: None,
        };
        let body = br#"{"QueueUrl":"http://127.0.0.1:5000/123456789012/orders","MaxNumberOfMessages":10}"#;
        let headers = [
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", "AmazonSQS.ReceiveMessage"),
            ("x-amz-date", "20261123T110539Z"),
            ("host", "127.0.0.1:5000"),
        ];
        let auth = authorization(&creds, "eu-west-1", "sqs", "20261123T110539Z", &headers, body);
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/eu-west-1/sqs/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
             Signature=3fd3d902338baabe4bb383edc0d2dab06f8edb08bdaa82d193d239ffbdc92399"
        );
    }

    #[test]
    fn settings_are_checked() {
        let s = |v: Value| serde_json::from_value::<SqsSettings>(v).unwrap();
        let ok = s(json!({"queue_url": "https://sqs.eu-west-1.amazonaws.com/1234/orders", "region": "eu-west-1",
                          "access_key_id": "AK", "secret_access_key": "S"}));
        ok.check().unwrap();
        assert_eq!(ok.queue_name(), "orders");
        assert_eq!(ok.endpoint(), "https://sqs.eu-west-1.amazonaws.com");
        let long = s(json!({"queue_url": "http://h/1/q", "region": "r", "wait_seconds": 30,
                            "access_key_id": "AK", "secret_access_key": "S"}));
        assert!(long.check().unwrap_err().contains("wait_seconds"));
        let bad = s(json!({"queue_url": "orders", "region": "r", "access_key_id": "AK", "secret_access_key": "S"}));
        assert!(bad.check().unwrap_err().contains("queue_url"));
    }
}
