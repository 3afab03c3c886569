//! Executing a compiled handler: steps in order, each recorded with its input, output, error
//! and duration; step retries and timeouts; `on_error`.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use futures_util::stream::{self, StreamExt};
use onset_expr::{Compiled, ExprError, Value, to_json};
use onset_model::{LogLevel, RetrySpec};

use crate::compile::{CKind, COnError, CStep, CompiledComponent, CompiledHandler};
use crate::connector::Connectors;
use crate::record::{StepRecord, StepStatus, recorded_json};
use crate::scope::{Base, Frame};

/// What one run starts from.
#[derive(Debug, Clone)]
pub struct RunInput {
    pub event: Value,
    pub meta: Value,
    /// Which attempt of the whole run this is (1-based); recorded on every step.
    pub attempt: u32,
    /// Who waits for the answer, if anyone (`respond` steps send to it).
    pub responder: Option<crate::Responder>,
    /// When the run is traced: steps get span ids and calls carry their `traceparent`.
    pub trace: Option<crate::trace::RunTrace>,
}

/// Why a run did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFailure {
    pub message: String,
    /// The step that failed, by path.
    pub step: String,
    /// A later attempt may succeed (network errors, 5xx); `false` for 4xx, `fail` steps and
    /// expression errors.
    pub retryable: bool,
    /// Not before this long: the failing call's provider said so (`Retry-After`).
    pub retry_after: Option<std::time::Duration>,
}

#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub result: Result<(), RunFailure>,
    pub steps: Vec<StepRecord>,
    /// The last step's output (null when the run failed).
    pub output: serde_json::Value,
}

/// A step failed: carried up through containers until an `on_error` takes it.
#[derive(Debug, Clone)]
struct StepFailure {
    message: String,
    path: String,
    retryable: bool,
    /// The provider's `Retry-After`, when it gave one.
    retry_after: Option<std::time::Duration>,
}

impl StepFailure {
    fn expr(path: &str, e: ExprError) -> Self {
        Self { message: format!("expression {e}"), path: path.to_string(), retryable: false, retry_after: None }
    }
    fn as_value(&self) -> Value {
        onset_expr::from_json(&serde_json::json!({
            "message": self.message, "step": self.path, "retryable": self.retryable
        }))
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Exponential backoff with full jitter: a random wait in `[0, min(max, initial * 2^(n-1))]`.
pub fn backoff(retry: &RetrySpec, attempt: u32) -> std::time::Duration {
    let initial = retry.initial.as_std().as_millis() as f64;
    let cap = retry.max.as_std().as_millis() as f64;
    let ceiling = (initial * 2f64.powi(attempt.saturating_sub(1).min(62) as i32)).min(cap);
    std::time::Duration::from_millis((ceiling * fastrand::f64()) as u64)
}

struct Exec<'a> {
    component: &'a CompiledComponent,
    connectors: &'a dyn Connectors,
    attempt: u32,
    /// The trace id, when the run is traced.
    trace_id: Option<String>,
    /// Whether a step called a connector (only then can a connector's credential be in the
    /// records).
    called: std::sync::atomic::AtomicBool,
}

impl CompiledComponent {
    /// Runs `handler` for one event.
    pub async fn run(&self, handler: &CompiledHandler, input: RunInput, connectors: &dyn Connectors) -> RunOutcome {
        let base = Arc::new(Base {
            event: input.event,
            meta: input.meta,
            config: self.config.clone(),
            responder: input.responder,
        });
        let mut frame = Frame::new(base);
        let exec = Exec {
            component: self,
            connectors,
            attempt: input.attempt,
            trace_id: input.trace.map(|t| t.trace_id),
            called: std::sync::atomic::AtomicBool::new(false),
        };
        let mut records = Vec::with_capacity(handler.steps.len());
        let result = exec.steps(&handler.steps, "", &mut frame, &mut records).await;
        let output = result.as_ref().map_or(serde_json::Value::Null, to_json);
        let mut outcome = RunOutcome {
            result: result.map(|_| ()).map_err(|f| RunFailure {
                message: f.message,
                step: f.path,
                retryable: f.retryable,
                retry_after: f.retry_after,
            }),
            steps: records,
            output,
        };
        self.secrets.redact_outcome(&mut outcome);
        if exec.called.load(std::sync::atomic::Ordering::Relaxed)
            && let Some(live) = connectors.live_credentials().filter(|l| !l.is_empty())
        {
            crate::Secrets::from_values(live.iter().map(String::as_str)).redact_outcome(&mut outcome);
        }
        outcome
    }
}

fn child_path(prefix: &str, i: usize) -> String {
    if prefix.is_empty() { i.to_string() } else { format!("{prefix}.{i}") }
}

impl Exec<'_> {
    fn eval(&self, c: &Compiled, frame: &Frame, path: &str) -> Result<Value, StepFailure> {
        self.component.program.eval(c, &frame.scope()).map_err(|e| StepFailure::expr(path, e))
    }

    /// Runs a list of steps; the value is the last step's output.
    fn steps<'s>(
        &'s self,
        steps: &'s [CStep],
        prefix: &'s str,
        frame: &'s mut Frame,
        records: &'s mut Vec<StepRecord>,
    ) -> BoxFuture<'s, Result<Value, StepFailure>> {
        Box::pin(async move {
            let mut last = Value::from(());
            for (i, step) in steps.iter().enumerate() {
                last = self.step(step, &child_path(prefix, i), frame, records).await?;
            }
            Ok(last)
        })
    }

    async fn step(
        &self,
        step: &CStep,
        path: &str,
        frame: &mut Frame,
        records: &mut Vec<StepRecord>,
    ) -> Result<Value, StepFailure> {
        let attempts = step.retry.map_or(1, |r| r.attempts.max(1));
        let mut attempt = 1;
        let failure = loop {
            let slot = records.len();
            records.push(StepRecord {
                path: path.to_string(),
                id: step.id.as_deref().map(str::to_string),
                name: step.name.as_deref().map(str::to_string),
                kind: step.type_name,
                attempt: self.attempt,
                status: StepStatus::Succeeded,
                input: None,
                output: None,
                error: None,
                logs: Vec::new(),
                started_at: now_ms(),
                duration_ms: 0.0,
                span_id: self.trace_id.as_ref().map(|_| crate::trace::new_span_id()),
            });
            let started = Instant::now();
            let mut input = None;
            let mut logs = Vec::new();
            let work = self.kind(step, path, frame, records, &mut input, &mut logs);
            let result = match step.timeout {
                Some(t) => match tokio::time::timeout(t.as_std(), work).await {
                    Ok(r) => r,
                    Err(_) => Err(StepFailure {
                        message: format!("the step did not finish within its timeout of {t}"),
                        path: path.to_string(),
                        retryable: true,
                        retry_after: None,
                    }),
                },
                None => work.await,
            };
            let record = &mut records[slot];
            record.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
            record.logs = logs;
            record.input = input.as_ref().map(recorded_json);
            if attempts > 1 {
                record.name =
                    Some(format!("{} (try {attempt} of {attempts})", step.name.as_deref().unwrap_or(step.type_name)));
            }
            match result {
                Ok(output) => {
                    record.output = Some(recorded_json(&to_json(&output)));
                    if let Some(id) = &step.id {
                        frame.set_step_output(id, output.clone());
                    }
                    return Ok(output);
                }
                Err(f) => {
                    record.status = StepStatus::Failed;
                    record.error = Some(f.message.clone());
                    if f.retryable && attempt < attempts {
                        if let Some(retry) = &step.retry {
                            // Never sooner than the provider asked.
                            let wait = backoff(retry, attempt).max(f.retry_after.unwrap_or_default());
                            tokio::time::sleep(wait).await;
                        }
                        attempt += 1;
                        continue;
                    }
                    break f;
                }
            }
        };
        match &step.on_error {
            COnError::Fail => Err(failure),
            COnError::Continue => Ok(Value::from(())),
            COnError::Steps(handlers) => {
                let mut inner = frame.clone();
                inner.error = Some(failure.as_value());
                let out = self.steps(handlers, &format!("{path}.on_error"), &mut inner, records).await?;
                // `set` in the error steps stays visible afterwards; `error` does not.
                frame.vars = inner.vars;
                frame.steps = inner.steps;
                Ok(out)
            }
        }
    }

    async fn kind(
        &self,
        step: &CStep,
        path: &str,
        frame: &mut Frame,
        records: &mut Vec<StepRecord>,
        input: &mut Option<serde_json::Value>,
        logs: &mut Vec<String>,
    ) -> Result<Value, StepFailure> {
        match &step.kind {
            CKind::Log { message, level } => {
                let v = self.eval(message, frame, path)?;
                let text = v.as_str().map_or_else(|| to_json(&v).to_string(), str::to_string);
                // The process log gets what the run record gets: secrets redacted.
                let logged = self.component.secrets.redact(&text);
                match level {
                    LogLevel::Debug => tracing::debug!(step = path, "{logged}"),
                    LogLevel::Info => tracing::info!(step = path, "{logged}"),
                    LogLevel::Warn => tracing::warn!(step = path, "{logged}"),
                    LogLevel::Error => tracing::error!(step = path, "{logged}"),
                }
                *input = Some(serde_json::json!({ "level": level.as_str() }));
                Ok(Value::from(text))
            }
            CKind::Set(fields) => {
                let mut out = indexmap::IndexMap::with_capacity(fields.len());
                for (name, value) in fields {
                    let v = self.eval(value, frame, path)?;
                    frame.set_var(name, v.clone());
                    out.insert(Value::from(&**name), v);
                }
                Ok(Value::from(out))
            }
            CKind::Map(value) => self.eval(value, frame, path),
            CKind::If { condition, then, otherwise } => {
                let holds = self
                    .component
                    .program
                    .eval_expr(*condition, &frame.scope())
                    .map_err(|e| StepFailure::expr(path, e))?
                    .is_true();
                *input = Some(serde_json::json!({ "condition": holds }));
                let (branch, name) = if holds { (then, "then") } else { (otherwise, "else") };
                self.steps(branch, &format!("{path}.{name}"), frame, records).await
            }
            CKind::Switch { value, cases, default } => {
                let v =
                    self.component.program.eval_expr(*value, &frame.scope()).map_err(|e| StepFailure::expr(path, e))?;
                // Case keys are text: a value matches the key equal to its text (so `1` matches
                // "1" and `true` matches "true").
                let text = v.as_str().map_or_else(|| to_json(&v).to_string(), str::to_string);
                let taken = cases.iter().find(|(key, _)| **key == *text);
                *input = Some(serde_json::json!({ "value": to_json(&v), "case": taken.map(|(k, _)| &**k) }));
                match taken {
                    Some((key, steps)) => self.steps(steps, &format!("{path}.cases.{key}"), frame, records).await,
                    None => self.steps(default, &format!("{path}.default"), frame, records).await,
                }
            }
            CKind::Script(source) => {
                // Loop variables sit beside the five fixed names (`ctx.item`, `ctx.loop`). The
                // values are written straight to JSON text, once.
                let mut ctx = String::with_capacity(1024);
                ctx.push('{');
                let fixed = [
                    ("event", &frame.base.event),
                    ("meta", &frame.base.meta),
                    ("config", &frame.base.config),
                    ("vars", &frame.vars),
                    ("steps", &frame.steps),
                ];
                let locals = frame.locals.iter().filter(|(n, _)| !fixed.iter().any(|(f, _)| *f == &**n));
                for (i, (name, value)) in
                    locals.map(|(n, v)| (&**n, v)).chain(fixed.iter().map(|(n, v)| (*n, *v))).enumerate()
                {
                    if i > 0 {
                        ctx.push(',');
                    }
                    ctx.push_str(&serde_json::to_string(name).unwrap_or_default());
                    ctx.push(':');
                    ctx.push_str(&serde_json::to_string(value).unwrap_or_else(|_| "null".into()));
                }
                ctx.push('}');
                match self.connectors.script(source.clone(), ctx).await {
                    Ok((value, written)) => {
                        *logs = written;
                        Ok(onset_expr::from_json(&value))
                    }
                    Err(e) => Err(StepFailure {
                        message: e.message,
                        path: path.to_string(),
                        retryable: e.retryable,
                        retry_after: e.retry_after,
                    }),
                }
            }
            CKind::Respond(value) => {
                let response =
                    crate::respond::normalise(to_json(&self.eval(value, frame, path)?)).map_err(|message| {
                        StepFailure { message, path: path.to_string(), retryable: false, retry_after: None }
                    })?;
                let delivered = frame.base.responder.as_ref().is_some_and(|r| r.respond(response.clone()));
                *input = Some(serde_json::json!({ "delivered": delivered }));
                Ok(onset_expr::from_json(&response))
            }
            CKind::Delay(duration) => {
                let v = self.eval(duration, frame, path)?;
                let text = v.as_str().map_or_else(|| to_json(&v).to_string(), str::to_string);
                let wait: onset_model::Duration =
                    text.parse().map_err(|e: onset_model::QuantityError| StepFailure {
                        message: format!("delay: {e}"),
                        path: path.to_string(),
                        retryable: false,
                        retry_after: None,
                    })?;
                if wait > onset_model::MAX_DELAY {
                    return Err(StepFailure {
                        message: format!("delay of {wait} is longer than the limit of {}", onset_model::MAX_DELAY),
                        path: path.to_string(),
                        retryable: false,
                        retry_after: None,
                    });
                }
                *input = Some(serde_json::json!({ "delay": wait.to_string() }));
                tokio::time::sleep(wait.as_std()).await;
                Ok(Value::from(()))
            }
            CKind::ForEach { items, as_name, steps, concurrency } => {
                let list = self.eval(items, frame, path)?;
                let items: Vec<Value> = match list.kind() {
                    minijinja::value::ValueKind::Seq | minijinja::value::ValueKind::Iterable => {
                        list.try_iter().map(Iterator::collect).unwrap_or_default()
                    }
                    minijinja::value::ValueKind::None | minijinja::value::ValueKind::Undefined => Vec::new(),
                    other => {
                        return Err(StepFailure {
                            message: format!("for_each needs a list, got {other}"),
                            path: path.to_string(),
                            retryable: false,
                            retry_after: None,
                        });
                    }
                };
                *input = Some(serde_json::json!({ "items": items.len() }));
                let length = items.len();
                let iteration = |i: usize, item: Value| {
                    let loop_info = onset_expr::from_json(&serde_json::json!({
                        "index": i + 1, "index0": i, "first": i == 0, "last": i + 1 == length, "length": length
                    }));
                    // Each iteration has its own scope: its `set`s and step outputs stay inside,
                    // and the collected outputs are how results leave the loop.
                    let mut inner = frame.with_locals([(as_name.clone(), item), (Arc::from("loop"), loop_info)]);
                    let prefix = format!("{path}.do[{i}]");
                    async move {
                        let mut recs = Vec::new();
                        let r = self.steps(steps, &prefix, &mut inner, &mut recs).await;
                        (r, recs)
                    }
                };
                let results: Vec<(Result<Value, StepFailure>, Vec<StepRecord>)> = if *concurrency <= 1 {
                    let mut out = Vec::with_capacity(length);
                    for (i, item) in items.into_iter().enumerate() {
                        let (r, recs) = iteration(i, item).await;
                        let failed = r.is_err();
                        out.push((r, recs));
                        if failed {
                            break;
                        }
                    }
                    out
                } else {
                    stream::iter(items.into_iter().enumerate().map(|(i, item)| iteration(i, item)))
                        .buffered(*concurrency)
                        .collect()
                        .await
                };
                let mut outputs = Vec::with_capacity(results.len());
                let mut first_failure = None;
                for (r, mut recs) in results {
                    records.append(&mut recs);
                    match r {
                        Ok(v) => outputs.push(v),
                        Err(f) => {
                            first_failure.get_or_insert(f);
                        }
                    }
                }
                match first_failure {
                    Some(f) => Err(f),
                    None => Ok(Value::from(outputs)),
                }
            }
            CKind::Call { operation, with, account } => {
                let with = to_json(&self.eval(with, frame, path)?);
                let account = match account {
                    Some(a) => Some(to_json(&self.eval(a, frame, path)?)),
                    None => None,
                };
                *input = Some(redact_input(&with));
                // This step's record is the last one: a call has no steps inside.
                let traceparent = match (&self.trace_id, records.last().and_then(|r| r.span_id.as_ref())) {
                    (Some(trace), Some(span)) => Some(format!("00-{trace}-{span}-01")),
                    _ => None,
                };
                self.called.store(true, std::sync::atomic::Ordering::Relaxed);
                match crate::trace::with_traceparent(traceparent, self.connectors.call(operation, with, account)).await
                {
                    Ok(out) => Ok(onset_expr::from_json(&out)),
                    Err(e) => Err(StepFailure {
                        message: e.message,
                        path: path.to_string(),
                        retryable: e.retryable,
                        retry_after: e.retry_after,
                    }),
                }
            }
            CKind::Fail(message) => {
                let v = self.eval(message, frame, path)?;
                let text = v.as_str().map_or_else(|| to_json(&v).to_string(), str::to_string);
                Err(StepFailure { message: text, path: path.to_string(), retryable: false, retry_after: None })
            }
        }
    }
}

/// Credentials in a call's headers are not recorded.
fn redact_input(with: &serde_json::Value) -> serde_json::Value {
    let mut copy = with.clone();
    if let Some(headers) = copy.get_mut("headers").and_then(|h| h.as_object_mut()) {
        for (name, value) in headers.iter_mut() {
            let lower = name.to_ascii_lowercase();
            if matches!(lower.as_str(), "authorization" | "cookie" | "proxy-authorization" | "x-api-key") {
                *value = serde_json::Value::String("[redacted]".into());
            }
        }
    }
    copy
}
