//! The store's areas for [`SqliteStore`]: each method is the inherent one of the same name.

use std::collections::HashMap;

use super::SqliteStore;
use crate::*;

#[async_trait::async_trait]
impl Events for SqliteStore {
    async fn ingest(&self, event: NewEvent) -> Result<IngestOutcome, StoreError> {
        SqliteStore::ingest(self, event).await
    }

    async fn ingest_batch(
        &self,
        members: Vec<NewEvent>,
        batch: NewEvent,
    ) -> Result<(Vec<IngestOutcome>, Option<NewEvent>), StoreError> {
        SqliteStore::ingest_batch(self, members, batch).await
    }

    async fn add_runs(
        &self,
        event_id: String,
        runs: Vec<(NewRun, Option<String>)>,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        SqliteStore::add_runs(self, event_id, runs, now).await
    }

    async fn event(&self, id: String) -> Result<Option<EventRow>, StoreError> {
        SqliteStore::event(self, id).await
    }

    async fn events(&self, filter: ListFilter) -> Result<Page<EventRow>, StoreError> {
        SqliteStore::events(self, filter).await
    }

    async fn run(&self, id: String) -> Result<Option<RunRow>, StoreError> {
        SqliteStore::run(self, id).await
    }

    async fn runs(&self, filter: ListFilter) -> Result<Page<RunRow>, StoreError> {
        SqliteStore::runs(self, filter).await
    }

    async fn run_input(&self, run_id: String) -> Result<Option<(EventForRun, RunStatus)>, StoreError> {
        SqliteStore::run_input(self, run_id).await
    }

    async fn dead_runs(
        &self,
        component: String,
        environment: String,
    ) -> Result<Vec<(String, String, String, String)>, StoreError> {
        SqliteStore::dead_runs(self, component, environment).await
    }

    async fn queue_counts(&self) -> Result<QueueCounts, StoreError> {
        SqliteStore::queue_counts(self).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        SqliteStore::ping(self).await
    }
}

#[async_trait::async_trait]
impl Queue for SqliteStore {
    async fn pending_runs(&self, scope: Option<(String, String)>, limit: usize) -> Result<Vec<PendingRun>, StoreError> {
        SqliteStore::pending_runs(self, scope, limit).await
    }

    async fn mark_running(
        &self,
        leases: Vec<(String, String)>,
        started_at: i64,
        lease_until: i64,
    ) -> Result<Vec<String>, StoreError> {
        SqliteStore::mark_running(self, leases, started_at, lease_until).await
    }

    async fn claim(
        &self,
        token: String,
        limit: usize,
        now: i64,
        lease_until: i64,
    ) -> Result<Vec<PendingRun>, StoreError> {
        SqliteStore::claim(self, token, limit, now, lease_until).await
    }

    async fn extend_leases(&self, leases: Vec<(String, String)>, lease_until: i64) -> Result<(), StoreError> {
        SqliteStore::extend_leases(self, leases, lease_until).await
    }

    async fn reclaim_expired(&self, now: i64) -> Result<Vec<String>, StoreError> {
        SqliteStore::reclaim_expired(self, now).await
    }

    async fn complete(&self, c: Completion) -> Result<(), StoreError> {
        SqliteStore::complete(self, c).await
    }

    async fn recover(&self) -> Result<usize, StoreError> {
        SqliteStore::recover(self).await
    }

    fn disk_full(&self) -> bool {
        SqliteStore::disk_full(self)
    }

    async fn probe_disk(&self, now: i64) -> Result<(), StoreError> {
        SqliteStore::probe_disk(self, now).await
    }
}

#[async_trait::async_trait]
impl Deployments for SqliteStore {
    async fn activate(&self, d: NewDeployment) -> Result<(), StoreError> {
        SqliteStore::activate(self, d).await
    }

    async fn record_failed_deployment(&self, d: NewDeployment, error: String) -> Result<(), StoreError> {
        SqliteStore::record_failed_deployment(self, d, error).await
    }

    async fn reactivate(
        &self,
        component: String,
        environment: String,
        deployment_id: String,
    ) -> Result<(), StoreError> {
        SqliteStore::reactivate(self, component, environment, deployment_id).await
    }

    async fn deactivate(&self, component: String, environment: String) -> Result<bool, StoreError> {
        SqliteStore::deactivate(self, component, environment).await
    }

    async fn set_paused(&self, component: String, environment: String, paused: bool) -> Result<bool, StoreError> {
        SqliteStore::set_paused(self, component, environment, paused).await
    }

    async fn activations(&self) -> Result<Vec<Activation>, StoreError> {
        SqliteStore::activations(self).await
    }

    async fn deployment_source(&self, id: String) -> Result<Option<(String, String, String)>, StoreError> {
        SqliteStore::deployment_source(self, id).await
    }

    async fn deployments(
        &self,
        component: Option<String>,
        environment: Option<String>,
        limit: u32,
    ) -> Result<Vec<DeploymentRow>, StoreError> {
        SqliteStore::deployments(self, component, environment, limit).await
    }

    async fn deployment(&self, id: String) -> Result<Option<DeploymentRow>, StoreError> {
        SqliteStore::deployment(self, id).await
    }

    async fn add_deployment_log(&self, deployment_id: String, at: i64, message: String) -> Result<(), StoreError> {
        SqliteStore::add_deployment_log(self, deployment_id, at, message).await
    }

    async fn deployment_logs(&self, deployment_id: String) -> Result<Vec<(i64, String)>, StoreError> {
        SqliteStore::deployment_logs(self, deployment_id).await
    }
}

#[async_trait::async_trait]
impl TriggerState for SqliteStore {
    async fn trigger_state(
        &self,
        component: String,
        environment: String,
        key: String,
    ) -> Result<Option<String>, StoreError> {
        SqliteStore::trigger_state(self, component, environment, key).await
    }

    async fn set_trigger_state(
        &self,
        component: String,
        environment: String,
        key: String,
        value: Option<String>,
    ) -> Result<(), StoreError> {
        SqliteStore::set_trigger_state(self, component, environment, key, value).await
    }

    async fn trigger_states(&self, key: String) -> Result<Vec<(String, String, String)>, StoreError> {
        SqliteStore::trigger_states(self, key).await
    }

    async fn calendar_items(
        &self,
        component: String,
        environment: String,
    ) -> Result<HashMap<String, String>, StoreError> {
        SqliteStore::calendar_items(self, component, environment).await
    }

    async fn apply_sync(&self, batch: SyncBatch) -> Result<Vec<IngestOutcome>, StoreError> {
        SqliteStore::apply_sync(self, batch).await
    }

    async fn clear_calendar_items(&self, component: String, environment: String) -> Result<(), StoreError> {
        SqliteStore::clear_calendar_items(self, component, environment).await
    }
}

#[async_trait::async_trait]
impl Settings for SqliteStore {
    async fn environments(&self) -> Result<Vec<String>, StoreError> {
        SqliteStore::environments(self).await
    }

    async fn create_environment(&self, name: String, after: String, now: i64) -> Result<bool, StoreError> {
        SqliteStore::create_environment(self, name, after, now).await
    }

    async fn set_config_values(&self, values: Vec<SealedValue>) -> Result<(), StoreError> {
        SqliteStore::set_config_values(self, values).await
    }

    async fn config_values(&self, scope: Option<(String, String)>) -> Result<Vec<SealedValue>, StoreError> {
        SqliteStore::config_values(self, scope).await
    }

    async fn delete_config_value(
        &self,
        component: String,
        environment: String,
        key: String,
    ) -> Result<bool, StoreError> {
        SqliteStore::delete_config_value(self, component, environment, key).await
    }

    async fn sealing_key(&self) -> Result<Option<String>, StoreError> {
        SqliteStore::sealing_key(self).await
    }

    async fn set_sealing_key(&self, key_id: String, values: Vec<SealedValue>) -> Result<(), StoreError> {
        SqliteStore::set_sealing_key(self, key_id, values).await
    }

    async fn draft(&self, component: String) -> Result<Option<DraftRow>, StoreError> {
        SqliteStore::draft(self, component).await
    }

    async fn drafts(&self) -> Result<Vec<DraftRow>, StoreError> {
        SqliteStore::drafts(self).await
    }

    async fn put_draft(
        &self,
        component: String,
        text: String,
        updated_by: String,
        now: i64,
        base: Option<i64>,
    ) -> Result<Option<i64>, StoreError> {
        SqliteStore::put_draft(self, component, text, updated_by, now, base).await
    }
}

#[async_trait::async_trait]
impl Access for SqliteStore {
    async fn create_token(&self, t: TokenRow) -> Result<(), StoreError> {
        SqliteStore::create_token(self, t).await
    }

    async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        SqliteStore::tokens(self).await
    }

    async fn token_by_hash(&self, hash: String) -> Result<Option<TokenRow>, StoreError> {
        SqliteStore::token_by_hash(self, hash).await
    }

    async fn revoke_token(&self, id: String, at: i64) -> Result<bool, StoreError> {
        SqliteStore::revoke_token(self, id, at).await
    }

    async fn add_audit(&self, row: AuditRow) -> Result<(), StoreError> {
        SqliteStore::add_audit(self, row).await
    }

    async fn audit(&self, limit: u32, before: Option<String>) -> Result<Vec<AuditRow>, StoreError> {
        SqliteStore::audit(self, limit, before).await
    }
}

#[async_trait::async_trait]
impl Alerts for SqliteStore {
    async fn raise_alert(&self, alert: AlertRow) -> Result<bool, StoreError> {
        SqliteStore::raise_alert(self, alert).await
    }

    async fn resolve_alert(&self, key: String, at: i64) -> Result<bool, StoreError> {
        SqliteStore::resolve_alert(self, key, at).await
    }

    async fn open_alert_keys(&self, kind: String) -> Result<Vec<String>, StoreError> {
        SqliteStore::open_alert_keys(self, kind).await
    }

    async fn alerts(&self, all: bool, limit: u32) -> Result<Vec<AlertRow>, StoreError> {
        SqliteStore::alerts(self, all, limit).await
    }

    async fn alerts_to_deliver(&self, now: i64, max_attempts: u32) -> Result<Vec<AlertRow>, StoreError> {
        SqliteStore::alerts_to_deliver(self, now, max_attempts).await
    }

    async fn alert_attempt(
        &self,
        id: String,
        delivered_at: Option<i64>,
        error: Option<String>,
        next_attempt_at: i64,
    ) -> Result<(), StoreError> {
        SqliteStore::alert_attempt(self, id, delivered_at, error, next_attempt_at).await
    }
}

#[async_trait::async_trait]
impl Retention for SqliteStore {
    async fn prune_candidates(&self, after: Option<String>, limit: usize) -> Result<Vec<PruneCandidate>, StoreError> {
        SqliteStore::prune_candidates(self, after, limit).await
    }

    async fn prune_events(&self, ids: Vec<String>) -> Result<usize, StoreError> {
        SqliteStore::prune_events(self, ids).await
    }

    async fn file_usage(&self) -> Result<(u64, u64), StoreError> {
        SqliteStore::file_usage(self).await
    }
}

#[async_trait::async_trait]
impl Rollups for SqliteStore {
    async fn add_rollups(&self, rollups: Vec<Rollup>) -> Result<(), StoreError> {
        SqliteStore::add_rollups(self, rollups).await
    }

    async fn rollups(
        &self,
        resolution: i64,
        component: Option<String>,
        environment: Option<String>,
        from: i64,
        to: i64,
    ) -> Result<Vec<Rollup>, StoreError> {
        SqliteStore::rollups(self, resolution, component, environment, from, to).await
    }

    async fn waiting_by_component(&self, now: i64) -> Result<Vec<(String, String, i64, Option<i64>)>, StoreError> {
        SqliteStore::waiting_by_component(self, now).await
    }

    async fn prune_rollups(&self, resolution: i64, before: i64) -> Result<usize, StoreError> {
        SqliteStore::prune_rollups(self, resolution, before).await
    }
}

#[async_trait::async_trait]
impl Cluster for SqliteStore {
    async fn acquire_lease(&self, name: String, holder: String, now: i64, until: i64) -> Result<bool, StoreError> {
        SqliteStore::acquire_lease(self, name, holder, now, until).await
    }

    async fn release_lease(&self, name: String, holder: String) -> Result<(), StoreError> {
        SqliteStore::release_lease(self, name, holder).await
    }

    async fn leases(&self) -> Result<Vec<LeaseRow>, StoreError> {
        SqliteStore::leases(self).await
    }

    async fn heartbeat(&self, node: NodeRow) -> Result<(), StoreError> {
        SqliteStore::heartbeat(self, node).await
    }

    async fn nodes(&self, seen_since: i64) -> Result<Vec<NodeRow>, StoreError> {
        SqliteStore::nodes(self, seen_since).await
    }
}
