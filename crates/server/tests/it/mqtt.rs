//! MQTT triggers against a private Mosquitto per test, messages published with mosquitto_pub.

use std::time::Duration;

use crate::support::*;

pub struct Mosquitto {
    child: std::process::Child,
    pub port: u16,
}

fn spawn_mosquitto(port: u16) -> std::process::Child {
    spawn_daemon("mosquitto", &["-p".to_string(), port.to_string()], port)
}

impl Mosquitto {
    pub fn start() -> Mosquitto {
        let port = free_port();
        Mosquitto { child: spawn_mosquitto(port), port }
    }

    fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn_mosquitto(self.port);
    }

    fn publish(&self, topic: &str, from: u32, to: u32) {
        for n in from..to {
            let out = std::process::Command::new("mosquitto_pub")
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q", "1", "-t", topic])
                .args(["-m", &format!("{{\"n\": {n}}}")])
                .output()
                .expect("mosquitto_pub (Debian package mosquitto-clients)");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos1_messages_with_a_persistent_session_arrive_once() {
    let mut broker = Mosquitto::start();
    let client_id = format!("onset-test-{}", uuid::Uuid::new_v4().simple());
    let yaml = format!(
        "component: sensors\ntrigger:\n  type: mqtt\n  with:\n    url: mqtt://127.0.0.1:{}\n    topic: \"sensors/+/temp\"\n    qos: 1\n    client_id: {client_id}\n    external_id: \"{{{{ event.n }}}}\"\nhandlers:\n  \"sensors/+/temp\":\n    onMessage: {{ steps: [ {{ log: \"{{{{ event.n }}}} from {{{{ meta.message.topic }}}}\" }} ] }}\n",
        broker.port
    );
    let options = Options::new(&[("sensors.yaml", &yaml)]);
    let s = start_with(options.clone_for_restart()).await;
    s.until_source_running().await;
    broker.publish("sensors/kitchen/temp", 0, 10);
    let events = s.wait_events(10).await;
    assert_eq!(unique_delivery_ids(&events), 10);
    let run = s.wait_run_status(events.last().unwrap()["id"].as_str().unwrap(), "succeeded").await;
    assert!(run["steps"][0]["output"].as_str().unwrap().ends_with("from sensors/kitchen/temp"));

    // While Onset is stopped the broker keeps its session and queues QoS 1 messages.
    let (data, project) = s.stop().await;
    broker.publish("sensors/hall/temp", 10, 20);
    let s = restart_from(data, project, &options).await;
    let events = s.wait_events(20).await;
    assert_eq!(unique_delivery_ids(&events), 20);

    // The broker dies and comes back (its sessions with it): the trigger reconnects and
    // subscribes again by itself.
    broker.restart();
    s.until_source_running().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    broker.publish("sensors/hall/temp", 20, 25);
    let events = s.wait_events(25).await;
    assert_eq!(unique_delivery_ids(&events), 25);
}

/// A backlog the broker queued for the persistent session while Onset was away arrives at once
/// on connect, far more than the MQTT client's request queue holds; all of it is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_backlog_of_qos1_messages_is_stored_whole() {
    let broker = Mosquitto::start();
    let yaml = format!(
        "component: burst\ntrigger:\n  type: mqtt\n  with: {{ url: \"mqtt://127.0.0.1:{}\", topic: burst, qos: 1, client_id: onset-burst, max_in_flight: 512, external_id: \"{{{{ event.n }}}}\" }}\n",
        broker.port
    );
    let options = Options::new(&[("burst.yaml", &yaml)]);
    let s = start_with(options.clone_for_restart()).await;
    s.until_source_running().await;
    let (data, project) = s.stop().await;
    // Mosquitto queues up to 1000 messages for an offline session by default.
    let lines: String = (0..1000).map(|n| format!("{{\"n\": {n}}}\n")).collect();
    let port = broker.port.to_string();
    tokio::task::spawn_blocking(move || {
        piped("mosquitto_pub", &["-h", "127.0.0.1", "-p", &port, "-q", "1", "-t", "burst", "-l"], None, &lines)
    })
    .await
    .unwrap();
    let s = restart_from(data, project, &options).await;
    // More than one page of events: count them in the metrics.
    let mut stored = 0;
    for _ in 0..400 {
        let metrics = s.client.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
        stored = metrics
            .lines()
            .filter(|l| l.starts_with("onset_events_received_total") && l.contains("outcome=\"accepted\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as usize;
        if stored >= 1000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stored, 1000, "every queued message is stored once");
}
