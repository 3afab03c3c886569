//! Prometheus metrics, recorded into a recorder owned by the server (no global recorder, so
//! several servers can live in one process, as tests do).

use metrics::{Recorder, counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

const SECONDS_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub fn new() -> Self {
        let builder = PrometheusBuilder::new();
        let builder = ["onset_run_duration_seconds", "onset_step_duration_seconds"]
            .into_iter()
            .try_fold(builder, |b, name| b.set_buckets_for_metric(Matcher::Full(name.into()), SECONDS_BUCKETS))
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let m = Self { recorder, handle };
        m.with(|| {
            metrics::describe_counter!("onset_events_received_total", "Requests to trigger ingress, by outcome");
            metrics::describe_counter!("onset_runs_total", "Finished run attempts, by status");
            metrics::describe_histogram!("onset_run_duration_seconds", "Time from a run's start to its end");
            metrics::describe_histogram!("onset_step_duration_seconds", "Time a step took, by step type");
            metrics::describe_gauge!("onset_queue_depth", "Runs waiting to be executed (queued or retrying)");
            metrics::describe_counter!("onset_retries_total", "Run attempts that failed and were scheduled again");
            metrics::describe_counter!("onset_dead_letters_total", "Runs that exhausted their retries");
            metrics::describe_gauge!(
                "onset_source_up",
                "1 while a schedule, poller or broker consumer works, 0 while it fails"
            );
            metrics::describe_counter!(
                "onset_source_errors_total",
                "Failures of a schedule, poller or broker consumer"
            );
            metrics::describe_counter!("onset_pruned_events_total", "Events deleted by retention, with their runs");
            metrics::describe_counter!(
                "onset_lease_lost_total",
                "Run attempts whose lease was lost before they ended; their results were dropped"
            );
        });
        m
    }

    fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorder as &dyn Recorder, f)
    }

    pub fn event_received(&self, component: &str, environment: &str, outcome: &'static str) {
        self.with(|| {
            counter!("onset_events_received_total", "component" => component.to_string(),
                "environment" => environment.to_string(), "outcome" => outcome)
            .increment(1);
        });
    }

    pub fn run_finished(&self, component: &str, environment: &str, status: &'static str, seconds: f64) {
        self.with(|| {
            counter!("onset_runs_total", "component" => component.to_string(),
                "environment" => environment.to_string(), "status" => status)
            .increment(1);
            histogram!("onset_run_duration_seconds").record(seconds);
            match status {
                "retrying" => counter!("onset_retries_total").increment(1),
                "dead" => counter!("onset_dead_letters_total").increment(1),
                _ => {}
            }
        });
    }

    pub fn steps(&self, steps: &[onset_engine::StepRecord]) {
        self.with(|| {
            for s in steps {
                histogram!("onset_step_duration_seconds", "type" => s.kind).record(s.duration_ms / 1000.0);
            }
        });
    }

    /// A schedule, poller or broker consumer worked (`up`) or failed.
    pub fn source(&self, component: &str, environment: &str, up: bool) {
        self.with(|| {
            let labels = [("component", component.to_string()), ("environment", environment.to_string())];
            gauge!("onset_source_up", &labels).set(if up { 1.0 } else { 0.0 });
            if !up {
                counter!("onset_source_errors_total", &labels).increment(1);
            }
        });
    }

    /// Messages waiting in the broker for a stream trigger, as the broker last reported.
    pub fn source_backlog(&self, component: &str, environment: &str, backlog: u64) {
        self.with(|| {
            let labels = [("component", component.to_string()), ("environment", environment.to_string())];
            gauge!("onset_source_backlog", &labels).set(backlog as f64);
        });
    }

    /// An attempt's completion refused: its lease was lost.
    pub fn lease_lost(&self) {
        self.with(|| counter!("onset_lease_lost_total").increment(1));
    }

    /// Events retention deleted.
    pub fn pruned(&self, events: usize) {
        self.with(|| counter!("onset_pruned_events_total").increment(events as u64));
    }

    /// Spans the trace exporter dropped (its queue was full).
    pub fn spans_dropped(&self, n: u64) {
        self.with(|| gauge!("onset_trace_spans_dropped").set(n as f64));
    }

    /// Prometheus text, with the queue depth as of now; without it when another node reports it.
    pub fn render(&self, queue_depth: Option<usize>) -> String {
        if let Some(depth) = queue_depth {
            self.with(|| gauge!("onset_queue_depth").set(depth as f64));
        }
        self.handle.run_upkeep();
        let text = self.handle.render();
        if queue_depth.is_some() {
            return text;
        }
        let mut kept = String::with_capacity(text.len());
        for line in text.lines().filter(|l| !l.contains("onset_queue_depth")) {
            kept.push_str(line);
            kept.push('\n');
        }
        kept
    }
}
