//! Trigger types the server runs on a clock: `schedule` (a tick at each due time) and `poll`
//! (an HTTP request at each due time, new items become events).

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use onset_model::catalog::EventName;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use super::host::{Host, now_ms, rfc3339};
use super::{Built, Intake, Trigger, TriggerSource, only};
use crate::Verifier;
use crate::schedule::{CatchUp, Cron, Every, due};

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
    fn run(&self, host: Arc<dyn Host>, stop: CancellationToken) -> Option<BoxFuture<'static, ()>> {
        Some(Box::pin(self.clone().run(host, stop)))
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
    fn run(&self, host: Arc<dyn Host>, stop: CancellationToken) -> Option<BoxFuture<'static, ()>> {
        Some(Box::pin(self.clone().run(host, stop)))
    }
}

/// Where the next due time is kept: with the settings it belongs to.
async fn stored_next(host: &dyn Host, key: &str, timing: &Timing) -> Option<i64> {
    let text = host.state(key).await.ok()??;
    let v: Value = serde_json::from_str(&text).ok()?;
    (v["spec"].as_str() == Some(timing.spec.as_str())).then(|| v["next"].as_i64()).flatten()
}

async fn store_next(host: &dyn Host, key: &str, timing: &Timing, next: i64) {
    let v = serde_json::json!({ "next": next, "spec": timing.spec }).to_string();
    if let Err(e) = host.set_state(key, Some(v)).await {
        tracing::warn!(component = host.component(), environment = host.environment(), error = %e,
            "the next due time was not stored");
    }
}

/// Waits until `at` (unix ms); `false` when stopped first.
async fn sleep_until(at: i64, stop: &CancellationToken) -> bool {
    let wait = u64::try_from(at - now_ms()).unwrap_or(0);
    tokio::select! {
        () = tokio::time::sleep(std::time::Duration::from_millis(wait)) => true,
        () = stop.cancelled() => false,
    }
}

const SCHEDULE_NEXT: &str = "schedule.next";

impl Schedule {
    /// `ScheduleService.onTick` at each due time, with `{scheduled_at, fired_at}`.
    async fn run(self, host: Arc<dyn Host>, stop: CancellationToken) {
        let timing = &self.timing;
        let name = EventName::new("ScheduleService", "onTick");
        let mut next = match stored_next(&*host, SCHEDULE_NEXT, timing).await {
            Some(n) => n,
            None => {
                let Some(n) = timing.every.next_after(now_ms()) else { return };
                store_next(&*host, SCHEDULE_NEXT, timing, n).await;
                n
            }
        };
        loop {
            host.healthy(Some(next));
            if !sleep_until(next, &stop).await {
                return;
            }
            let now = now_ms();
            let (fires, after) = due(&timing.every, next, now, timing.catch_up);
            for at in fires {
                let payload = serde_json::json!({ "scheduled_at": rfc3339(at), "fired_at": rfc3339(now) });
                // The due time is the delivery id: fired twice (a crash before the next time
                // was stored), it runs once.
                let stored = host
                    .store(
                        &name,
                        Some(format!("tick:{at}")),
                        Bytes::from(payload.to_string()),
                        ("{}".into(), "{}".into()),
                    )
                    .await;
                if let Err(e) = stored {
                    host.failed(e, Some(next));
                    return;
                }
            }
            next = after;
            store_next(&*host, SCHEDULE_NEXT, timing, next).await;
        }
    }
}

const POLL_NEXT: &str = "poll.next";
const POLL_CURSOR: &str = "poll.cursor";
/// Pages fetched at most in one poll.
const MAX_PAGES: usize = 100;

impl Poll {
    /// Asks the API at each due time; every item whose id was never seen is an event
    /// (`PollService.onNewItem`, the item as payload). The id is the delivery id, so an item
    /// seen again is a duplicate; a `cursor` is kept and given to the next request, and while
    /// one comes back with new items the next page is fetched at once.
    async fn run(self, host: Arc<dyn Host>, stop: CancellationToken) {
        let timing = &self.timing;
        // The first poll is at once; afterwards at each due time.
        let mut next = stored_next(&*host, POLL_NEXT, timing).await.unwrap_or_else(now_ms);
        loop {
            if !sleep_until(next, &stop).await {
                return;
            }
            let (fires, after) = due(&timing.every, next, now_ms(), timing.catch_up);
            next = after;
            if !fires.is_empty() {
                match self.poll_once(&*host).await {
                    Ok(()) => host.healthy(Some(next)),
                    Err(e) => {
                        tracing::warn!(component = host.component(), environment = host.environment(), error = %e,
                            "poll failed; trying again at the next due time");
                        host.failed(e, Some(next));
                    }
                }
            }
            store_next(&*host, POLL_NEXT, timing, next).await;
        }
    }

    async fn poll_once(&self, host: &dyn Host) -> Result<(), String> {
        let t = &self.templates;
        let name = EventName::new("PollService", "onNewItem");
        let config = host.config().clone();
        // Read once per poll; between pages the cursor is carried here (and kept as it moves).
        let mut cursor: Value =
            host.state(POLL_CURSOR).await?.and_then(|c| serde_json::from_str(&c).ok()).unwrap_or(Value::Null);
        for _ in 0..MAX_PAGES {
            let scope = onset_expr::from_json(&serde_json::json!({ "config": config, "cursor": cursor }));
            let url = t.program.eval(&t.url, &scope).map_err(|e| format!("trigger.with.url: {e}"))?;
            let url = url.as_str().map(str::to_string).unwrap_or_else(|| onset_expr::to_json(&url).to_string());
            let mut request = serde_json::json!({ "method": self.method, "url": url, "headers": self.headers });
            if let Some(b) = &self.body {
                request["body"] = b.clone();
            }
            let response =
                host.call("http.request", request).await.map_err(|e| format!("{} {url}: {e}", self.method))?;
            let status = response["status"].as_u64().unwrap_or(0);
            if !(200..300).contains(&status) {
                return Err(format!("{} {url} answered {status}", self.method));
            }
            let scope = onset_expr::from_json(&serde_json::json!({ "config": config, "response": response }));
            let items = t.program.eval(&t.items, &scope).map_err(|e| format!("trigger.with.items: {e}"))?;
            let items = onset_expr::to_json(&items);
            let Value::Array(items) = items else {
                return Err(format!("trigger.with.items gave {}, not a list", kind_of(&items)));
            };
            let mut new = 0;
            for item in &items {
                let scope =
                    onset_expr::from_json(&serde_json::json!({ "config": config, "response": response, "item": item }));
                let id = t.program.eval(&t.id, &scope).map_err(|e| format!("trigger.with.id: {e}"))?;
                let id = id.as_str().map(str::to_string).unwrap_or_else(|| onset_expr::to_json(&id).to_string());
                if id.is_empty() || id == "null" {
                    return Err("trigger.with.id gave no id for an item".into());
                }
                if host.store(&name, Some(id), Bytes::from(item.to_string()), ("{}".into(), "{}".into())).await? {
                    new += 1;
                }
            }
            let Some(cursor_template) = &t.cursor else { return Ok(()) };
            let next_cursor = onset_expr::to_json(
                &t.program.eval(cursor_template, &scope).map_err(|e| format!("trigger.with.cursor: {e}"))?,
            );
            if next_cursor.is_null() || next_cursor == cursor {
                return Ok(());
            }
            host.set_state(POLL_CURSOR, Some(next_cursor.to_string())).await?;
            cursor = next_cursor;
            if new == 0 || items.is_empty() {
                return Ok(());
            }
        }
        Ok(())
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
