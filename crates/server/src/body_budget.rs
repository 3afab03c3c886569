//! The memory request bodies in flight may take (`--max-inflight-body`): a request whose body
//! would go over it is answered 503 before its body is read, so a burst of large uploads cannot
//! exhaust memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes of request bodies being read or held until their event is stored.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    used: AtomicU64,
    limit: u64,
}

impl BodyBudget {
    pub fn new(limit: u64) -> Self {
        Self { inner: Arc::new(Inner { used: AtomicU64::new(0), limit }) }
    }

    /// Takes `bytes` of the budget, or `None` when they do not fit; given back when the
    /// reservation is dropped.
    pub fn reserve(&self, bytes: u64) -> Option<Reservation> {
        let mut r = Reservation { budget: self.inner.clone(), bytes: 0 };
        r.grow_to(bytes).then_some(r)
    }

    /// Bytes reserved now.
    #[cfg(test)]
    pub fn used(&self) -> u64 {
        self.inner.used.load(Ordering::Relaxed)
    }
}

/// A part of the budget, held while a body is read and stored.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<Inner>,
    bytes: u64,
}

impl Reservation {
    /// Extends the reservation to `total` bytes (a body without a declared length grows as it
    /// arrives); `false`, with the reservation unchanged, when that does not fit.
    pub fn grow_to(&mut self, total: u64) -> bool {
        let Some(more) = total.checked_sub(self.bytes).filter(|m| *m > 0) else { return true };
        let limit = self.budget.limit;
        let taken = self.budget.used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            used.checked_add(more).filter(|after| *after <= limit)
        });
        if taken.is_ok() {
            self.bytes = total;
        }
        taken.is_ok()
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_fit_the_limit_and_come_back_when_dropped() {
        let budget = BodyBudget::new(100);
        let a = budget.reserve(60).unwrap();
        assert!(budget.reserve(50).is_none());
        let mut b = budget.reserve(40).unwrap();
        assert!(!b.grow_to(41), "over the limit");
        assert_eq!(budget.used(), 100);
        drop(a);
        assert!(b.grow_to(90));
        assert_eq!(budget.used(), 90);
        drop(b);
        assert_eq!(budget.used(), 0);
    }
}
