//! Google Calendar end to end against a local fake of the Calendar API: watch at deploy, the
//! sync notification, changes turned into handler runs, a 410 full resync that runs nothing
//! twice, channel renewal before expiry, and stop at undeploy.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::fakes::{self, Calendar, Fake};
use crate::support::*;

fn component(api: &str) -> String {
    format!(
        r#"component: cal
trigger:
  type: google-calendar
  with:
    calendar_id: team@example.com
    account: "{{{{ config.account }}}}"
    api_url: {api}
    token_url: {api}/token
config:
  account: {{ type: json }}
handlers:
  CalendarService:
    onNewEvent: {{ steps: [ {{ log: "new {{{{ event.summary }}}}" }} ] }}
    onEventUpdate: {{ steps: [ {{ log: "updated {{{{ event.summary }}}}" }} ] }}
    onEventDelete: {{ steps: [ {{ log: "deleted {{{{ event.id }}}}" }} ] }}
"#
    )
}

fn options(api: &Fake) -> Options {
    let o = Options::new(&[("cal.yaml", &component(&api.base))]).env(
        "ONSET_CONFIG__CAL__ACCOUNT",
        r#"{"client_id":"cid","client_secret":"csecret","refresh_token":"1//refresh"}"#,
    );
    Options { public_url: Some("https://hooks.example.com".into()), ..o }
}

async fn notify(s: &TestServer, channel: &(String, String), state: &str, number: u32) -> reqwest::Response {
    s.client
        .post(s.url("/hooks/development/cal"))
        .header("content-type", "application/json; utf-8")
        .header("x-goog-channel-id", &channel.0)
        .header("x-goog-channel-token", &channel.1)
        .header("x-goog-channel-expiration", "Tue, 19 Nov 2026 01:13:52 GMT")
        .header("x-goog-resource-id", "res-team-calendar")
        .header(
            "x-goog-resource-uri",
            "https://www.googleapis.com/calendar/v3/calendars/team@example.com/events?alt=json",
        )
        .header("x-goog-resource-state", state)
        .header("x-goog-message-number", number.to_string())
        .send()
        .await
        .unwrap()
}

/// `(event, delivery_id, run output)` of every stored event, oldest first, once `n` have run.
async fn handled(s: &TestServer, n: usize) -> Vec<(String, String, String)> {
    for _ in 0..500 {
        let events = s.events().await;
        if events.len() >= n {
            let mut out = Vec::new();
            for e in events.iter().rev() {
                let id = e["id"].as_str().unwrap();
                let run = s.wait_run_status(id, "succeeded").await;
                out.push((
                    e["event"].as_str().unwrap().to_string(),
                    e["delivery_id"].as_str().unwrap().to_string(),
                    run["steps"][0]["output"].as_str().unwrap().to_string(),
                ));
            }
            return out;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("expected {n} events, have {:#?}", s.events().await);
}

fn watch_channel(api: &Fake) -> (String, String) {
    let watch = api.seen().into_iter().rfind(|r| r.path.ends_with("/events/watch")).expect("a watch request");
    (watch.body["id"].as_str().unwrap().to_string(), watch.body["token"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn sync_changes_and_a_410_full_resync_without_duplicates() {
    let calendar = Arc::new(Mutex::new(Calendar::default()));
    calendar.lock().unwrap().put("standup", "\"1\"", "confirmed", "Standup");
    let api = fakes::google(calendar.clone()).await;
    let s = start_with(options(&api)).await;

    // Deploy: token refresh, events.watch with a fresh channel, then the baseline listing.
    let seen = api.take();
    let token = &seen[0];
    assert_eq!((token.method.as_str(), token.path.as_str()), ("POST", "/token"));
    assert_eq!(token.body, "grant_type=refresh_token&client_id=cid&client_secret=csecret&refresh_token=1%2F%2Frefresh");
    let watch = seen.iter().find(|r| r.path.ends_with("/events/watch")).unwrap();
    assert_eq!(watch.path, "/calendars/team%40example.com/events/watch");
    assert_eq!(watch.headers["authorization"], "Bearer ya29.fresh");
    assert_eq!(watch.body["type"], "web_hook");
    assert_eq!(watch.body["address"], "https://hooks.example.com/hooks/development/cal");
    assert!(watch.body["token"].as_str().unwrap().len() >= 32, "an unguessable channel token");
    let listing = seen.iter().rfind(|r| r.method == "GET").unwrap();
    assert!(!listing.query.contains_key("syncToken"), "the baseline is a full listing");
    let channel = (watch.body["id"].as_str().unwrap().to_string(), watch.body["token"].as_str().unwrap().to_string());

    // The sync message starts the channel: answered, nothing stored.
    let r = notify(&s, &channel, "sync", 1).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "");
    // A wrong token or channel is refused and fetches nothing.
    let r = notify(&s, &(channel.0.clone(), "guess".into()), "exists", 2).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = notify(&s, &("other-channel".into(), channel.1.clone()), "exists", 2).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(api.take().iter().all(|r| r.method != "GET"));
    assert!(s.events().await.is_empty());

    // Changes: a new event (three pages with the one below) and an update.
    {
        let mut c = calendar.lock().unwrap();
        c.put("review", "\"2\"", "confirmed", "Design review");
        c.put("standup", "\"3\"", "confirmed", "Standup (moved)");
        c.put("retro", "\"4\"", "confirmed", "Retro");
    }
    assert_eq!(notify(&s, &channel, "exists", 3).await.status(), StatusCode::OK);
    let got = handled(&s, 3).await;
    assert_eq!(
        got,
        [
            ("onNewEvent".into(), "review:\"2\"".into(), "new Design review".into()),
            ("onEventUpdate".into(), "standup:\"3\"".into(), "updated Standup (moved)".into()),
            ("onNewEvent".into(), "retro:\"4\"".into(), "new Retro".into()),
        ]
    );
    let taken = api.take();
    assert!(taken.iter().all(|r| r.path != "/token"), "the access token is reused until it expires");
    let lists: Vec<_> = taken.into_iter().filter(|r| r.method == "GET").collect();
    assert_eq!(lists[0].query.get("syncToken").map(String::as_str), Some("sync-1"), "the baseline's token");
    assert_eq!(lists.len(), 2, "two pages");

    // Review is deleted and a planning event added while the sync token expires: 410, full
    // resync, the deletion found by comparison, nothing already run runs again.
    {
        let mut c = calendar.lock().unwrap();
        let expired = c.token();
        c.expired.push(expired);
        c.put("review", "\"5\"", "cancelled", "");
        c.put("planning", "\"6\"", "confirmed", "Planning");
    }
    assert_eq!(notify(&s, &channel, "exists", 4).await.status(), StatusCode::OK);
    let got = handled(&s, 5).await;
    assert_eq!(got.len(), 5, "{got:#?}");
    let rest: Vec<_> = got[3..].iter().map(|(e, _, o)| (e.as_str(), o.as_str())).collect();
    assert!(rest.contains(&("onEventDelete", "deleted review")), "{rest:?}");
    assert!(rest.contains(&("onNewEvent", "new Planning")), "{rest:?}");
    let lists: Vec<_> = api.take().into_iter().filter(|r| r.method == "GET").collect();
    assert_eq!(lists[0].query.get("syncToken").map(String::as_str), Some("sync-4"));
    assert!(!lists.last().unwrap().query.contains_key("syncToken"), "the resync lists everything");

    // A notification with nothing new runs nothing.
    assert_eq!(notify(&s, &channel, "exists", 5).await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.events().await.len(), 5);
    // The channel token never reaches storage.
    let e = &s.events().await[0];
    let stored = s.get(&format!("/api/v1/events/{}", e["id"].as_str().unwrap())).await;
    assert_eq!(stored["headers"]["x-goog-channel-token"], "[redacted]");
    assert_eq!(stored["channel"], "CalendarService");
}

#[tokio::test]
async fn channels_are_renewed_before_expiry_and_stopped_at_undeploy() {
    let calendar = Arc::new(Mutex::new(Calendar::default()));
    // The first channel expires in ten minutes: within the renewal margin of an hour.
    calendar.lock().unwrap().next_expiration = Some(now_secs() * 1000 + 600_000);
    let api = fakes::google(calendar.clone()).await;
    let options = Options { renewal: Some((Duration::from_secs(3600), Duration::from_millis(100))), ..options(&api) };
    let s = start_with(options).await;
    let first = watch_channel(&api);

    let mut renewed = None;
    for _ in 0..100 {
        let stops: Vec<_> = api.seen().into_iter().filter(|r| r.path == "/channels/stop").collect();
        if let Some(stop) = stops.first() {
            renewed = Some(stop.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stop = renewed.expect("the channel was renewed and the old one stopped");
    assert_eq!(stop.body, serde_json::json!({ "id": first.0, "resourceId": "res-team-calendar" }));
    let second = watch_channel(&api);
    assert_ne!(first.0, second.0, "a renewal opens a channel with a new id");
    let watches = api.seen().iter().filter(|r| r.path.ends_with("/events/watch")).count();
    assert_eq!(watches, 2);
    // Both channels are accepted while they overlap.
    assert_eq!(notify(&s, &second, "exists", 1).await.status(), StatusCode::OK);
    assert_eq!(notify(&s, &first, "exists", 9).await.status(), StatusCode::OK);

    // The renewed channel has a week: no more renewals.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(api.seen().iter().filter(|r| r.path.ends_with("/events/watch")).count(), 2);

    api.take();
    let r = s.api.delete(s.url("/api/v1/components/cal")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let stop = api.take().into_iter().find(|r| r.path == "/channels/stop").expect("undeploy stops the channel");
    assert_eq!(stop.body["id"], Value::String(second.0.clone()));
}

#[tokio::test]
async fn google_needs_an_https_public_url() {
    let calendar = Arc::new(Mutex::new(Calendar::default()));
    let api = fakes::google(calendar).await;
    let yaml = component(&api.base)
        .replace("\"{{ config.account }}\"", "ya29.token")
        .replace("config:\n  account: { type: json }\n", "");
    let err = deploy_error(&[("cal.yaml", &yaml)]).await;
    assert!(err.contains("--public-url"), "{err}");
}

#[tokio::test]
async fn the_trigger_takes_a_google_account_and_its_token_cache() {
    let calendar = Arc::new(Mutex::new(Calendar::default()));
    let api = fakes::google(calendar).await;
    let options = Options::new(&[]).env("ONSET_CONFIG__CAL__ACCOUNT", "team-cal");
    let s = start_with(Options { public_url: Some("https://hooks.example.com".into()), ..options }).await;
    let r = s
        .api
        .put(s.url("/api/v1/accounts/team-cal?environment=development"))
        .json(&serde_json::json!({ "type": "google", "fields": {
            "client_id": "cid", "client_secret": "csecret", "refresh_token": "1//refresh",
            "token_url": format!("{}/token", api.base) } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let yaml = component(&api.base)
        .replace("config:\n  account: { type: json }\n", "config:\n  account: { type: account, connector: google }\n");
    let r = s
        .api
        .post(s.url("/api/v1/deployments"))
        .json(&serde_json::json!({ "environment": "development", "source": yaml, "path": "components/cal.yaml" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let seen = api.take();
    let tokens: Vec<_> = seen.iter().filter(|r| r.path == "/token").collect();
    assert_eq!(tokens.len(), 1, "one token for the watch and the baseline listing");
    assert_eq!(
        tokens[0].body,
        "grant_type=refresh_token&client_id=cid&client_secret=csecret&refresh_token=1%2F%2Frefresh"
    );
    let watch = seen.iter().find(|r| r.path.ends_with("/events/watch")).unwrap();
    assert_eq!(watch.headers["authorization"], "Bearer ya29.fresh");
    // `onset account test` asks the token endpoint itself, never the cache.
    let r = s.api.post(s.url("/api/v1/accounts/team-cal/test?environment=development")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    assert_eq!(api.take().iter().filter(|r| r.path == "/token").count(), 1);
}
