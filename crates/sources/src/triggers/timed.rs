//! Trigger types the server runs on a clock: `schedule` (a tick at each due time) and `poll`
//! (an HTTP request at each due time, new items become events).

use std::any::Any;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Built, Intake, Trigger, TriggerSource, only};
use crate::Verifier;
use crate::schedule::{CatchUp, Cron, Every};

/// When a schedule fires or a poller asks, and what to do with times missed while down.
#[derive(Debug, Clone)]
pub struct Timing {
    pub every: Every,
    pub catch_up: CatchUp,
    /// The settings as written: a stored next time belongs to these.
    pub spec: String,
}

const TIMING_SETTINGS: &[&str] = &["cron", "interval", "timezone", "catch_up"];

fn timing(with: &Value, minimum: std::time::Duration) -> Result<Timing, String> {
    let cron = with.get("cron").and_then(Value::as_str);
    let interval = with.get("interval").and_then(Value::as_str);
    let every = match (cron, interval) {
        (Some(c), None) => {
            let tz_name = with.get("timezone").and_then(Value::as_str).unwrap_or("UTC");
            let tz = jiff::tz::TimeZone::get(tz_name)
                .map_err(|_| format!("trigger.with.timezone `{tz_name}` is not a time zone (e.g. Europe/Berlin)"))?;
            Every::Cron(c.parse::<Cron>().map_err(|e| format!("trigger.with.cron: {e}"))?, tz)
        }
        (None, Some(i)) => {
            let d: onset_model::Duration = i.parse().map_err(|e| format!("trigger.with.interval: {e}"))?;
            if d.as_std() < minimum {
                return Err(format!("trigger.with.interval is at least {}s", minimum.as_secs()));
            }
            Every::Interval(d.as_std())
        }
        (Some(_), Some(_)) => return Err("trigger.with has both `cron` and `interval`; keep one".into()),
        (None, None) => return Err("trigger.with needs `cron` (e.g. \"*/5 * * * *\") or `interval` (e.g. 30s)".into()),
    };
    let catch_up = match with.get("catch_up") {
        None | Some(Value::Null) => CatchUp::default(),
        Some(v) => {
            serde_json::from_value(v.clone()).map_err(|_| "trigger.with.catch_up is none, one or all".to_string())?
        }
    };
    let spec = serde_json::json!([with.get("cron"), with.get("interval"), with.get("timezone")]).to_string();
    Ok(Timing { every, catch_up, spec })
}

/// `schedule`: `ScheduleService.onTick` at each due time.
pub struct ScheduleSource;

#[derive(Debug, Clone)]
pub struct Schedule {
    pub timing: Timing,
}

impl TriggerSource for ScheduleSource {
    fn kind(&self) -> &'static str {
        "schedule"
    }
    fn intake(&self) -> Intake {
        Intake::Task
    }
    fn build(&self, with: &Value, _deferred: &Map<String, Value>) -> Result<Built, String> {
        only("schedule", with, TIMING_SETTINGS)?;
        let timing = timing(with, std::time::Duration::from_secs(1))?;
        Ok(Built { verifier: Verifier::none(), trigger: Box::new(Schedule { timing }) })
    }
}

impl Trigger for Schedule {
    fn kind(&self) -> &'static str {
        "schedule"
    }
    fn single(&self) -> bool {
        true
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `poll`: the request a poller makes and how it reads the answer; `url`, `items`, `id` and
/// `cursor` are templates evaluated at each poll.
pub struct PollSource;

#[derive(Clone)]
pub struct Poll {
    pub timing: Timing,
    pub method: String,
    pub headers: Map<String, Value>,
    pub body: Option<Value>,
    pub templates: Arc<PollTemplates>,
}

impl std::fmt::Debug for Poll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poll").field("method", &self.method).finish_non_exhaustive()
    }
}

pub struct PollTemplates {
    pub program: onset_expr::Program,
    pub url: onset_expr::Compiled,
    pub items: onset_expr::Compiled,
    pub id: onset_expr::Compiled,
    pub cursor: Option<onset_expr::Compiled>,
}

/// Keys of a `poll` trigger that are templates over the answer, left unrendered at deploy.
const POLL_TEMPLATES: &[&str] = &["url", "items", "id", "cursor"];

impl TriggerSource for PollSource {
    fn kind(&self) -> &'static str {
        "poll"
    }
    fn intake(&self) -> Intake {
        Intake::Task
    }
    fn deferred(&self) -> &'static [&'static str] {
        POLL_TEMPLATES
    }
    fn build(&self, with: &Value, deferred: &Map<String, Value>) -> Result<Built, String> {
        let mut allowed = TIMING_SETTINGS.to_vec();
        allowed.extend(["method", "headers", "body"]);
        only("poll", with, &allowed)?;
        let timing = timing(with, std::time::Duration::from_secs(1))?;
        let method = with.get("method").and_then(Value::as_str).unwrap_or("GET").to_ascii_uppercase();
        if method != "GET" && method != "POST" {
            return Err(format!("trigger.with.method is GET or POST, not {method}"));
        }
        let headers = match with.get("headers") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err("trigger.with.headers is a mapping of header names to values".into()),
        };
        let mut c = onset_expr::Compiler::new();
        let mut template = |key: &str, required: bool| -> Result<Option<onset_expr::Compiled>, String> {
            match deferred.get(key) {
                Some(Value::String(t)) => c.string(t).map(Some).map_err(|e| format!("trigger.with.{key}: {e}")),
                Some(_) => Err(format!("trigger.with.{key} is a template string")),
                None if required => Err(format!("a poll trigger needs trigger.with.{key}")),
                None => Ok(None),
            }
        };
        let url = template("url", true)?;
        let items = template("items", true)?;
        let id = template("id", true)?;
        let cursor = template("cursor", false)?;
        let program = c.finish().map_err(|e| e.to_string())?;
        let (Some(url), Some(items), Some(id)) = (url, items, id) else {
            return Err("a poll trigger needs url, items and id".into());
        };
        let poll = Poll {
            timing,
            method,
            headers,
            body: with.get("body").cloned().filter(|b| !b.is_null()),
            templates: Arc::new(PollTemplates { program, url, items, id, cursor }),
        };
        Ok(Built { verifier: Verifier::none(), trigger: Box::new(poll) })
    }
}

impl Trigger for Poll {
    fn kind(&self) -> &'static str {
        "poll"
    }
    fn single(&self) -> bool {
        true
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
