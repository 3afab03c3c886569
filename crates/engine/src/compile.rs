//! Component → compiled handlers: every template and expression compiled once.

use std::sync::Arc;

use indexmap::IndexMap;
use onset_expr::{Compiled, Compiler, ExprError, Program, Value};
use onset_model::{Component, Duration, LogLevel, OnError, RetrySpec, Step, StepKind};

use crate::connector::Connectors;

/// A problem found while compiling, placed by handler and step path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("handler `{channel}` `{event}`, step {path}: {message}")]
pub struct CompileError {
    pub channel: String,
    pub event: String,
    pub path: String,
    pub message: String,
}

#[derive(Debug)]
pub(crate) struct CStep {
    pub id: Option<Arc<str>>,
    pub name: Option<Arc<str>>,
    pub type_name: &'static str,
    pub timeout: Option<Duration>,
    pub retry: Option<RetrySpec>,
    pub on_error: COnError,
    pub kind: CKind,
}

#[derive(Debug)]
pub(crate) enum COnError {
    Fail,
    Continue,
    Steps(Vec<CStep>),
}

#[derive(Debug)]
pub(crate) enum CKind {
    Log { message: Compiled, level: LogLevel },
    Set(Vec<(Arc<str>, Compiled)>),
    Map(Compiled),
    If { condition: usize, then: Vec<CStep>, otherwise: Vec<CStep> },
    Switch { value: usize, cases: Vec<(Arc<str>, Vec<CStep>)>, default: Vec<CStep> },
    Delay(Compiled),
    Respond(Compiled),
    Script(Arc<str>),
    ForEach { items: Compiled, as_name: Arc<str>, steps: Vec<CStep>, concurrency: usize },
    Call { operation: Arc<str>, with: Compiled, account: Option<Compiled> },
    Fail(Compiled),
}

/// One handler, ready to run.
#[derive(Debug)]
pub struct CompiledHandler {
    pub channel: String,
    pub event: String,
    pub retry: RetrySpec,
    pub concurrency: Option<u32>,
    pub(crate) steps: Vec<CStep>,
}

/// Every handler of a component plus the evaluator they share.
#[derive(Debug)]
pub struct CompiledComponent {
    pub(crate) program: Program,
    handlers: IndexMap<String, IndexMap<String, CompiledHandler>>,
    pub(crate) config: Value,
    /// The values of the component's `secret` config keys: redacted from the run's records and
    /// from the log lines its `log` steps write.
    pub(crate) secrets: crate::Secrets,
}

struct Ctx<'a> {
    compiler: Compiler,
    connectors: &'a dyn Connectors,
    channel: &'a str,
    event: &'a str,
    errors: Vec<CompileError>,
}

impl Ctx<'_> {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(CompileError {
            channel: self.channel.to_string(),
            event: self.event.to_string(),
            path: path.to_string(),
            message: message.into(),
        });
    }

    fn value(&mut self, path: &str, v: &serde_json::Value) -> Compiled {
        match self.compiler.value(v) {
            Ok(c) => c,
            Err(e) => {
                self.expr_error(path, e);
                Compiled::Literal(Value::UNDEFINED)
            }
        }
    }

    fn expr_error(&mut self, path: &str, e: ExprError) {
        self.error(path, e.to_string());
    }

    fn steps(&mut self, steps: &[Step], prefix: &str) -> Vec<CStep> {
        steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let path = if prefix.is_empty() { i.to_string() } else { format!("{prefix}.{i}") };
                self.step(s, &path)
            })
            .collect()
    }

    fn step(&mut self, step: &Step, path: &str) -> CStep {
        let kind = match &step.kind {
            StepKind::Log(l) => CKind::Log { message: self.value(path, &l.message), level: l.level },
            StepKind::Set(fields) => {
                CKind::Set(fields.iter().map(|(k, v)| (Arc::from(k.as_str()), self.value(path, v))).collect())
            }
            StepKind::Map(v) => CKind::Map(self.value(path, v)),
            StepKind::If { condition, then, otherwise } => {
                let condition = match self.compiler.expression(condition) {
                    Ok(id) => id,
                    Err(e) => {
                        self.expr_error(path, e);
                        0
                    }
                };
                CKind::If {
                    condition,
                    then: self.steps(then, &format!("{path}.then")),
                    otherwise: self.steps(otherwise, &format!("{path}.else")),
                }
            }
            StepKind::Switch { value, cases, default } => {
                let value = match self.compiler.expression(value) {
                    Ok(id) => id,
                    Err(e) => {
                        self.expr_error(path, e);
                        0
                    }
                };
                CKind::Switch {
                    value,
                    cases: cases
                        .iter()
                        .map(|(key, steps)| {
                            (Arc::from(key.as_str()), self.steps(steps, &format!("{path}.cases.{key}")))
                        })
                        .collect(),
                    default: self.steps(default, &format!("{path}.default")),
                }
            }
            StepKind::Delay(d) => CKind::Delay(self.value(path, d)),
            StepKind::Respond(r) => CKind::Respond(self.value(path, r)),
            StepKind::Script { source, .. } => {
                if !self.connectors.runs_scripts() {
                    self.error(path, "JavaScript steps are not available in this build (it lacks the `js` feature)");
                }
                CKind::Script(Arc::from(source.as_str()))
            }
            StepKind::ForEach { items, as_name, steps, concurrency } => CKind::ForEach {
                items: self.value(path, items),
                as_name: Arc::from(as_name.as_str()),
                // The body's paths carry the iteration index, which is only known at run time;
                // compiled paths are relative to `{path}.do[i]`.
                steps: self.steps(steps, ""),
                concurrency: concurrency.map_or(1, |c| c as usize),
            },
            StepKind::Call { operation, with, account } => {
                if !self.connectors.knows(operation) {
                    self.error(path, format!("`call: {operation}` is not a known operation (e.g. `http.request`)"));
                }
                CKind::Call {
                    operation: Arc::from(operation.as_str()),
                    with: self.value(path, with),
                    account: account.as_ref().map(|a| self.value(path, a)),
                }
            }
            StepKind::Fail(message) => CKind::Fail(self.value(path, message)),
        };
        let on_error = match &step.on_error {
            OnError::Fail => COnError::Fail,
            OnError::Continue => COnError::Continue,
            OnError::Steps(steps) => COnError::Steps(self.steps(steps, &format!("{path}.on_error"))),
        };
        CStep {
            id: step.id.as_deref().map(Arc::from),
            name: step.name.as_deref().map(Arc::from),
            type_name: step.kind.type_name(),
            timeout: step.timeout,
            retry: step.retry,
            on_error,
            kind,
        }
    }
}

impl CompiledComponent {
    /// Compiles every handler. `config` is the component's resolved config, seen as `config`.
    pub fn compile(
        component: &Component,
        config: &serde_json::Value,
        connectors: &dyn Connectors,
    ) -> Result<Self, Vec<CompileError>> {
        let mut ctx = Ctx { compiler: Compiler::new(), connectors, channel: "", event: "", errors: Vec::new() };
        let mut handlers: IndexMap<String, IndexMap<String, CompiledHandler>> = IndexMap::new();
        for (channel, event, spec) in component.handler_list() {
            ctx.channel = channel;
            ctx.event = event;
            let steps = ctx.steps(&spec.steps, "");
            handlers.entry(channel.to_string()).or_default().insert(
                event.to_string(),
                CompiledHandler {
                    channel: channel.to_string(),
                    event: event.to_string(),
                    retry: spec.retry.unwrap_or_default(),
                    concurrency: spec.concurrency,
                    steps,
                },
            );
        }
        if !ctx.errors.is_empty() {
            return Err(ctx.errors);
        }
        let program = ctx.compiler.finish().map_err(|e| {
            vec![CompileError {
                channel: String::new(),
                event: String::new(),
                path: String::new(),
                message: e.to_string(),
            }]
        })?;
        let secrets = crate::Secrets::of(component, config);
        Ok(Self { program, handlers, config: onset_expr::from_json(config), secrets })
    }

    /// The secret config values this build redacts.
    pub fn secrets(&self) -> &crate::Secrets {
        &self.secrets
    }

    /// Every script step's source, with the handler it belongs to (`channel event`).
    pub fn scripts(&self) -> Vec<(String, Arc<str>)> {
        fn walk(steps: &[CStep], handler: &str, out: &mut Vec<(String, Arc<str>)>) {
            for step in steps {
                match &step.kind {
                    CKind::Script(source) => out.push((handler.to_string(), source.clone())),
                    CKind::If { then, otherwise, .. } => {
                        walk(then, handler, out);
                        walk(otherwise, handler, out);
                    }
                    CKind::Switch { cases, default, .. } => {
                        cases.iter().for_each(|(_, steps)| walk(steps, handler, out));
                        walk(default, handler, out);
                    }
                    CKind::ForEach { steps, .. } => walk(steps, handler, out),
                    _ => {}
                }
                if let COnError::Steps(steps) = &step.on_error {
                    walk(steps, handler, out);
                }
            }
        }
        let mut out = Vec::new();
        for h in self.handlers() {
            walk(&h.steps, &format!("{} {}", h.channel, h.event), &mut out);
        }
        out
    }

    pub fn handler(&self, channel: &str, event: &str) -> Option<&CompiledHandler> {
        self.handlers.get(channel)?.get(event)
    }

    pub fn handlers(&self) -> impl Iterator<Item = &CompiledHandler> {
        self.handlers.values().flat_map(IndexMap::values)
    }
}
