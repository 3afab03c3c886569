//! An API's lifecycle in an environment: published (the default), deprecated (still served,
//! marked in its documents, every answer carrying a `Deprecation` header) or retired (404,
//! nothing stored). Kept in the store per component and environment; every node holds a copy,
//! read again with the shared state.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use onset_store::StoreError;

/// The store key the state is kept under (per component and environment).
const KEY: &str = "api.lifecycle";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum State {
    #[default]
    Published,
    /// Since when (unix ms).
    Deprecated(i64),
    Retired,
}

impl State {
    pub fn api(self) -> crate::api::types::LifecycleState {
        use crate::api::types::LifecycleState as L;
        match self {
            State::Published => L::Published,
            State::Deprecated(_) => L::Deprecated,
            State::Retired => L::Retired,
        }
    }

    fn stored(self) -> Option<String> {
        match self {
            State::Published => None,
            State::Deprecated(since) => Some(format!("deprecated:{since}")),
            State::Retired => Some("retired".into()),
        }
    }

    fn read(text: &str) -> State {
        match text.split_once(':') {
            Some(("deprecated", since)) => State::Deprecated(since.parse().unwrap_or(0)),
            _ if text == "retired" => State::Retired,
            _ => State::Published,
        }
    }

    /// RFC 9745's `Deprecation` field: `@<unix seconds>` of when it was deprecated.
    pub fn deprecation_header(self) -> Option<String> {
        match self {
            State::Deprecated(since) => Some(format!("@{}", since / 1000)),
            _ => None,
        }
    }
}

/// What this node knows of every API's state: `(environment, component)` → state, published
/// ones left out.
#[derive(Debug, Default)]
pub struct Board(RwLock<HashMap<(String, String), State>>);

impl Board {
    pub fn get(&self, environment: &str, component: &str) -> State {
        let map = self.0.read().unwrap_or_else(PoisonError::into_inner);
        if map.is_empty() {
            return State::Published;
        }
        map.iter().find(|((e, c), _)| e == environment && c == component).map_or(State::Published, |(_, s)| *s)
    }

    /// Records a change here and in the store.
    pub async fn set(
        &self,
        store: &dyn onset_store::Store,
        environment: &str,
        component: &str,
        state: State,
    ) -> Result<(), StoreError> {
        store.set_trigger_state(component.into(), environment.into(), KEY.into(), state.stored()).await?;
        let mut map = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let key = (environment.to_string(), component.to_string());
        if state == State::Published {
            map.remove(&key);
        } else {
            map.insert(key, state);
        }
        Ok(())
    }

    /// Reads every state from the store (at start, and when another node may have changed one).
    pub async fn load(&self, store: &dyn onset_store::Store) -> Result<(), StoreError> {
        let rows = store.trigger_states(KEY.into()).await?;
        let fresh: HashMap<_, _> = rows
            .into_iter()
            .map(|(component, environment, text)| ((environment, component), State::read(&text)))
            .filter(|(_, s)| *s != State::Published)
            .collect();
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_stored_as_text_and_read_back() {
        for s in [State::Deprecated(1_700_000_000_123), State::Retired] {
            assert_eq!(State::read(&s.stored().unwrap()), s);
        }
        assert_eq!(State::Published.stored(), None);
        assert_eq!(State::Deprecated(1_700_000_000_999).deprecation_header().as_deref(), Some("@1700000000"));
        assert_eq!(State::Retired.deprecation_header(), None);
    }
}
