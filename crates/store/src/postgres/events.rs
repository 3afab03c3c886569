//! Events and runs: ingest with deduplication, the run queue, queries, retention.

use sqlx::Row as _;
use sqlx::postgres::PgRow;

use super::{PgStore, raw, small, status};
use crate::*;

/// Inserts an event (status `handled`, `unhandled`, or the one given) and its runs; a known
/// delivery id inserts nothing and names the original.
pub(super) async fn insert_event(
    tx: &mut sqlx::PgConnection,
    event: &NewEvent,
    status: Option<&str>,
    reserved_until: Option<i64>,
) -> Result<IngestOutcome, StoreError> {
    let status = status.unwrap_or(if event.runs.is_empty() { "unhandled" } else { "handled" });
    let inserted = sqlx::query(
        "INSERT INTO events (id, component, environment, channel, event, delivery_id, received_at,
                             headers, query, params, payload, status, trace)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (component, environment, delivery_id) WHERE delivery_id IS NOT NULL DO NOTHING",
    )
    .bind(&event.id)
    .bind(&event.component)
    .bind(&event.environment)
    .bind(&event.channel)
    .bind(&event.event)
    .bind(&event.delivery_id)
    .bind(event.received_at)
    .bind(&event.headers)
    .bind(&event.query)
    .bind(&event.params)
    .bind(event.payload.as_ref())
    .bind(status)
    .bind(&event.trace)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        let event_id: String =
            sqlx::query_scalar("SELECT id FROM events WHERE component = $1 AND environment = $2 AND delivery_id = $3")
                .bind(&event.component)
                .bind(&event.environment)
                .bind(&event.delivery_id)
                .fetch_one(&mut *tx)
                .await?;
        return Ok(IngestOutcome::Duplicate { event_id });
    }
    for run in &event.runs {
        let at = (event.received_at, reserved_until);
        insert_run(tx, (&event.id, &event.component, &event.environment), run, at, None).await?;
    }
    Ok(IngestOutcome::Stored)
}

async fn insert_run(
    tx: &mut sqlx::PgConnection,
    (event_id, component, environment): (&str, &str, &str),
    run: &NewRun,
    (now, reserved_until): (i64, Option<i64>),
    replay_of: Option<&str>,
) -> Result<(), StoreError> {
    // A queued run's `lease_until` is its reservation for the node that stored it.
    sqlx::query(
        "INSERT INTO runs (id, event_id, component, environment, channel, event, handler, deployment_id,
                           status, attempt, max_attempts, run_at, created_at, replay_of, lease_until)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', 1, $9, $10, $10, $11, $12)",
    )
    .bind(&run.id)
    .bind(event_id)
    .bind(component)
    .bind(environment)
    .bind(&run.channel)
    .bind(&run.event)
    .bind(&run.handler)
    .bind(&run.deployment_id)
    .bind(i64::from(run.max_attempts))
    .bind(now)
    .bind(replay_of)
    .bind(reserved_until)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A waiting run from `id, event_id, component, environment, channel, event, deployment_id,
/// attempt, max_attempts, run_at`.
fn pending_row(r: &PgRow) -> Result<PendingRun, StoreError> {
    Ok(PendingRun {
        id: r.try_get(0)?,
        event_id: r.try_get(1)?,
        component: r.try_get(2)?,
        environment: r.try_get(3)?,
        channel: r.try_get(4)?,
        event: r.try_get(5)?,
        deployment_id: r.try_get(6)?,
        attempt: small(r.try_get(7)?),
        max_attempts: small(r.try_get(8)?),
        run_at: r.try_get(9)?,
    })
}

const EVENT_COLUMNS: &str = "id, component, environment, channel, event, delivery_id, received_at, status";

fn event_row(r: &PgRow) -> Result<EventRow, StoreError> {
    Ok(EventRow {
        id: r.try_get(0)?,
        component: r.try_get(1)?,
        environment: r.try_get(2)?,
        channel: r.try_get(3)?,
        event: r.try_get(4)?,
        delivery_id: r.try_get(5)?,
        received_at: r.try_get(6)?,
        headers: None,
        query: None,
        params: None,
        payload: None,
        status: r.try_get(7)?,
        runs: Vec::new(),
    })
}

const RUN_COLUMNS: &str = "id, event_id, component, environment, channel, event, handler, deployment_id, status,
     attempt, max_attempts, created_at, started_at, finished_at, run_at, error, error_step, replay_of";

fn run_row(r: &PgRow) -> Result<RunRow, StoreError> {
    let st = status(&r.try_get::<String, _>(8)?)?;
    let run_at: i64 = r.try_get(14)?;
    Ok(RunRow {
        id: r.try_get(0)?,
        event_id: r.try_get(1)?,
        component: r.try_get(2)?,
        environment: r.try_get(3)?,
        channel: r.try_get(4)?,
        event: r.try_get(5)?,
        handler: r.try_get(6)?,
        deployment_id: r.try_get(7)?,
        status: st,
        attempt: small(r.try_get(9)?),
        max_attempts: small(r.try_get(10)?),
        created_at: r.try_get(11)?,
        started_at: r.try_get(12)?,
        finished_at: r.try_get(13)?,
        next_attempt_at: matches!(st, RunStatus::Retrying | RunStatus::Queued).then_some(run_at),
        error: r.try_get(15)?,
        error_step: r.try_get(16)?,
        replay_of: r.try_get(17)?,
        steps: None,
    })
}

impl PgStore {
    async fn runs_of_event(&self, event_id: &str) -> Result<Vec<RunRef>, StoreError> {
        let rows = sqlx::query("SELECT id, handler, status, deployment_id FROM runs WHERE event_id = $1 ORDER BY id")
            .bind(event_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(RunRef {
                    id: r.try_get(0)?,
                    handler: r.try_get(1)?,
                    status: status(&r.try_get::<String, _>(2)?)?,
                    deployment_id: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Rows of `table` matching a list filter, newest first, one more than the limit.
    async fn list(&self, table: &str, columns: &str, f: &ListFilter) -> Result<Vec<PgRow>, StoreError> {
        let mut clauses = Vec::new();
        let mut values = Vec::new();
        for (column, value) in [("component", &f.component), ("environment", &f.environment), ("status", &f.status)] {
            if let Some(v) = value {
                values.push(v.clone());
                clauses.push(format!("{column} = ${}", values.len()));
            }
        }
        if let Some(before) = &f.before {
            values.push(before.clone());
            clauses.push(format!("id < ${}", values.len()));
        }
        if let Some(since) = &f.since {
            values.push(since.clone());
            clauses.push(format!("id >= ${}", values.len()));
        }
        let where_sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        let sql =
            format!("SELECT {columns} FROM {table} {where_sql} ORDER BY id DESC LIMIT {}", u64::from(f.limit) + 1);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in values {
            query = query.bind(v);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }
}

#[async_trait::async_trait]
impl Events for PgStore {
    async fn ingest(&self, event: NewEvent) -> Result<IngestOutcome, StoreError> {
        let result = async {
            let mut tx = self.pool.begin().await?;
            let outcome = insert_event(&mut tx, &event, None, self.reserved_until()).await?;
            tx.commit().await?;
            Ok(outcome)
        }
        .await;
        if matches!(result, Ok(IngestOutcome::Stored)) && !event.runs.is_empty() {
            self.stored_runs();
        }
        self.wrote(result)
    }

    async fn ingest_batch(
        &self,
        members: Vec<NewEvent>,
        mut batch: NewEvent,
    ) -> Result<(Vec<IngestOutcome>, Option<NewEvent>), StoreError> {
        let result = async {
            let mut tx = self.pool.begin().await?;
            let mut outcomes = Vec::with_capacity(members.len());
            let mut fresh = Vec::new();
            for m in &members {
                let outcome = insert_event(&mut tx, m, Some("batched"), self.reserved_until()).await?;
                if outcome == IngestOutcome::Stored {
                    fresh.push(m);
                }
                outcomes.push(outcome);
            }
            if fresh.is_empty() {
                tx.commit().await?;
                return Ok((outcomes, None));
            }
            batch.gather(&fresh);
            insert_event(&mut tx, &batch, None, self.reserved_until()).await?;
            tx.commit().await?;
            self.stored_runs();
            Ok((outcomes, Some(batch)))
        }
        .await;
        self.wrote(result)
    }

    async fn add_runs(
        &self,
        event_id: String,
        runs: Vec<(NewRun, Option<String>)>,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let result = async {
            let mut tx = self.pool.begin().await?;
            let row = sqlx::query("SELECT component, environment FROM events WHERE id = $1")
                .bind(&event_id)
                .fetch_one(&mut *tx)
                .await?;
            let (component, environment): (String, String) = (row.try_get(0)?, row.try_get(1)?);
            let mut created = Vec::new();
            for (run, replaces) in &runs {
                if let Some(old) = replaces {
                    let n = sqlx::query("UPDATE runs SET replayed = TRUE WHERE id = $1 AND NOT replayed")
                        .bind(old)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if n == 0 {
                        continue;
                    }
                }
                let at = (now, self.reserved_until());
                insert_run(&mut tx, (&event_id, &component, &environment), run, at, replaces.as_deref()).await?;
                created.push(run.id.clone());
            }
            tx.commit().await?;
            if !created.is_empty() {
                self.stored_runs();
            }
            Ok(created)
        }
        .await;
        self.wrote(result)
    }

    async fn event(&self, id: String) -> Result<Option<EventRow>, StoreError> {
        let Some(r) = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS}, headers, query, params, payload FROM events WHERE id = $1"
        )))
        .bind(&id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let mut event = event_row(&r)?;
        let payload: Vec<u8> = r.try_get(11)?;
        event.headers = raw(Some(r.try_get(8)?))?;
        event.query = raw(Some(r.try_get(9)?))?;
        event.params = raw(Some(r.try_get(10)?))?;
        event.payload =
            raw(Some(String::from_utf8(payload).map_err(|e| StoreError::Corrupt(format!("event {id}: {e}")))?))?;
        event.runs = self.runs_of_event(&id).await?;
        Ok(Some(event))
    }

    async fn events(&self, filter: ListFilter) -> Result<Page<EventRow>, StoreError> {
        let rows = self.list("events", EVENT_COLUMNS, &filter).await?;
        let mut items = rows.iter().map(event_row).collect::<Result<Vec<_>, _>>()?;
        for e in &mut items {
            e.runs = self.runs_of_event(&e.id).await?;
        }
        Ok(Page::from_rows(items, filter.limit, |e| &e.id))
    }

    async fn run(&self, id: String) -> Result<Option<RunRow>, StoreError> {
        let Some(r) = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1")))
            .bind(&id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let mut run = run_row(&r)?;
        let rows = sqlx::query(
            "SELECT path, step_id, name, type, attempt, status, input, output, error, started_at, duration_ms, logs
             FROM steps WHERE run_id = $1 ORDER BY attempt, seq",
        )
        .bind(&id)
        .fetch_all(&self.pool)
        .await?;
        let steps = rows
            .iter()
            .map(|r| {
                Ok(StepRow {
                    path: r.try_get(0)?,
                    id: r.try_get(1)?,
                    name: r.try_get(2)?,
                    kind: r.try_get(3)?,
                    attempt: small(r.try_get(4)?),
                    status: r.try_get(5)?,
                    input: raw(r.try_get(6)?)?,
                    output: raw(r.try_get(7)?)?,
                    error: r.try_get(8)?,
                    logs: raw(r.try_get(11)?)?,
                    started_at: r.try_get(9)?,
                    duration_ms: r.try_get(10)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        run.steps = Some(steps);
        Ok(Some(run))
    }

    async fn runs(&self, filter: ListFilter) -> Result<Page<RunRow>, StoreError> {
        let rows = self.list("runs", RUN_COLUMNS, &filter).await?;
        let items = rows.iter().map(run_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(items, filter.limit, |r| &r.id))
    }

    async fn run_input(&self, run_id: String) -> Result<Option<(EventForRun, RunStatus)>, StoreError> {
        let Some(r) = sqlx::query(
            "SELECT e.payload, e.headers, e.query, e.params, e.delivery_id, e.received_at, r.status, e.trace
             FROM runs r JOIN events e ON e.id = r.event_id WHERE r.id = $1",
        )
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let payload: Vec<u8> = r.try_get(0)?;
        Ok(Some((
            EventForRun {
                payload: bytes::Bytes::from(payload),
                headers: r.try_get(1)?,
                query: r.try_get(2)?,
                params: r.try_get(3)?,
                delivery_id: r.try_get(4)?,
                received_at: r.try_get(5)?,
                trace: r.try_get(7)?,
            },
            status(&r.try_get::<String, _>(6)?)?,
        )))
    }

    async fn dead_runs(
        &self,
        component: String,
        environment: String,
    ) -> Result<Vec<(String, String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, event_id, channel, event FROM runs
             WHERE component = $1 AND environment = $2 AND status = 'dead' AND NOT replayed ORDER BY id",
        )
        .bind(component)
        .bind(environment)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))).collect()
    }

    async fn queue_counts(&self) -> Result<QueueCounts, StoreError> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) FROM runs WHERE status IN ('queued', 'retrying', 'running') GROUP BY status",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut counts = QueueCounts::default();
        for r in &rows {
            let (s, n): (String, i64) = (r.try_get(0)?, r.try_get(1)?);
            let n = u64::try_from(n).unwrap_or(0);
            match s.as_str() {
                "queued" => counts.queued = n,
                "retrying" => counts.retrying = n,
                _ => counts.running = n,
            }
        }
        Ok(counts)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Queue for PgStore {
    async fn pending_runs(&self, scope: Option<(String, String)>, limit: usize) -> Result<Vec<PendingRun>, StoreError> {
        let columns =
            "id, event_id, component, environment, channel, event, deployment_id, attempt, max_attempts, run_at";
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match scope {
            Some((component, environment)) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {columns} FROM runs WHERE status IN ('queued', 'retrying')
                       AND component = $1 AND environment = $2 ORDER BY run_at, id LIMIT $3"
                )))
                .bind(component)
                .bind(environment)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {columns} FROM runs WHERE status IN ('queued', 'retrying')
                       AND NOT EXISTS (SELECT 1 FROM activations a WHERE a.component = runs.component
                                       AND a.environment = runs.environment AND a.paused)
                     ORDER BY run_at, id LIMIT $1"
                )))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(pending_row).collect()
    }

    async fn mark_running(
        &self,
        leases: Vec<(String, String)>,
        started_at: i64,
        lease_until: i64,
    ) -> Result<Vec<String>, StoreError> {
        let (ids, tokens): (Vec<String>, Vec<String>) = leases.into_iter().unzip();
        // This node's own reservation does not stop it; another node's claim does.
        // Rows another node is claiming right now are left to it (SKIP LOCKED): never a wait, so
        // never a deadlock.
        let result = sqlx::query_scalar(
            "UPDATE runs r SET status = 'running', started_at = $3, lease_until = $4, lease_token = l.token
             FROM (SELECT w.id FROM runs w WHERE w.id = ANY($1::text[]) AND w.status IN ('queued', 'retrying')
                   ORDER BY w.id FOR UPDATE SKIP LOCKED) AS free,
                  UNNEST($1::text[], $2::text[]) AS l(id, token)
             WHERE r.id = free.id AND l.id = free.id RETURNING r.id",
        )
        .bind(&ids)
        .bind(&tokens)
        .bind(started_at)
        .bind(lease_until)
        .fetch_all(&self.pool)
        .await;
        self.wrote_db(result)
    }

    async fn extend_leases(&self, leases: Vec<(String, String)>, lease_until: i64) -> Result<(), StoreError> {
        let (ids, tokens): (Vec<String>, Vec<String>) = leases.into_iter().unzip();
        // A row locked right now is being completed (which ends its lease) or reclaimed: passed
        // over rather than waited for, so a heartbeat never deadlocks with a completion.
        let result = sqlx::query(
            "UPDATE runs r SET lease_until = $3
             FROM (SELECT h.id FROM runs h JOIN UNNEST($1::text[], $2::text[]) AS l(id, token)
                     ON h.id = l.id AND h.lease_token = l.token
                   WHERE h.status = 'running' ORDER BY h.id FOR UPDATE OF h SKIP LOCKED) AS held
             WHERE r.id = held.id",
        )
        .bind(&ids)
        .bind(&tokens)
        .bind(lease_until)
        .execute(&self.pool)
        .await;
        self.wrote_db(result.map(|_| ()))
    }

    async fn claim(
        &self,
        token: String,
        limit: usize,
        now: i64,
        lease_until: i64,
    ) -> Result<Vec<PendingRun>, StoreError> {
        // SKIP LOCKED: rows another claim is taking right now are passed over, not waited for.
        let result = sqlx::query(
            "UPDATE runs SET status = 'running', started_at = $2, lease_until = $3, lease_token = $4
             FROM (SELECT id FROM runs WHERE status IN ('queued', 'retrying') AND run_at <= $2
                     AND (lease_until IS NULL OR lease_until <= $2)
                     AND NOT EXISTS (SELECT 1 FROM activations a WHERE a.component = runs.component
                                     AND a.environment = runs.environment AND a.paused)
                   ORDER BY run_at, id LIMIT $1 FOR UPDATE SKIP LOCKED) AS due
             WHERE runs.id = due.id
             RETURNING runs.id, runs.event_id, runs.component, runs.environment, runs.channel, runs.event,
                       runs.deployment_id, runs.attempt, runs.max_attempts, runs.run_at",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(now)
        .bind(lease_until)
        .bind(&token)
        .fetch_all(&self.pool)
        .await;
        let rows = self.wrote_db(result)?;
        let mut runs = rows.iter().map(pending_row).collect::<Result<Vec<_>, StoreError>>()?;
        runs.sort_by(|a, b| (a.run_at, &a.id).cmp(&(b.run_at, &b.id)));
        Ok(runs)
    }

    async fn reclaim_expired(&self, now: i64) -> Result<Vec<String>, StoreError> {
        let result = sqlx::query_scalar(
            "UPDATE runs SET status = 'queued', lease_until = NULL, lease_token = NULL
             WHERE id IN (SELECT id FROM runs WHERE status = 'running' AND lease_until < $1
                          ORDER BY id FOR UPDATE SKIP LOCKED)
             RETURNING id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await;
        let ids: Vec<String> = self.wrote_db(result)?;
        if !ids.is_empty() {
            self.announce_runs();
        }
        Ok(ids)
    }

    async fn complete(&self, c: Completion) -> Result<(), StoreError> {
        // Only a completion under a lease can go unrecorded: its lease was lost.
        match self.complete_batch(vec![c]).await?.first() {
            Some(false) => Err(StoreError::LeaseLost),
            _ => Ok(()),
        }
    }

    async fn complete_batch(&self, batch: Vec<Completion>) -> Result<Vec<bool>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let result = async {
            let mut tx = self.pool.begin().await?;
            // Every run's end and its lease check in one statement: under a lease, only while
            // the run is still held with it.
            let n = batch.len();
            let (mut ids, mut leases, mut statuses) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
            let (mut attempts, mut finished, mut errors) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
            let (mut error_steps, mut next) = (Vec::with_capacity(n), Vec::with_capacity(n));
            for c in &batch {
                let done = !matches!(c.status, RunStatus::Retrying);
                ids.push(c.run_id.as_str());
                leases.push(c.lease.as_deref());
                statuses.push(c.status.as_str());
                attempts.push(i64::from(if done { c.attempt } else { c.attempt + 1 }));
                finished.push(done.then_some(c.finished_at));
                errors.push(c.error.as_deref());
                error_steps.push(c.error_step.as_deref());
                next.push(c.next_run_at);
            }
            // The rows are locked in id order first: two transactions taking some of the same
            // rows wait for each other in one order, never in a cycle.
            sqlx::query("SELECT id FROM runs WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE")
                .bind(&ids)
                .execute(&mut *tx)
                .await?;
            let applied: Vec<String> = sqlx::query_scalar(
                "UPDATE runs r SET status = l.status, attempt = l.attempt, finished_at = l.finished_at, error = l.error,
                                   error_step = l.error_step, run_at = COALESCE(l.next_run_at, r.run_at), lease_until = NULL
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::text[], $7::text[], $8::int8[])
                      AS l(id, lease, status, attempt, finished_at, error, error_step, next_run_at)
                 WHERE r.id = l.id AND (l.lease IS NULL OR (r.status = 'running' AND r.lease_token = l.lease))
                 RETURNING r.id",
            )
            .bind(&ids)
            .bind(&leases)
            .bind(&statuses)
            .bind(&attempts)
            .bind(&finished)
            .bind(&errors)
            .bind(&error_steps)
            .bind(&next)
            .fetch_all(&mut *tx)
            .await?;
            let applied: std::collections::HashSet<&str> = applied.iter().map(String::as_str).collect();
            let recorded: Vec<bool> =
                batch.iter().map(|c| c.lease.is_none() || applied.contains(c.run_id.as_str())).collect();
            insert_steps(&mut tx, batch.iter().zip(&recorded).filter(|(_, r)| **r).map(|(c, _)| c)).await?;
            tx.commit().await?;
            Ok(recorded)
        }
        .await;
        self.wrote(result)
    }

    async fn recover(&self) -> Result<usize, StoreError> {
        let result = sqlx::query(
            "UPDATE runs SET status = 'queued', lease_until = NULL, lease_token = NULL WHERE status = 'running'",
        )
        .execute(&self.pool)
        .await;
        self.wrote_db(result.map(|r| r.rows_affected() as usize))
    }

    fn disk_full(&self) -> bool {
        self.disk_full.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn probe_disk(&self, now: i64) -> Result<(), StoreError> {
        let result =
            sqlx::query("INSERT INTO disk_probe (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = $1")
                .bind(now)
                .execute(&self.pool)
                .await;
        self.wrote_db(result.map(|_| ()))
    }
}

#[async_trait::async_trait]
impl Retention for PgStore {
    async fn prune_candidates(&self, after: Option<String>, limit: usize) -> Result<Vec<PruneCandidate>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.id, e.component, e.environment, e.received_at,
                (SELECT COUNT(*) FROM runs r WHERE r.event_id = e.id AND r.status NOT IN ('succeeded', 'failed', 'dead')),
                (SELECT MAX(r.finished_at) FROM runs r WHERE r.event_id = e.id AND r.status = 'succeeded'),
                (SELECT MAX(r.finished_at) FROM runs r WHERE r.event_id = e.id AND r.status IN ('failed', 'dead'))
             FROM events e WHERE e.id > $1 ORDER BY e.id LIMIT $2",
        )
        .bind(after.unwrap_or_default())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PruneCandidate {
                    id: r.try_get(0)?,
                    component: r.try_get(1)?,
                    environment: r.try_get(2)?,
                    received_at: r.try_get(3)?,
                    open_runs: r.try_get(4)?,
                    succeeded_at: r.try_get(5)?,
                    failed_at: r.try_get(6)?,
                })
            })
            .collect()
    }

    async fn prune_events(&self, ids: Vec<String>) -> Result<usize, StoreError> {
        let result = async {
            let mut tx = self.pool.begin().await?;
            // Events none of whose runs is open, locked so a replay cannot add one meanwhile.
            let prunable: Vec<String> = sqlx::query_scalar(
                "SELECT e.id FROM events e WHERE e.id = ANY($1)
                   AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.event_id = e.id
                                   AND r.status NOT IN ('succeeded', 'failed', 'dead'))
                 FOR UPDATE",
            )
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM steps WHERE run_id IN (SELECT id FROM runs WHERE event_id = ANY($1))")
                .bind(&prunable)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM runs WHERE event_id = ANY($1)").bind(&prunable).execute(&mut *tx).await?;
            let n = sqlx::query("DELETE FROM events WHERE id = ANY($1)").bind(&prunable).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(n.rows_affected() as usize)
        }
        .await;
        self.wrote(result)
    }

    async fn file_usage(&self) -> Result<(u64, u64), StoreError> {
        // The tables' size in this schema; PostgreSQL reuses the space of deleted rows once
        // vacuumed and does not report it as free here.
        let size: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::BIGINT FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind = 'r'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((u64::try_from(size).unwrap_or(0), 0))
    }
}

/// Step records as columns, one array per column, for one `UNNEST` insert.
#[derive(Default)]
struct StepColumns<'a> {
    run_id: Vec<&'a str>,
    attempt: Vec<i64>,
    seq: Vec<i64>,
    path: Vec<&'a str>,
    step_id: Vec<Option<&'a str>>,
    name: Vec<Option<&'a str>>,
    kind: Vec<&'a str>,
    status: Vec<&'a str>,
    input: Vec<Option<&'a str>>,
    output: Vec<Option<&'a str>>,
    error: Vec<Option<&'a str>>,
    started_at: Vec<i64>,
    duration_ms: Vec<f64>,
    logs: Vec<Option<&'a str>>,
}

/// The step records of recorded completions, in one statement.
async fn insert_steps<'a>(
    tx: &mut sqlx::PgConnection,
    completions: impl Iterator<Item = &'a Completion>,
) -> Result<(), StoreError> {
    let mut c = StepColumns::default();
    for done in completions {
        for (seq, s) in done.steps.iter().enumerate() {
            c.run_id.push(&done.run_id);
            c.attempt.push(i64::from(done.attempt));
            c.seq.push(seq as i64);
            c.path.push(&s.path);
            c.step_id.push(s.id.as_deref());
            c.name.push(s.name.as_deref());
            c.kind.push(s.kind);
            c.status.push(s.status);
            c.input.push(s.input.as_deref());
            c.output.push(s.output.as_deref());
            c.error.push(s.error.as_deref());
            c.started_at.push(s.started_at);
            c.duration_ms.push(s.duration_ms);
            c.logs.push(s.logs.as_deref());
        }
    }
    if c.run_id.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO steps (run_id, attempt, seq, path, step_id, name, type, status, input, output, error, started_at,
                            duration_ms, logs)
         SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::text[],
                              $8::text[], $9::text[], $10::text[], $11::text[], $12::int8[], $13::float8[], $14::text[])
         ON CONFLICT (run_id, attempt, seq) DO UPDATE SET path = excluded.path, step_id = excluded.step_id,
            name = excluded.name, type = excluded.type, status = excluded.status, input = excluded.input,
            output = excluded.output, error = excluded.error, started_at = excluded.started_at,
            duration_ms = excluded.duration_ms, logs = excluded.logs",
    )
    .bind(&c.run_id)
    .bind(&c.attempt)
    .bind(&c.seq)
    .bind(&c.path)
    .bind(&c.step_id)
    .bind(&c.name)
    .bind(&c.kind)
    .bind(&c.status)
    .bind(&c.input)
    .bind(&c.output)
    .bind(&c.error)
    .bind(&c.started_at)
    .bind(&c.duration_ms)
    .bind(&c.logs)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
