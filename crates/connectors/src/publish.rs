//! `publish.*`: a message to a broker, with an account holding the connection settings the
//! broker's trigger takes, waiting for the broker's confirmation where it gives one (RabbitMQ
//! publisher confirms, Kafka acks=all, the SQS answer, JetStream's acknowledgement, MQTT's PUBACK
//! or PUBCOMP). Connections are kept per account (MQTT: one per call); a broker that cannot be
//! reached, or does not confirm, is a transient failure.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onset_engine::CallError;
use serde_json::{Value, json};

use crate::accounts::{Account, Tokens};
use crate::http::fail;
use crate::{Connector, Operation};

/// How long a publish may wait for its broker, connecting included.
const TIMEOUT: Duration = Duration::from_secs(15);

/// The message's bytes: a string's text, anything else as JSON.
fn payload(input: &Value) -> (Vec<u8>, bool) {
    match &input["body"] {
        Value::String(s) => (s.as_bytes().to_vec(), false),
        other => (other.to_string().into_bytes(), true),
    }
}

/// Header values as text.
fn text_pairs(input: &Value, field: &str) -> Vec<(String, String)> {
    input[field]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect())
        .unwrap_or_default()
}

fn needs<'a>(op: &str, account: &'a Account, field: &str) -> Result<&'a str, CallError> {
    account.get(field).filter(|v| !v.is_empty()).ok_or_else(|| {
        fail(
            format!(
                "{op}: account `{}` has no `{field}`; set it: `onset account set {} --type {} --env {} {field}=…`",
                account.name, account.name, account.kind, account.environment
            ),
            false,
        )
    })
}

/// One client per account (by its fingerprint, so a changed account gets a new one).
struct Clients<T>(Mutex<HashMap<String, T>>);

impl<T: Clone> Clients<T> {
    fn get(&self, key: &str) -> Option<T> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(key).cloned()
    }
    fn put(&self, key: String, client: T) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key, client);
    }
    fn remove(&self, key: &str) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(key);
    }
}

impl<T> Default for Clients<T> {
    fn default() -> Self {
        Clients(Mutex::default())
    }
}

#[derive(Default)]
pub struct PublishConnector {
    #[cfg(feature = "publish-rabbitmq")]
    rabbit: Clients<lapin::Channel>,
    #[cfg(feature = "publish-nats")]
    nats: Clients<async_nats::Client>,
    #[cfg(feature = "publish-kafka")]
    kafka: Clients<rdkafka::producer::FutureProducer>,
    #[cfg(feature = "publish-sqs")]
    sqs: Clients<onset_sources::stream::sqs::Client>,
}

impl std::fmt::Debug for PublishConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PublishConnector")
    }
}

#[cfg(feature = "publish-rabbitmq")]
impl PublishConnector {
    async fn rabbit_channel(&self, op: &str, account: &Account) -> Result<lapin::Channel, CallError> {
        let key = account.fingerprint();
        if let Some(c) = self.rabbit.get(&key).filter(|c| c.status().connected()) {
            return Ok(c);
        }
        let url = needs(op, account, "url")?;
        let unreachable =
            |e: lapin::Error| fail(format!("{op}: cannot reach RabbitMQ for account `{}`: {e}", account.name), true);
        let conn =
            lapin::Connection::connect(url, lapin::ConnectionProperties::default()).await.map_err(unreachable)?;
        let channel = conn.create_channel().await.map_err(unreachable)?;
        channel.confirm_select(lapin::options::ConfirmSelectOptions::default()).await.map_err(unreachable)?;
        self.rabbit.put(key, channel.clone());
        Ok(channel)
    }

    async fn rabbitmq(&self, op: &str, input: &Value, account: &Account) -> Result<Value, CallError> {
        use lapin::options::BasicPublishOptions;
        use lapin::types::{AMQPValue, FieldTable, ShortString};
        let channel = self.rabbit_channel(op, account).await?;
        let (body, json) = payload(input);
        let exchange = input["exchange"].as_str().unwrap_or_default();
        let routing_key = input["routing_key"].as_str().unwrap_or_default();
        let mut headers = FieldTable::default();
        for (k, v) in text_pairs(input, "headers") {
            headers.insert(ShortString::from(k), AMQPValue::LongString(v.into()));
        }
        let content_type =
            input["content_type"].as_str().unwrap_or(if json { "application/json" } else { "text/plain" }).to_string();
        let mut props = lapin::BasicProperties::default()
            .with_content_type(content_type.into())
            .with_delivery_mode(if input["persistent"].as_bool().unwrap_or(true) { 2 } else { 1 })
            .with_headers(headers);
        if let Some(id) = input["message_id"].as_str() {
            props = props.with_message_id(id.into());
        }
        let sent = async {
            channel
                .basic_publish(
                    exchange.into(),
                    routing_key.into(),
                    BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() },
                    &body,
                    props,
                )
                .await?
                .await
        };
        let confirmation = match tokio::time::timeout(TIMEOUT, sent).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                self.rabbit.remove(&account.fingerprint());
                return Err(fail(format!("{op}: RabbitMQ: {e}"), true));
            }
            Err(_) => {
                self.rabbit.remove(&account.fingerprint());
                return Err(fail(format!("{op}: RabbitMQ did not confirm within {TIMEOUT:?}"), true));
            }
        };
        match confirmation {
            lapin::Confirmation::Ack(None) => {
                Ok(json!({ "confirmed": true, "exchange": exchange, "routing_key": routing_key }))
            }
            lapin::Confirmation::Ack(Some(returned)) => Err(fail(
                format!(
                    "{op}: RabbitMQ returned the message: no queue is bound to routing key `{routing_key}` on exchange `{exchange}` ({})",
                    returned.reply_text
                ),
                false,
            )),
            lapin::Confirmation::Nack(_) => Err(fail(format!("{op}: RabbitMQ refused the message (nack)"), true)),
            lapin::Confirmation::NotRequested => {
                Ok(json!({ "confirmed": false, "exchange": exchange, "routing_key": routing_key }))
            }
        }
    }
}

#[cfg(feature = "publish-nats")]
impl PublishConnector {
    async fn nats_client(&self, op: &str, account: &Account) -> Result<async_nats::Client, CallError> {
        let key = account.fingerprint();
        if let Some(c) = self.nats.get(&key) {
            return Ok(c);
        }
        let url = needs(op, account, "url")?;
        let mut options = async_nats::ConnectOptions::new().connection_timeout(TIMEOUT);
        if let Some(token) = account.get("token") {
            options = options.token(token.to_string());
        }
        if let (Some(user), Some(password)) = (account.get("username"), account.get("password")) {
            options = options.user_and_password(user.to_string(), password.to_string());
        }
        let client = options
            .connect(url)
            .await
            .map_err(|e| fail(format!("{op}: cannot reach NATS for account `{}`: {e}", account.name), true))?;
        self.nats.put(key, client.clone());
        Ok(client)
    }

    async fn nats(&self, op: &str, input: &Value, account: &Account) -> Result<Value, CallError> {
        let client = self.nats_client(op, account).await?;
        let subject = input["subject"].as_str().unwrap_or_default().to_string();
        let (body, _) = payload(input);
        let mut headers = async_nats::HeaderMap::new();
        for (k, v) in text_pairs(input, "headers") {
            headers.insert(k.as_str(), v.as_str());
        }
        if let Some(id) = input["message_id"].as_str() {
            headers.insert("Nats-Msg-Id", id);
        }
        if input["jetstream"].as_bool().unwrap_or(false) {
            let js = async_nats::jetstream::new(client);
            let sent = async {
                let ack =
                    js.publish_with_headers(subject.clone(), headers, body.into()).await.map_err(|e| e.to_string())?;
                ack.await.map_err(|e| e.to_string())
            };
            let ack = match tokio::time::timeout(TIMEOUT, sent).await {
                Ok(Ok(ack)) => ack,
                Ok(Err(e)) => return Err(fail(format!("{op}: JetStream did not take `{subject}`: {e}"), true)),
                Err(_) => return Err(fail(format!("{op}: JetStream did not acknowledge within {TIMEOUT:?}"), true)),
            };
            return Ok(json!({ "stream": ack.stream, "sequence": ack.sequence, "duplicate": ack.duplicate }));
        }
        let sent = async {
            client.publish_with_headers(subject.clone(), headers, body.into()).await.map_err(|e| e.to_string())?;
            // Core NATS confirms nothing: flushing at least puts the message on the server.
            client.flush().await.map_err(|e| e.to_string())
        };
        match tokio::time::timeout(TIMEOUT, sent).await {
            Ok(Ok(())) => Ok(json!({})),
            Ok(Err(e)) => Err(fail(format!("{op}: NATS: {e}"), true)),
            Err(_) => Err(fail(format!("{op}: NATS did not take the message within {TIMEOUT:?}"), true)),
        }
    }
}

#[cfg(feature = "publish-kafka")]
impl PublishConnector {
    fn kafka_producer(&self, op: &str, account: &Account) -> Result<rdkafka::producer::FutureProducer, CallError> {
        let key = account.fingerprint();
        if let Some(p) = self.kafka.get(&key) {
            return Ok(p);
        }
        let mut config = rdkafka::ClientConfig::new();
        config
            .set("bootstrap.servers", needs(op, account, "brokers")?)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("message.timeout.ms", TIMEOUT.as_millis().to_string());
        for (field, option) in [
            ("security_protocol", "security.protocol"),
            ("sasl_mechanism", "sasl.mechanism"),
            ("sasl_username", "sasl.username"),
            ("sasl_password", "sasl.password"),
        ] {
            if let Some(v) = account.get(field) {
                config.set(option, v);
            }
        }
        let producer: rdkafka::producer::FutureProducer = config
            .create()
            .map_err(|e| fail(format!("{op}: account `{}`: Kafka producer: {e}", account.name), false))?;
        self.kafka.put(key, producer.clone());
        Ok(producer)
    }

    async fn kafka(&self, op: &str, input: &Value, account: &Account) -> Result<Value, CallError> {
        use rdkafka::message::{Header, OwnedHeaders};
        let producer = self.kafka_producer(op, account)?;
        let topic = input["topic"].as_str().unwrap_or_default();
        let (body, _) = payload(input);
        let pairs = text_pairs(input, "headers");
        let mut headers = OwnedHeaders::new();
        for (k, v) in &pairs {
            headers = headers.insert(Header { key: k, value: Some(v.as_bytes()) });
        }
        let mut record = rdkafka::producer::FutureRecord::<str, [u8]>::to(topic).payload(&body).headers(headers);
        if let Some(key) = input["key"].as_str() {
            record = record.key(key);
        }
        if let Some(p) = input["partition"].as_i64().and_then(|p| i32::try_from(p).ok()) {
            record = record.partition(p);
        }
        match producer.send(record, rdkafka::util::Timeout::After(TIMEOUT)).await {
            Ok(delivery) => Ok(json!({ "topic": topic, "partition": delivery.partition, "offset": delivery.offset })),
            Err((e, _)) => {
                let permanent = matches!(
                    e.rdkafka_error_code(),
                    Some(
                        rdkafka::types::RDKafkaErrorCode::MessageSizeTooLarge
                            | rdkafka::types::RDKafkaErrorCode::TopicAuthorizationFailed
                    )
                );
                Err(fail(format!("{op}: Kafka did not take the record for `{topic}`: {e}"), !permanent))
            }
        }
    }
}

#[cfg(feature = "publish-sqs")]
impl PublishConnector {
    fn sqs_client(
        &self,
        op: &str,
        account: &Account,
        queue_url: &str,
    ) -> Result<onset_sources::stream::sqs::Client, CallError> {
        // One client per account and queue (the client signs for its queue URL).
        let key = format!("{}\u{0}{queue_url}", account.fingerprint());
        if let Some(c) = self.sqs.get(&key) {
            return Ok(c);
        }
        let mut settings = json!({ "queue_url": queue_url, "region": needs(op, account, "region")? });
        for field in ["endpoint", "access_key_id", "secret_access_key", "session_token"] {
            if let Some(v) = account.get(field) {
                settings[field] = json!(v);
            }
        }
        let settings: onset_sources::stream::sqs::SqsSettings = serde_json::from_value(settings)
            .map_err(|e| fail(format!("{op}: account `{}`: {e}", account.name), false))?;
        let client = onset_sources::stream::sqs::Client::new(&settings)
            .map_err(|e| fail(format!("{op}: account `{}`: {e}", account.name), false))?;
        self.sqs.put(key, client.clone());
        Ok(client)
    }

    async fn sqs(&self, op: &str, input: &Value, account: &Account) -> Result<Value, CallError> {
        let queue_url = input["queue_url"].as_str().unwrap_or_default();
        let client = self.sqs_client(op, account, queue_url)?;
        let (body, _) = payload(input);
        let mut request = json!({ "MessageBody": String::from_utf8_lossy(&body) });
        let attributes: serde_json::Map<String, Value> = text_pairs(input, "attributes")
            .into_iter()
            .map(|(k, v)| (k, json!({ "DataType": "String", "StringValue": v })))
            .collect();
        if !attributes.is_empty() {
            request["MessageAttributes"] = Value::Object(attributes);
        }
        for (field, name) in [
            ("delay_seconds", "DelaySeconds"),
            ("group_id", "MessageGroupId"),
            ("deduplication_id", "MessageDeduplicationId"),
        ] {
            if !input[field].is_null() {
                request[name] = input[field].clone();
            }
        }
        let answer = tokio::time::timeout(TIMEOUT, client.call("SendMessage", request))
            .await
            .map_err(|_| fail(format!("{op}: SQS did not answer within {TIMEOUT:?}"), true))?
            .map_err(|e| {
                // The service's refusals name their kind; a missing queue or a bad request stays so.
                let permanent = [
                    "NonExistentQueue",
                    "QueueDoesNotExist",
                    "InvalidParameterValue",
                    "AccessDenied",
                    "InvalidClientTokenId",
                    "SignatureDoesNotMatch",
                ]
                .iter()
                .any(|k| e.contains(k));
                fail(format!("{op}: {e}"), !permanent)
            })?;
        let mut out = json!({ "message_id": answer["MessageId"] });
        if let Some(seq) = answer["SequenceNumber"].as_str() {
            out["sequence_number"] = json!(seq);
        }
        Ok(out)
    }
}

#[cfg(feature = "publish-mqtt")]
impl PublishConnector {
    async fn mqtt(&self, op: &str, input: &Value, account: &Account) -> Result<Value, CallError> {
        use rumqttc::{Event, Incoming, MqttOptions, Outgoing, QoS};
        let url = needs(op, account, "url")?;
        let (host, port) = onset_sources::stream::mqtt::host_port(url)
            .map_err(|e| fail(format!("{op}: account `{}`: {e}", account.name), false))?;
        let prefix = account.get("client_id").unwrap_or("onset-publish");
        let mut options = MqttOptions::new(format!("{prefix}-{:08x}", fastrand::u32(..)), host, port);
        options.set_keep_alive(Duration::from_secs(30));
        if let Some(user) = account.get("username") {
            options.set_credentials(user, account.get("password").unwrap_or_default());
        }
        let qos = match input["qos"].as_u64().unwrap_or(1) {
            0 => QoS::AtMostOnce,
            2 => QoS::ExactlyOnce,
            _ => QoS::AtLeastOnce,
        };
        let topic = input["topic"].as_str().unwrap_or_default().to_string();
        let retain = input["retain"].as_bool().unwrap_or(false);
        let (body, _) = payload(input);
        let (client, mut events) = rumqttc::AsyncClient::new(options, 10);
        client.publish(topic.clone(), qos, retain, body).await.map_err(|e| fail(format!("{op}: MQTT: {e}"), true))?;
        let done = async {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Incoming::ConnAck(ack))) if ack.code != rumqttc::ConnectReturnCode::Success => {
                        return Err((format!("the broker refused the connection ({:?})", ack.code), false));
                    }
                    Ok(Event::Outgoing(Outgoing::Publish(_))) if qos == QoS::AtMostOnce => return Ok(()),
                    Ok(Event::Incoming(Incoming::PubAck(_))) if qos == QoS::AtLeastOnce => return Ok(()),
                    Ok(Event::Incoming(Incoming::PubComp(_))) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err((e.to_string(), true)),
                }
            }
        };
        let outcome = tokio::time::timeout(TIMEOUT, done).await;
        // Says goodbye (and lets the event loop send it) before the connection drops.
        let _ = client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_millis(200), events.poll()).await;
        match outcome {
            Ok(Ok(())) => Ok(json!({ "topic": topic, "qos": qos as u8 })),
            Ok(Err((e, retry))) => Err(fail(format!("{op}: MQTT broker {url}: {e}"), retry)),
            Err(_) => Err(fail(format!("{op}: the MQTT broker did not acknowledge within {TIMEOUT:?}"), true)),
        }
    }
}

impl Connector for PublishConnector {
    fn operations(&self) -> &'static [Operation] {
        std::sync::LazyLock::force(&crate::catalog::PUBLISH).as_slice()
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
            let op = operation.name.as_str();
            match op {
                #[cfg(feature = "publish-rabbitmq")]
                "publish.rabbitmq" => self.rabbitmq(op, &input, &account).await,
                #[cfg(feature = "publish-nats")]
                "publish.nats" => self.nats(op, &input, &account).await,
                #[cfg(feature = "publish-kafka")]
                "publish.kafka" => self.kafka(op, &input, &account).await,
                #[cfg(feature = "publish-sqs")]
                "publish.sqs" => self.sqs(op, &input, &account).await,
                #[cfg(feature = "publish-mqtt")]
                "publish.mqtt" => self.mqtt(op, &input, &account).await,
                other => Err(fail(format!("{other}: this build has no client for that broker"), false)),
            }
        })
    }
}
