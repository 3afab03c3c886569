//! The in-memory side of the queue: which runs are ready, which wait for a retry time, and
//! which may start now given worker slots, per-handler `concurrency` and paused components.
//!
//! The database stays the record and the overflow: a run is written before it is enqueued
//! here, and memory holds a bounded hand-off. Runs of paused components, runs beyond
//! the waiting bound, and payloads beyond [`MAX_PAYLOAD_BYTES`] are not held: the dispatcher
//! reloads them from the database when there is room (and at start and on resume).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use onset_store::{EventForRun, PendingRun};
use tokio::sync::Notify;

/// A run waiting for a worker, with its event when ingress still had it in memory.
#[derive(Debug, Clone)]
pub struct Job {
    pub run: PendingRun,
    /// The token of the lease the run is taken under (set when the dispatcher takes it, or by
    /// the store's claim); its completion must show it.
    pub lease: String,
    /// Taken from the store by a claim: it is `running` there under `lease` already.
    pub claimed: bool,
    pub event: Option<EventForRun>,
    /// A caller waiting for this run's answer (`response: after_run`).
    pub responder: Option<onset_engine::Responder>,
}

impl Job {
    /// A run loaded from (or re-queued to) the store: nobody waits for it.
    pub fn stored(run: PendingRun) -> Self {
        Self { run, lease: String::new(), claimed: false, event: None, responder: None }
    }

    /// A run a claim took under `lease`.
    pub fn claimed(run: PendingRun, lease: String) -> Self {
        Self { run, lease, claimed: true, event: None, responder: None }
    }
}

/// Which handler a run belongs to: the unit of `concurrency`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HandlerKey(Arc<(String, String, String, String)>);

impl HandlerKey {
    pub fn new(component: &str, environment: &str, channel: &str, event: &str) -> Self {
        Self(Arc::new((component.into(), environment.into(), channel.into(), event.into())))
    }
    pub fn of(run: &PendingRun) -> Self {
        Self::new(&run.component, &run.environment, &run.channel, &run.event)
    }
    fn component_env(&self) -> (&str, &str) {
        (&self.0.0, &self.0.1)
    }
}

/// Runs waiting in memory (ready or delayed) by default; beyond, they wait in the database.
pub const MAX_WAITING: usize = 10_000;
/// Payload bytes kept with waiting runs at most; beyond, workers read the event from the store.
pub const MAX_PAYLOAD_BYTES: usize = 4 << 20;

#[derive(Default)]
struct State {
    /// Every run id in memory: ready, delayed or running. Enqueueing one of them again is a no-op.
    held: HashSet<String>,
    payload_bytes: usize,
    /// Some waiting runs are only in the database (memory was full).
    overflow: bool,
    queues: HashMap<HandlerKey, VecDeque<Job>>,
    /// Keys whose queue is not empty, visited round-robin so one busy handler cannot starve
    /// the others.
    ring: VecDeque<HandlerKey>,
    ready: usize,
    delayed: BinaryHeap<Reverse<(i64, u64)>>,
    delayed_jobs: HashMap<u64, Job>,
    seq: u64,
    in_flight: HashMap<HandlerKey, u32>,
    /// Runs taken and not yet done, with their lease tokens.
    running_ids: HashMap<String, String>,
    /// Claimed runs waiting in memory (a handler's `concurrency`, a pause), with their lease
    /// tokens: held in the store, so their leases are kept too.
    claimed: HashMap<String, String>,
    limits: HashMap<HandlerKey, u32>,
    paused: HashSet<(String, String)>,
}

pub struct Scheduler {
    state: Mutex<State>,
    /// Wakes the dispatcher: new work, a free slot, a resume.
    pub wake: Notify,
    /// Woken whenever a run finishes (shutdown waits on it).
    pub finished: Notify,
    slots: usize,
    max_waiting: usize,
    /// False on a node that runs nothing (ingress only): every run is left to the database.
    accepting: bool,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler").field("slots", &self.slots).finish_non_exhaustive()
    }
}

impl Scheduler {
    /// `slots` runs at once; at most `max_waiting` runs wait in memory.
    pub fn new(slots: usize, max_waiting: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            finished: Notify::new(),
            slots: slots.max(1),
            max_waiting: max_waiting.max(2),
            accepting: true,
        }
    }

    /// A scheduler that holds nothing: every run waits in the database for another node.
    pub fn refusing() -> Self {
        Self { accepting: false, ..Self::new(1, 2) }
    }

    /// How many more runs a claim may bring in: free slots not already spoken for by runs ready
    /// in memory (retries waiting for their time do not hold a slot).
    pub fn room(&self) -> usize {
        let s = self.lock();
        self.slots.saturating_sub(s.running_ids.len() + s.ready)
    }

    /// How many waiting runs one reload brings into memory.
    pub fn reload_batch(&self) -> usize {
        self.max_waiting / 2
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock would be a bug in this module; the state stays usable.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a run; it becomes ready at its `run_at`. A run already held, a run of a paused
    /// component, or a run beyond the memory bound is left to the database.
    pub fn enqueue(&self, mut job: Job, now: i64) {
        if !self.accepting {
            return;
        }
        let mut s = self.lock();
        if s.held.contains(&job.run.id) {
            return;
        }
        // A claimed run is held in the store already: it waits here, paused or not.
        if !job.claimed && s.paused.contains(&(job.run.component.clone(), job.run.environment.clone())) {
            return;
        }
        if job.claimed {
            s.claimed.insert(job.run.id.clone(), job.lease.clone());
        } else if s.ready + s.delayed_jobs.len() >= self.max_waiting {
            s.overflow = true;
            return;
        }
        let size = job.event.as_ref().map_or(0, |e| e.payload.len());
        if s.payload_bytes + size > MAX_PAYLOAD_BYTES {
            job.event = None;
        } else {
            s.payload_bytes += size;
        }
        s.held.insert(job.run.id.clone());
        if job.run.run_at > now {
            s.seq += 1;
            let seq = s.seq;
            s.delayed.push(Reverse((job.run.run_at, seq)));
            s.delayed_jobs.insert(seq, job);
        } else {
            push_ready(&mut s, job);
        }
        drop(s);
        self.wake.notify_one();
    }

    /// Pausing lets go of the component's ready runs (they wait in the database); after a
    /// resume the caller reloads them.
    pub fn set_paused(&self, component: &str, environment: &str, paused: bool) {
        let key = (component.to_string(), environment.to_string());
        let mut s = self.lock();
        if paused {
            s.paused.insert(key);
            let keys: Vec<HandlerKey> =
                s.queues.keys().filter(|k| k.component_env() == (component, environment)).cloned().collect();
            for k in keys {
                if let Some(queue) = s.queues.remove(&k) {
                    // Claimed runs stay (the store holds them for this node) until the resume.
                    let (kept, dropped): (VecDeque<Job>, VecDeque<Job>) = queue.into_iter().partition(|j| j.claimed);
                    s.ready -= dropped.len();
                    for job in dropped {
                        s.held.remove(&job.run.id);
                        s.payload_bytes -= job.event.map_or(0, |e| e.payload.len());
                    }
                    if !kept.is_empty() {
                        s.queues.insert(k.clone(), kept);
                        continue;
                    }
                }
                s.ring.retain(|r| r != &k);
            }
        } else {
            s.paused.remove(&key);
        }
        drop(s);
        self.wake.notify_one();
    }

    /// True once when waiting runs were left to the database and memory has room again; the
    /// flag is cleared, and set again by an enqueue that finds memory full.
    pub fn take_reload(&self) -> bool {
        let mut s = self.lock();
        if s.overflow && s.ready + s.delayed_jobs.len() < self.max_waiting / 2 {
            s.overflow = false;
            true
        } else {
            false
        }
    }

    /// Marks that the database holds waiting runs memory does not.
    pub fn set_overflow(&self) {
        self.lock().overflow = true;
        self.wake.notify_one();
    }

    pub fn is_paused(&self, component: &str, environment: &str) -> bool {
        self.lock().paused.contains(&(component.to_string(), environment.to_string()))
    }

    /// Sets (or clears) the `concurrency` of a handler.
    pub fn set_limit(&self, key: HandlerKey, limit: Option<u32>) {
        let mut s = self.lock();
        match limit {
            Some(n) => s.limits.insert(key, n),
            None => s.limits.remove(&key),
        };
        drop(s);
        self.wake.notify_one();
    }

    /// Takes every run that may start now, marking it in flight.
    pub fn take(&self, now: i64) -> Vec<Job> {
        let mut s = self.lock();
        while let Some(Reverse((at, seq))) = s.delayed.peek().copied() {
            if at > now {
                break;
            }
            s.delayed.pop();
            if let Some(job) = s.delayed_jobs.remove(&seq) {
                push_ready(&mut s, job);
            }
        }
        let mut taken = Vec::new();
        let mut skipped = 0;
        while s.running_ids.len() < self.slots && skipped < s.ring.len() {
            let Some(key) = s.ring.pop_front() else { break };
            let (component, environment) = key.component_env();
            let paused = s.paused.contains(&(component.to_string(), environment.to_string()));
            let busy = s.limits.get(&key).is_some_and(|limit| s.in_flight.get(&key).copied().unwrap_or(0) >= *limit);
            if paused || busy {
                s.ring.push_back(key);
                skipped += 1;
                continue;
            }
            skipped = 0;
            let job = s.queues.get_mut(&key).and_then(VecDeque::pop_front);
            let empty = s.queues.get(&key).is_none_or(VecDeque::is_empty);
            if empty {
                s.queues.remove(&key);
            } else {
                s.ring.push_back(key.clone());
            }
            if let Some(job) = job {
                s.ready -= 1;
                s.payload_bytes -= job.event.as_ref().map_or(0, |e| e.payload.len());
                *s.in_flight.entry(key).or_insert(0) += 1;
                let mut job = job;
                if job.claimed {
                    s.claimed.remove(&job.run.id);
                } else {
                    job.lease = crate::app::new_id();
                }
                s.running_ids.insert(job.run.id.clone(), job.lease.clone());
                taken.push(job);
            }
        }
        taken
    }

    /// A run taken with [`take`](Self::take) has ended.
    pub fn done(&self, run: &PendingRun) {
        let key = HandlerKey::of(run);
        let mut s = self.lock();
        s.running_ids.remove(&run.id);
        s.held.remove(&run.id);
        if let Some(n) = s.in_flight.get_mut(&key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                s.in_flight.remove(&key);
            }
        }
        drop(s);
        self.wake.notify_one();
        self.finished.notify_waiters();
    }

    /// Milliseconds until the next delayed run is due.
    pub fn next_due_in(&self, now: i64) -> Option<u64> {
        self.lock().delayed.peek().map(|Reverse((at, _))| (*at - now).max(0) as u64)
    }

    /// Runs waiting (ready or delayed), for the queue-depth gauge.
    pub fn depth(&self) -> usize {
        let s = self.lock();
        s.ready + s.delayed_jobs.len()
    }

    /// `(run id, lease token)` of every run taken and not yet done, and of claimed runs waiting.
    pub fn running_leases(&self) -> Vec<(String, String)> {
        let s = self.lock();
        s.running_ids.iter().chain(&s.claimed).map(|(id, lease)| (id.clone(), lease.clone())).collect()
    }

    pub fn running(&self) -> usize {
        self.lock().running_ids.len()
    }
}

fn push_ready(s: &mut State, job: Job) {
    let key = HandlerKey::of(&job.run);
    let queue = s.queues.entry(key.clone()).or_default();
    if queue.is_empty() {
        s.ring.push_back(key);
    }
    queue.push_back(job);
    s.ready += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, component: &str, run_at: i64) -> Job {
        Job {
            lease: String::new(),
            claimed: false,
            responder: None,
            run: PendingRun {
                id: id.into(),
                event_id: "e".into(),
                component: component.into(),
                environment: "development".into(),
                channel: "/".into(),
                event: "POST".into(),
                deployment_id: "d".into(),
                attempt: 1,
                max_attempts: 1,
                run_at,
            },
            event: None,
        }
    }

    fn ids(jobs: &[Job]) -> Vec<&str> {
        jobs.iter().map(|j| j.run.id.as_str()).collect()
    }

    #[test]
    fn slots_bound_what_runs_at_once() {
        let s = Scheduler::new(2, MAX_WAITING);
        for i in 0..5 {
            s.enqueue(job(&format!("r{i}"), "a", 0), 0);
        }
        let first = s.take(0);
        assert_eq!(ids(&first), ["r0", "r1"]);
        assert!(s.take(0).is_empty());
        s.done(&first[0].run);
        assert_eq!(ids(&s.take(0)), ["r2"]);
        assert_eq!(s.depth(), 2);
    }

    #[test]
    fn concurrency_limits_one_handler_not_others() {
        let s = Scheduler::new(10, MAX_WAITING);
        s.set_limit(HandlerKey::new("a", "development", "/", "POST"), Some(1));
        for i in 0..3 {
            s.enqueue(job(&format!("a{i}"), "a", 0), 0);
            s.enqueue(job(&format!("b{i}"), "b", 0), 0);
        }
        let taken = s.take(0);
        assert_eq!(ids(&taken), ["a0", "b0", "b1", "b2"]);
        s.done(&taken[0].run);
        assert_eq!(ids(&s.take(0)), ["a1"]);
    }

    #[test]
    fn memory_is_bounded_and_the_rest_is_left_to_the_database() {
        let s = Scheduler::new(1, MAX_WAITING);
        for i in 0..MAX_WAITING + 10 {
            s.enqueue(job(&format!("r{i}"), "a", 0), 0);
        }
        assert_eq!(s.depth(), MAX_WAITING);
        assert!(!s.take_reload(), "no room yet");
        // A run already held is not held twice.
        s.enqueue(job("r0", "a", 0), 0);
        assert_eq!(s.depth(), MAX_WAITING);
        for _ in 0..=MAX_WAITING / 2 {
            let j = s.take(0);
            s.done(&j[0].run);
        }
        assert!(s.take_reload(), "room again: reload once");
        assert!(!s.take_reload());
    }

    #[test]
    fn payloads_beyond_the_bound_are_read_from_the_store() {
        let s = Scheduler::new(1000, MAX_WAITING);
        let with_payload = |id: &str| {
            let mut j = job(id, "a", 0);
            j.event = Some(EventForRun {
                payload: bytes::Bytes::from(vec![b' '; MAX_PAYLOAD_BYTES / 2 + 1]),
                headers: "{}".into(),
                query: "{}".into(),
                params: "{}".into(),
                delivery_id: None,
                received_at: 0,
                trace: None,
            });
            j
        };
        s.enqueue(with_payload("a"), 0);
        s.enqueue(with_payload("b"), 0);
        let taken = s.take(0);
        assert!(taken[0].event.is_some());
        assert!(taken[1].event.is_none(), "the second payload would pass the bound");
    }

    #[test]
    fn pausing_lets_go_of_waiting_runs() {
        let s = Scheduler::new(10, MAX_WAITING);
        s.enqueue(job("a0", "a", 0), 0);
        s.set_paused("a", "development", true);
        assert_eq!(s.depth(), 0);
        s.enqueue(job("a1", "a", 0), 0);
        assert_eq!(s.depth(), 0, "runs of a paused component wait in the database");
        s.set_paused("a", "development", false);
        s.enqueue(job("a0", "a", 0), 0);
        assert_eq!(ids(&s.take(0)), ["a0"]);
    }

    #[test]
    fn claims_fill_free_slots_not_taken_by_ready_runs() {
        let s = Scheduler::new(4, MAX_WAITING);
        assert_eq!(s.room(), 4);
        s.enqueue(job("ready", "a", 0), 0);
        s.enqueue(job("later", "a", 100), 0);
        assert_eq!(s.room(), 3, "a retry waiting for its time holds no slot");
        let taken = s.take(0);
        assert_eq!(s.room(), 3, "a running run does");
        s.done(&taken[0].run);
        assert_eq!(s.room(), 4);
    }

    #[test]
    fn delayed_runs_wait_for_their_time() {
        let s = Scheduler::new(10, MAX_WAITING);
        s.enqueue(job("later", "a", 100), 0);
        assert!(s.take(50).is_empty());
        assert_eq!(s.next_due_in(50), Some(50));
        assert_eq!(ids(&s.take(100)), ["later"]);
    }
}
