//! `schedule`: `ScheduleService.onTick` at each due time, with `{scheduled_at, fired_at}`.

use std::sync::Arc;

use bytes::Bytes;
use onset_model::catalog::EventName;
use onset_sources::schedule::due;
use onset_store::time::rfc3339;
use tokio_util::sync::CancellationToken;

use super::{sleep_until, store_next, stored_next};
use crate::app::{App, now_ms};
use crate::deploy::Deployed;
use onset_sources::triggers::Timing;

const NEXT: &str = "schedule.next";

pub async fn run(app: Arc<App>, deployed: Arc<Deployed>, timing: Timing, token: CancellationToken) {
    let (component, environment) = (deployed.name().to_string(), deployed.environment.clone());
    let name = EventName::new("ScheduleService", "onTick");
    let mut next = match stored_next(&app, &component, &environment, NEXT, &timing).await {
        Some(n) => n,
        None => {
            let Some(n) = timing.every.next_after(now_ms()) else { return };
            store_next(&app, &component, &environment, NEXT, &timing, n).await;
            n
        }
    };
    loop {
        app.source_ok(&environment, &component, Some(next));
        if !sleep_until(next, &token).await {
            return;
        }
        let now = now_ms();
        let (fires, after) = due(&timing.every, next, now, timing.catch_up);
        for at in fires {
            let payload = serde_json::json!({ "scheduled_at": rfc3339(at), "fired_at": rfc3339(now) });
            // The due time is the delivery id: fired twice (a crash before the next time was
            // stored), it runs once.
            let stored = crate::ingress::store_delivery(
                &app,
                &deployed,
                &name,
                Some(format!("tick:{at}")),
                Bytes::from(payload.to_string()),
                ("{}".into(), "{}".into()),
                &token,
            )
            .await;
            if let Err(e) = stored {
                app.source_failed(&environment, &component, e, Some(next));
                return;
            }
        }
        next = after;
        store_next(&app, &component, &environment, NEXT, &timing, next).await;
    }
}
