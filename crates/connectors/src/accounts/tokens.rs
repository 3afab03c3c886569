//! Access tokens obtained from accounts (OAuth2 today; service-account JWTs and GitHub App
//! installation tokens with their connectors), cached until shortly before they expire. One
//! refresh serves every caller waiting for the same credentials: the first takes the slot's lock
//! and fetches, the others wait on the lock and find the fresh token.

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
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

/// Told of every token fetch: the account, and why it failed if it did (the server raises or
/// resolves an alert).
pub type Observer = Arc<dyn Fn(&Account, Result<(), String>) + Send + Sync>;

#[derive(Default)]
pub struct Tokens {
    slots: Mutex<HashMap<String, Slot>>,
    observer: OnceLock<Observer>,
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
}
