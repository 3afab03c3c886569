//! The naming rule for provider events (DESIGN §5): PascalCase splits on `_ . - /` and spaces.

/// `pull_request` → `PullRequest`, `sample.collected` → `SampleCollected`, `/weather` → `Weather`.
pub fn pascal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for part in text.split(['_', '.', '-', '/', ' ']).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

/// `pull_request` → `PullRequestService`.
pub fn service(name: &str) -> String {
    format!("{}Service", pascal(name))
}

/// `review_requested` → `onReviewRequested`.
pub fn on(name: &str) -> String {
    format!("on{}", pascal(name))
}

/// Where one delivery goes: the stored names, then the handler names that also take it, in the
/// order they are tried (Ballerina's spellings, a message's `onMessage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventName {
    pub channel: String,
    pub event: String,
    pub also: Vec<(String, String)>,
}

impl EventName {
    pub fn new(channel: impl Into<String>, event: impl Into<String>) -> Self {
        Self { channel: channel.into(), event: event.into(), also: Vec::new() }
    }

    pub fn or(mut self, channel: impl Into<String>, event: impl Into<String>) -> Self {
        self.also.push((channel.into(), event.into()));
        self
    }

    /// The stored name first, then the alternatives.
    pub fn candidates(&self) -> impl Iterator<Item = (&str, &str)> {
        std::iter::once((self.channel.as_str(), self.event.as_str()))
            .chain(self.also.iter().map(|(c, e)| (c.as_str(), e.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pascal_case_splits_on_separators() {
        assert_eq!(pascal("pull_request"), "PullRequest");
        assert_eq!(pascal("sample.collected"), "SampleCollected");
        assert_eq!(pascal("on-demand-test"), "OnDemandTest");
        assert_eq!(pascal("/webhook-collect"), "WebhookCollect");
        assert_eq!(pascal("prereleased"), "Prereleased");
        assert_eq!(service("issues"), "IssuesService");
        assert_eq!(on("review_request_removed"), "onReviewRequestRemoved");
    }
}
