//! One conformance suite for every backend: each case takes a [`Backend`] and checks what the
//! [`Store`] trait promises, whatever holds the data. A backend instantiates the whole suite with
//! [`conformance!`](crate::conformance), so a case added here runs on each of them.

pub mod access;
pub mod alerts;
pub mod api_management;
pub mod cluster;
pub mod deployments;
pub mod events;
pub mod queue;
pub mod retention;
pub mod rollups;
pub mod settings;
pub mod trigger_state;

use std::sync::Arc;

use crate::*;

/// Where a case's data lives: a fresh, empty database of one backend.
#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    /// A store over this backend's data. Called again once every earlier store is dropped, it
    /// sees the same data (a restart).
    async fn open(&self) -> Arc<dyn Store>;
}

/// An event for component `orders` in `development` with `runs` queued runs (`{id}-run{i}`).
pub fn new_event(id: &str, delivery: Option<&str>, runs: usize) -> NewEvent {
    NewEvent {
        id: id.into(),
        component: "orders".into(),
        environment: "development".into(),
        channel: "/".into(),
        event: "POST".into(),
        delivery_id: delivery.map(Into::into),
        received_at: 1_700_000_000_000,
        headers: r#"{"content-type":"application/json"}"#.into(),
        query: "{}".into(),
        params: "{}".into(),
        payload: bytes::Bytes::from_static(br#"{"id": 1}"#),
        runs: (0..runs)
            .map(|i| NewRun {
                id: format!("{id}-run{i}"),
                channel: "/".into(),
                event: "POST".into(),
                handler: "POST /".into(),
                deployment_id: "d1".into(),
                max_attempts: 3,
            })
            .collect(),
        trace: None,
    }
}

pub fn deployment(id: &str, component: &str, environment: &str, created_at: i64) -> NewDeployment {
    NewDeployment {
        id: id.into(),
        component: component.into(),
        environment: environment.into(),
        build: format!("build-{id}"),
        source: format!("component: {component}\n"),
        files: r#"{"a.js":"1"}"#.into(),
        created_at,
        meta: r#"{"git":{"commit":"abc"}}"#.into(),
        created_by: Some("admin".into()),
    }
}

pub fn step(status: &'static str) -> NewStep {
    NewStep {
        logs: Some(r#"["hello"]"#.into()),
        path: "0".into(),
        id: Some("a".into()),
        name: None,
        kind: "map",
        status,
        input: None,
        output: Some(r#"{"x":1}"#.into()),
        error: None,
        started_at: 1,
        duration_ms: 0.5,
    }
}

/// `(run id, its lease token)` as the cases take runs: the token is `lease-<run id>`.
pub fn lease(run: &str) -> (String, String) {
    (run.to_string(), format!("lease-{run}"))
}

/// The end of an attempt under the lease [`lease`] gave the run.
pub fn completion(run: &str, attempt: u32, status: RunStatus, finished_at: i64) -> Completion {
    Completion {
        run_id: run.into(),
        lease: Some(format!("lease-{run}")),
        attempt,
        status,
        finished_at,
        error: None,
        error_step: None,
        next_run_at: None,
        steps: vec![step("succeeded")],
    }
}

/// Instantiates every case of the suite for one backend: `conformance!(path::to::backend)`, where
/// `backend()` is an `async fn` answering a fresh [`Backend`].
#[macro_export]
macro_rules! conformance {
    ($open:path) => {
        $crate::conformance!(@areas $open;
            events: [
                ingest_stores_event_and_runs_and_dedups_by_delivery_id,
                concurrent_ingests_all_commit,
                lists_are_newest_first_with_a_cursor_and_filter,
                replays_add_runs_once,
                a_batch_runs_once_over_the_members_never_stored_before,
                run_input_has_what_a_worker_needs,
                dead_runs_are_listed_for_replay,
            ],
            queue: [
                completion_records_steps_and_retry_schedule,
                recovery_requeues_interrupted_runs,
                pending_runs_leave_out_paused_components_unless_asked_for,
                running_runs_are_counted_until_they_end,
                a_completion_under_a_lost_lease_is_refused,
                claims_take_due_runs_once_under_their_lease,
                completions_in_a_batch_are_each_fenced_by_their_lease,
            ],
            deployments: [
                activation_history_and_rollback,
                failed_deployments_are_recorded_never_active,
                deployment_logs_keep_their_order,
            ],
            trigger_state: [
                state_values_are_set_listed_and_removed,
                a_calendar_sync_applies_at_once,
            ],
            settings: [
                environments_keep_promotion_order,
                config_values_are_upserted_and_scoped,
                the_sealing_key_is_recorded_with_the_values_it_sealed,
                drafts_are_saved_as_revisions_and_refuse_a_stale_base,
            ],
            access: [
                tokens_are_found_by_hash_until_revoked,
                the_audit_log_pages_newest_first,
            ],
            api_management: [
                the_wso2_plans_are_seeded_and_more_can_be_made,
                a_key_is_found_by_its_hash_until_replaced_or_its_application_deleted,
                applications_are_found_by_client_id_and_signing_keys_rotate,
                quota_windows_are_shared_out_up_to_their_limit,
                consumers_have_one_account_per_email,
            ],
            alerts: [
                an_alert_is_raised_once_until_resolved,
                deliveries_are_retried_until_delivered,
            ],
            retention: [
                pruning_deletes_finished_events_with_runs_and_steps_never_open_ones,
            ],
            rollups: [
                rollups_add_up_and_are_read_by_range,
                waiting_runs_are_counted_per_component,
            ],
            cluster: [
                a_lease_has_one_holder_until_it_ends,
                nodes_are_listed_while_they_report,
                a_run_is_taken_by_one_worker,
            ],
        );
    };
    (@areas $open:path; $($area:ident: [$($case:ident),* $(,)?]),* $(,)?) => {
        $(
            mod $area {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $case() {
                        let backend = $open().await;
                        $crate::conformance::$area::$case(&backend).await;
                    }
                )*
            }
        )*
    };
}
