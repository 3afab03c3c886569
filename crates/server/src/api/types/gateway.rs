//! API management: plans, applications with their keys, subscriptions.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How much a subscription under it may call.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Plan {
    pub name: String,
    /// `N/s|m|h|d`; none: unlimited.
    pub rate_limit: Option<String>,
    pub daily_quota: Option<i64>,
    pub monthly_quota: Option<i64>,
}

/// `POST /api/v1/plans` (admin).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPlan {
    pub name: String,
    /// `N/s`, `N/m`, `N/h` or `N/d`; leave it out for no rate limit.
    pub rate_limit: Option<String>,
    pub daily_quota: Option<i64>,
    pub monthly_quota: Option<i64>,
}

/// A consumer's application (its secret is never shown again).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Application {
    pub id: String,
    pub name: String,
    /// `token:<name>` (made with a control-plane token) or `consumer:<id>` (in the portal).
    pub owner: String,
    pub client_id: String,
    pub created_at: String,
}

/// `POST /api/v1/applications`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApplication {
    pub name: String,
}

/// A new application with its client secret, shown this once.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CreatedApplication {
    #[serde(flatten)]
    pub application: Application,
    pub client_secret: String,
}

/// One key in use (its value is never shown again).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ApiKey {
    /// `sandbox` (calls development) or `production` (calls production).
    pub kind: String,
    /// Its first characters.
    pub prefix: String,
    pub created_at: String,
}

/// New keys, shown this once; the application's previous keys stop working at once.
#[derive(Debug, Serialize, JsonSchema)]
pub struct IssuedKeys {
    pub application_id: String,
    pub sandbox: String,
    pub production: String,
}

/// An application subscribed to a component's API in an environment under a plan.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Subscription {
    pub id: String,
    pub application_id: String,
    pub component: String,
    pub environment: String,
    pub plan: String,
    pub created_at: String,
}

/// `POST /api/v1/subscriptions`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// The application's id or name.
    pub application: String,
    pub component: String,
    /// Default `development`.
    pub environment: Option<String>,
    /// Default `Bronze`.
    pub plan: Option<String>,
}

/// Filters of the subscription list.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct SubscriptionQuery {
    /// An application's id.
    pub application: Option<String>,
    pub component: Option<String>,
    pub environment: Option<String>,
}

/// What was removed.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Removed {
    pub id: String,
}

/// Onset's newest OAuth2 signing key, after a rotation.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SigningKey {
    /// Its key id (the RFC 7638 thumbprint), as tokens name it in `kid`.
    pub kid: String,
}
