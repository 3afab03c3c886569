//! Trace context for runs: when a run is traced, each step gets a span id of its own, and an
//! outbound call made by a step sees that step's W3C `traceparent` (a task-local the connectors
//! read), so the callee's spans join the event's trace under the step.

tokio::task_local! {
    static CALL_TRACEPARENT: String;
}

/// The run's place in a trace: its trace id and its own span id (hex, W3C sizes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunTrace {
    pub trace_id: String,
    pub span_id: String,
}

/// A fresh 8-byte span id, as 16 hex digits (never all zeros).
pub fn new_span_id() -> String {
    loop {
        let id = fastrand::u64(..);
        if id != 0 {
            return format!("{id:016x}");
        }
    }
}

/// The `traceparent` of the step whose call is running, if the run is traced.
pub fn current_traceparent() -> Option<String> {
    CALL_TRACEPARENT.try_with(Clone::clone).ok()
}

/// Runs `call` with `traceparent` visible to [`current_traceparent`].
pub(crate) async fn with_traceparent<F: std::future::Future>(traceparent: Option<String>, call: F) -> F::Output {
    match traceparent {
        Some(tp) => CALL_TRACEPARENT.scope(tp, call).await,
        None => call.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_sees_its_steps_traceparent_and_nothing_outside() {
        assert_eq!(current_traceparent(), None);
        let seen = with_traceparent(Some("00-ab-cd-01".into()), async { current_traceparent() }).await;
        assert_eq!(seen.as_deref(), Some("00-ab-cd-01"));
        assert_eq!(new_span_id().len(), 16);
    }
}
