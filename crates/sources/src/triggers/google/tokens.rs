//! Access tokens obtained with a refresh token, kept until shortly before they expire, so a
//! busy calendar does not ask the token endpoint on every notification.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::triggers::host::now_ms;

/// A token is used until this long before its expiry.
const MARGIN_MS: i64 = 60_000;

#[derive(Default)]
pub struct TokenCache(Mutex<HashMap<String, (String, i64)>>);

impl TokenCache {
    /// The cached token for `key`, if it has more than a minute left.
    pub fn get(&self, key: &str) -> Option<String> {
        let map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(key).filter(|(_, until)| *until - MARGIN_MS > now_ms()).map(|(t, _)| t.clone())
    }

    pub fn put(&self, key: String, token: String, expires_in_secs: i64) {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(key, (token, now_ms() + expires_in_secs.saturating_mul(1000)));
    }
}

/// The cache key of an account: its token endpoint, client and a digest of its refresh token.
pub fn key(token_url: &str, client_id: &str, refresh_token: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(refresh_token.as_bytes());
    let short: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("{token_url} {client_id} {short}")
}
