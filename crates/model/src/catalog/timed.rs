//! `schedule` (`ScheduleService.onTick`) and `poll` (`PollService.onNewItem`).

use serde_json::{Value, json};

use super::{ChannelInfo, EventInfo};

/// `(channel, event, what fires it)`.
pub type Timed = (&'static str, &'static str, &'static str);

pub const SCHEDULE: Timed = ("ScheduleService", "onTick", "each due time of the cron or interval");
pub const POLL: Timed = ("PollService", "onNewItem", "each item whose id was never seen before");

pub fn accepts(t: Timed, channel: &str, handler: &str) -> bool {
    channel == t.0 && handler == t.1
}

pub fn channels(t: Timed) -> Vec<ChannelInfo> {
    vec![ChannelInfo {
        name: t.0.into(),
        events: vec![EventInfo { name: t.1.into(), source: t.2.into(), aliases: Vec::new() }],
    }]
}

pub fn sample(t: Timed, channel: &str, handler: &str) -> Option<Value> {
    if !accepts(t, channel, handler) {
        return None;
    }
    Some(if t == SCHEDULE {
        json!({ "scheduled_at": "2026-11-23T09:30:00Z", "fired_at": "2026-11-23T09:30:00.004Z" })
    } else {
        json!({ "id": 4711, "title": "An item as the API returns it", "updated_at": "2026-11-23T09:29:41Z" })
    })
}

pub fn schema(t: Timed, channel: &str, handler: &str) -> Option<Value> {
    if !accepts(t, channel, handler) {
        return None;
    }
    Some(if t == SCHEDULE {
        json!({ "$schema": "http://json-schema.org/draft-07/schema#", "title": "A schedule tick", "type": "object",
            "required": ["scheduled_at", "fired_at"],
            "properties": { "scheduled_at": { "type": "string", "format": "date-time" },
                "fired_at": { "type": "string", "format": "date-time" } } })
    } else {
        json!({ "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "An item of the polled API's answer (its shape is the API's)" })
    })
}
