//! The `Store` trait: everything the server keeps, behind one seam, in areas of their own (each
//! a trait, so a backend is built and checked area by area). SQLite (`sqlite/`) implements them
//! today; the server holds an `Arc<dyn Store>` (whose methods are every area's) and names a backend
//! only where it starts.

use std::collections::HashMap;

use crate::*;

/// What arrived and the runs it asked for: ingest with deduplication, replays, and the queries of events and runs.
#[async_trait::async_trait]
pub trait Events: Send + Sync {
    /// Stores an event and its runs, answering once committed. A known delivery id stores
    /// nothing and answers with the original event. `Busy` when the write queue is full.
    async fn ingest(&self, event: NewEvent) -> Result<IngestOutcome, StoreError>;
    /// Stores deliveries one run handles together, in one transaction. Each member is an event
    /// of its own (status `batched`, deduplicated by its delivery id, without runs). When at
    /// least one member is new, `batch` is stored with its runs, its payload, headers and params
    /// being the JSON arrays of the new members' (in order); it is answered, else `None`: every
    /// member was known. `Busy` when the write queue is full.
    async fn ingest_batch(
        &self,
        members: Vec<NewEvent>,
        batch: NewEvent,
    ) -> Result<(Vec<IngestOutcome>, Option<NewEvent>), StoreError>;
    /// Creates new runs for an existing event (a replay). With `replaces`, each old run is
    /// marked replayed, and a run already replayed is skipped: the ids created are returned.
    async fn add_runs(
        &self,
        event_id: String,
        runs: Vec<(NewRun, Option<String>)>,
        now: i64,
    ) -> Result<Vec<String>, StoreError>;
    /// One event with its payload, headers and runs.
    async fn event(&self, id: String) -> Result<Option<EventRow>, StoreError>;
    /// Newest first, without payloads and headers; `status` filters by the event's status.
    async fn events(&self, filter: ListFilter) -> Result<Page<EventRow>, StoreError>;
    /// One run with its steps, in execution order across attempts.
    async fn run(&self, id: String) -> Result<Option<RunRow>, StoreError>;
    /// Newest first, without steps.
    async fn runs(&self, filter: ListFilter) -> Result<Page<RunRow>, StoreError>;
    /// The event a run needs (when the payload did not come with the job), with the run's
    /// current status: a run already finished is not run again.
    async fn run_input(&self, run_id: String) -> Result<Option<(EventForRun, RunStatus)>, StoreError>;
    /// Dead-lettered runs not yet replayed: `(run id, event id, channel, event)`.
    async fn dead_runs(
        &self,
        component: String,
        environment: String,
    ) -> Result<Vec<(String, String, String, String)>, StoreError>;
    async fn queue_counts(&self) -> Result<QueueCounts, StoreError>;
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Runs as jobs: taking them, leases, completions, recovery after a restart, and the disk-full state writes depend on.
#[async_trait::async_trait]
pub trait Queue: Send + Sync {
    /// Runs waiting to execute (`queued` or `retrying`), oldest due first, at most `limit`:
    /// those of one component and environment, or of every component that is not paused.
    /// Read through the writer, so every write submitted before is visible.
    async fn pending_runs(&self, scope: Option<(String, String)>, limit: usize) -> Result<Vec<PendingRun>, StoreError>;
    /// Takes up to `limit` runs due by `now` (`queued`, or `retrying` whose time has come) of
    /// components that are not paused, oldest due first, under the lease `token` until
    /// `lease_until`, and answers them. Concurrent claims (other tasks, other nodes) never hand
    /// out the same run.
    async fn claim(
        &self,
        token: String,
        limit: usize,
        now: i64,
        lease_until: i64,
    ) -> Result<Vec<PendingRun>, StoreError>;
    /// Takes waiting runs (`queued` or `retrying`) for a worker until `lease_until`, each under
    /// its lease token `(run id, token)`; a run not waiting any more is left as it is. On SQLite
    /// the caller need not wait for the commit: a crash before it leaves the runs waiting.
    ///
    /// Answers the ids it took. A store only this process uses ([`Cluster::shared`] false) may
    /// answer every id without waiting for the commit; a shared one answers only the runs that
    /// were still waiting (another node may have claimed the others).
    async fn mark_running(
        &self,
        leases: Vec<(String, String)>,
        started_at: i64,
        lease_until: i64,
    ) -> Result<Vec<String>, StoreError>;
    /// Extends the leases of runs still held with these tokens.
    async fn extend_leases(&self, leases: Vec<(String, String)>, lease_until: i64) -> Result<(), StoreError>;
    /// Records the end of an attempt with its steps. With a lease, only while the run is still
    /// held with it: else [`StoreError::LeaseLost`] and nothing is written.
    async fn complete(&self, c: Completion) -> Result<(), StoreError>;
    /// Records the ends of several attempts at once (one transaction where the backend can):
    /// for each, in order, `true` when recorded, `false` when its lease was lost (nothing of it
    /// is written).
    async fn complete_batch(&self, batch: Vec<Completion>) -> Result<Vec<bool>, StoreError> {
        let mut out = Vec::with_capacity(batch.len());
        for c in batch {
            match self.complete(c).await {
                Ok(()) => out.push(true),
                Err(StoreError::LeaseLost) => out.push(false),
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
    /// Puts runs whose lease ended before `now` back in the queue (their worker died or stalled)
    /// and answers their ids; their old lease can no longer complete them.
    async fn reclaim_expired(&self, now: i64) -> Result<Vec<String>, StoreError>;
    /// Puts runs left `running` by a previous process back in the queue. Called once at start,
    /// before workers begin; returns how many were re-queued.
    async fn recover(&self) -> Result<usize, StoreError>;
    /// True from a write that failed because the data directory's disk is full until a commit
    /// succeeds again.
    fn disk_full(&self) -> bool;
    /// Writes one small row: while the disk is full this fails, once it has room it clears
    /// [`Store::disk_full`].
    async fn probe_disk(&self, now: i64) -> Result<(), StoreError>;
}

/// Deployments, which one is active where, pause flags, and the log of what each deployment did.
#[async_trait::async_trait]
pub trait Deployments: Send + Sync {
    /// Records a deployment and makes it the active one, keeping the paused flag.
    async fn activate(&self, d: NewDeployment) -> Result<(), StoreError>;
    /// Records a deployment that did not become active, with why.
    async fn record_failed_deployment(&self, d: NewDeployment, error: String) -> Result<(), StoreError>;
    /// Makes an earlier deployment of a component the active one again (a rollback).
    async fn reactivate(&self, component: String, environment: String, deployment_id: String)
    -> Result<(), StoreError>;
    /// Removes a component from an environment: its events are refused from now on. Its
    /// history (deployments, events, runs) stays. `false` when it was not deployed there.
    async fn deactivate(&self, component: String, environment: String) -> Result<bool, StoreError>;
    /// Pauses or resumes a component's runs. `false` when it is not deployed there.
    async fn set_paused(&self, component: String, environment: String, paused: bool) -> Result<bool, StoreError>;
    async fn activations(&self) -> Result<Vec<Activation>, StoreError>;
    /// The source of a deployment, to rebuild it for retries after a restart.
    /// `(environment, source, files)` of a deployment; `files` is a JSON object.
    async fn deployment_source(&self, id: String) -> Result<Option<(String, String, String)>, StoreError>;
    /// Deployments, newest first, optionally of one component and/or environment.
    async fn deployments(
        &self,
        component: Option<String>,
        environment: Option<String>,
        limit: u32,
    ) -> Result<Vec<DeploymentRow>, StoreError>;
    async fn deployment(&self, id: String) -> Result<Option<DeploymentRow>, StoreError>;
    async fn add_deployment_log(&self, deployment_id: String, at: i64, message: String) -> Result<(), StoreError>;
    /// `(at, message)` in order.
    async fn deployment_logs(&self, deployment_id: String) -> Result<Vec<(i64, String)>, StoreError>;
}

/// What trigger sources remember between deliveries: cursors, sync tokens and calendar items.
#[async_trait::async_trait]
pub trait TriggerState: Send + Sync {
    async fn trigger_state(
        &self,
        component: String,
        environment: String,
        key: String,
    ) -> Result<Option<String>, StoreError>;
    /// Sets (or with `None` removes) one state value.
    async fn set_trigger_state(
        &self,
        component: String,
        environment: String,
        key: String,
        value: Option<String>,
    ) -> Result<(), StoreError>;
    /// Every `(component, environment, value)` stored under `key`.
    async fn trigger_states(&self, key: String) -> Result<Vec<(String, String, String)>, StoreError>;
    /// Calendar item id → etag.
    async fn calendar_items(
        &self,
        component: String,
        environment: String,
    ) -> Result<HashMap<String, String>, StoreError>;
    /// Applies a calendar sync in one transaction; answers each event's outcome, in order.
    async fn apply_sync(&self, batch: SyncBatch) -> Result<Vec<IngestOutcome>, StoreError>;
    /// Forgets every calendar item of a component in an environment (its channel was stopped).
    async fn clear_calendar_items(&self, component: String, environment: String) -> Result<(), StoreError>;
}

/// Environments in promotion order and sealed config values.
#[async_trait::async_trait]
pub trait Settings: Send + Sync {
    /// Environment names in promotion order.
    async fn environments(&self) -> Result<Vec<String>, StoreError>;
    /// Adds an environment right after `after`. `Ok(false)` when `after` does not exist.
    async fn create_environment(&self, name: String, after: String, now: i64) -> Result<bool, StoreError>;
    async fn set_config_values(&self, values: Vec<SealedValue>) -> Result<(), StoreError>;
    /// Values of one component in one environment, or every value (for key rotation).
    async fn config_values(&self, scope: Option<(String, String)>) -> Result<Vec<SealedValue>, StoreError>;
    /// Removes one value; `Ok(false)` when there was none.
    async fn delete_config_value(
        &self,
        component: String,
        environment: String,
        key: String,
    ) -> Result<bool, StoreError>;
    /// The id of the master key new values are sealed with, once one was recorded.
    async fn sealing_key(&self) -> Result<Option<String>, StoreError>;
    /// Records the key new values are sealed with, and writes `values` (re-sealed under it), in
    /// one transaction.
    async fn set_sealing_key(&self, key_id: String, values: Vec<SealedValue>) -> Result<(), StoreError>;
    /// The web UI's draft of a component's source, if one was saved.
    async fn draft(&self, component: String) -> Result<Option<DraftRow>, StoreError>;
    /// Every draft by component name, without its text (`text` is empty).
    async fn drafts(&self) -> Result<Vec<DraftRow>, StoreError>;
    /// Saves a draft as the next revision and answers it. With `base`, only when the stored
    /// revision is `base` (0: none stored yet): else `Ok(None)` and nothing is written.
    async fn put_draft(
        &self,
        component: String,
        text: String,
        updated_by: String,
        now: i64,
        base: Option<i64>,
    ) -> Result<Option<i64>, StoreError>;
}

/// Control-plane tokens (hashes only) and the audit log.
#[async_trait::async_trait]
pub trait Access: Send + Sync {
    async fn create_token(&self, t: TokenRow) -> Result<(), StoreError>;
    /// Every token, revoked ones included, oldest first.
    async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError>;
    /// The token with this hash, if it exists and is not revoked.
    async fn token_by_hash(&self, hash: String) -> Result<Option<TokenRow>, StoreError>;
    /// `false` when there is no such token or it was revoked already.
    async fn revoke_token(&self, id: String, at: i64) -> Result<bool, StoreError>;
    async fn add_audit(&self, row: AuditRow) -> Result<(), StoreError>;
    /// Audit entries, newest first, before the id `before` when given.
    async fn audit(&self, limit: u32, before: Option<String>) -> Result<Vec<AuditRow>, StoreError>;
}

/// Operational alerts and their webhook deliveries.
#[async_trait::async_trait]
pub trait Alerts: Send + Sync {
    /// Stores the alert unless one with its key is open; `true` when it is new.
    async fn raise_alert(&self, alert: AlertRow) -> Result<bool, StoreError>;
    /// Resolves the open alert with this key, if any; `true` when there was one.
    async fn resolve_alert(&self, key: String, at: i64) -> Result<bool, StoreError>;
    /// Keys of the open alerts of a kind.
    async fn open_alert_keys(&self, kind: String) -> Result<Vec<String>, StoreError>;
    /// Newest first; only open ones unless `all`.
    async fn alerts(&self, all: bool, limit: u32) -> Result<Vec<AlertRow>, StoreError>;
    /// Alerts not yet delivered whose next attempt is due, oldest first.
    async fn alerts_to_deliver(&self, now: i64, max_attempts: u32) -> Result<Vec<AlertRow>, StoreError>;
    /// Records a delivery attempt: delivered, or the error and when to try again.
    async fn alert_attempt(
        &self,
        id: String,
        delivered_at: Option<i64>,
        error: Option<String>,
        next_attempt_at: i64,
    ) -> Result<(), StoreError>;
}

/// Deleting what is past its age, and how much room the data takes.
#[async_trait::async_trait]
pub trait Retention: Send + Sync {
    /// Up to `limit` events after `after` (an event id) in id order, oldest first.
    async fn prune_candidates(&self, after: Option<String>, limit: usize) -> Result<Vec<PruneCandidate>, StoreError>;
    /// Deletes these events with their runs and step records, each only if none of its runs is
    /// open; their delivery ids are forgotten with them. Returns how many were deleted.
    async fn prune_events(&self, ids: Vec<String>) -> Result<usize, StoreError>;
    /// The database file's size in bytes and the bytes of its free pages (space SQLite reuses
    /// before it grows the file).
    async fn file_usage(&self) -> Result<(u64, u64), StoreError>;
}

/// Metric roll-ups: counters per bucket, added to through the writer, read by range, pruned by age.
#[async_trait::async_trait]
pub trait Rollups: Send + Sync {
    /// Adds each roll-up's counts into its bucket, in one transaction.
    async fn add_rollups(&self, rollups: Vec<Rollup>) -> Result<(), StoreError>;
    /// Roll-ups of one resolution with `from <= start < to`, optionally of one component and
    /// environment, in time order.
    async fn rollups(
        &self,
        resolution: i64,
        component: Option<String>,
        environment: Option<String>,
        from: i64,
        to: i64,
    ) -> Result<Vec<Rollup>, StoreError>;
    /// Runs waiting per component and environment: how many, and the earliest time one of them
    /// was due, among those due by `now` (queued or retrying).
    async fn waiting_by_component(&self, now: i64) -> Result<Vec<(String, String, i64, Option<i64>)>, StoreError>;
    /// Deletes roll-ups of `resolution` that start before `before`; returns how many.
    async fn prune_rollups(&self, resolution: i64, before: i64) -> Result<usize, StoreError>;
}

/// Several nodes on one store: whether it is shared, what other nodes announce, leases on
/// singletons, and the nodes that are alive.
#[async_trait::async_trait]
pub trait Cluster: Send + Sync {
    /// True when other processes may use the store at the same time: runs are claimed from it,
    /// shared state is followed, and nothing assumes that `running` rows are this process's.
    fn shared(&self) -> bool {
        false
    }
    /// Announcements from other nodes; `None` for a store only this process uses.
    fn signals(&self) -> Option<std::sync::Arc<Signals>> {
        None
    }
    /// Takes the lease `name` for `holder` until `until` when nobody holds it, its holder's time
    /// ended before `now`, or `holder` holds it already (a renewal). `true` when `holder` holds it.
    async fn acquire_lease(&self, name: String, holder: String, now: i64, until: i64) -> Result<bool, StoreError>;
    /// Gives the lease up, if `holder` holds it.
    async fn release_lease(&self, name: String, holder: String) -> Result<(), StoreError>;
    /// Every lease, by name (expired ones included until taken again).
    async fn leases(&self) -> Result<Vec<LeaseRow>, StoreError>;
    /// Records that a node is alive (inserted the first time, updated after).
    async fn heartbeat(&self, node: NodeRow) -> Result<(), StoreError>;
    /// Nodes seen at or after `seen_since`, by id.
    async fn nodes(&self, seen_since: i64) -> Result<Vec<NodeRow>, StoreError>;
}

/// API management: plans, consumers' applications with their keys (hashes only), and
/// subscriptions of applications to components' APIs.
#[async_trait::async_trait]
pub trait ApiManagement: Send + Sync {
    /// Every plan, by name (the seeded ones among them).
    async fn plans(&self) -> Result<Vec<PlanRow>, StoreError>;
    /// `false` when a plan of that name exists.
    async fn create_plan(&self, plan: PlanRow) -> Result<bool, StoreError>;
    async fn create_application(&self, app: ApplicationRow) -> Result<(), StoreError>;
    /// Applications, oldest first; those of `owner` only when given.
    async fn applications(&self, owner: Option<String>) -> Result<Vec<ApplicationRow>, StoreError>;
    async fn application(&self, id: String) -> Result<Option<ApplicationRow>, StoreError>;
    /// Removes the application with its keys and subscriptions; `false` when there was none.
    async fn delete_application(&self, id: String) -> Result<bool, StoreError>;
    /// Stores a new key, revoking (at its `created_at`) the application's key of the same kind.
    async fn replace_key(&self, key: ApiKeyRow) -> Result<(), StoreError>;
    /// The key with this hash and its application, while the key is not revoked.
    async fn key_by_hash(&self, hash: String) -> Result<Option<(ApiKeyRow, ApplicationRow)>, StoreError>;
    /// The application's keys in use.
    async fn keys(&self, application_id: String) -> Result<Vec<ApiKeyRow>, StoreError>;
    /// `false` when the application is subscribed to that component in that environment already.
    async fn subscribe(&self, s: SubscriptionRow) -> Result<bool, StoreError>;
    /// Subscriptions, oldest first: an application's, or a component's in an environment.
    async fn subscriptions(
        &self,
        application_id: Option<String>,
        api: Option<(String, String)>,
    ) -> Result<Vec<SubscriptionRow>, StoreError>;
    /// `false` when there is no such subscription.
    async fn unsubscribe(&self, id: String) -> Result<bool, StoreError>;
    /// The application with this OAuth2 client id.
    async fn application_by_client_id(&self, client_id: String) -> Result<Option<ApplicationRow>, StoreError>;
    /// Onset's OAuth2 signing keys, newest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError>;
    /// Adds a signing key and removes the keys created before `drop_before` (in one transaction).
    async fn add_signing_key(&self, key: SigningKeyRow, drop_before: i64) -> Result<(), StoreError>;
    /// Takes up to `want` requests of the window (`key`, `window_start`) for a node, never more
    /// than `limit` in all; answers how many were granted (0: the window is used up). The count
    /// may be removed once `expires_at` (ms) has passed.
    async fn take_quota(
        &self,
        key: String,
        window_start: i64,
        want: u64,
        limit: u64,
        expires_at: i64,
    ) -> Result<u64, StoreError>;
    /// Removes the counts of windows that ended before `before` (ms).
    async fn prune_quotas(&self, before: i64) -> Result<u64, StoreError>;
    /// `false` when an account has that e-mail address already.
    async fn create_consumer(&self, consumer: ConsumerRow) -> Result<bool, StoreError>;
    /// The account with this e-mail address (lower-case) or id.
    async fn consumer(&self, email_or_id: String) -> Result<Option<ConsumerRow>, StoreError>;
}

/// Every area: what the server needs of a backend.
pub trait Store:
    Events
    + Queue
    + Deployments
    + TriggerState
    + Settings
    + Access
    + Alerts
    + Retention
    + Rollups
    + Cluster
    + ApiManagement
    + std::fmt::Debug
    + 'static
{
}

impl<T> Store for T where
    T: Events
        + Queue
        + Deployments
        + TriggerState
        + Settings
        + Access
        + Alerts
        + Retention
        + Rollups
        + Cluster
        + ApiManagement
        + std::fmt::Debug
        + 'static
{
}
