//! Google Calendar: `CalendarService.onNewEvent`, `onEventUpdate`, `onEventDelete`, each with the
//! calendar event resource as payload.

use serde_json::{Value, json};

use super::{ChannelInfo, EventInfo};

pub const CHANNEL: &str = "CalendarService";
pub const NEW: &str = "onNewEvent";
pub const UPDATE: &str = "onEventUpdate";
pub const DELETE: &str = "onEventDelete";

pub fn accepts(channel: &str, handler: &str) -> bool {
    channel == CHANNEL && [NEW, UPDATE, DELETE].contains(&handler)
}

pub fn channels() -> Vec<ChannelInfo> {
    let events = [
        (NEW, "an event id not seen before"),
        (UPDATE, "a known event with a new etag"),
        (DELETE, "an event with status `cancelled`"),
    ];
    vec![ChannelInfo {
        name: CHANNEL.into(),
        events: events
            .iter()
            .map(|(name, source)| EventInfo { name: name.to_string(), source: source.to_string(), aliases: Vec::new() })
            .collect(),
    }]
}

pub fn sample(channel: &str, handler: &str) -> Option<Value> {
    if !accepts(channel, handler) {
        return None;
    }
    if handler == DELETE {
        return Some(json!({ "kind": "calendar#event", "etag": "\"3181161784712000\"",
            "id": "4eahs9ghkhrvkld72hogu9ph3e", "status": "cancelled" }));
    }
    let updated = if handler == NEW { "2026-11-20T09:00:00.000Z" } else { "2026-11-21T15:30:12.000Z" };
    Some(json!({
        "kind": "calendar#event", "etag": "\"3181161784712000\"", "id": "4eahs9ghkhrvkld72hogu9ph3e",
        "status": "confirmed", "htmlLink": "https://www.google.com/calendar/event?eid=NGVhaHM5Z2hraHJ2a2xkNzJob2d1OXBoM2Ug",
        "created": "2026-11-20T09:00:00.000Z", "updated": updated, "summary": "Design review",
        "description": "Walk through the trigger catalog", "location": "Room 4",
        "creator": { "email": "ada@example.com" }, "organizer": { "email": "ada@example.com", "self": true },
        "start": { "dateTime": "2026-11-25T10:00:00+01:00", "timeZone": "Europe/Berlin" },
        "end": { "dateTime": "2026-11-25T11:00:00+01:00", "timeZone": "Europe/Berlin" },
        "iCalUID": "4eahs9ghkhrvkld72hogu9ph3e@google.com", "sequence": 0,
        "attendees": [ { "email": "grace@example.com", "responseStatus": "needsAction" } ],
        "reminders": { "useDefault": true }, "eventType": "default"
    }))
}

/// The calendar event resource (the fields Google documents as always or commonly present).
pub fn schema(channel: &str, handler: &str) -> Option<Value> {
    if !accepts(channel, handler) {
        return None;
    }
    let time = json!({ "type": "object", "properties": { "date": { "type": "string" },
        "dateTime": { "type": "string" }, "timeZone": { "type": "string" } } });
    let person = json!({ "type": "object", "properties": { "email": { "type": "string" },
        "displayName": { "type": "string" }, "self": { "type": "boolean" } } });
    let status = if handler == DELETE { json!({ "const": "cancelled" }) } else { json!({ "type": "string" }) };
    Some(json!({
        "$schema": "http://json-schema.org/draft-07/schema#", "title": "Google Calendar event resource",
        "type": "object", "required": ["id", "etag", "status"],
        "properties": {
            "kind": { "const": "calendar#event" }, "id": { "type": "string" }, "etag": { "type": "string" },
            "status": status, "htmlLink": { "type": "string" }, "created": { "type": "string" },
            "updated": { "type": "string" }, "summary": { "type": "string" }, "description": { "type": "string" },
            "location": { "type": "string" }, "creator": person, "organizer": person, "start": time, "end": time,
            "recurrence": { "type": "array", "items": { "type": "string" } },
            "recurringEventId": { "type": "string" }, "iCalUID": { "type": "string" },
            "sequence": { "type": "integer" }, "attendees": { "type": "array", "items": person },
            "eventType": { "type": "string" }
        }
    }))
}
