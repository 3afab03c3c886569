//! Secret config values, kept out of everything a run leaves behind: its records, its failure
//! message and the process's own log.

use std::borrow::Cow;

use onset_model::{Component, ConfigType};

use crate::RunOutcome;

pub use onset_model::REDACTED;

/// The values of a build's `secret` config keys, as they are and as they appear inside JSON text.
#[derive(Debug, Default, Clone)]
pub struct Secrets(Vec<String>);

impl Secrets {
    pub fn of(component: &Component, config: &serde_json::Value) -> Secrets {
        let values = component
            .config
            .iter()
            .filter(|(_, spec)| spec.kind == ConfigType::Secret)
            .filter_map(|(key, _)| config.get(key.as_str()).and_then(serde_json::Value::as_str));
        Secrets::from_values(values)
    }

    /// Secrets from their values (empty ones skipped).
    pub fn from_values<'a>(values: impl IntoIterator<Item = &'a str>) -> Secrets {
        let mut list = Vec::new();
        for text in values.into_iter().filter(|t| !t.is_empty()) {
            list.push(text.to_string());
            let escaped = serde_json::Value::String(text.to_string()).to_string();
            let inner = &escaped[1..escaped.len() - 1];
            if inner != text {
                list.push(inner.to_string());
            }
        }
        // Longer first, so a secret containing another is replaced whole.
        list.sort_by_key(|s| std::cmp::Reverse(s.len()));
        list.dedup();
        Secrets(list)
    }

    /// `text` with every secret value replaced by `[redacted]`; borrowed when there is none.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.0 {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Redacts every recorded input, output, error and log line of a run, and its failure.
    pub(crate) fn redact_outcome(&self, outcome: &mut RunOutcome) {
        if self.is_empty() {
            return;
        }
        let mut fix = |text: &mut String| {
            if let Cow::Owned(clean) = self.redact(text) {
                *text = clean;
            }
        };
        for step in &mut outcome.steps {
            for field in [&mut step.input, &mut step.output, &mut step.error] {
                if let Some(text) = field.as_mut() {
                    fix(text);
                }
            }
            step.logs.iter_mut().for_each(&mut fix);
        }
        if let Err(f) = &mut outcome.result {
            fix(&mut f.message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_replaced_whole_and_inside_json_text() {
        let s = Secrets(vec!["a\\\"b".into(), "a\"b".into(), "tok".into()]);
        assert_eq!(s.redact("key tok."), "key [redacted].");
        assert_eq!(s.redact(r#"{"k":"a\"b"}"#), r#"{"k":"[redacted]"}"#);
        assert!(matches!(s.redact("nothing here"), Cow::Borrowed(_)));
    }
}
