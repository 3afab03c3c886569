//! The OpenAPI 3.1 document of the control plane, generated from the same table that builds the
//! router: every route is registered together with its description, so none goes undocumented.
//! Schemas come from the API types through schemars (JSON Schema 2020-12, OpenAPI 3.1's dialect).

use schemars::generate::{Contract, SchemaSettings};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// One operation: method, path (axum and OpenAPI share `{name}` parameters), a stable
/// `operationId`, and what it takes and answers.
pub struct Op {
    pub method: &'static str,
    pub path: &'static str,
    pub id: &'static str,
    summary: &'static str,
    tag: &'static str,
    /// Needs `Authorization: Bearer <token>`.
    pub authenticated: bool,
    query: Option<SchemaFn>,
    body: Option<SchemaFn>,
    /// `(status, description, schema, content type)`.
    responses: Vec<(u16, &'static str, Option<SchemaFn>, &'static str)>,
    errors: Vec<u16>,
}

fn schema_of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

impl Op {
    fn new(method: &'static str, path: &'static str, id: &'static str, summary: &'static str) -> Op {
        Op {
            method,
            path,
            id,
            summary,
            tag: "",
            authenticated: true,
            query: None,
            body: None,
            responses: Vec::new(),
            errors: Vec::new(),
        }
    }
    pub fn get(path: &'static str, id: &'static str, summary: &'static str) -> Op {
        Op::new("get", path, id, summary)
    }
    pub fn post(path: &'static str, id: &'static str, summary: &'static str) -> Op {
        Op::new("post", path, id, summary)
    }
    pub fn put(path: &'static str, id: &'static str, summary: &'static str) -> Op {
        Op::new("put", path, id, summary)
    }
    pub fn delete(path: &'static str, id: &'static str, summary: &'static str) -> Op {
        Op::new("delete", path, id, summary)
    }
    pub fn tag(mut self, tag: &'static str) -> Op {
        self.tag = tag;
        self
    }
    /// No token needed (health, the document itself).
    pub fn public(mut self) -> Op {
        self.authenticated = false;
        self
    }
    /// Query parameters: the properties of `T`.
    pub fn query<T: JsonSchema>(mut self) -> Op {
        self.query = Some(schema_of::<T>);
        self
    }
    /// A JSON request body.
    pub fn body<T: JsonSchema>(mut self) -> Op {
        self.body = Some(schema_of::<T>);
        self
    }
    /// A JSON answer.
    pub fn answers<T: JsonSchema>(mut self, status: u16, description: &'static str) -> Op {
        self.responses.push((status, description, Some(schema_of::<T>), "application/json"));
        self
    }
    /// An answer in another content type (its schema a string).
    pub fn answers_text(mut self, status: u16, description: &'static str, content_type: &'static str) -> Op {
        self.responses.push((status, description, Some(schema_of::<String>), content_type));
        self
    }
    /// An answer without a body.
    pub fn answers_empty(mut self, status: u16, description: &'static str) -> Op {
        self.responses.push((status, description, None, "application/json"));
        self
    }
    /// Error statuses besides those every operation may answer (401 when authenticated, 500, 503).
    pub fn errors(mut self, statuses: &[u16]) -> Op {
        self.errors.extend_from_slice(statuses);
        self
    }
}

fn error_description(status: u16) -> &'static str {
    match status {
        400 => "The request is malformed; `location` says where",
        401 => "No token, or an unknown or revoked one",
        403 => "The token's role does not allow this",
        404 => "No such thing (or no such environment)",
        409 => "It conflicts with the current state",
        422 => "It cannot be done: `code` says why (`deploy_failed` lists every reason)",
        500 => "Internal error; the server log has the detail",
        502 => "The provider refused the change",
        503 => "Overloaded, disk full or shutting down; retry after `Retry-After` seconds",
        _ => "Error",
    }
}

/// Everything the document describes, assembled.
pub fn document(ops: &[Op]) -> Value {
    let mut responses_gen = settings(Contract::Serialize).into_generator();
    let mut requests_gen = settings(Contract::Deserialize).into_generator();
    let error_schema = responses_gen.subschema_for::<super::types::ErrorBody>();
    let mut paths: Map<String, Value> = Map::new();
    for op in ops {
        let mut parameters = Vec::new();
        for name in path_parameters(op.path) {
            parameters.push(json!({
                "name": name, "in": "path", "required": true, "schema": { "type": "string" },
            }));
        }
        if let Some(query) = op.query {
            let schema = query(&mut requests_gen);
            let resolved = resolve(&schema, &requests_gen);
            let required: Vec<&str> = resolved
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = resolved.get("properties").and_then(Value::as_object) {
                for (name, schema) in props {
                    let mut schema = schema.clone();
                    let description = schema.as_object_mut().and_then(|o| o.remove("description"));
                    let mut p = json!({
                        "name": name, "in": "query", "required": required.contains(&name.as_str()), "schema": schema,
                    });
                    if let Some(d) = description {
                        p["description"] = d;
                    }
                    parameters.push(p);
                }
            }
        }
        let mut responses = Map::new();
        for (status, description, schema, content_type) in &op.responses {
            let mut r = json!({ "description": description });
            if let Some(schema) = schema {
                r["content"] = json!({ *content_type: { "schema": schema(&mut responses_gen) } });
            }
            responses.insert(status.to_string(), r);
        }
        let mut errors = op.errors.clone();
        if op.authenticated {
            errors.push(401);
        }
        // Whatever takes input may find it malformed; whatever names a thing may not find it.
        if op.query.is_some() || op.body.is_some() {
            errors.push(400);
        }
        if op.path.contains('{') {
            errors.push(404);
        }
        errors.extend([500, 503]);
        errors.sort_unstable();
        errors.dedup();
        for status in errors {
            responses.insert(
                status.to_string(),
                json!({
                    "description": error_description(status),
                    "content": { "application/json": { "schema": error_schema } },
                }),
            );
        }
        let mut operation = json!({
            "operationId": op.id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": parameters,
            "responses": responses,
        });
        if let Some(body) = op.body {
            operation["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": body(&mut requests_gen) } },
            });
        }
        operation["security"] = if op.authenticated { json!([{ "bearer": [] }, { "session": [] }]) } else { json!([]) };
        // axum's `{*rest}` (the rest of the path) is an ordinary parameter to OpenAPI.
        let item = paths.entry(op.path.replace("{*", "{")).or_insert_with(|| json!({}));
        item[op.method] = operation;
    }
    let mut schemas = requests_gen.take_definitions(true);
    for (name, schema) in responses_gen.take_definitions(true) {
        schemas.insert(name, schema);
    }
    let schemas: Map<String, Value> = {
        let mut sorted: Vec<_> = schemas.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        sorted.into_iter().collect()
    };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Onset control plane",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Deploy, promote and observe Onset components: events, runs, deployments, config, \
                            environments, tokens and audit. Errors are `{code, message, location}`.",
            "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" },
        },
        "servers": [{ "url": "/" }],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A control-plane token (`onset token create`; the first admin token is in \
                                    <data-dir>/admin-token)",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "onset_session",
                    "description": "The web UI's session (`POST /api/v1/session`); changes also need the \
                                    session's CSRF token in `X-CSRF-Token`",
                },
            },
        },
    })
}

fn settings(contract: Contract) -> SchemaSettings {
    let mut s = SchemaSettings::draft2020_12();
    s.definitions_path = "/components/schemas".into();
    s.meta_schema = None;
    s.contract = contract;
    s
}

/// `{id}` and `{name}` in a path template.
fn path_parameters(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| name.trim_start_matches('*'))
        .collect()
}

/// A `$ref` schema's target among the generator's definitions (query structs are referenced).
fn resolve(schema: &Schema, g: &SchemaGenerator) -> Value {
    let v = schema.as_value();
    match v.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => g.definitions().get(name).cloned().unwrap_or(Value::Null),
        None => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parameters_are_found() {
        assert_eq!(path_parameters("/api/v1/components/{name}/pause"), ["name"]);
        assert!(path_parameters("/api/v1/events").is_empty());
    }
}

#[cfg(test)]
mod checked_in {
    /// `schema/openapi.json` is what `onset openapi` prints; a change to the API shows up in review.
    #[test]
    fn the_checked_in_openapi_document_is_current() {
        let current = serde_json::to_string_pretty(&super::super::openapi()).unwrap() + "\n";
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/openapi.json");
        if std::env::var_os("ONSET_UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &current).unwrap();
        }
        let stored = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            stored == current,
            "schema/openapi.json is stale: regenerate it with `cargo run -p onset-cli -- openapi > schema/openapi.json` \
             (or ONSET_UPDATE_SCHEMA=1 cargo test -p onset-server openapi)"
        );
    }

    #[test]
    fn every_operation_has_a_unique_id_and_typed_answers() {
        let doc = super::super::openapi();
        let mut ids = std::collections::HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap();
                assert!(ids.insert(id.to_string()), "operationId {id} twice");
                for (status, response) in op["responses"].as_object().unwrap() {
                    let schema = &response["content"]["application/json"]["schema"];
                    // Only 204 answers have no body.
                    if path != "/metrics" && status != "204" {
                        assert!(schema.is_object() && schema != &serde_json::json!({}), "{method} {path} {status}");
                    }
                }
            }
        }
        assert!(ids.len() >= 29, "{ids:?}");
    }
}
