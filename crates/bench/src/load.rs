//! Load generation: signed Standard Webhooks requests, closed loop (N senders back to back) or
//! open loop (requests sent on a fixed schedule, latency counted from the scheduled time so a
//! slow server cannot hide its queueing).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};

use crate::payload::issue_opened;

/// The Standard Webhooks secret the bench component is configured with.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Bodies differ only in their sequence number: built from a prefix and suffix once.
pub struct Bodies {
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    key: Vec<u8>,
    /// Signs `v1a` (Ed25519) signatures instead of `v1` (HMAC) when set.
    ed25519: Option<ring::signature::Ed25519KeyPair>,
}

/// The seed of the Ed25519 key the `ed25519` row signs with.
const ED25519_SEED: [u8; 32] = [42; 32];

impl Bodies {
    pub fn new() -> Self {
        let marker = 987_654_321_012u64;
        let full = issue_opened(marker);
        let needle = marker.to_string();
        let at = full.windows(needle.len()).position(|w| w == needle.as_bytes()).unwrap_or(0);
        let key = base64::engine::general_purpose::STANDARD.decode(&SECRET["whsec_".len()..]).unwrap_or_default();
        Self { prefix: full[..at].to_vec(), suffix: full[at + needle.len()..].to_vec(), key, ed25519: None }
    }

    /// Bodies signed with Ed25519 (`v1a`), as an asymmetric Standard Webhooks sender signs.
    pub fn ed25519() -> Self {
        let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&ED25519_SEED)
            .unwrap_or_else(|_| unreachable!("a 32-byte seed is a key"));
        Self { ed25519: Some(pair), ..Self::new() }
    }

    /// The `whpk_` public key a component verifies these bodies with.
    pub fn public_key(&self) -> Option<String> {
        use ring::signature::KeyPair as _;
        self.ed25519
            .as_ref()
            .map(|p| format!("whpk_{}", base64::engine::general_purpose::STANDARD.encode(p.public_key().as_ref())))
    }

    pub fn size(&self) -> usize {
        self.prefix.len() + self.suffix.len() + 6
    }

    /// A signed request for sequence number `seq`.
    pub fn request(&self, client: &reqwest::Client, url: &str, run: &str, seq: u64) -> reqwest::RequestBuilder {
        let mut body = Vec::with_capacity(self.prefix.len() + self.suffix.len() + 20);
        body.extend_from_slice(&self.prefix);
        body.extend_from_slice(seq.to_string().as_bytes());
        body.extend_from_slice(&self.suffix);
        let id = format!("msg_{run}_{seq}");
        let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let signature = match &self.ed25519 {
            Some(pair) => {
                let mut message = Vec::with_capacity(id.len() + body.len() + 16);
                message.extend_from_slice(format!("{id}.{ts}.").as_bytes());
                message.extend_from_slice(&body);
                format!("v1a,{}", base64::engine::general_purpose::STANDARD.encode(pair.sign(&message).as_ref()))
            }
            None => {
                let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.key)
                    .unwrap_or_else(|_| unreachable!("hmac takes any key"));
                mac.update(id.as_bytes());
                mac.update(b".");
                mac.update(ts.to_string().as_bytes());
                mac.update(b".");
                mac.update(&body);
                format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
            }
        };
        client
            .post(url)
            .header("content-type", "application/json")
            .header("x-github-event", "issues")
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(body)
    }
}

/// When each sequence number was sent (ns since `origin`), for matching end-to-end arrivals.
pub struct SendTimes {
    pub origin: Instant,
    sent: Vec<AtomicU64>,
}

impl SendTimes {
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self { origin: Instant::now(), sent: (0..capacity).map(|_| AtomicU64::new(0)).collect() })
    }
    pub fn capacity(&self) -> usize {
        self.sent.len()
    }
    pub fn mark(&self, seq: u64, at: Instant) {
        if let Some(slot) = self.sent.get(seq as usize) {
            slot.store(at.duration_since(self.origin).as_nanos() as u64, Ordering::Relaxed);
        }
    }
    pub fn get(&self, seq: u64) -> Option<u64> {
        self.sent.get(seq as usize).map(|s| s.load(Ordering::Relaxed)).filter(|&n| n > 0)
    }
}

#[derive(Default)]
pub struct Outcome {
    pub accepted: u64,
    pub refused: u64,
    pub ack_us: Vec<u64>,
    pub elapsed: Duration,
    /// Sequence numbers answered 2xx.
    pub accepted_seqs: Vec<u64>,
}

/// `concurrency` senders, each sending as soon as its previous request is answered.
pub async fn closed_loop(
    client: &reqwest::Client,
    url: &str,
    bodies: &Arc<Bodies>,
    times: &Arc<SendTimes>,
    run: &str,
    concurrency: usize,
    duration: Duration,
) -> Outcome {
    let next = Arc::new(AtomicU64::new(1));
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, bodies, times, next, run) =
            (client.clone(), url.to_string(), bodies.clone(), times.clone(), next.clone(), run.to_string());
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome::default();
            while Instant::now() < deadline {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq as usize >= times.capacity() {
                    break;
                }
                let req = bodies.request(&client, &url, &run, seq);
                let sent = Instant::now();
                times.mark(seq, sent);
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        out.ack_us.push(sent.elapsed().as_micros() as u64);
                        out.accepted += 1;
                        out.accepted_seqs.push(seq);
                    }
                    _ => out.refused += 1,
                }
            }
            out
        }));
    }
    let mut total = Outcome::default();
    for t in tasks {
        if let Ok(o) = t.await {
            total.accepted += o.accepted;
            total.refused += o.refused;
            total.ack_us.extend(o.ack_us);
            total.accepted_seqs.extend(o.accepted_seqs);
        }
    }
    total.elapsed = start.elapsed();
    total
}

/// Requests at `rate` per second on a fixed schedule, whatever the answers do.
pub async fn open_loop(
    client: &reqwest::Client,
    url: &str,
    bodies: &Arc<Bodies>,
    times: &Arc<SendTimes>,
    run: &str,
    rate: u64,
    duration: Duration,
) -> Outcome {
    let start = tokio::time::Instant::now();
    let count = rate * duration.as_secs();
    let mut tasks = Vec::with_capacity(count as usize);
    for i in 0..count {
        let seq = i + 1;
        let at = start + Duration::from_nanos(i * 1_000_000_000 / rate);
        tokio::time::sleep_until(at).await;
        let (client, url, bodies, times, run) =
            (client.clone(), url.to_string(), bodies.clone(), times.clone(), run.to_string());
        tasks.push(tokio::spawn(async move {
            let scheduled = at.into_std();
            times.mark(seq, scheduled);
            let r = bodies.request(&client, &url, &run, seq).send().await;
            let ok = matches!(&r, Ok(r) if r.status().is_success());
            if let Ok(r) = r {
                let _ = r.bytes().await;
            }
            (seq, ok, scheduled.elapsed().as_micros() as u64)
        }));
    }
    let mut out = Outcome::default();
    for t in tasks {
        if let Ok((seq, ok, us)) = t.await {
            if ok {
                out.accepted += 1;
                out.ack_us.push(us);
                out.accepted_seqs.push(seq);
            } else {
                out.refused += 1;
            }
        }
    }
    out.elapsed = start.elapsed();
    out
}

/// The value at quantile `q` (0..=1) of unsorted samples, in milliseconds.
pub fn quantile_ms(samples: &mut [u64], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples[i] as f64 / 1000.0
}
