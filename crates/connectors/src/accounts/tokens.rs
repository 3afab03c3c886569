//! Access tokens obtained from accounts (OAuth2 today; service-account JWTs and GitHub App
//! installation tokens with their connectors), cached until shortly before they expire. One
//! refresh serves every caller waiting for the same credentials: the first takes the slot's lock
//! and fetches, the others wait on the lock and find the fresh token.

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use super::Account;

/// A token is refreshed this long before the provider says it expires.
const EARLY: Duration = Duration::from_secs(60);
/// The life of a token whose provider gives no `expires_in`.
const DEFAULT_LIFE: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
struct Cached {
    token: String,
    refresh_at: Instant,
}

type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

/// Credentials remembered for redaction: the most recent this many.
const LIVE_MAX: usize = 256;
/// Shorter values are not redacted (they would blank out ordinary words).
const LIVE_MIN_LEN: usize = 8;

/// Told of every token fetch: the account, and why it failed if it did (the server raises or
/// resolves an alert).
pub type Observer = Arc<dyn Fn(&Account, Result<(), String>) + Send + Sync>;

/// Told when a provider issues a new refresh token with an access token (rotation): the old one
/// no longer works, so the account must keep the new one.
pub type Rotation = Arc<dyn Fn(&Account, &'static str, String) + Send + Sync>;

#[derive(Default)]
pub struct Tokens {
    rotation: OnceLock<Rotation>,
    /// Rotated values by the fingerprint of the account they replace a field of: used until the
    /// account as stored has them (its fingerprint then differs), and never over a value the
    /// account's owner set since.
    rotated: Mutex<HashMap<(String, &'static str), String>>,
    slots: Mutex<HashMap<String, Slot>>,
    observer: OnceLock<Observer>,
    /// Every credential a connector put on the wire (access tokens fetched at run time, and the
    /// accounts' own tokens, keys and passwords), newest first, for runs' records to redact.
    live: RwLock<Arc<Vec<String>>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").finish_non_exhaustive()
    }
}

impl Tokens {
    fn slot(&self, key: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        slots.entry(key.to_string()).or_default().clone()
    }

    /// Remembers a credential sent with a request, so that a run's records never show it even
    /// when an API echoes it back.
    pub fn remember(&self, credential: &str) {
        if credential.len() < LIVE_MIN_LEN {
            return;
        }
        // Known and not about to fall off the end: nothing to write (the common case, every call).
        let at =
            self.live.read().unwrap_or_else(std::sync::PoisonError::into_inner).iter().position(|c| c == credential);
        if at.is_some_and(|i| i < LIVE_MAX / 2) {
            return;
        }
        let mut live = self.live.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut next: Vec<String> = Vec::with_capacity((live.len() + 1).min(LIVE_MAX));
        next.push(credential.to_string());
        next.extend(live.iter().filter(|c| *c != credential).take(LIVE_MAX - 1).cloned());
        *live = Arc::new(next);
    }

    /// The credentials remembered, newest first.
    pub fn live(&self) -> Arc<Vec<String>> {
        self.live.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Tells `hook` of every rotated refresh token from now on (once; later calls keep the first).
    pub fn on_rotation(&self, hook: Rotation) {
        let _ = self.rotation.set(hook);
    }

    /// A provider replaced `field` of `account` (its refresh token) with `value`.
    pub fn rotated(&self, account: &Account, field: &'static str, value: String) {
        self.remember(&value);
        self.rotated
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((account.fingerprint(), field), value.clone());
        if let Some(hook) = self.rotation.get() {
            hook(account, field, value);
        }
    }

    /// `field` of `account` as it is now: a value its provider rotated, or the account's own.
    pub fn field(&self, account: &Account, field: &'static str) -> Option<String> {
        let rotated = self.rotated.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        rotated.get(&(account.fingerprint(), field)).cloned().or_else(|| account.get(field).map(str::to_string))
    }

    /// Tells `observer` of every fetch from now on (once; later calls keep the first).
    pub fn observe(&self, observer: Observer) {
        let _ = self.observer.set(observer);
    }

    /// The cached token for `key` (of `account`), or the one `fetch` obtains (with its lifetime,
    /// when the provider gives one), fetched once however many callers ask at the same time.
    pub async fn get<F, Fut, E>(&self, account: &Account, key: &str, fetch: F) -> Result<String, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(String, Option<Duration>), E>>,
        E: Display,
    {
        let slot = self.slot(key);
        let mut cached = slot.lock().await;
        if let Some(c) = cached.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let fetched = fetch().await;
        if let Some(observer) = self.observer.get() {
            observer(account, fetched.as_ref().map(|_| ()).map_err(ToString::to_string));
        }
        let (token, life) = fetched?;
        self.remember(&token);
        let life = life.unwrap_or(DEFAULT_LIFE);
        let refresh_at = Instant::now() + life.saturating_sub(EARLY.min(life / 2));
        *cached = Some(Cached { token: token.clone(), refresh_at });
        Ok(token)
    }

    /// Drops the token for `key` (the API refused it): the next caller fetches a new one.
    pub async fn forget(&self, key: &str, token: &str) {
        let slot = self.slot(key);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|c| c.token == token) {
            *cached = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn account() -> Account {
        Account {
            environment: "production".into(),
            name: "api".into(),
            kind: "http".into(),
            fields: Default::default(),
        }
    }

    #[tokio::test]
    async fn fifty_callers_share_one_fetch_and_a_forgotten_token_is_fetched_again() {
        let tokens = Arc::new(Tokens::default());
        let told = Arc::new(Mutex::new(Vec::new()));
        let log = told.clone();
        tokens.observe(Arc::new(move |a: &Account, r: Result<(), String>| {
            log.lock().unwrap().push(format!("{}/{}: {r:?}", a.environment, a.name));
        }));
        let fetches = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (tokens, fetches) = (tokens.clone(), fetches.clone());
            tasks.push(tokio::spawn(async move {
                tokens
                    .get(&account(), "k", || async {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, String>(("t1".to_string(), Some(Duration::from_secs(300))))
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), "t1");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        tokens.forget("k", "t1").await;
        let again = tokens.get(&account(), "k", || async { Ok::<_, String>(("t2".to_string(), None)) }).await.unwrap();
        assert_eq!(again, "t2");
        // A failed fetch caches nothing and says why.
        let err = tokens
            .get(&account(), "other", || async { Err::<(String, Option<Duration>), _>("refused".to_string()) })
            .await
            .unwrap_err();
        assert_eq!(err, "refused");
        // Fetches only (not cache hits) are told, failures with why.
        assert_eq!(
            *told.lock().unwrap(),
            ["production/api: Ok(())", "production/api: Ok(())", "production/api: Err(\"refused\")"]
        );
    }

    #[tokio::test]
    async fn a_token_about_to_expire_is_fetched_again() {
        let tokens = Tokens::default();
        tokens
            .get(&account(), "k", || async { Ok::<_, String>(("short".to_string(), Some(Duration::from_millis(10)))) })
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let t = tokens.get(&account(), "k", || async { Ok::<_, String>(("next".to_string(), None)) }).await.unwrap();
        assert_eq!(t, "next");
    }

    #[tokio::test]
    async fn credentials_are_remembered_newest_first_once_each() {
        let tokens = Tokens::default();
        tokens.get(&account(), "k", || async { Ok::<_, String>(("access-token-1".to_string(), None)) }).await.unwrap();
        tokens.remember("static-api-key");
        tokens.remember("short");
        tokens.remember("access-token-1");
        assert_eq!(*tokens.live(), ["static-api-key", "access-token-1"].map(String::from));
        for n in 0..LIVE_MAX + 10 {
            tokens.remember(&format!("credential-{n}"));
            // A credential in use stays while others come and go.
            tokens.remember("static-api-key");
        }
        assert_eq!(tokens.live().len(), LIVE_MAX, "bounded");
        assert!(tokens.live().iter().any(|c| c == "static-api-key"));
    }
}
