//! Write operations. Each runs in the writer's batch transaction inside its own savepoint and
//! is answered after the commit.

use rusqlite::{Transaction, params};
use tokio::sync::oneshot;

use super::SqliteStore;
use super::writer::{Commit, Op, Reply};
use crate::{Completion, IngestOutcome, NewDeployment, NewEvent, NewRun, PendingRun, RunStatus, StoreError};

type Answer<T> = oneshot::Receiver<Result<T, StoreError>>;

/// Wraps `f` as a writer operation whose result is delivered after the commit.
pub(super) fn op<T, F>(f: F) -> (Op, Answer<T>)
where
    T: Send + 'static,
    F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    let op: Op = Box::new(move |t| {
        let result = in_savepoint(t, f);
        let disk_full = matches!(result, Err(StoreError::DiskFull));
        let send = Box::new(move |commit| {
            let _ = tx.send(match commit {
                Commit::Done => result,
                Commit::DiskFull => Err(StoreError::DiskFull),
                Commit::Failed => Err(StoreError::CommitFailed),
            });
        });
        Reply { send, disk_full }
    });
    (op, rx)
}

fn in_savepoint<T>(
    t: &Transaction<'_>,
    f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    t.prepare_cached("SAVEPOINT op")?.execute([])?;
    match f(t) {
        Ok(v) => {
            t.prepare_cached("RELEASE op")?.execute([])?;
            Ok(v)
        }
        Err(e) => {
            t.prepare_cached("ROLLBACK TO op")?.execute([])?;
            t.prepare_cached("RELEASE op")?.execute([])?;
            Err(e)
        }
    }
}

pub(super) async fn answer<T>(rx: Answer<T>) -> Result<T, StoreError> {
    rx.await.map_err(|_| StoreError::Closed)?
}

fn insert_run(
    t: &Transaction<'_>,
    e: RunParent<'_>,
    run: &NewRun,
    now: i64,
    replay_of: Option<&str>,
) -> Result<(), StoreError> {
    t.prepare_cached(
        "INSERT INTO runs (id, event_id, component, environment, channel, event, handler, deployment_id,
                           status, attempt, max_attempts, run_at, created_at, replay_of)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'queued', 1, ?9, ?10, ?10, ?11)",
    )?
    .execute(params![
        run.id,
        e.event_id,
        e.component,
        e.environment,
        run.channel,
        run.event,
        run.handler,
        run.deployment_id,
        run.max_attempts,
        now,
        replay_of
    ])?;
    Ok(())
}

fn insert_deployment(
    t: &Transaction<'_>,
    d: &NewDeployment,
    status: &str,
    error: Option<&str>,
) -> Result<(), StoreError> {
    t.execute(
        "INSERT INTO deployments (id, component, environment, build, source, files, created_at, status, error, meta, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![d.id, d.component, d.environment, d.build, d.source, d.files, d.created_at, status, error, d.meta, d.created_by],
    )?;
    Ok(())
}

/// Inserts an event and its runs; a known delivery id inserts nothing and names the original.
pub(super) fn insert_event(t: &Transaction<'_>, event: &NewEvent) -> Result<IngestOutcome, StoreError> {
    insert_event_as(t, event, if event.runs.is_empty() { "unhandled" } else { "handled" })
}

fn insert_event_as(t: &Transaction<'_>, event: &NewEvent, status: &str) -> Result<IngestOutcome, StoreError> {
    // A known delivery id conflicts on the unique index: nothing is written and the
    // original event answers (one statement in the common case, two for a duplicate).
    let inserted = t
        .prepare_cached(
            "INSERT INTO events (id, component, environment, channel, event, delivery_id, received_at,
                                 headers, query, params, payload, status, trace)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (component, environment, delivery_id) WHERE delivery_id IS NOT NULL DO NOTHING",
        )?
        .execute(params![
            event.id,
            event.component,
            event.environment,
            event.channel,
            event.event,
            event.delivery_id,
            event.received_at,
            event.headers,
            event.query,
            event.params,
            // JSON text, stored as bytes: it was checked (or produced) as JSON before.
            event.payload.as_ref(),
            status,
            event.trace
        ])?;
    if inserted == 0 {
        let event_id: String = t
            .prepare_cached("SELECT id FROM events WHERE component = ?1 AND environment = ?2 AND delivery_id = ?3")?
            .query_row(params![event.component, event.environment, event.delivery_id], |r| r.get(0))?;
        return Ok(IngestOutcome::Duplicate { event_id });
    }
    let parent = RunParent { event_id: &event.id, component: &event.component, environment: &event.environment };
    for run in &event.runs {
        insert_run(t, parent, run, event.received_at, None)?;
    }
    Ok(IngestOutcome::Stored)
}

/// A waiting run from `id, event_id, component, environment, channel, event, deployment_id,
/// attempt, max_attempts, run_at`.
fn pending_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PendingRun> {
    Ok(PendingRun {
        id: r.get(0)?,
        event_id: r.get(1)?,
        component: r.get(2)?,
        environment: r.get(3)?,
        channel: r.get(4)?,
        event: r.get(5)?,
        deployment_id: r.get(6)?,
        attempt: r.get(7)?,
        max_attempts: r.get(8)?,
        run_at: r.get(9)?,
    })
}

#[derive(Clone, Copy)]
struct RunParent<'a> {
    event_id: &'a str,
    component: &'a str,
    environment: &'a str,
}

impl SqliteStore {
    /// Stores an event and its runs, answering once committed. A known delivery id stores
    /// nothing and answers with the original event. `Busy` when the write queue is full.
    pub(super) async fn ingest(&self, event: NewEvent) -> Result<IngestOutcome, StoreError> {
        let (op, rx) = op(move |t| insert_event(t, &event));
        self.writer.try_submit(op)?;
        answer(rx).await
    }

    /// Stores deliveries one run handles together, in one transaction. Each member is an event
    /// of its own (status `batched`, deduplicated by its delivery id, without runs). When at
    /// least one member is new, `batch` is stored with its runs, its payload, headers and params
    /// being the JSON arrays of the new members' (in order); it is answered, else `None`: every
    /// member was known. `Busy` when the write queue is full.
    pub(super) async fn ingest_batch(
        &self,
        members: Vec<NewEvent>,
        mut batch: NewEvent,
    ) -> Result<(Vec<IngestOutcome>, Option<NewEvent>), StoreError> {
        let (op, rx) = op(move |t| {
            let mut outcomes = Vec::with_capacity(members.len());
            let mut fresh = Vec::new();
            for m in &members {
                let outcome = insert_event_as(t, m, "batched")?;
                if outcome == IngestOutcome::Stored {
                    fresh.push(m);
                }
                outcomes.push(outcome);
            }
            if fresh.is_empty() {
                return Ok((outcomes, None));
            }
            batch.gather(&fresh);
            insert_event(t, &batch)?;
            Ok((outcomes, Some(batch)))
        });
        self.writer.try_submit(op)?;
        answer(rx).await
    }

    /// Marks runs as taken by a worker until `lease_until`. Not awaited: a crash before the
    /// commit only means the runs are still `queued`, which recovery treats the same way.
    pub(super) async fn mark_running(
        &self,
        leases: Vec<(String, String)>,
        started_at: i64,
        lease_until: i64,
    ) -> Result<Vec<String>, StoreError> {
        // This process is the store's only user: every run it asks for is its own to take, so
        // the answer need not wait for the commit.
        let ids = leases.iter().map(|(id, _)| id.clone()).collect();
        let (op, _rx) = op(move |t| {
            let mut stmt = t.prepare_cached(
                "UPDATE runs SET status = 'running', started_at = ?2, lease_until = ?3, lease_token = ?4
                 WHERE id = ?1 AND status IN ('queued', 'retrying')",
            )?;
            for (id, token) in &leases {
                stmt.execute(params![id, started_at, lease_until, token])?;
            }
            Ok(())
        });
        self.writer.submit(op).await?;
        Ok(ids)
    }

    /// Extends the leases of runs still in progress.
    pub(super) async fn extend_leases(
        &self,
        leases: Vec<(String, String)>,
        lease_until: i64,
    ) -> Result<(), StoreError> {
        let (op, _rx) = op(move |t| {
            let mut stmt = t.prepare_cached(
                "UPDATE runs SET lease_until = ?2 WHERE id = ?1 AND lease_token = ?3 AND status = 'running'",
            )?;
            for (id, token) in &leases {
                stmt.execute(params![id, lease_until, token])?;
            }
            Ok(())
        });
        self.writer.submit(op).await
    }

    /// Due runs of components not paused, taken under `token` in one statement.
    pub(super) async fn claim(
        &self,
        token: String,
        limit: usize,
        now: i64,
        lease_until: i64,
    ) -> Result<Vec<PendingRun>, StoreError> {
        let (op, rx) = op(move |t| {
            let mut stmt = t.prepare_cached(
                "UPDATE runs SET status = 'running', started_at = ?2, lease_until = ?3, lease_token = ?4
                 WHERE id IN (SELECT id FROM runs WHERE status IN ('queued', 'retrying') AND run_at <= ?2
                                AND NOT EXISTS (SELECT 1 FROM activations a WHERE a.component = runs.component
                                                AND a.environment = runs.environment AND a.paused = 1)
                              ORDER BY run_at, id LIMIT ?1)
                 RETURNING id, event_id, component, environment, channel, event, deployment_id, attempt,
                           max_attempts, run_at",
            )?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let mut runs =
                stmt.query_map(params![limit, now, lease_until, token], pending_row)?.collect::<Result<Vec<_>, _>>()?;
            // RETURNING gives no order: oldest due first, as taken.
            runs.sort_by(|a, b| (a.run_at, &a.id).cmp(&(b.run_at, &b.id)));
            Ok(runs)
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// Runs whose lease ended before `now`, back to `queued`.
    pub(super) async fn reclaim_expired(&self, now: i64) -> Result<Vec<String>, StoreError> {
        let (op, rx) = op(move |t| {
            let mut stmt = t.prepare_cached(
                "UPDATE runs SET status = 'queued', lease_until = NULL, lease_token = NULL
                 WHERE status = 'running' AND lease_until < ?1 RETURNING id",
            )?;
            let ids = stmt.query_map([now], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
            Ok(ids)
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// Records the end of an attempt with its steps.
    pub(super) async fn complete(&self, c: Completion) -> Result<(), StoreError> {
        let (op, rx) = op(move |t| {
            // The run's end and the lease check in one statement: under a lease, only while the
            // run is still held with it.
            let finished = !matches!(c.status, RunStatus::Retrying);
            let updated = t
                .prepare_cached(
                    "UPDATE runs SET status = ?2, attempt = ?3, finished_at = ?4, error = ?5, error_step = ?6,
                                     run_at = COALESCE(?7, run_at), lease_until = NULL
                     WHERE id = ?1 AND (?8 IS NULL OR (status = 'running' AND lease_token = ?8))",
                )?
                .execute(params![
                    c.run_id,
                    c.status.as_str(),
                    if finished { c.attempt } else { c.attempt + 1 },
                    if finished { Some(c.finished_at) } else { None },
                    c.error,
                    c.error_step,
                    c.next_run_at,
                    c.lease
                ])?;
            if c.lease.is_some() && updated == 0 {
                return Err(StoreError::LeaseLost);
            }
            let mut insert = t.prepare_cached(
                "INSERT OR REPLACE INTO steps (run_id, attempt, seq, path, step_id, name, type, status, input, output,
                                               error, started_at, duration_ms, logs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?;
            for (seq, s) in c.steps.iter().enumerate() {
                insert.execute(params![
                    c.run_id,
                    c.attempt,
                    seq as i64,
                    s.path,
                    s.id,
                    s.name,
                    s.kind,
                    s.status,
                    s.input,
                    s.output,
                    s.error,
                    s.started_at,
                    s.duration_ms,
                    s.logs
                ])?;
            }
            Ok(())
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// True from a write that failed because the data directory's disk is full until a commit
    /// succeeds again.
    pub(super) fn disk_full(&self) -> bool {
        self.writer.disk_full()
    }

    /// Writes one small row: while the disk is full this fails, once it has room it clears
    /// [`Store::disk_full`].
    pub(super) async fn probe_disk(&self, now: i64) -> Result<(), StoreError> {
        let (op, rx) = op(move |t| {
            t.prepare_cached("INSERT INTO disk_probe (id, at) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET at = ?1")?
                .execute([now])?;
            Ok(())
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// Puts runs left `running` by a previous process back in the queue. Called once at start,
    /// before workers begin; returns how many were re-queued.
    pub(super) async fn recover(&self) -> Result<usize, StoreError> {
        let (op, rx) = op(|t| {
            Ok(t.execute(
                "UPDATE runs SET status = 'queued', lease_until = NULL, lease_token = NULL WHERE status = 'running'",
                [],
            )?)
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// Runs waiting to execute (`queued` or `retrying`), oldest due first, at most `limit`:
    /// those of one component and environment, or of every component that is not paused.
    /// Read through the writer, so every write submitted before is visible.
    pub(super) async fn pending_runs(
        &self,
        scope: Option<(String, String)>,
        limit: usize,
    ) -> Result<Vec<PendingRun>, StoreError> {
        let (op, rx) = op(move |t| {
            let columns =
                "id, event_id, component, environment, channel, event, deployment_id, attempt, max_attempts, run_at";
            let to_run = pending_row;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = match &scope {
                Some((component, environment)) => t
                    .prepare_cached(&format!(
                        "SELECT {columns} FROM runs WHERE status IN ('queued', 'retrying')
                           AND component = ?1 AND environment = ?2 ORDER BY run_at, id LIMIT ?3"
                    ))?
                    .query_map(params![component, environment, limit], to_run)?
                    .collect::<Result<Vec<_>, _>>()?,
                None => t
                    .prepare_cached(&format!(
                        "SELECT {columns} FROM runs WHERE status IN ('queued', 'retrying')
                           AND NOT EXISTS (SELECT 1 FROM activations a WHERE a.component = runs.component
                                           AND a.environment = runs.environment AND a.paused = 1)
                         ORDER BY run_at, id LIMIT ?1"
                    ))?
                    .query_map(params![limit], to_run)?
                    .collect::<Result<Vec<_>, _>>()?,
            };
            Ok(rows)
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// Records a deployment and makes it the active one, keeping the paused flag.
    pub(super) async fn activate(&self, d: NewDeployment) -> Result<(), StoreError> {
        let (op, rx) = op(move |t| {
            insert_deployment(t, &d, "active", None)?;
            t.execute(
                "INSERT INTO activations (component, environment, deployment_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT (component, environment) DO UPDATE SET deployment_id = excluded.deployment_id",
                params![d.component, d.environment, d.id],
            )?;
            Ok(())
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// Records a deployment that did not become active, with why.
    pub(super) async fn record_failed_deployment(&self, d: NewDeployment, error: String) -> Result<(), StoreError> {
        let (op, rx) = op(move |t| insert_deployment(t, &d, "failed", Some(&error)));
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// Makes an earlier deployment of a component the active one again (a rollback).
    pub(super) async fn reactivate(
        &self,
        component: String,
        environment: String,
        deployment_id: String,
    ) -> Result<(), StoreError> {
        let (op, rx) = op(move |t| {
            t.execute(
                "INSERT INTO activations (component, environment, deployment_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT (component, environment) DO UPDATE SET deployment_id = excluded.deployment_id",
                params![component, environment, deployment_id],
            )?;
            Ok(())
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// Removes a component from an environment: its events are refused from now on. Its
    /// history (deployments, events, runs) stays. `false` when it was not deployed there.
    pub(super) async fn deactivate(&self, component: String, environment: String) -> Result<bool, StoreError> {
        let (op, rx) = op(move |t| {
            let n = t.execute(
                "DELETE FROM activations WHERE component = ?1 AND environment = ?2",
                params![component, environment],
            )?;
            Ok(n > 0)
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// Pauses or resumes a component's runs. `false` when it is not deployed there.
    pub(super) async fn set_paused(
        &self,
        component: String,
        environment: String,
        paused: bool,
    ) -> Result<bool, StoreError> {
        let (op, rx) = op(move |t| {
            let n = t.execute(
                "UPDATE activations SET paused = ?3 WHERE component = ?1 AND environment = ?2",
                params![component, environment, paused],
            )?;
            Ok(n > 0)
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }

    /// Creates new runs for an existing event (a replay). With `replaces`, each old run is
    /// marked replayed, and a run already replayed is skipped: the ids created are returned.
    pub(super) async fn add_runs(
        &self,
        event_id: String,
        runs: Vec<(NewRun, Option<String>)>,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let (op, rx) = op(move |t| {
            let (component, environment): (String, String) = t
                .prepare_cached("SELECT component, environment FROM events WHERE id = ?1")?
                .query_row([&event_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let parent = RunParent { event_id: &event_id, component: &component, environment: &environment };
            let mut created = Vec::new();
            for (run, replaces) in &runs {
                if let Some(old) = replaces {
                    let n = t.execute("UPDATE runs SET replayed = 1 WHERE id = ?1 AND replayed = 0", [old])?;
                    if n == 0 {
                        continue;
                    }
                }
                insert_run(t, parent, run, now, replaces.as_deref())?;
                created.push(run.id.clone());
            }
            Ok(created)
        });
        self.writer.submit(op).await?;
        answer(rx).await
    }
}
