//! API management for owners (control-plane tokens): plans, applications and their keys,
//! subscriptions. Secrets and keys are shown once and kept as SHA-256 hashes.

use onset_store::{ApiKeyRow, ApplicationRow, PlanRow, SubscriptionRow};
use serde_json::json;

use super::{Kind, Result, ServiceError, environment};
use crate::api::types::{
    ApiKey, Application, CreatedApplication, IssuedKeys, NewApplication, NewPlan, NewSubscription, Plan, Removed,
    Subscription, SubscriptionQuery,
};
use crate::app::{App, new_id, now_ms};
use crate::auth::{self, Principal, Role};

/// The plan a subscription gets when none is named.
pub const DEFAULT_PLAN: &str = "Bronze";

fn plan(p: PlanRow) -> Plan {
    Plan { name: p.name, rate_limit: p.rate_limit, daily_quota: p.daily_quota, monthly_quota: p.monthly_quota }
}

fn application(a: ApplicationRow) -> Application {
    Application {
        id: a.id,
        name: a.name,
        owner: a.owner,
        client_id: a.client_id,
        created_at: onset_store::time::rfc3339(a.created_at),
    }
}

fn subscription(s: SubscriptionRow) -> Subscription {
    Subscription {
        id: s.id,
        application_id: s.application_id,
        component: s.component,
        environment: s.environment,
        plan: s.plan,
        created_at: onset_store::time::rfc3339(s.created_at),
    }
}

/// Who manages applications and subscriptions: an owner with a control-plane token (every
/// application), or a consumer of the developer portal (their own only).
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    Owner(&'a Principal),
    /// A consumer account's id.
    Consumer(&'a str),
}

impl Caller<'_> {
    /// What applications made by this caller are marked with (`owner`).
    fn tag(&self) -> String {
        match self {
            Caller::Owner(p) => format!("token:{}", p.name),
            Caller::Consumer(id) => format!("consumer:{id}"),
        }
    }

    /// Whether the caller sees and manages the application.
    fn sees(&self, a: &ApplicationRow) -> bool {
        match self {
            Caller::Owner(_) => true,
            Caller::Consumer(_) => a.owner == self.tag(),
        }
    }

    fn may_manage(&self) -> Result<()> {
        match self {
            Caller::Owner(who) if who.role == Role::Viewer => {
                Err(ServiceError::Forbidden(format!("token `{}` is a viewer: it can only read", who.name)))
            }
            _ => Ok(()),
        }
    }

    async fn audit(&self, app: &App, action: &str, target: &str, detail: serde_json::Value) {
        match self {
            Caller::Owner(who) => auth::audit(app, who, action, target, detail).await,
            Caller::Consumer(id) => tracing::info!(consumer = %id, action, target, "portal change"),
        }
    }
}

/// A random secret: `prefix` and 244 random bits in hex.
fn secret(prefix: &str) -> String {
    format!("{prefix}{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

pub async fn plans(app: &App) -> Result<Vec<Plan>> {
    Ok(app.store.plans().await?.into_iter().map(plan).collect())
}

/// A new plan (admin).
pub async fn create_plan(app: &App, who: &Principal, req: NewPlan) -> Result<Plan> {
    who.admin()?;
    if req.name.trim().is_empty() || req.name.len() > 64 {
        return Err(ServiceError::invalid("invalid_name", "a plan's name has 1 to 64 characters", "body name"));
    }
    if let Some(r) = &req.rate_limit {
        r.parse::<onset_model::Rate>().map_err(|e| ServiceError::invalid("invalid_rate", e, "body rate_limit"))?;
    }
    for (q, at) in [(req.daily_quota, "body daily_quota"), (req.monthly_quota, "body monthly_quota")] {
        if q.is_some_and(|q| q < 1) {
            return Err(ServiceError::invalid("invalid_quota", "a quota is at least 1 request", at));
        }
    }
    let row = PlanRow {
        name: req.name.trim().to_string(),
        rate_limit: req.rate_limit,
        daily_quota: req.daily_quota,
        monthly_quota: req.monthly_quota,
        created_at: now_ms(),
    };
    if !app.store.create_plan(row.clone()).await? {
        return Err(ServiceError::conflict("plan_exists", format!("there is a plan `{}` already", row.name)));
    }
    auth::audit(app, who, "plan.create", &row.name, json!({ "rate_limit": row.rate_limit })).await;
    Ok(plan(row))
}

pub async fn applications(app: &App, who: &Caller<'_>) -> Result<Vec<Application>> {
    let owner = matches!(who, Caller::Consumer(_)).then(|| who.tag());
    Ok(app.store.applications(owner).await?.into_iter().map(application).collect())
}

/// An application by id or name, among those the caller sees.
async fn find_application(app: &App, who: &Caller<'_>, given: &str) -> Result<ApplicationRow> {
    if let Some(a) = app.store.application(given.to_string()).await?.filter(|a| who.sees(a)) {
        return Ok(a);
    }
    let mut named: Vec<_> =
        app.store.applications(None).await?.into_iter().filter(|a| a.name == given && who.sees(a)).collect();
    match named.len() {
        1 => Ok(named.remove(0)),
        0 => Err(ServiceError::not_found(Kind::Application, given)),
        n => Err(ServiceError::conflict(
            "ambiguous_application",
            format!("{n} applications are named `{given}`; name one by its id"),
        )),
    }
}

/// A new application owned by the caller; its client secret is answered this once.
pub async fn create_application(app: &App, who: &Caller<'_>, req: NewApplication) -> Result<CreatedApplication> {
    who.may_manage()?;
    let name = req.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ServiceError::invalid(
            "invalid_name",
            "an application's name has 1 to 100 characters",
            "body name",
        ));
    }
    let client_secret = secret("onset_cs_");
    let row = ApplicationRow {
        id: new_id(),
        name: name.to_string(),
        owner: who.tag(),
        client_id: format!("onset_ci_{}", uuid::Uuid::new_v4().simple()),
        secret_hash: auth::hash(&client_secret),
        created_at: now_ms(),
    };
    app.store.create_application(row.clone()).await?;
    who.audit(app, "application.create", &row.id, json!({ "name": row.name })).await;
    Ok(CreatedApplication { application: application(row), client_secret })
}

pub async fn delete_application(app: &App, who: &Caller<'_>, given: String) -> Result<Removed> {
    who.may_manage()?;
    let a = find_application(app, who, &given).await?;
    if !app.store.delete_application(a.id.clone()).await? {
        return Err(ServiceError::not_found(Kind::Application, given));
    }
    app.keys.forget_all();
    who.audit(app, "application.delete", &a.id, json!({ "name": a.name })).await;
    Ok(Removed { id: a.id })
}

/// The application's keys in use (prefixes only).
pub async fn keys(app: &App, who: &Caller<'_>, given: String) -> Result<Vec<ApiKey>> {
    let a = find_application(app, who, &given).await?;
    Ok(app
        .store
        .keys(a.id)
        .await?
        .into_iter()
        .map(|k| ApiKey { kind: k.kind, prefix: k.prefix, created_at: onset_store::time::rfc3339(k.created_at) })
        .collect())
}

/// New sandbox and production keys for the application, answered this once; the previous ones
/// stop working at once.
pub async fn issue_keys(app: &App, who: &Caller<'_>, given: String) -> Result<IssuedKeys> {
    who.may_manage()?;
    let a = find_application(app, who, &given).await?;
    let now = now_ms();
    let mut issued = Vec::with_capacity(2);
    for (kind, prefix) in [("sandbox", "onset_test_"), ("production", "onset_live_")] {
        let key = secret(prefix);
        let row = ApiKeyRow {
            hash: auth::hash(&key),
            application_id: a.id.clone(),
            kind: kind.into(),
            prefix: key.chars().take(prefix.len() + 6).collect(),
            created_at: now,
            revoked_at: None,
        };
        app.store.replace_key(row).await?;
        issued.push(key);
    }
    app.keys.forget_all();
    who.audit(app, "application.keys", &a.id, json!({ "name": a.name })).await;
    let production = issued.pop().unwrap_or_default();
    let sandbox = issued.pop().unwrap_or_default();
    Ok(IssuedKeys { application_id: a.id, sandbox, production })
}

pub async fn subscriptions(app: &App, who: &Caller<'_>, q: SubscriptionQuery) -> Result<Vec<Subscription>> {
    let api = match (q.component, q.environment) {
        (Some(c), e) => Some((c, environment(app, e.as_deref(), "query environment")?)),
        (None, Some(_)) => {
            return Err(ServiceError::invalid(
                "invalid_query",
                "filter by environment together with component",
                "query environment",
            ));
        }
        (None, None) => None,
    };
    let application = match q.application {
        Some(given) => Some(find_application(app, who, &given).await?.id),
        None => None,
    };
    let mut rows = app.store.subscriptions(application, api).await?;
    if let Caller::Consumer(_) = who {
        let own: Vec<String> = app.store.applications(Some(who.tag())).await?.into_iter().map(|a| a.id).collect();
        rows.retain(|s| own.contains(&s.application_id));
    }
    Ok(rows.into_iter().map(subscription).collect())
}

/// Subscribes an application to a component's API in an environment under a plan.
pub async fn subscribe(app: &App, who: &Caller<'_>, req: NewSubscription) -> Result<Subscription> {
    who.may_manage()?;
    let environment = environment(app, req.environment.as_deref(), "body environment")?;
    match who {
        Caller::Owner(p) => p.may_change(&environment)?,
        // Consumers subscribe to what the portal shows: published or deprecated APIs.
        Caller::Consumer(_) => {
            if !crate::service::components::in_portal(app, &environment, &req.component) {
                return Err(ServiceError::not_deployed(&req.component, &environment));
            }
        }
    }
    onset_model::ComponentName::parse(&req.component).map_err(|e| {
        ServiceError::invalid("invalid_name", format!("component name `{}`: {e}", req.component), "body component")
    })?;
    let a = find_application(app, who, &req.application).await?;
    let plan_name = req.plan.unwrap_or_else(|| DEFAULT_PLAN.to_string());
    let plans = app.store.plans().await?;
    if !plans.iter().any(|p| p.name == plan_name) {
        let names: Vec<_> = plans.iter().map(|p| p.name.as_str()).collect();
        return Err(ServiceError::invalid(
            "unknown_plan",
            format!("there is no plan `{plan_name}`; plans: {}", names.join(", ")),
            "body plan",
        ));
    }
    let row = SubscriptionRow {
        id: new_id(),
        application_id: a.id.clone(),
        component: req.component.clone(),
        environment: environment.clone(),
        plan: plan_name,
        created_at: now_ms(),
    };
    if !app.store.subscribe(row.clone()).await? {
        return Err(ServiceError::conflict(
            "subscribed",
            format!("`{}` is subscribed to `{}` in `{environment}` already", a.name, req.component),
        ));
    }
    app.keys.forget_all();
    who.audit(app, "subscription.create", &row.id, json!({ "application": a.id, "plan": row.plan })).await;
    Ok(subscription(row))
}

pub async fn unsubscribe(app: &App, who: &Caller<'_>, id: String) -> Result<Removed> {
    who.may_manage()?;
    if let Caller::Consumer(_) = who {
        let own: Vec<String> = app.store.applications(Some(who.tag())).await?.into_iter().map(|a| a.id).collect();
        let theirs = app
            .store
            .subscriptions(None, None)
            .await?
            .into_iter()
            .any(|s| s.id == id && own.contains(&s.application_id));
        if !theirs {
            return Err(ServiceError::not_found(Kind::Subscription, id));
        }
    }
    if !app.store.unsubscribe(id.clone()).await? {
        return Err(ServiceError::not_found(Kind::Subscription, id));
    }
    app.keys.forget_all();
    who.audit(app, "subscription.delete", &id, json!({})).await;
    Ok(Removed { id })
}
