//! The names an expression sees: `event`, `meta`, `config`, `vars`, `steps`, loop variables and
//! `error`. Built as one object per evaluation from reference-counted parts (no deep copies).

use std::sync::Arc;

use minijinja::value::{Enumerator, Object};
use onset_expr::Value;

/// Per-run values that do not change between steps.
#[derive(Debug)]
pub struct Base {
    pub event: Value,
    pub meta: Value,
    pub config: Value,
    pub responder: Option<crate::Responder>,
}

#[derive(Debug, Clone)]
pub struct Frame {
    pub base: Arc<Base>,
    pub vars: Value,
    pub steps: Value,
    /// Loop variables, innermost last.
    pub locals: Arc<Vec<(Arc<str>, Value)>>,
    pub error: Option<Value>,
}

impl Frame {
    pub fn new(base: Arc<Base>) -> Self {
        let empty = Value::from(indexmap_new());
        Self { base, vars: empty.clone(), steps: empty, locals: Arc::new(Vec::new()), error: None }
    }

    pub fn scope(&self) -> Value {
        Value::from_object(Scope(self.clone()))
    }

    pub fn set_var(&mut self, name: &str, value: Value) {
        self.vars = with_entry(&self.vars, name, value);
    }

    pub fn set_step_output(&mut self, id: &str, output: Value) {
        let entry = Value::from(indexmap_one("output", output));
        self.steps = with_entry(&self.steps, id, entry);
    }

    pub fn with_locals(&self, extra: impl IntoIterator<Item = (Arc<str>, Value)>) -> Frame {
        let mut locals = (*self.locals).clone();
        locals.extend(extra);
        Frame { locals: Arc::new(locals), ..self.clone() }
    }
}

fn indexmap_new() -> indexmap::IndexMap<Value, Value> {
    indexmap::IndexMap::new()
}

fn indexmap_one(k: &str, v: Value) -> indexmap::IndexMap<Value, Value> {
    let mut m = indexmap::IndexMap::with_capacity(1);
    m.insert(Value::from(k), v);
    m
}

/// A copy of map `map` with `key` set; maps here are small (vars and step ids of one handler).
fn with_entry(map: &Value, key: &str, value: Value) -> Value {
    let mut out = indexmap::IndexMap::new();
    if let Ok(keys) = map.try_iter() {
        for k in keys {
            let v = map.get_item(&k).unwrap_or_default();
            out.insert(k, v);
        }
    }
    out.insert(Value::from(key), value);
    Value::from(out)
}

#[derive(Debug)]
struct Scope(Frame);

impl Object for Scope {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        let f = &self.0;
        if let Some((_, v)) = f.locals.iter().rev().find(|(name, _)| &**name == key) {
            return Some(v.clone());
        }
        match key {
            "event" => Some(f.base.event.clone()),
            "meta" => Some(f.base.meta.clone()),
            "config" => Some(f.base.config.clone()),
            "vars" => Some(f.vars.clone()),
            "steps" => Some(f.steps.clone()),
            "error" => f.error.clone(),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut names: Vec<Value> = ["event", "meta", "config", "vars", "steps"].into_iter().map(Value::from).collect();
        if self.0.error.is_some() {
            names.push(Value::from("error"));
        }
        names.extend(self.0.locals.iter().map(|(n, _)| Value::from(&**n)));
        Enumerator::Values(names)
    }
}
