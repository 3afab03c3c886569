//! Read queries, on the reader pool.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::value::RawValue;

use super::SqliteStore;
use crate::EventForRun;
use crate::{
    Activation, DeploymentRow, EventRow, ListFilter, Page, QueueCounts, RunRef, RunRow, RunStatus, StepRow, StoreError,
};

/// A column stored as text or bytes (payloads are stored as bytes), as a string.
fn text(r: &Row<'_>, i: usize) -> rusqlite::Result<String> {
    match r.get_ref(i)? {
        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => String::from_utf8(t.to_vec())
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Blob, Box::new(e))),
        other => Err(rusqlite::Error::InvalidColumnType(i, "payload".into(), other.data_type())),
    }
}

fn raw(text: Option<String>) -> Result<Option<Box<RawValue>>, StoreError> {
    text.map(|t| RawValue::from_string(t).map_err(|e| StoreError::Corrupt(e.to_string()))).transpose()
}

fn status(s: &str) -> Result<RunStatus, rusqlite::Error> {
    RunStatus::parse(s).ok_or_else(|| rusqlite::Error::InvalidColumnType(0, s.to_string(), rusqlite::types::Type::Text))
}

const RUN_COLUMNS: &str = "id, event_id, component, environment, channel, event, handler, deployment_id, status,
     attempt, max_attempts, created_at, started_at, finished_at, run_at, error, error_step, replay_of";

fn run_row(r: &Row<'_>) -> rusqlite::Result<RunRow> {
    let st = status(&r.get::<_, String>(8)?)?;
    let run_at: i64 = r.get(14)?;
    Ok(RunRow {
        id: r.get(0)?,
        event_id: r.get(1)?,
        component: r.get(2)?,
        environment: r.get(3)?,
        channel: r.get(4)?,
        event: r.get(5)?,
        handler: r.get(6)?,
        deployment_id: r.get(7)?,
        status: st,
        attempt: r.get(9)?,
        max_attempts: r.get(10)?,
        created_at: r.get(11)?,
        started_at: r.get(12)?,
        finished_at: r.get(13)?,
        next_attempt_at: matches!(st, RunStatus::Retrying | RunStatus::Queued).then_some(run_at),
        error: r.get(15)?,
        error_step: r.get(16)?,
        replay_of: r.get(17)?,
        steps: None,
    })
}

const EVENT_COLUMNS: &str = "id, component, environment, channel, event, delivery_id, received_at, status";

/// An event from the columns of [`EVENT_COLUMNS`], without payload, headers and runs.
fn event_row(r: &Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        id: r.get(0)?,
        component: r.get(1)?,
        environment: r.get(2)?,
        channel: r.get(3)?,
        event: r.get(4)?,
        delivery_id: r.get(5)?,
        received_at: r.get(6)?,
        headers: None,
        query: None,
        params: None,
        payload: None,
        status: r.get(7)?,
        runs: Vec::new(),
    })
}

fn runs_of_event(conn: &Connection, event_id: &str) -> Result<Vec<RunRef>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, handler, status, deployment_id FROM runs WHERE event_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map([event_id], |r| {
        Ok(RunRef {
            id: r.get(0)?,
            handler: r.get(1)?,
            status: status(&r.get::<_, String>(2)?)?,
            deployment_id: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// `WHERE` clauses and parameters for a list filter.
fn filter_sql(f: &ListFilter) -> (String, Vec<String>) {
    let mut clauses = Vec::new();
    let mut values = Vec::new();
    for (column, value) in [("component", &f.component), ("environment", &f.environment), ("status", &f.status)] {
        if let Some(v) = value {
            values.push(v.clone());
            clauses.push(format!("{column} = ?{}", values.len()));
        }
    }
    if let Some(before) = &f.before {
        values.push(before.clone());
        clauses.push(format!("id < ?{}", values.len()));
    }
    if let Some(since) = &f.since {
        values.push(since.clone());
        clauses.push(format!("id >= ?{}", values.len()));
    }
    let sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    (sql, values)
}

fn deployment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeploymentRow> {
    let meta: String = r.get(6)?;
    Ok(DeploymentRow {
        id: r.get(0)?,
        component: r.get(1)?,
        environment: r.get(2)?,
        build: r.get(3)?,
        status: r.get(4)?,
        error: r.get(5)?,
        meta: serde_json::from_str(&meta).unwrap_or(serde_json::Value::Null),
        created_by: r.get(7)?,
        created_at: r.get(8)?,
        active: r.get(9)?,
    })
}

impl SqliteStore {
    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?)).await
    }

    /// One event with its payload, headers and runs.
    pub(super) async fn event(&self, id: String) -> Result<Option<EventRow>, StoreError> {
        self.read(move |c| {
            let row = c
                .prepare_cached(&format!(
                    "SELECT {EVENT_COLUMNS}, headers, query, params, payload FROM events WHERE id = ?1"
                ))?
                .query_row([&id], |r| {
                    Ok((event_row(r)?, [r.get::<_, String>(8)?, r.get(9)?, r.get(10)?, text(r, 11)?]))
                })
                .optional()?;
            let Some((mut event, [headers, query, params, payload])) = row else { return Ok(None) };
            event.headers = raw(Some(headers))?;
            event.query = raw(Some(query))?;
            event.params = raw(Some(params))?;
            event.payload = raw(Some(payload))?;
            event.runs = runs_of_event(c, &event.id)?;
            Ok(Some(event))
        })
        .await
    }

    /// Newest first, without payloads and headers; `status` filters by the event's status.
    pub(super) async fn events(&self, filter: ListFilter) -> Result<Page<EventRow>, StoreError> {
        self.read(move |c| {
            let (where_sql, values) = filter_sql(&filter);
            let sql =
                format!("SELECT {EVENT_COLUMNS} FROM events {where_sql} ORDER BY id DESC LIMIT {}", filter.limit + 1);
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(values.iter()), event_row)?;
            let mut items = rows.collect::<Result<Vec<_>, _>>()?;
            for e in &mut items {
                e.runs = runs_of_event(c, &e.id)?;
            }
            Ok(Page::from_rows(items, filter.limit, |e| &e.id))
        })
        .await
    }

    /// One run with its steps, in execution order across attempts.
    pub(super) async fn run(&self, id: String) -> Result<Option<RunRow>, StoreError> {
        self.read(move |c| {
            let Some(mut run) = c
                .prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))?
                .query_row([&id], run_row)
                .optional()?
            else {
                return Ok(None);
            };
            let mut stmt = c.prepare_cached(
                "SELECT path, step_id, name, type, attempt, status, input, output, error, started_at, duration_ms, logs
                 FROM steps WHERE run_id = ?1 ORDER BY attempt, seq",
            )?;
            let rows = stmt.query_map([&id], |r| {
                Ok((
                    StepRow {
                        path: r.get(0)?,
                        id: r.get(1)?,
                        name: r.get(2)?,
                        kind: r.get(3)?,
                        attempt: r.get(4)?,
                        status: r.get(5)?,
                        input: None,
                        output: None,
                        error: r.get(8)?,
                        logs: None,
                        started_at: r.get(9)?,
                        duration_ms: r.get(10)?,
                    },
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                    r.get::<_, Option<String>>(11)?,
                ))
            })?;
            let mut steps = Vec::new();
            for row in rows {
                let (mut step, input, output, logs) = row?;
                step.input = raw(input)?;
                step.output = raw(output)?;
                step.logs = raw(logs)?;
                steps.push(step);
            }
            run.steps = Some(steps);
            Ok(Some(run))
        })
        .await
    }

    /// Newest first, without steps.
    pub(super) async fn runs(&self, filter: ListFilter) -> Result<Page<RunRow>, StoreError> {
        self.read(move |c| {
            let (where_sql, values) = filter_sql(&filter);
            let sql = format!("SELECT {RUN_COLUMNS} FROM runs {where_sql} ORDER BY id DESC LIMIT {}", filter.limit + 1);
            let mut stmt = c.prepare(&sql)?;
            let items =
                stmt.query_map(rusqlite::params_from_iter(values.iter()), run_row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(Page::from_rows(items, filter.limit, |r| &r.id))
        })
        .await
    }

    /// The event a run needs (when the payload did not come with the job), with the run's
    /// current status: a run already finished is not run again.
    pub(super) async fn run_input(&self, run_id: String) -> Result<Option<(EventForRun, RunStatus)>, StoreError> {
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT e.payload, e.headers, e.query, e.params, e.delivery_id, e.received_at, r.status, e.trace
                 FROM runs r JOIN events e ON e.id = r.event_id WHERE r.id = ?1",
            )?
            .query_row([&run_id], |r| {
                Ok((
                    EventForRun {
                        payload: bytes::Bytes::copy_from_slice(r.get_ref(0)?.as_bytes()?),
                        headers: r.get(1)?,
                        query: r.get(2)?,
                        params: r.get(3)?,
                        delivery_id: r.get(4)?,
                        received_at: r.get(5)?,
                        trace: r.get(7)?,
                    },
                    status(&r.get::<_, String>(6)?)?,
                ))
            })
            .optional()?)
        })
        .await
    }

    pub(super) async fn activations(&self) -> Result<Vec<Activation>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT component, environment, deployment_id, paused FROM activations")?;
            let rows = stmt.query_map([], |r| {
                Ok(Activation {
                    component: r.get(0)?,
                    environment: r.get(1)?,
                    deployment_id: r.get(2)?,
                    paused: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// The source of a deployment, to rebuild it for retries after a restart.
    /// `(environment, source, files)` of a deployment; `files` is a JSON object.
    pub(super) async fn deployment_source(&self, id: String) -> Result<Option<(String, String, String)>, StoreError> {
        self.read(move |c| {
            Ok(c.query_row("SELECT environment, source, files FROM deployments WHERE id = ?1", [&id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?)
        })
        .await
    }

    /// Deployments, newest first, optionally of one component and/or environment.
    pub(super) async fn deployments(
        &self,
        component: Option<String>,
        environment: Option<String>,
        limit: u32,
    ) -> Result<Vec<DeploymentRow>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT d.id, d.component, d.environment, d.build, d.status, d.error, d.meta, d.created_by, d.created_at,
                        a.deployment_id IS NOT NULL
                 FROM deployments d
                 LEFT JOIN activations a ON a.deployment_id = d.id
                 WHERE (?1 IS NULL OR d.component = ?1) AND (?2 IS NULL OR d.environment = ?2)
                 ORDER BY d.created_at DESC, d.id DESC LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![component, environment, limit], deployment_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub(super) async fn deployment(&self, id: String) -> Result<Option<DeploymentRow>, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT d.id, d.component, d.environment, d.build, d.status, d.error, d.meta, d.created_by, d.created_at,
                        a.deployment_id IS NOT NULL
                 FROM deployments d LEFT JOIN activations a ON a.deployment_id = d.id WHERE d.id = ?1",
                [id],
                deployment_row,
            )
            .optional()?)
        })
        .await
    }

    /// Dead-lettered runs not yet replayed: `(run id, event id, channel, event)`.
    pub(super) async fn dead_runs(
        &self,
        component: String,
        environment: String,
    ) -> Result<Vec<(String, String, String, String)>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT id, event_id, channel, event FROM runs
                 WHERE component = ?1 AND environment = ?2 AND status = 'dead' AND replayed = 0 ORDER BY id",
            )?;
            let rows =
                stmt.query_map(params![component, environment], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub(super) async fn queue_counts(&self) -> Result<QueueCounts, StoreError> {
        self.read(|c| {
            let mut counts = QueueCounts::default();
            let mut stmt = c.prepare(
                "SELECT status, COUNT(*) FROM runs WHERE status IN ('queued', 'retrying', 'running') GROUP BY status",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))?;
            for row in rows {
                let (s, n) = row?;
                match s.as_str() {
                    "queued" => counts.queued = n,
                    "retrying" => counts.retrying = n,
                    _ => counts.running = n,
                }
            }
            Ok(counts)
        })
        .await
    }
}
