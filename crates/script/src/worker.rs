//! One QuickJS runtime on its own thread, serving calls one at a time.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rquickjs::function::Rest;
use rquickjs::prelude::Coerced;
use rquickjs::{Context, Ctx, Function, Module, Persistent, Runtime, Value};

use crate::{Call, Limits, ScriptError, ScriptOutput};

/// Compiled modules kept per runtime; past this the cache starts over.
const MAX_CACHED: usize = 256;
/// Deeply freezes the `ctx` a script receives.
const FREEZE: &str = "(function freeze(o) { if (o && typeof o === 'object' && !Object.isFrozen(o)) { \
    Object.freeze(o); for (const k of Object.keys(o)) freeze(o[k]); } return o; })";

/// Fields drop in order: the saved functions must go before the context and the runtime that
/// own their objects (QuickJS asserts that a freed runtime holds no live objects).
struct Worker {
    modules: HashMap<Arc<str>, Persistent<Function<'static>>>,
    freeze: Persistent<Function<'static>>,
    deadline: Rc<Cell<Option<Instant>>>,
    logs: Rc<RefCell<Vec<String>>>,
    memory_limit: usize,
    counter: u64,
    context: Context,
    _runtime: Runtime,
}

fn thrown(ctx: &Ctx<'_>) -> String {
    let value = ctx.catch();
    if let Some(exception) = value.as_exception() {
        let message = exception.message().unwrap_or_default();
        let name: String = exception.get("name").unwrap_or_else(|_| "Error".into());
        return format!("{name}: {message}");
    }
    match value.as_string().and_then(|s| s.to_string().ok()) {
        Some(s) => format!("uncaught: {s}"),
        None => format!("uncaught {}", value.type_name()),
    }
}

impl Worker {
    fn new(memory_limit: usize) -> Result<Self, rquickjs::Error> {
        let runtime = Runtime::new()?;
        runtime.set_memory_limit(memory_limit);
        runtime.set_max_stack_size(512 * 1024);
        let deadline: Rc<Cell<Option<Instant>>> = Rc::default();
        let watched = deadline.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || watched.get().is_some_and(|d| Instant::now() >= d))));
        let context = Context::full(&runtime)?;
        let logs: Rc<RefCell<Vec<String>>> = Rc::default();
        let freeze = context.with(|ctx| -> Result<_, rquickjs::Error> {
            let console = rquickjs::Object::new(ctx.clone())?;
            for (name, prefix) in [("log", ""), ("info", ""), ("warn", "warn: "), ("error", "error: ")] {
                let sink = logs.clone();
                let f = Function::new(ctx.clone(), move |args: Rest<Coerced<String>>| {
                    let line: Vec<String> = args.0.into_iter().map(|a| a.0).collect();
                    sink.borrow_mut().push(format!("{prefix}{}", line.join(" ")));
                })?;
                console.set(name, f)?;
            }
            ctx.globals().set("console", console)?;
            let freeze: Function<'_> = ctx.eval(FREEZE)?;
            Ok(Persistent::save(&ctx, freeze))
        })?;
        Ok(Self {
            modules: HashMap::new(),
            freeze,
            deadline,
            logs,
            memory_limit,
            counter: 0,
            context,
            _runtime: runtime,
        })
    }

    fn function<'js>(&mut self, ctx: &Ctx<'js>, source: &Arc<str>) -> Result<Function<'js>, ScriptError> {
        if let Some(f) = self.modules.get(source) {
            return f.clone().restore(ctx).map_err(|e| ScriptError::Thrown(e.to_string()));
        }
        self.counter += 1;
        let name = format!("step{}.js", self.counter);
        let module = Module::declare(ctx.clone(), name, source.as_bytes().to_vec())
            .map_err(|_| ScriptError::Thrown(thrown(ctx)))?;
        let (module, promise) = module.eval().map_err(|_| ScriptError::Thrown(thrown(ctx)))?;
        promise.finish::<()>().map_err(|_| ScriptError::Thrown(thrown(ctx)))?;
        let f: Function<'_> = module.get("default").map_err(|_| ScriptError::NoDefaultExport)?;
        if self.modules.len() >= MAX_CACHED {
            self.modules.clear();
        }
        self.modules.insert(source.clone(), Persistent::save(ctx, f.clone()));
        Ok(f)
    }

    fn call(&mut self, source: &Arc<str>, ctx_json: Option<&str>, limits: Limits) -> Result<ScriptOutput, ScriptError> {
        self.logs.borrow_mut().clear();
        self.deadline.set(Some(Instant::now() + limits.time));
        let context = self.context.clone();
        let result = context.with(|ctx| -> Result<serde_json::Value, ScriptError> {
            let f = self.function(&ctx, source)?;
            let Some(json) = ctx_json else { return Ok(serde_json::Value::Null) };
            let freeze = self.freeze.clone().restore(&ctx).map_err(|e| ScriptError::Thrown(e.to_string()))?;
            let arg: Value<'_> = ctx.json_parse(json).map_err(|_| ScriptError::Thrown(thrown(&ctx)))?;
            let arg: Value<'_> = freeze.call((arg,)).map_err(|_| ScriptError::Thrown(thrown(&ctx)))?;
            let mut out: Value<'_> = f.call((arg,)).map_err(|_| ScriptError::Thrown(thrown(&ctx)))?;
            if let Some(promise) = out.as_promise() {
                out = promise.finish::<Value<'_>>().map_err(|_| ScriptError::Thrown(thrown(&ctx)))?;
            }
            let text = ctx.json_stringify(out).map_err(|_| ScriptError::BadResult(thrown(&ctx)))?;
            match text {
                None => Ok(serde_json::Value::Null),
                Some(s) => {
                    let s = s.to_string().map_err(|e| ScriptError::BadResult(e.to_string()))?;
                    serde_json::from_str(&s).map_err(|e| ScriptError::BadResult(e.to_string()))
                }
            }
        });
        let timed_out = self.deadline.get().is_some_and(|d| Instant::now() >= d);
        self.deadline.set(None);
        let logs = std::mem::take(&mut *self.logs.borrow_mut());
        match result {
            Ok(value) => Ok(ScriptOutput { value, logs }),
            Err(_) if timed_out => Err(ScriptError::Timeout(limits.time)),
            Err(ScriptError::Thrown(m)) if m.contains("out of memory") || m.contains("Allocation failed") => {
                Err(ScriptError::Memory(self.memory_limit))
            }
            Err(e) => Err(e),
        }
    }
}

/// Serves calls until the pool is dropped. A runtime that hit a limit is replaced.
pub(crate) fn serve(rx: &Arc<Mutex<mpsc::Receiver<Call>>>) {
    let mut worker: Option<Worker> = None;
    loop {
        let call = match rx.lock().map(|r| r.recv()) {
            Ok(Ok(call)) => call,
            _ => return,
        };
        if worker.as_ref().is_none_or(|w| w.memory_limit != call.limits.memory_bytes) {
            worker = Worker::new(call.limits.memory_bytes).ok();
        }
        let result = match worker.as_mut() {
            Some(w) => w.call(&call.source, call.ctx_json.as_deref(), call.limits),
            None => Err(ScriptError::Unavailable),
        };
        if matches!(result, Err(ScriptError::Timeout(_) | ScriptError::Memory(_))) {
            worker = None;
        }
        let _ = call.reply.send(result);
    }
}
