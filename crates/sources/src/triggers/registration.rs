//! What registering a trigger with its provider needs from any type: the URL the provider posts
//! to, and an HTTP client for provider APIs.

use super::host::Host;

/// The address a provider posts to for this component.
pub fn hook_url(public: &str, environment: &str, component: &str) -> String {
    format!("{}/hooks/{environment}/{component}", public.trim_end_matches('/'))
}

/// The public base URL, or the error that says how to give it.
pub(crate) fn public_url<'a>(host: &'a dyn Host, what: &str) -> Result<&'a str, String> {
    host.public_url().ok_or_else(|| {
        format!(
            "component `{}`: {what} needs the address the provider can reach: start the server with \
             --public-url https://your.host (or ONSET_PUBLIC_URL)",
            host.component()
        )
    })
}

/// An HTTP client for provider APIs (TLS verified; redirects not followed).
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .user_agent(concat!("onset/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}
