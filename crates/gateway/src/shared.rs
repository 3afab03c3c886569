//! Limits that hold across nodes on one database. Each node takes a share of a quota's window
//! from the database (a chunk of [`chunk`] requests, never more than the limit in all) and spends
//! it locally, so the database is asked once per chunk, not once per request. Windows are aligned
//! to the clock (`floor(now / window)`), so every node counts the same one. Nothing is ever let
//! through over the limit; what nodes took and did not spend when a window ends is lost, at most
//! a chunk per node (a twentieth of the limit each).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::{Quota, Refusal};

/// Requests a node takes from the database at once for a quota.
pub fn chunk(limit: u64) -> u64 {
    (limit / 20).max(1)
}

/// The window of `q` at `now_ms`: (start, end) in ms. A quota whose window ends with a calendar
/// period names the period in its key, so its start is 0.
pub fn window(q: &Quota, now_ms: i64) -> (i64, i64) {
    match q.ends_in {
        Some(left) => (0, now_ms + i64::try_from(left.as_millis()).unwrap_or(i64::MAX / 4)),
        None => {
            let len = i64::try_from(q.window.as_millis()).unwrap_or(i64::MAX / 4).max(1);
            let start = now_ms - now_ms.rem_euclid(len);
            (start, start + len)
        }
    }
}

/// The refusal of `q` when its window is used up across the nodes.
pub fn refusal(q: &Quota, now_ms: i64) -> Refusal {
    let (_, end) = window(q, now_ms);
    let left_ms = u64::try_from(end - now_ms).unwrap_or(0);
    Refusal { policy: q.policy, limit: q.limit, window: q.window, retry_after_secs: left_ms.div_ceil(1000).max(1) }
}

/// A quota's key and the start of one of its windows.
type WindowId = (Arc<str>, i64);

/// What this node holds of each quota's current window.
#[derive(Debug, Default)]
pub struct Allowances {
    /// (key, window start) → (requests left, window end).
    held: Mutex<HashMap<WindowId, (u64, i64)>>,
}

impl Allowances {
    /// Spends one request of every quota, or of none: `Err` lists the quotas (by index) this
    /// node holds nothing of, to be taken from the database.
    pub fn spend(&self, quotas: &[&Quota], now_ms: i64) -> Result<(), Vec<usize>> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let lacking: Vec<usize> = quotas
            .iter()
            .enumerate()
            .filter(|(_, q)| {
                let (start, _) = window(q, now_ms);
                held.get(&(q.key.clone(), start)).is_none_or(|(left, _)| *left == 0)
            })
            .map(|(i, _)| i)
            .collect();
        if !lacking.is_empty() {
            return Err(lacking);
        }
        for q in quotas {
            let (start, _) = window(q, now_ms);
            if let Some((left, _)) = held.get_mut(&(q.key.clone(), start)) {
                *left -= 1;
            }
        }
        Ok(())
    }

    /// Adds what the database granted this node of `q`'s window.
    pub fn add(&self, q: &Quota, now_ms: i64, granted: u64) {
        let (start, end) = window(q, now_ms);
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held.len() > 4096 {
            held.retain(|_, (_, end)| *end > now_ms);
        }
        held.entry((q.key.clone(), start)).or_insert((0, end)).0 += granted;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn quota(limit: u64, secs: u64) -> Quota {
        Quota { key: "k".into(), policy: "api", limit, window: Duration::from_secs(secs), ends_in: None }
    }

    #[test]
    fn windows_are_aligned_to_the_clock() {
        let q = quota(10, 60);
        assert_eq!(window(&q, 125_000), (120_000, 180_000));
        assert_eq!(refusal(&q, 125_000).retry_after_secs, 55);
        let daily = Quota { ends_in: Some(Duration::from_secs(30)), ..quota(5, 86_400) };
        assert_eq!(window(&daily, 1_000), (0, 31_000));
        assert_eq!(chunk(10), 1);
        assert_eq!(chunk(1000), 50);
    }

    #[test]
    fn what_is_held_is_spent_together_or_not_at_all() {
        let a = quota(10, 60);
        let b = Quota { key: "b".into(), ..quota(10, 60) };
        let held = Allowances::default();
        assert_eq!(held.spend(&[&a, &b], 0), Err(vec![0, 1]));
        held.add(&a, 0, 2);
        assert_eq!(held.spend(&[&a, &b], 0), Err(vec![1]), "nothing of a spent while b lacks");
        held.add(&b, 0, 1);
        assert_eq!(held.spend(&[&a, &b], 0), Ok(()));
        assert_eq!(held.spend(&[&a, &b], 0), Err(vec![1]));
        assert_eq!(held.spend(&[&a], 0), Ok(()));
        assert_eq!(held.spend(&[&a], 0), Err(vec![0]));
        // The next window starts empty.
        held.add(&a, 0, 5);
        assert_eq!(held.spend(&[&a], 60_000), Err(vec![0]));
    }
}
