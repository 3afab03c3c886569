//! Expressions and templates: one Jinja language (minijinja) everywhere in a component.
//!
//! Everything is compiled once per component build by a [`Compiler`] into a [`Program`]; runs
//! only evaluate. Rules (DESIGN §1): a string that is exactly one `{{ expr }}` yields the
//! expression's native value; any other string with `{{ }}` is interpolated into a string;
//! conditions are bare expressions. Undefined names are errors. Every evaluation is bounded by
//! fuel, so a runaway template fails instead of hanging a worker.

mod filters;

use std::sync::Arc;

pub use minijinja::Value;
use minijinja::{Environment, Expression, Template, UndefinedBehavior};
use self_cell::self_cell;

/// Instructions one evaluation may spend before it is stopped.
pub const FUEL: u64 = 2_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{source_text}`: {message}")]
pub struct ExprError {
    /// The expression or template as written.
    pub source_text: String,
    pub message: String,
}

impl ExprError {
    fn new(source_text: &str, err: &minijinja::Error) -> Self {
        Self { source_text: source_text.to_string(), message: describe(err) }
    }
}

/// minijinja's message without the synthetic template name it appends.
fn describe(err: &minijinja::Error) -> String {
    let mut msg = err.kind().to_string();
    if let Some(detail) = err.detail() {
        msg.push_str(": ");
        msg.push_str(detail);
    }
    msg
}

/// A value with its templates compiled: evaluated against a scope at run time.
#[derive(Debug, Clone)]
pub enum Compiled {
    Literal(Value),
    /// Exactly one `{{ expr }}`: the native value.
    Expr(usize),
    /// Interpolation: always a string.
    Template(usize),
    List(Vec<Compiled>),
    Map(Vec<(Arc<str>, Compiled)>),
}

impl Compiled {
    /// True when evaluating cannot depend on the scope.
    pub fn is_literal(&self) -> bool {
        matches!(self, Compiled::Literal(_))
    }
}

/// Collects the templates and expressions of one component.
pub struct Compiler {
    env: Environment<'static>,
    exprs: Vec<String>,
    templates: usize,
}

impl Default for Compiler {
    fn default() -> Self {
        Self::new()
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    filters::register(&mut env);
    env
}

/// `{{ expr }}` and nothing else: the inner expression.
fn sole_expression(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    if inner.contains("{{") || inner.contains("}}") { None } else { Some(inner.trim()) }
}

fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

impl Compiler {
    pub fn new() -> Self {
        Self { env: environment(), exprs: Vec::new(), templates: 0 }
    }

    /// Compiles a YAML/JSON value: strings follow the native-value rule, containers recurse.
    pub fn value(&mut self, v: &serde_json::Value) -> Result<Compiled, ExprError> {
        Ok(match v {
            serde_json::Value::String(s) => self.string(s)?,
            serde_json::Value::Array(items) => {
                let items = items.iter().map(|i| self.value(i)).collect::<Result<Vec<_>, _>>()?;
                if items.iter().all(Compiled::is_literal) {
                    Compiled::Literal(Value::from(Vec::from_iter(items.into_iter().map(|c| match c {
                        Compiled::Literal(v) => v,
                        _ => Value::UNDEFINED,
                    }))))
                } else {
                    Compiled::List(items)
                }
            }
            serde_json::Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                for (k, v) in map {
                    fields.push((Arc::from(k.as_str()), self.value(v)?));
                }
                if fields.iter().all(|(_, c)| c.is_literal()) {
                    Compiled::Literal(Value::from(minijinja::value::Serde(v)))
                } else {
                    Compiled::Map(fields)
                }
            }
            other => Compiled::Literal(Value::from(minijinja::value::Serde(other))),
        })
    }

    /// Compiles a string by the native-value rule.
    pub fn string(&mut self, s: &str) -> Result<Compiled, ExprError> {
        if let Some(expr) = sole_expression(s) {
            return self.expression(expr).map(Compiled::Expr);
        }
        if !is_template(s) {
            return Ok(Compiled::Literal(Value::from(s)));
        }
        let id = self.templates;
        self.env.add_template_owned(id.to_string(), s.to_string()).map_err(|e| ExprError::new(s, &e))?;
        self.templates += 1;
        Ok(Compiled::Template(id))
    }

    /// Compiles a bare expression (a condition); `{{ }}` around it is accepted too.
    pub fn expression(&mut self, src: &str) -> Result<usize, ExprError> {
        let src = sole_expression(src).unwrap_or(src).trim();
        if src.is_empty() {
            return Err(ExprError { source_text: String::new(), message: "empty expression".into() });
        }
        self.env.compile_expression(src).map_err(|e| ExprError::new(src, &e))?;
        self.exprs.push(src.to_string());
        Ok(self.exprs.len() - 1)
    }

    /// Freezes what was compiled into an evaluator.
    pub fn finish(self) -> Result<Program, ExprError> {
        let Compiler { env, exprs, templates } = self;
        Program::try_new(Owner { env, exprs }, |owner| {
            let mut compiled_exprs = Vec::with_capacity(owner.exprs.len());
            for src in &owner.exprs {
                compiled_exprs
                    .push(owner.env.compile_expression_owned(src.clone()).map_err(|e| ExprError::new(src, &e))?);
            }
            let mut compiled_templates = Vec::with_capacity(templates);
            for id in 0..templates {
                let name = id.to_string();
                let tmpl = owner.env.get_template(&name).map_err(|e| ExprError::new(&name, &e))?;
                compiled_templates.push(tmpl);
            }
            Ok(Units { exprs: compiled_exprs, templates: compiled_templates })
        })
    }
}

struct Owner {
    env: Environment<'static>,
    exprs: Vec<String>,
}

struct Units<'a> {
    exprs: Vec<Expression<'a, 'static>>,
    templates: Vec<Template<'a, 'a>>,
}

self_cell!(
    /// The compiled templates and expressions of one component, ready to evaluate.
    pub struct Program {
        owner: Owner,
        #[not_covariant]
        dependent: Units,
    }
);

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program").field("expressions", &self.borrow_owner().exprs).finish_non_exhaustive()
    }
}

impl Program {
    /// Evaluates a compiled value against a scope.
    pub fn eval(&self, c: &Compiled, scope: &Value) -> Result<Value, ExprError> {
        match c {
            Compiled::Literal(v) => Ok(v.clone()),
            Compiled::Expr(id) => self.eval_expr(*id, scope),
            Compiled::Template(id) => self.with_dependent(|_, units| {
                let tmpl = &units.templates[*id];
                tmpl.render(scope).map(Value::from).map_err(|e| ExprError::new(tmpl.source(), &e))
            }),
            Compiled::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.eval(item, scope)?);
                }
                Ok(Value::from(out))
            }
            Compiled::Map(fields) => {
                let mut out = indexmap::IndexMap::with_capacity(fields.len());
                for (k, v) in fields {
                    out.insert(Value::from(k), self.eval(v, scope)?);
                }
                Ok(Value::from(out))
            }
        }
    }

    /// Evaluates an expression compiled with [`Compiler::expression`].
    pub fn eval_expr(&self, id: usize, scope: &Value) -> Result<Value, ExprError> {
        self.with_dependent(|owner, units| {
            let src = &owner.exprs[id];
            let value = units.exprs[id].eval(scope).map_err(|e| ExprError::new(src, &e))?;
            if value.is_undefined() {
                return Err(ExprError { source_text: src.clone(), message: "undefined value".into() });
            }
            Ok(value)
        })
    }

    /// Evaluates to a string: strings as they are, other values as JSON.
    pub fn eval_string(&self, c: &Compiled, scope: &Value) -> Result<String, ExprError> {
        let v = self.eval(c, scope)?;
        Ok(match v.as_str() {
            Some(s) => s.to_string(),
            None => to_json(&v).to_string(),
        })
    }
}

/// The names an expression (`template: false`) or a template reads, dotted where it reads
/// attributes (`steps.shaped.output`), or its syntax error.
pub fn names(src: &str, template: bool) -> Result<std::collections::HashSet<String>, ExprError> {
    let env = environment();
    if template {
        let t = env.template_from_str(src).map_err(|e| ExprError::new(src, &e))?;
        Ok(t.undeclared_variables(true))
    } else {
        let inner = sole_expression(src).unwrap_or(src).trim();
        let e = env.compile_expression(inner).map_err(|e| ExprError::new(inner, &e))?;
        Ok(e.undeclared_variables(true))
    }
}

/// Whether a string is a template (has `{{`, `{%` or `{#`).
pub fn is_template_text(s: &str) -> bool {
    is_template(s)
}

/// Converts an evaluated value to JSON (undefined and none become null).
pub fn to_json(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Converts JSON to a value the evaluator reads.
pub fn from_json(v: &serde_json::Value) -> Value {
    Value::from(minijinja::value::Serde(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> Value {
        from_json(&json!({
            "event": { "id": "o-1", "items": [ { "price": 2 }, { "price": 3.5 } ], "n": 7 },
            "config": { "sink": "http://x/" }
        }))
    }

    fn run(v: serde_json::Value) -> Result<serde_json::Value, ExprError> {
        let mut c = Compiler::new();
        let compiled = c.value(&v)?;
        let p = c.finish()?;
        p.eval(&compiled, &scope()).map(|v| to_json(&v))
    }

    #[test]
    fn a_sole_expression_keeps_its_native_type() {
        assert_eq!(run(json!("{{ event.n }}")).unwrap(), json!(7));
        assert_eq!(run(json!("{{ event['items'] | map(attribute='price') | sum }}")).unwrap(), json!(5.5));
        assert_eq!(run(json!("{{ event.items[0] }}")).unwrap(), json!({ "price": 2 }));
    }

    #[test]
    fn other_strings_interpolate() {
        assert_eq!(run(json!("order {{ event.id }} ({{ event.n }})")).unwrap(), json!("order o-1 (7)"));
        assert_eq!(run(json!("plain")).unwrap(), json!("plain"));
        assert_eq!(run(json!("<b>{{ event.id }}</b>")).unwrap(), json!("<b>o-1</b>"));
    }

    #[test]
    fn containers_recurse() {
        let out = run(json!({ "order": "{{ event.id }}", "fixed": [1, "a"], "list": ["{{ event.n }}"] })).unwrap();
        assert_eq!(out, json!({ "order": "o-1", "fixed": [1, "a"], "list": [7] }));
    }

    #[test]
    fn undefined_names_are_errors() {
        let err = run(json!("{{ event.nope }}")).unwrap_err();
        assert_eq!(err.source_text, "event.nope");
        assert!(err.message.contains("undefined"), "{err}");
        assert!(run(json!("x {{ nothing }}")).is_err());
    }

    #[test]
    fn syntax_errors_surface_at_compile_time() {
        let mut c = Compiler::new();
        assert!(c.string("{{ event. }}").is_err());
        assert!(c.expression("1 +").is_err());
        assert!(c.string("{% if %}").is_err());
    }

    #[test]
    fn conditions_are_bare_expressions() {
        let mut c = Compiler::new();
        let a = c.expression("event.n > 3").unwrap();
        let b = c.expression("{{ event.n > 30 }}").unwrap();
        let p = c.finish().unwrap();
        assert!(p.eval_expr(a, &scope()).unwrap().is_true());
        assert!(!p.eval_expr(b, &scope()).unwrap().is_true());
    }

    #[test]
    fn runaway_templates_run_out_of_fuel() {
        let err =
            run(json!("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")).unwrap_err();
        assert!(err.message.contains("fuel"), "{err}");
    }
}
