//! `onset validate`: one pass over a component file's YAML tree (with positions), reporting every
//! problem with file:line:column, the offending text and what was expected — unknown keys, wrong
//! types, durations without units, steps with no or several actions, duplicate step ids, http
//! resource paths and methods, expression syntax, and names an expression reads that cannot
//! exist (an undefined root, a `steps.<id>` not defined before, an undeclared `config.<key>`,
//! a loop variable outside its loop).

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use onset_model::{
    ACTION_KEYS, CONFIG_TYPES, ComponentName, ConfigKey, HTTP_SETTINGS, STEP_ACTIONS as ACTIONS,
    STEP_OPTIONS as OPTIONS, TRIGGER_TYPES, is_identifier,
};

use crate::connector::Connectors;

mod call;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// The offending text, as written (first line, shortened).
    pub found: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.column, self.message)?;
        if !self.found.is_empty() {
            write!(f, " (found `{}`)", self.found)?;
        }
        Ok(())
    }
}

const TOP: &[&str] = &["component", "description", "trigger", "config", "handlers", "retention", "docs"];
const RETENTION: &[&str] = &["succeeded", "failed"];
const TRIGGER: &[&str] = &["type", "with"];
const CONFIG: &[&str] = &["type", "description", "example", "default", "required", "connector"];
const HANDLER: &[&str] = &["steps", "retry", "concurrency", "rate_limit", "schema"];
const RETRY: &[&str] = &["attempts", "initial", "max"];
/// Functions expressions may call: they appear as names read.
const FUNCTIONS: &[&str] = &["range", "dict", "namespace", "now", "uuid", "debug", "lipsum", "cycler", "joiner"];

struct Scope {
    /// Step ids defined so far in this handler.
    ids: HashSet<String>,
    /// Loop variables and `error` visible here.
    locals: Vec<String>,
}

struct V<'a> {
    file: &'a Path,
    text: &'a str,
    connectors: &'a dyn Connectors,
    config: HashSet<String>,
    /// Config keys of type `account`, with the account type their `connector` names.
    accounts: std::collections::HashMap<String, Option<String>>,
    http: bool,
    /// The trigger type, when it is one this build knows.
    kind: Option<&'static str>,
    out: Vec<Diagnostic>,
}

fn as_str<'n>(node: &'n MarkedYaml<'_>) -> Option<&'n str> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Some(s),
        _ => None,
    }
}

fn kind(node: &MarkedYaml<'_>) -> &'static str {
    match &node.data {
        YamlData::Value(Scalar::String(_)) => "a string",
        YamlData::Value(Scalar::Integer(_)) => "a number",
        YamlData::Value(Scalar::FloatingPoint(_)) => "a number",
        YamlData::Value(Scalar::Boolean(_)) => "a boolean",
        YamlData::Value(Scalar::Null) => "nothing",
        YamlData::Sequence(_) => "a list",
        YamlData::Mapping(_) => "a mapping",
        _ => "an unsupported value",
    }
}

fn entries<'n, 'i>(node: &'n MarkedYaml<'i>) -> Vec<(&'n MarkedYaml<'i>, &'n MarkedYaml<'i>)> {
    match &node.data {
        YamlData::Mapping(map) => map.iter().collect(),
        _ => Vec::new(),
    }
}

fn get<'n, 'i>(node: &'n MarkedYaml<'i>, key: &str) -> Option<&'n MarkedYaml<'i>> {
    entries(node).into_iter().find(|(k, _)| as_str(k) == Some(key)).map(|(_, v)| v)
}

impl V<'_> {
    fn report(&mut self, node: &MarkedYaml<'_>, message: impl Into<String>) {
        let start = node.span.start;
        let end = node.span.end.index().max(start.index());
        let found: String = self.text.chars().skip(start.index()).take(end - start.index()).collect();
        let mut found = found.lines().next().unwrap_or("").trim().to_string();
        if found.chars().count() > 60 {
            found = found.chars().take(59).collect::<String>() + "…";
        }
        self.out.push(Diagnostic {
            file: self.file.to_path_buf(),
            line: start.line(),
            column: start.col() + 1,
            found,
            message: message.into(),
        });
    }

    /// `security: { scheme: oauth2 }`: scopes by a handler's path and method, and an external
    /// issuer's `issuer` with its `jwks_url`.
    fn oauth2_security(&mut self, root: &MarkedYaml<'_>, sec: &MarkedYaml<'_>) {
        let handlers = get(root, "handlers");
        if let Some(scopes) = get(sec, "scopes")
            && self.mapping(scopes, "`security.scopes` (paths to methods to scopes)")
        {
            for (path, methods) in entries(scopes) {
                let Some(p) = as_str(path) else { continue };
                let Some(handler) = handlers.and_then(|h| get(h, p)) else {
                    self.report(path, format!("`security.scopes`: no handler has the path `{p}`"));
                    continue;
                };
                if !self.mapping(methods, "a path's scopes (methods to scopes, e.g. `POST: [orders:write]`)") {
                    continue;
                }
                for (method, list) in entries(methods) {
                    let m = as_str(method).unwrap_or("").to_ascii_uppercase();
                    if m != "*" && get(handler, &m).is_none() {
                        self.report(method, format!("`security.scopes`: `{p}` has no `{m}` handler"));
                    }
                    let names: Vec<&MarkedYaml<'_>> = match &list.data {
                        YamlData::Sequence(items) => items.iter().collect(),
                        _ => vec![list],
                    };
                    for n in names {
                        match as_str(n) {
                            Some(scope) if !scope.is_empty() && !scope.contains([' ', '"', '\\']) => {}
                            _ => self.report(n, "a scope is a name without spaces, quotes or backslashes"),
                        }
                    }
                }
            }
        }
        match (get(sec, "issuer"), get(sec, "jwks_url")) {
            (Some(_), None) => {
                self.report(sec, "`security.issuer` needs `jwks_url`, where the issuer publishes its keys")
            }
            (None, Some(url)) => self.report(url, "`security.jwks_url` needs `issuer`, the exact `iss` of its tokens"),
            (_, Some(url)) if !as_str(url).is_some_and(|u| u.starts_with("https://") || u.starts_with("http://")) => {
                self.report(url, "`security.jwks_url` is an http(s) URL")
            }
            _ => {}
        }
    }

    /// A rate limit: `N/s`, `N/m`, `N/h` or `N/d`.
    fn rate(&mut self, node: &MarkedYaml<'_>) {
        match as_str(node) {
            Some(s) => {
                if let Err(message) = s.parse::<onset_model::Rate>() {
                    self.report(node, message);
                }
            }
            None => self.report(node, "a rate limit is written N/s, N/m, N/h or N/d (e.g. `100/s`)"),
        }
    }

    fn keys(&mut self, node: &MarkedYaml<'_>, allowed: &[&str], what: &str) {
        for (k, _) in entries(node) {
            match as_str(k) {
                Some(key) if allowed.contains(&key) => {}
                Some(key) => {
                    self.report(k, format!("unknown key `{key}` in {what}; expected one of: {}", allowed.join(", ")))
                }
                None => self.report(k, format!("keys of {what} are names")),
            }
        }
    }

    fn mapping(&mut self, node: &MarkedYaml<'_>, what: &str) -> bool {
        let ok = matches!(node.data, YamlData::Mapping(_));
        if !ok {
            self.report(node, format!("{what} is a mapping, not {}", kind(node)));
        }
        ok
    }

    fn string(&mut self, node: &MarkedYaml<'_>, what: &str) -> Option<String> {
        let s = as_str(node).map(str::to_string);
        if s.is_none() {
            self.report(node, format!("{what} is a string, not {}", kind(node)));
        }
        s
    }

    fn duration(&mut self, node: &MarkedYaml<'_>, what: &str) {
        match &node.data {
            YamlData::Value(Scalar::String(s)) => {
                if let Err(e) = s.parse::<onset_model::Duration>() {
                    self.report(node, format!("{what}: {e}"));
                }
            }
            YamlData::Value(Scalar::Integer(_) | Scalar::FloatingPoint(_)) => {
                self.report(node, format!("{what} needs a unit: write a duration such as `2s` or `500ms`"));
            }
            _ => self.report(node, format!("{what} is a duration such as `2s`, not {}", kind(node))),
        }
    }

    fn positive(&mut self, node: &MarkedYaml<'_>, what: &str) {
        if !matches!(node.data, YamlData::Value(Scalar::Integer(n)) if n >= 1) {
            self.report(node, format!("{what} is a whole number of at least 1"));
        }
    }

    /// Checks the names an expression or template reads.
    fn names(&mut self, node: &MarkedYaml<'_>, src: &str, template: bool, scope: &Scope, roots: &[&str]) {
        let names = match onset_expr::names(src, template) {
            Ok(n) => n,
            Err(e) => {
                self.report(node, format!("expression error: {}", e.message));
                return;
            }
        };
        let mut names: Vec<String> = names.into_iter().collect();
        names.sort();
        for name in names {
            let mut parts = name.split('.');
            let root = parts.next().unwrap_or("");
            let second = parts.next();
            if roots.contains(&root) || scope.locals.iter().any(|l| l == root) || FUNCTIONS.contains(&root) {
                if root == "steps"
                    && let Some(id) = second
                    && !scope.ids.contains(id)
                {
                    self.report(
                        node,
                        format!("`steps.{id}` is not a step defined before this one; give an earlier step `id: {id}`"),
                    );
                }
                if root == "config"
                    && let Some(key) = second
                    && !self.config.contains(key)
                {
                    self.report(node, format!("`config.{key}` is not declared under `config:`"));
                }
            } else if root == "item" || root == "loop" {
                self.report(
                    node,
                    format!("`{root}` is a loop variable and this is not inside a `for_each` that defines it"),
                );
            } else if root == "error" {
                self.report(node, "`error` exists only in `on_error` steps");
            } else {
                self.report(
                    node,
                    format!(
                        "`{root}` is not defined; expressions read event, meta, config, vars, steps and loop variables"
                    ),
                );
            }
        }
    }

    /// Strings anywhere in a value: templates are checked.
    fn value(&mut self, node: &MarkedYaml<'_>, scope: &Scope) {
        match &node.data {
            YamlData::Value(Scalar::String(s)) if onset_expr::is_template_text(s) => {
                let src = s.to_string();
                self.names(node, &src, true, scope, &["event", "meta", "config", "vars", "steps"]);
            }
            YamlData::Sequence(items) => {
                for i in items {
                    self.value(i, scope);
                }
            }
            YamlData::Mapping(_) => {
                for (_, v) in entries(node) {
                    self.value(v, scope);
                }
            }
            _ => {}
        }
    }

    fn steps(&mut self, node: &MarkedYaml<'_>, scope: &mut Scope, what: &str) {
        let YamlData::Sequence(items) = &node.data else {
            self.report(node, format!("{what} is a list of steps, not {}", kind(node)));
            return;
        };
        for step in items {
            self.step(step, scope);
        }
    }

    fn step(&mut self, node: &MarkedYaml<'_>, scope: &mut Scope) {
        if !self.mapping(node, "a step") {
            return;
        }
        let mut actions = Vec::new();
        for (k, _) in entries(node) {
            let Some(key) = as_str(k) else { continue };
            if ACTIONS.contains(&key) {
                actions.push(key);
            } else if !OPTIONS.contains(&key) && !ACTION_KEYS.iter().any(|(k2, _)| *k2 == key) {
                self.report(
                    k,
                    format!(
                        "unknown step key `{key}`; expected an action ({}) or an option ({})",
                        ACTIONS.join(", "),
                        OPTIONS.join(", ")
                    ),
                );
            }
        }
        let action = match actions.as_slice() {
            [one] => *one,
            [] => {
                self.report(node, format!("a step needs exactly one action: {}", ACTIONS.join(", ")));
                ""
            }
            many => {
                self.report(
                    node,
                    format!("a step has one action; this one has {}: split it into separate steps", many.join(" and ")),
                );
                many[0]
            }
        };
        for (k, _) in entries(node) {
            if let Some(key) = as_str(k)
                && let Some((_, owner)) = ACTION_KEYS.iter().find(|(k2, _)| *k2 == key)
                && *owner != action
                && !action.is_empty()
            {
                self.report(k, format!("`{key}` belongs to a `{owner}` step, not to a `{action}` step"));
            }
        }
        // Options.
        if let Some(id) = get(node, "id")
            && let Some(text) = self.string(id, "`id`")
        {
            if !is_identifier(&text) {
                self.report(id, "a step id is a name: letters, digits and `_`");
            } else if !scope.ids.insert(text.clone()) {
                self.report(id, format!("step id `{text}` is used twice; ids are unique in a handler"));
            }
        }
        if let Some(n) = get(node, "name") {
            self.string(n, "`name`");
        }
        if let Some(t) = get(node, "timeout") {
            self.duration(t, "`timeout`");
        }
        if let Some(r) = get(node, "retry") {
            self.retry(r);
        }
        // The action's own shape and expressions.
        let value = get(node, action);
        match (action, value) {
            ("if", Some(v)) | ("switch", Some(v)) => {
                if let Some(src) = self.string(v, &format!("`{action}`")) {
                    self.names(v, &src, false, scope, &["event", "meta", "config", "vars", "steps"]);
                }
            }
            ("call", Some(v)) => {
                if let Some(op) = self.string(v, "`call`") {
                    self.call(node, v, &op);
                }
            }
            ("script_file", Some(v)) => {
                if let Some(name) = self.string(v, "`script_file`") {
                    let path = self.file.parent().unwrap_or(Path::new(".")).join(&name);
                    if !path.is_file() {
                        self.report(
                            v,
                            format!("script_file `{name}` is not a file next to the component ({})", path.display()),
                        );
                    }
                }
                if !self.connectors.runs_scripts() {
                    self.report(v, "JavaScript steps are not available in this build");
                }
            }
            ("script", Some(v)) => {
                self.string(v, "`script`");
                if !self.connectors.runs_scripts() {
                    self.report(v, "JavaScript steps are not available in this build");
                }
            }
            ("delay", Some(v)) if !matches!(as_str(v), Some(s) if onset_expr::is_template_text(s)) => {
                self.duration(v, "`delay`");
            }
            ("respond", Some(v)) if self.mapping(v, "`respond`") => {
                self.keys(v, &["status", "headers", "body"], "`respond`");
            }
            ("set", Some(v)) => {
                self.mapping(v, "`set`");
            }
            ("log", _) => {
                if let Some(level) = get(node, "level")
                    && !matches!(as_str(level), Some("debug" | "info" | "warn" | "error"))
                {
                    self.report(level, "`level` is debug, info, warn or error");
                }
            }
            _ => {}
        }
        for key in ["log", "set", "map", "for_each", "fail", "delay", "respond"] {
            if key == action
                && let Some(v) = value
            {
                self.value(v, scope);
            }
        }
        if action == "call" {
            for key in ["with", "account"] {
                if let Some(v) = get(node, key) {
                    self.value(v, scope);
                }
            }
        }
        // Nested steps.
        match action {
            "if" => {
                match get(node, "then") {
                    Some(t) => self.steps(t, scope, "`then`"),
                    None => self.report(node, "an `if` step needs `then:` with the steps to run when it holds"),
                }
                if let Some(e) = get(node, "else") {
                    self.steps(e, scope, "`else`");
                }
            }
            "switch" => {
                match get(node, "cases") {
                    Some(c) if self.mapping(c, "`cases`") => {
                        for (_, steps) in entries(c) {
                            self.steps(steps, scope, "a case");
                        }
                    }
                    Some(_) => {}
                    None => self.report(node, "a `switch` step needs `cases:` mapping values to steps"),
                }
                if let Some(d) = get(node, "default") {
                    self.steps(d, scope, "`default`");
                }
            }
            "for_each" => {
                let name = match get(node, "as") {
                    Some(a) => match self.string(a, "`as`") {
                        Some(n) if is_identifier(&n) => n,
                        Some(_) => {
                            self.report(a, "`as` is a name: letters, digits and `_`");
                            "item".into()
                        }
                        None => "item".into(),
                    },
                    None => "item".into(),
                };
                if let Some(c) = get(node, "concurrency") {
                    self.positive(c, "`concurrency`");
                }
                match get(node, "do") {
                    Some(body) => {
                        scope.locals.push(name);
                        scope.locals.push("loop".into());
                        self.steps(body, scope, "`do`");
                        scope.locals.truncate(scope.locals.len() - 2);
                    }
                    None => self.report(node, "a `for_each` step needs `do:` with the steps to run for each item"),
                }
            }
            _ => {}
        }
        if let Some(on_error) = get(node, "on_error") {
            match &on_error.data {
                YamlData::Value(Scalar::String(s)) if s == "fail" || s == "continue" => {}
                YamlData::Sequence(_) => {
                    scope.locals.push("error".into());
                    self.steps(on_error, scope, "`on_error`");
                    scope.locals.pop();
                }
                _ => self.report(on_error, "`on_error` is `fail`, `continue` or a list of steps"),
            }
        }
    }

    fn retry(&mut self, node: &MarkedYaml<'_>) {
        if !self.mapping(node, "`retry`") {
            return;
        }
        self.keys(node, RETRY, "`retry`");
        if let Some(a) = get(node, "attempts") {
            self.positive(a, "`retry.attempts`");
        }
        for key in ["initial", "max"] {
            if let Some(d) = get(node, key) {
                self.duration(d, &format!("`retry.{key}`"));
            }
        }
    }

    fn component(&mut self, root: &MarkedYaml<'_>) {
        if !self.mapping(root, "a component file") {
            return;
        }
        self.keys(root, TOP, "a component");
        match get(root, "component") {
            Some(c) => {
                if let Some(name) = self.string(c, "`component`")
                    && ComponentName::parse(&name).is_err()
                {
                    self.report(c, "a component name uses lower-case letters, digits and `-` (e.g. `github-issues`)");
                }
            }
            None => self.report(root, "a component file needs `component: <name>`"),
        }
        if let Some(retention) = get(root, "retention")
            && self.mapping(retention, "`retention`")
        {
            self.keys(retention, RETENTION, "`retention`");
            for (k, v) in entries(retention) {
                if let Some(key) = as_str(k).filter(|k| RETENTION.contains(k)) {
                    self.duration(v, &format!("`retention.{key}`"));
                }
            }
        }
        if let Some(config) = get(root, "config")
            && self.mapping(config, "`config`")
        {
            for (k, spec) in entries(config) {
                let Some(key) = as_str(k) else { continue };
                let valid = ConfigKey::parse(key).is_ok();
                if !valid {
                    self.report(k, "a config key starts with a lower-case letter, then letters, digits or `_`");
                }
                self.config.insert(key.to_string());
                if self.mapping(spec, "a config entry") {
                    self.keys(spec, CONFIG, "a config entry");
                    self.account_config(key, spec);
                    match get(spec, "type") {
                        Some(t) if matches!(as_str(t), Some(s) if CONFIG_TYPES.contains(&s)) => {}
                        Some(t) => self.report(t, format!("a config type is one of: {}", CONFIG_TYPES.join(", "))),
                        None => {
                            self.report(spec, format!("config `{key}` needs `type:` ({})", CONFIG_TYPES.join(", ")))
                        }
                    }
                }
            }
        }
        match get(root, "trigger") {
            Some(t) if self.mapping(t, "`trigger`") => {
                self.keys(t, TRIGGER, "`trigger`");
                match get(t, "type").map(|ty| (ty, as_str(ty))) {
                    Some((_, Some(ty))) if TRIGGER_TYPES.contains(&ty) => {
                        self.http = ty == "http";
                        self.kind = TRIGGER_TYPES.iter().copied().find(|k| *k == ty);
                    }
                    Some((node, _)) => {
                        self.report(node, format!("trigger type available in this build: {}", TRIGGER_TYPES.join(", ")))
                    }
                    None => self.report(t, "a trigger needs `type:`"),
                }
                if let Some(with) = get(t, "with")
                    && self.mapping(with, "`trigger.with`")
                {
                    if self.http {
                        self.keys(with, HTTP_SETTINGS, "an http trigger's `with`");
                        for key in ["rate_limit", "rate_limit_per_ip"] {
                            if let Some(r) = get(with, key) {
                                self.rate(r);
                            }
                        }
                        if let Some(sec) = get(with, "security")
                            && self.mapping(sec, "`trigger.with.security`")
                        {
                            let scheme = get(sec, "scheme").and_then(as_str);
                            let known: &[&str] = if scheme == Some("oauth2") {
                                &["scheme", "scopes", "issuer", "jwks_url", "audience"]
                            } else {
                                &["scheme", "in", "name"]
                            };
                            self.keys(sec, known, "`trigger.with.security`");
                            match get(sec, "scheme") {
                                Some(s) if matches!(as_str(s), Some("none" | "api_key" | "oauth2")) => {}
                                Some(s) => self.report(s, "`security.scheme` is `none`, `api_key` or `oauth2`"),
                                None => self.report(sec, "`security` needs `scheme:` (`none`, `api_key` or `oauth2`)"),
                            }
                            if let Some(place) = get(sec, "in")
                                && !matches!(as_str(place), Some("header" | "query"))
                            {
                                self.report(place, "`security.in` is `header` or `query`");
                            }
                            if scheme == Some("oauth2") {
                                self.oauth2_security(root, sec);
                            }
                        }
                    } else if let Some(kind) = self.kind {
                        let names: Vec<&str> =
                            onset_model::catalog::settings(kind).unwrap_or_default().iter().map(|s| s.name).collect();
                        self.keys(with, &names, &format!("a {kind} trigger's `with`"));
                    }
                    let scope = Scope { ids: HashSet::new(), locals: Vec::new() };
                    for (k, v) in entries(with) {
                        if as_str(k) == Some("delivery_id") {
                            if let Some(s) = as_str(v) {
                                let src = s.to_string();
                                self.names(v, &src, true, &scope, &["meta"]);
                            }
                        } else if let (Some(kind), Some("external_id")) = (self.kind, as_str(k))
                            && onset_model::catalog::STREAM_TYPES.contains(&kind)
                        {
                            // Evaluated for each message.
                            if let Some(s) = as_str(v) {
                                let src = s.to_string();
                                self.names(v, &src, true, &scope, &["config", "event", "message", "headers"]);
                            }
                        } else if let (Some("poll"), Some(key @ ("url" | "items" | "id" | "cursor"))) =
                            (self.kind, as_str(k))
                        {
                            // Evaluated at each poll, over the answer and the item.
                            let roots: &[&str] = match key {
                                "url" => &["config", "cursor"],
                                "id" => &["config", "response", "item"],
                                _ => &["config", "response"],
                            };
                            if let Some(s) = as_str(v) {
                                let src = s.to_string();
                                self.names(v, &src, true, &scope, roots);
                            }
                        } else {
                            self.settings(v, &scope);
                        }
                    }
                }
            }
            Some(_) => {}
            None => self.report(root, "a component file needs `trigger:` with a `type`"),
        }
        if let Some(handlers) = get(root, "handlers")
            && self.mapping(handlers, "`handlers`")
        {
            for (channel_node, events) in entries(handlers) {
                let channel = as_str(channel_node).unwrap_or("").to_string();
                if self.http && !channel.starts_with('/') {
                    self.report(
                        channel_node,
                        "an http trigger's channels are resource paths starting with `/` (e.g. `/orders/{id}`)",
                    );
                }
                if !self.mapping(events, "a channel's handlers") {
                    continue;
                }
                for (event_node, handler) in entries(events) {
                    let event = as_str(event_node).unwrap_or("");
                    if self.http && !onset_model::HTTP_METHODS.contains(&event) {
                        self.report(
                            event_node,
                            format!(
                                "an http trigger's events are HTTP methods ({})",
                                onset_model::HTTP_METHODS.join(", ")
                            ),
                        );
                    }
                    if let Some(kind) = self.kind
                        && let Err(message) = onset_model::catalog::check_handler(kind, &channel, event)
                    {
                        self.report(event_node, message);
                    }
                    if !self.mapping(handler, "a handler") {
                        continue;
                    }
                    self.keys(handler, HANDLER, "a handler");
                    if let Some(r) = get(handler, "retry") {
                        self.retry(r);
                    }
                    if let Some(c) = get(handler, "concurrency") {
                        self.positive(c, "`concurrency`");
                    }
                    if let Some(schema) = get(handler, "schema") {
                        self.mapping(schema, "`schema` (a JSON Schema of the request body)");
                    }
                    if let Some(r) = get(handler, "rate_limit") {
                        if self.http {
                            self.rate(r);
                        } else {
                            self.report(
                                r,
                                "`rate_limit` bounds requests to an http trigger's resource; this trigger takes none",
                            );
                        }
                    }
                    let mut scope = Scope { ids: HashSet::new(), locals: Vec::new() };
                    match get(handler, "steps") {
                        Some(steps) => self.steps(steps, &mut scope, "`steps`"),
                        None => self.report(handler, "a handler needs `steps:`"),
                    }
                }
            }
        }
    }

    /// Trigger settings read only `config`.
    fn settings(&mut self, node: &MarkedYaml<'_>, scope: &Scope) {
        match &node.data {
            YamlData::Value(Scalar::String(s)) if onset_expr::is_template_text(s) => {
                let src = s.to_string();
                self.names(node, &src, true, scope, &["config"]);
            }
            YamlData::Sequence(items) => items.iter().for_each(|i| self.settings(i, scope)),
            YamlData::Mapping(_) => {
                for (_, v) in entries(node) {
                    self.settings(v, scope);
                }
            }
            _ => {}
        }
    }
}

/// Every problem in one component file, in the order they appear.
pub fn validate_component(file: &Path, text: &str, connectors: &dyn Connectors) -> Vec<Diagnostic> {
    let docs = match MarkedYaml::load_from_str(text) {
        Ok(d) => d,
        Err(e) => {
            let m = e.marker();
            return vec![Diagnostic {
                file: file.to_path_buf(),
                line: m.line(),
                column: m.col() + 1,
                found: String::new(),
                message: format!("YAML syntax: {}", e.info()),
            }];
        }
    };
    let Some(root) = docs.first() else {
        return vec![Diagnostic {
            file: file.to_path_buf(),
            line: 1,
            column: 1,
            found: String::new(),
            message: "the file is empty; a component file starts with `component: <name>`".into(),
        }];
    };
    let mut v = V {
        file,
        text,
        connectors,
        config: HashSet::new(),
        accounts: std::collections::HashMap::new(),
        http: false,
        kind: None,
        out: Vec::new(),
    };
    v.component(root);
    v.out.sort_by_key(|d| (d.line, d.column));
    v.out
}
