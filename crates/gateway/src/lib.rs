//! API management in front of the ingress: rate limits ([`Limiter`]) and each API's OpenAPI
//! document ([`openapi`]).
//!
//! A limit is N requests per window (a second, minute, hour or day) under a key (an API, a
//! resource and method, a subscription, a client address). The first request opens the key's
//! window; N requests pass in it, N of them at once if they come at once, and the next ones are
//! refused until the window ends, with how long that is. Several limits are taken together or not
//! at all: a request refused by one does not count against the others.

pub mod jwt;
pub mod openapi;
pub mod postman;
pub mod security;
pub mod shared;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// One limit a request must fit in.
#[derive(Debug, Clone)]
pub struct Quota {
    /// What is counted: e.g. `development/orders` or `development/orders POST /orders`.
    pub key: Arc<str>,
    /// The policy's name in the `RateLimit-Policy` and `RateLimit` headers (`api`, `resource`).
    pub policy: &'static str,
    pub limit: u64,
    /// The window as the `RateLimit-Policy` header states it (`w=`).
    pub window: Duration,
    /// How long a window lasts once opened, when it is not `window`: a daily or monthly quota's
    /// window ends with its calendar period (its key names the period).
    pub ends_in: Option<Duration>,
}

/// A request over one of its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub policy: &'static str,
    pub limit: u64,
    pub window: Duration,
    /// Until the window ends, rounded up to whole seconds (at least 1).
    pub retry_after_secs: u64,
}

impl Refusal {
    /// The response headers of a 429: `Retry-After`, and the IETF `RateLimit-Policy` and
    /// `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers: `"name";q=<quota>;w=<window
    /// seconds>` and `"name";r=<remaining>;t=<seconds until the quota resets>`).
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            ("retry-after", self.retry_after_secs.to_string()),
            ("ratelimit-policy", format!("\"{}\";q={};w={}", self.policy, self.limit, self.window.as_secs().max(1))),
            ("ratelimit", format!("\"{}\";r=0;t={}", self.policy, self.retry_after_secs)),
        ]
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    opened: Instant,
    length: Duration,
    count: u64,
}

impl Window {
    fn open_at(&self, now: Instant) -> bool {
        now.duration_since(self.opened) < self.length
    }
}

/// Counts requests per key in this process.
#[derive(Debug, Default)]
pub struct Limiter {
    windows: Mutex<HashMap<Arc<str>, Window>>,
}

/// Windows kept before the ended ones are swept out.
const SWEEP_ABOVE: usize = 4096;

impl Limiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one request from every quota, or from none: the first quota that is used up
    /// answers the refusal.
    pub fn acquire(&self, quotas: &[&Quota], now: Instant) -> Result<(), Refusal> {
        if quotas.is_empty() {
            return Ok(());
        }
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        for q in quotas {
            if let Some(w) = windows.get(&q.key)
                && w.open_at(now)
                && w.count >= q.limit
            {
                let left = w.length.saturating_sub(now.duration_since(w.opened));
                let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                return Err(Refusal {
                    policy: q.policy,
                    limit: q.limit,
                    window: q.window,
                    retry_after_secs: secs.max(1),
                });
            }
        }
        if windows.len() > SWEEP_ABOVE {
            windows.retain(|_, w| w.open_at(now));
        }
        for q in quotas {
            match windows.get_mut(&q.key) {
                Some(w) if w.open_at(now) => w.count += 1,
                _ => {
                    let length = q.ends_in.unwrap_or(q.window);
                    windows.insert(Arc::clone(&q.key), Window { opened: now, length, count: 1 });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(key: &str, policy: &'static str, limit: u64, secs: u64) -> Quota {
        Quota { key: Arc::from(key), policy, limit, window: Duration::from_secs(secs), ends_in: None }
    }

    #[test]
    fn n_pass_in_a_window_and_the_next_waits_for_its_end() {
        let l = Limiter::new();
        let t0 = Instant::now();
        let q = quota("api", "api", 10, 1);
        let q = [&q];
        for i in 0..10 {
            assert!(l.acquire(&q, t0 + Duration::from_millis(i * 10)).is_ok(), "request {i}");
        }
        let refused = l.acquire(&q, t0 + Duration::from_millis(500)).unwrap_err();
        assert_eq!(refused, Refusal { policy: "api", limit: 10, window: Duration::from_secs(1), retry_after_secs: 1 });
        assert!(l.acquire(&q, t0 + Duration::from_millis(999)).is_err(), "still the first window");
        assert!(l.acquire(&q, t0 + Duration::from_millis(1000)).is_ok(), "a new window");
    }

    #[test]
    fn the_retry_is_when_the_window_ends() {
        let l = Limiter::new();
        let t0 = Instant::now();
        let q = quota("k", "resource", 1, 60);
        let q = [&q];
        l.acquire(&q, t0).unwrap();
        let r = l.acquire(&q, t0 + Duration::from_millis(20_500)).unwrap_err();
        assert_eq!(r.retry_after_secs, 40, "39.5 s left, rounded up");
        assert_eq!(
            r.headers(),
            [
                ("retry-after", "40".to_string()),
                ("ratelimit-policy", "\"resource\";q=1;w=60".to_string()),
                ("ratelimit", "\"resource\";r=0;t=40".to_string()),
            ]
        );
    }

    #[test]
    fn limits_are_taken_together_or_not_at_all() {
        let l = Limiter::new();
        let t0 = Instant::now();
        let api = quota("api", "api", 3, 1);
        let slow = quota("slow", "resource", 1, 1);
        let other = quota("other", "resource", 10, 1);
        l.acquire(&[&api, &slow], t0).unwrap();
        // The resource is used up: refused, and the API's count is not taken.
        assert_eq!(l.acquire(&[&api, &slow], t0).unwrap_err().policy, "resource");
        l.acquire(&[&api, &other], t0).unwrap();
        l.acquire(&[&api, &other], t0).unwrap();
        assert_eq!(l.acquire(&[&api, &other], t0).unwrap_err().policy, "api", "3 taken: 1 + 2");
        assert!(l.acquire(&[], t0).is_ok(), "no limit, no refusal");
    }

    #[test]
    fn a_quota_ends_with_its_period() {
        let l = Limiter::new();
        let t0 = Instant::now();
        // A daily quota of 2, opened 10 s before the day ends.
        let day = Quota { ends_in: Some(Duration::from_secs(10)), ..quota("sub day 1", "quota", 2, 86_400) };
        l.acquire(&[&day], t0).unwrap();
        l.acquire(&[&day], t0).unwrap();
        let r = l.acquire(&[&day], t0 + Duration::from_secs(3)).unwrap_err();
        assert_eq!((r.retry_after_secs, r.headers()[1].1.as_str()), (7, "\"quota\";q=2;w=86400"));
        assert!(l.acquire(&[&day], t0 + Duration::from_secs(10)).is_ok(), "the next day");
    }

    #[test]
    fn ended_windows_are_swept_out() {
        let l = Limiter::new();
        let t0 = Instant::now();
        for i in 0..(SWEEP_ABOVE + 10) {
            l.acquire(&[&quota(&format!("ip-{i}"), "api", 5, 1)], t0).unwrap();
        }
        l.acquire(&[&quota("late", "api", 5, 1)], t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(l.windows.lock().unwrap().len(), 1, "only the open window is kept");
    }
}
