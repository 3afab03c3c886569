//! The OpenAPI 3.1 document of a component's API in one environment, generated from its
//! handlers: a path per resource, an operation per method with its path parameters, its request
//! body (the handler's `schema:`, or any JSON), every answer the ingress can give, and the rate
//! limits that apply.

use onset_model::Component;
use serde_json::{Map, Value, json};

/// Methods whose requests carry a body.
const WITH_BODY: &[&str] = &["POST", "PUT", "PATCH", "DELETE"];

/// `POST` + `/orders/{id}` → `post_orders_id`.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for part in path.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| !p.is_empty()) {
        id.push('_');
        id.push_str(part);
    }
    if path == "/" {
        id.push_str("_root");
    }
    id
}

fn path_params(path: &str) -> Vec<&str> {
    path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect()
}

fn error(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
    })
}

fn rate_limited(policies: &str) -> Value {
    let header = |d: &str| json!({ "description": d, "schema": { "type": "string" } });
    json!({
        "description": format!("Over the rate limit ({policies}); nothing was stored"),
        "headers": {
            "Retry-After": { "description": "Seconds until the window ends", "schema": { "type": "integer" } },
            "RateLimit-Policy": header("The policy: `\"name\";q=<requests>;w=<window seconds>`"),
            "RateLimit": header("What is left: `\"name\";r=0;t=<seconds until the window ends>`"),
        },
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
    })
}

/// Where the document's requests go and what it is called.
pub struct Target<'a> {
    /// `<public URL>/hooks/<environment>/<component>`.
    pub server_url: &'a str,
    pub environment: &'a str,
    /// The build's version (its deployment id).
    pub version: &'a str,
    /// Deprecated in that environment: every operation is marked.
    pub deprecated: bool,
    /// The text of the Markdown file `docs:` names, when it names one.
    pub docs_file: Option<&'a str>,
}

/// The component's API as OpenAPI 3.1.
pub fn document(component: &Component, target: &Target<'_>) -> Value {
    let name = component.component.as_str();
    let kind = component.trigger.kind.as_str();
    let with = &component.trigger.with;
    let verified = with.get("verify").is_some_and(|v| !v.is_null());
    let api_limit = with.get("rate_limit").and_then(Value::as_str);
    let security = crate::security::Security::parse(with.get("security")).unwrap_or_default();
    let key = match &security {
        crate::security::Security::ApiKey(place) => Some(place.clone()),
        _ => None,
    };
    let oauth2 = match &security {
        crate::security::Security::OAuth2(o) => Some(o),
        _ => None,
    };
    let mut paths = Map::new();
    if kind == "http" {
        for (resource, methods) in &component.handlers {
            let mut item = Map::new();
            let params: Vec<Value> = path_params(resource)
                .into_iter()
                .map(|p| json!({ "name": p, "in": "path", "required": true, "schema": { "type": "string" } }))
                .collect();
            if !params.is_empty() {
                item.insert("parameters".into(), Value::Array(params));
            }
            for (method, handler) in methods {
                let mut responses = Map::new();
                responses.insert(
                    "202".into(),
                    json!({ "description": "Stored; its runs are queued",
                            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Accepted" } } } }),
                );
                responses.insert(
                    "200".into(),
                    json!({ "description": "A delivery id seen before: nothing runs again (or, with `response: after_run`, the run's answer)",
                            "content": { "application/json": { "schema": {} } } }),
                );
                responses.insert("400".into(), error("The body is not JSON a run can read"));
                if verified {
                    responses.insert("401".into(), error("The request's signature or token is missing or wrong"));
                }
                if key.is_some() {
                    responses.insert("401".into(), error("No API key, or an unknown or replaced one"));
                    responses.insert(
                        "403".into(),
                        error(
                            "The key's application is not subscribed to this API here, or the key is of the other kind",
                        ),
                    );
                }
                if let Some(o) = oauth2 {
                    responses.insert("401".into(), error("No access token, or an expired, foreign or tampered one"));
                    let why = if o.external.is_some() {
                        "The token lacks a scope this operation needs"
                    } else {
                        "The token lacks a scope this operation needs, or its application is not subscribed here"
                    };
                    responses.insert("403".into(), error(why));
                }
                responses.insert("404".into(), error("Not deployed here"));
                responses.insert("413".into(), error("The body is over the server's limit"));
                let limits: Vec<String> = api_limit
                    .map(|l| format!("the API: {l}"))
                    .into_iter()
                    .chain(handler.rate_limit.map(|r| format!("this resource: {r}")))
                    .collect();
                if !limits.is_empty() {
                    responses.insert("429".into(), rate_limited(&limits.join(", ")));
                }
                responses.insert(
                    "503".into(),
                    error("Overloaded, the disk is full, or shutting down: retry after `Retry-After`"),
                );
                let mut op = Map::new();
                op.insert("operationId".into(), json!(operation_id(method, resource)));
                if let Some(o) = oauth2 {
                    let scheme = if o.external.is_some() { "bearer" } else { "oauth2" };
                    let needed: Vec<&str> = o.required(resource, method).collect();
                    op.insert("security".into(), json!([{ scheme: needed }]));
                }
                op.insert("summary".into(), json!(format!("{method} {resource}")));
                if !limits.is_empty() {
                    op.insert("description".into(), json!(format!("Rate limits: {}.", limits.join("; "))));
                }
                if WITH_BODY.contains(&method.as_str()) {
                    let schema = handler.schema.clone().unwrap_or_else(|| json!({}));
                    op.insert(
                        "requestBody".into(),
                        json!({ "required": false, "content": { "application/json": { "schema": schema } } }),
                    );
                }
                op.insert("responses".into(), Value::Object(responses));
                if target.deprecated {
                    op.insert("deprecated".into(), json!(true));
                }
                item.insert(method.to_ascii_lowercase(), Value::Object(op));
            }
            paths.insert(resource.clone(), Value::Object(item));
        }
    } else {
        // A provider's webhook: one URL takes every event the handlers name.
        let events: Vec<String> =
            component.handler_list().map(|(channel, event, _)| format!("`{channel}.{event}`")).collect();
        paths.insert(
            "/".into(),
            json!({ "post": {
                "operationId": "post_root",
                "summary": format!("Deliveries from {kind}"),
                "description": format!("Signed by the provider; the handlers take {}.", events.join(", ")),
                "requestBody": { "required": true, "content": { "application/json": { "schema": {} } } },
                "responses": {
                    "202": { "description": "Stored; its runs are queued",
                             "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Accepted" } } } },
                    "200": { "description": "A delivery seen before, a probe or a handshake", "content": { "application/json": { "schema": {} } } },
                    "400": error("The body is not what the provider sends"),
                    "401": error("The signature is missing or wrong"),
                    "404": error("Not deployed here"),
                    "503": error("Overloaded or shutting down: retry after `Retry-After`"),
                },
            } }),
        );
    }
    let mut description = component.description.clone().unwrap_or_default();
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": { "title": name, "version": target.version },
        "servers": [{ "url": target.server_url, "description": target.environment }],
        "paths": paths,
        "components": { "schemas": {
            "Accepted": {
                "type": "object",
                "required": ["event_id", "duplicate"],
                "properties": { "event_id": { "type": "string" }, "duplicate": { "type": "boolean" } },
            },
            "Error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": { "type": "string" },
                    "message": { "type": "string" },
                    "location": { "type": ["string", "null"] },
                },
            },
        } },
    });
    if let Some(place) = &key {
        let (location, name) = match place {
            crate::security::KeyIn::Header(n) => ("header", n),
            crate::security::KeyIn::Query(n) => ("query", n),
        };
        doc["components"]["securitySchemes"] = json!({ "apiKey": {
            "type": "apiKey", "in": location, "name": name,
            "description": "A subscribed application's key: sandbox keys call development, production keys production",
        } });
        doc["security"] = json!([{ "apiKey": [] }]);
    }
    if let Some(o) = oauth2 {
        match &o.external {
            None => {
                let base = target.server_url.split("/hooks/").next().unwrap_or(target.server_url);
                let scopes: Map<String, Value> = o
                    .all_scopes()
                    .into_iter()
                    .map(|s| (s.to_string(), json!(format!("Needed by: {}", used_by(o, s)))))
                    .collect();
                doc["components"]["securitySchemes"] = json!({ "oauth2": {
                    "type": "oauth2",
                    "description": "A token of Onset's authorization server for a subscribed application (client credentials)",
                    "flows": { "clientCredentials": { "tokenUrl": format!("{base}/oauth2/token"), "scopes": scopes } },
                } });
                doc["security"] = json!([{ "oauth2": [] }]);
            }
            Some(e) => {
                doc["components"]["securitySchemes"] = json!({ "bearer": {
                    "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": format!("An access token issued by {}", e.issuer),
                } });
                doc["security"] = json!([{ "bearer": [] }]);
            }
        }
    }
    let docs = match (component.docs_file(), target.docs_file) {
        (Some(_), Some(text)) => Some(text),
        (Some(_), None) => None,
        (None, _) => component.docs.as_deref(),
    };
    match docs {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
            doc["externalDocs"] = json!({ "url": url });
        }
        Some(markdown) => {
            if !description.is_empty() {
                description.push_str("\n\n");
            }
            description.push_str(markdown);
        }
        None => {}
    }
    if !description.is_empty() {
        doc["info"]["description"] = json!(description);
    }
    doc
}

/// The operations that need `scope`, as `POST /orders`.
fn used_by(o: &crate::security::OAuth2, scope: &str) -> String {
    let ops: Vec<String> = o
        .scopes
        .iter()
        .filter(|r| r.scopes.iter().any(|s| s == scope))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    ops.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_are_unique_per_method_and_path() {
        assert_eq!(operation_id("POST", "/orders/{id}"), "post_orders_id");
        assert_eq!(operation_id("GET", "/"), "get_root");
        assert_eq!(operation_id("PUT", "/a-b/c"), "put_a_b_c");
    }
}
