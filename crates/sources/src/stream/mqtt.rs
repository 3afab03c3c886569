//! MQTT 3.1.1: a topic filter (wildcards allowed) at QoS 0, 1 or 2. With QoS ≥ 1 the message is
//! acknowledged (PUBACK/PUBREC) only after its event is stored; with `clean_session: false` the
//! broker keeps the subscription and the unacknowledged messages while Onset is away. MQTT has
//! no stable message id: give `external_id` where a redelivery must not run twice.

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde::Deserialize;
use serde_json::{Map, json};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{Ack, Incoming, Status, decode_body};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSettings {
    /// `mqtt://host:1883` (or `tcp://`).
    pub url: String,
    pub topic: String,
    /// 0, 1 (default) or 2.
    #[serde(default = "one")]
    pub qos: u8,
    /// Default `onset-<component>-<environment>`: a persistent session needs a stable id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Default false: the broker keeps the session (and queued messages) while Onset is away.
    #[serde(default)]
    pub clean_session: bool,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

fn one() -> u8 {
    1
}

/// `mqtt://host:port` → `(host, port)`.
pub fn host_port(url: &str) -> Result<(String, u16), String> {
    let rest = url
        .strip_prefix("mqtt://")
        .or_else(|| url.strip_prefix("tcp://"))
        .ok_or_else(|| format!("`{url}` is not an mqtt:// address (TLS is not enabled in this build)"))?;
    let rest = rest.trim_end_matches('/');
    match rest.rsplit_once(':') {
        Some((h, p)) => Ok((h.to_string(), p.parse().map_err(|_| format!("`{url}`: `{p}` is not a port"))?)),
        None => Ok((rest.to_string(), 1883)),
    }
}

pub fn qos(level: u8) -> Result<QoS, String> {
    match level {
        0 => Ok(QoS::AtMostOnce),
        1 => Ok(QoS::AtLeastOnce),
        2 => Ok(QoS::ExactlyOnce),
        n => Err(format!("qos is 0, 1 or 2, not {n}")),
    }
}

pub async fn run(
    settings: MqttSettings,
    default_client_id: String,
    tx: mpsc::Sender<Incoming>,
    status: watch::Sender<Status>,
    stop: CancellationToken,
) {
    let what = format!("mqtt {} {}", settings.url, settings.topic);
    super::reconnecting(&what, &tx, &status, &stop, || consume(&settings, &default_client_id, &tx, &status)).await;
}

async fn consume(
    s: &MqttSettings,
    default_client_id: &str,
    tx: &mpsc::Sender<Incoming>,
    status: &watch::Sender<Status>,
) -> Result<(), String> {
    let (host, port) = host_port(&s.url)?;
    let level = qos(s.qos)?;
    let client_id = s.client_id.clone().unwrap_or_else(|| default_client_id.to_string());
    let mut options = MqttOptions::new(client_id, host, port);
    options.set_keep_alive(std::time::Duration::from_secs(15));
    options.set_clean_session(s.clean_session);
    options.set_manual_acks(true);
    if let (Some(u), Some(p)) = (&s.username, &s.password) {
        options.set_credentials(u, p);
    }
    let (client, mut events) = AsyncClient::new(options, 1024);
    client.subscribe(&s.topic, level).await.map_err(|e| e.to_string())?;
    // Acknowledgements go out through the event loop polled below, which waits while the
    // server is busy: were they sent from the server's task, a full request queue would wait
    // for this loop and this loop for the server. A task of their own breaks that cycle.
    let (ack_tx, mut ack_rx) = mpsc::unbounded_channel::<rumqttc::Publish>();
    let acker = client.clone();
    tokio::spawn(async move {
        while let Some(p) = ack_rx.recv().await {
            if acker.ack(&p).await.is_err() {
                break;
            }
        }
    });
    loop {
        let event = events.poll().await.map_err(|e| format!("MQTT connection: {e}"))?;
        match event {
            Event::Incoming(Packet::ConnAck(_)) => {
                let _ = status.send(Status::Connected);
            }
            Event::Incoming(Packet::Publish(p)) => {
                let mut message = Map::new();
                message.insert("topic".into(), json!(p.topic));
                message.insert("qos".into(), json!(p.qos as u8));
                message.insert("retain".into(), json!(p.retain));
                message.insert("dup".into(), json!(p.dup));
                let payload = decode_body(&p.payload);
                let ack = if p.qos == QoS::AtMostOnce {
                    Ack::none()
                } else {
                    let ack_tx = ack_tx.clone();
                    Ack::new(move || {
                        Box::pin(async move { ack_tx.send(p).map_err(|_| "the MQTT connection was lost".to_string()) })
                    })
                };
                let incoming = Incoming {
                    channel: s.topic.clone(),
                    payload,
                    headers: Map::new(),
                    message,
                    delivery_id: None,
                    ack,
                };
                if tx.send(incoming).await.is_err() {
                    return Ok(());
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_levels() {
        assert_eq!(host_port("mqtt://127.0.0.1:1883").unwrap(), ("127.0.0.1".into(), 1883));
        assert_eq!(host_port("tcp://broker").unwrap(), ("broker".into(), 1883));
        assert!(host_port("mqtts://x").is_err());
        assert!(qos(3).is_err());
    }
}
