//! A `call` step against its operation: the name, the account, and the literal parts of `with:`
//! against the operation's input schema. Templated values are only known when the step runs,
//! where the rendered input is checked against the same schema.

use saphyr::{MarkedYaml, Scalar, YamlData};
use serde_json::Value;

use super::{V, as_str, entries, get, kind};
use crate::connector::AccountUse;
use crate::shape;

/// The JSON type a YAML node will have once parsed.
fn yaml_type(node: &MarkedYaml<'_>) -> &'static str {
    match &node.data {
        YamlData::Value(Scalar::String(_)) => "string",
        YamlData::Value(Scalar::Integer(_)) => "integer",
        YamlData::Value(Scalar::FloatingPoint(_)) => "number",
        YamlData::Value(Scalar::Boolean(_)) => "boolean",
        YamlData::Value(Scalar::Null) => "null",
        YamlData::Sequence(_) => "array",
        YamlData::Mapping(_) => "object",
        _ => "unknown",
    }
}

/// A scalar's JSON value (mappings and lists are walked, not converted).
fn scalar_json(node: &MarkedYaml<'_>) -> Option<Value> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Some(Value::String(s.to_string())),
        YamlData::Value(Scalar::Integer(i)) => Some(Value::from(*i)),
        YamlData::Value(Scalar::FloatingPoint(f)) => Some(Value::from(f.into_inner())),
        YamlData::Value(Scalar::Boolean(b)) => Some(Value::Bool(*b)),
        YamlData::Value(Scalar::Null) => Some(Value::Null),
        _ => None,
    }
}

fn is_template(node: &MarkedYaml<'_>) -> bool {
    matches!(&node.data, YamlData::Value(Scalar::String(s)) if onset_expr::is_template_text(s))
}

/// Levenshtein distance, for "did you mean" on short names.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// ` (did you mean `x`?)` when a candidate is close.
pub(super) fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let best = candidates.into_iter().map(|c| (distance(name, c), c)).min();
    match best {
        Some((d, c)) if d <= 2.max(name.len() / 4) => format!(" (did you mean `{c}`?)"),
        _ => String::new(),
    }
}

impl V<'_> {
    /// A config entry of type `account` and its `connector` (the account type it takes).
    pub(super) fn account_config(&mut self, key: &str, spec: &MarkedYaml<'_>) {
        let is_account = get(spec, "type").and_then(as_str) == Some("account");
        let connector = get(spec, "connector");
        match (is_account, connector) {
            (false, Some(c)) => self.report(c, "`connector` belongs to a config entry of `type: account`"),
            (false, None) => {}
            (true, None) => {
                self.accounts.insert(key.to_string(), None);
            }
            (true, Some(c)) => {
                let Some(kind) = self.string(c, "`connector`") else { return };
                let known = self.connectors.account_types();
                if !known.is_empty() && !known.contains(&kind.as_str()) {
                    let hint = did_you_mean(&kind, known.iter().copied());
                    self.report(c, format!("`{kind}` is not an account type{hint}; types: {}", known.join(", ")));
                }
                self.accounts.insert(key.to_string(), Some(kind));
            }
        }
    }

    /// `account: "{{ config.KEY }}"`: KEY is a config entry of type `account`, of the type the
    /// operation uses.
    fn step_account(&mut self, node: &MarkedYaml<'_>, op: &str, need: Option<&str>) {
        let Some(text) = as_str(node) else {
            self.report(node, "`account` is an account's name, usually `\"{{ config.KEY }}\"`");
            return;
        };
        let Some(key) = text
            .trim()
            .strip_prefix("{{")
            .and_then(|t| t.strip_suffix("}}"))
            .and_then(|t| t.trim().strip_prefix("config."))
            .map(str::trim)
            .filter(|k| k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        else {
            return;
        };
        match self.accounts.get(key).cloned() {
            Some(Some(kind)) => {
                if let Some(need) = need
                    && !need.split('|').any(|n| n == kind)
                {
                    self.report(node, format!("`config.{key}` is a `{kind}` account; `{op}` needs a `{need}` one"));
                }
            }
            Some(None) => {}
            None if self.config.contains(key) => self.report(
                node,
                format!(
                    "`config.{key}` is not of type account: declare it `{key}: {{ type: account, connector: {} }}`",
                    need.unwrap_or("TYPE")
                ),
            ),
            // An undeclared key is reported with the other names the step reads.
            None => {}
        }
    }

    pub(super) fn call(&mut self, step: &MarkedYaml<'_>, name_node: &MarkedYaml<'_>, op: &str) {
        if !self.connectors.knows(op) {
            let names = self.connectors.operation_names();
            let hint = did_you_mean(op, names.iter().copied());
            self.report(
                name_node,
                format!("`{op}` is not a known operation{hint}; `onset catalog connectors` lists them"),
            );
            return;
        }
        let Some(info) = self.connectors.operation(op) else { return };
        if let Some(a) = get(step, "account") {
            let need = match info.account {
                AccountUse::Required(k) | AccountUse::Optional(k) => Some(k),
                AccountUse::None => None,
            };
            if need.is_some() {
                self.step_account(a, op, need);
            }
        }
        match (info.account, get(step, "account")) {
            (AccountUse::Required(kinds), None) => {
                let kind = kinds.split('|').next().unwrap_or(kinds);
                self.report(
                name_node,
                format!(
                    "`{op}` needs `account:` naming a `{kinds}` account, e.g. `account: \"{{{{ config.{kind} }}}}\"` \
                     with `config: {{ {kind}: {{ type: account, connector: {kind} }} }}`"
                ),
            )
            }
            (AccountUse::None, Some(a)) => self.report(a, format!("`{op}` takes no account; remove `account:`")),
            _ => {}
        }
        match get(step, "with") {
            Some(with) => self.input(with, info.input, "with", op),
            None if !shape::required(info.input).is_empty() => {
                let fields = shape::fields(info.input);
                self.report(name_node, format!("`{op}` needs `with:`; it takes {fields}"));
            }
            None => {}
        }
    }

    fn input(&mut self, node: &MarkedYaml<'_>, schema: &Value, at: &str, op: &str) {
        if is_template(node) {
            return;
        }
        let found = yaml_type(node);
        if let Some(alts) = shape::alternatives(schema) {
            let fitting: Vec<&Value> = alts.iter().filter(|a| shape::type_allowed(&shape::types(a), found)).collect();
            match fitting.as_slice() {
                [] => {
                    let expected: Vec<String> = alts.iter().map(|a| shape::expected_type(&shape::types(a))).collect();
                    self.report(
                        node,
                        format!("`{at}` of `{op}` is {}, expected {}", kind(node), expected.join(" or ")),
                    );
                }
                [one] => self.input(node, one, at, op),
                // Several alternatives take this type: the run-time check decides.
                _ => {}
            }
            return;
        }
        let allowed = shape::types(schema);
        if !shape::type_allowed(&allowed, found) {
            self.report(
                node,
                format!("`{at}` of `{op}` is {}, expected {}", kind(node), shape::expected_type(&allowed)),
            );
            return;
        }
        match &node.data {
            YamlData::Mapping(_) => {
                let pairs = entries(node);
                for name in shape::required(schema) {
                    if !pairs.iter().any(|(k, _)| as_str(k) == Some(name)) {
                        let fields = shape::fields(schema);
                        self.report(node, format!("`{at}` of `{op}` needs `{name}`; it takes {fields}"));
                    }
                }
                for (k, v) in pairs {
                    let Some(key) = as_str(k) else { continue };
                    match shape::property(schema, key) {
                        shape::Property::Forbidden => {
                            let names: Vec<&str> = schema
                                .get("properties")
                                .and_then(Value::as_object)
                                .map(|p| p.keys().map(String::as_str).collect())
                                .unwrap_or_default();
                            let hint = did_you_mean(key, names.iter().copied());
                            let fields = shape::fields(schema);
                            self.report(k, format!("`{key}` is not an input of `{op}`{hint}; it takes {fields}"));
                        }
                        shape::Property::Schema(sub) => self.input(v, sub, &format!("{at}.{key}"), op),
                        shape::Property::Any => {}
                    }
                }
            }
            YamlData::Sequence(items) => {
                if let Some(item) = schema.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        self.input(v, item, &format!("{at}[{i}]"), op);
                    }
                }
            }
            _ => {
                if let Some(value) = scalar_json(node)
                    && let Err(problem) = shape::check(schema, &value, at)
                {
                    self.report(node, format!("{problem} (`{op}`)"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_names_are_suggested_and_far_ones_are_not() {
        assert_eq!(
            did_you_mean("slack.postMesage", ["slack.postMessage", "http.request"]),
            " (did you mean `slack.postMessage`?)"
        );
        assert_eq!(did_you_mean("chanel", ["channel", "text"]), " (did you mean `channel`?)");
        assert_eq!(did_you_mean("frobnicate", ["channel", "text"]), "");
    }
}
