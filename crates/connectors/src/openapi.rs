//! OpenAPI 3.0 and 3.1 documents as connectors: every operation of the document becomes
//! `NAME.<operationId>`, its parameters and request body the input schema (one field per
//! parameter, `body` for the body), its first success response the output's `body`, its security
//! schemes the `http` account kinds it takes. A call is an `http.request` built from the input:
//! path parameters percent-encoded into the path, query parameters (lists repeated), headers, the
//! body as JSON or a form.

use serde_json::{Map, Value, json};

use onset_engine::{AccountUse, Connectors, OperationInfo};

use crate::catalog::{AccountNeed, Operation};

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Path,
    Query,
    Header,
}

/// One parameter of an operation: its name in the API and where it goes (its input field has
/// the same name).
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub location: Location,
}

/// How an operation's call is made.
#[derive(Debug, Clone)]
pub struct RequestTemplate {
    pub method: String,
    /// The path as the document writes it, `{name}` placeholders included.
    pub path: String,
    pub params: Vec<Param>,
    /// The body's media type, when the operation takes one.
    pub body: Option<String>,
}

/// A document turned into operations.
#[derive(Debug, Clone)]
pub struct Imported {
    pub name: String,
    /// `servers[0].url` with its variables' defaults; an account's `base_url` replaces it.
    pub base_url: Option<String>,
    pub operations: Vec<Operation>,
    /// The request of each operation, in the same order.
    pub requests: Vec<RequestTemplate>,
    /// Each security scheme as the `http` account fields that serve it, e.g.
    /// `auth=api_key in=header name=X-API-Key`.
    pub auth: Vec<(String, String)>,
}

/// Connector names the built-in connectors use.
const RESERVED: &[&str] = &["http", "slack", "github", "google", "sql", "email", "publish", "test"];
const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];
/// `$ref`s are inlined this deep; a deeper (or recursive) schema is left open there.
const MAX_DEPTH: usize = 12;

fn resolve<'a>(doc: &'a Value, value: &'a Value) -> Result<&'a Value, String> {
    let mut at = value;
    for _ in 0..MAX_DEPTH {
        let Some(reference) = at.get("$ref").and_then(Value::as_str) else { return Ok(at) };
        let pointer = reference.strip_prefix('#').ok_or_else(|| {
            format!("`{reference}`: only references inside the document (#/components/…) are followed")
        })?;
        at = doc.pointer(pointer).ok_or_else(|| format!("`{reference}` points at nothing in the document"))?;
    }
    Err("references nest too deep".into())
}

/// A schema with its `$ref`s inlined (to `MAX_DEPTH`), OpenAPI 3.0's `nullable` as a type list,
/// and `readOnly` properties of request bodies dropped when `writing`.
fn schema(doc: &Value, value: &Value, depth: usize, writing: bool) -> Value {
    if depth > MAX_DEPTH {
        return json!({});
    }
    let Ok(value) = resolve(doc, value) else { return json!({}) };
    let Some(object) = value.as_object() else { return value.clone() };
    let mut out = Map::new();
    for (k, v) in object {
        let converted = match k.as_str() {
            "properties" => Value::Object(
                v.as_object()
                    .map(|props| {
                        props
                            .iter()
                            .filter(|(_, p)| {
                                !(writing && resolve(doc, p).is_ok_and(|p| p["readOnly"] == Value::Bool(true)))
                            })
                            .map(|(name, p)| (name.clone(), schema(doc, p, depth + 1, writing)))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            "items" | "additionalProperties" | "not" if v.is_object() => schema(doc, v, depth + 1, writing),
            "anyOf" | "oneOf" | "allOf" => {
                Value::Array(v.as_array().into_iter().flatten().map(|s| schema(doc, s, depth + 1, writing)).collect())
            }
            "nullable" | "readOnly" | "writeOnly" | "xml" | "example" | "discriminator" | "externalDocs" => continue,
            _ => v.clone(),
        };
        out.insert(k.clone(), converted);
    }
    if object.get("nullable") == Some(&Value::Bool(true))
        && let Some(t) = out.get("type").and_then(Value::as_str).map(str::to_string)
    {
        out.insert("type".into(), json!([t, "null"]));
    }
    Value::Object(out)
}

/// `getPetsPetId` for an operation without an `operationId`.
fn derived_id(method: &str, path: &str) -> String {
    let mut id = method.to_string();
    for word in path.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            id.push(first.to_ascii_uppercase());
            id.extend(chars);
        }
    }
    id
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn server_url(doc: &Value) -> Option<String> {
    let server = doc["servers"].get(0)?;
    let mut url = server["url"].as_str()?.to_string();
    if let Some(vars) = server["variables"].as_object() {
        for (name, var) in vars {
            if let Some(default) = var["default"].as_str() {
                url = url.replace(&format!("{{{name}}}"), default);
            }
        }
    }
    Some(url.trim_end_matches('/').to_string())
}

fn security_schemes(doc: &Value) -> Vec<(String, String)> {
    let Some(schemes) = doc["components"]["securitySchemes"].as_object() else { return Vec::new() };
    schemes
        .iter()
        .map(|(name, s)| {
            let s = resolve(doc, s).unwrap_or(s);
            let fields = match (s["type"].as_str(), s["scheme"].as_str().map(str::to_ascii_lowercase).as_deref()) {
                (Some("apiKey"), _) => format!(
                    "auth=api_key in={} name={}",
                    if s["in"] == "query" { "query" } else { "header" },
                    s["name"].as_str().unwrap_or("?")
                ),
                (Some("http"), Some("bearer")) => "auth=bearer token=…".into(),
                (Some("http"), Some("basic")) => "auth=basic username=… password=…".into(),
                (Some("oauth2"), _) if s["flows"]["clientCredentials"].is_object() => format!(
                    "auth=oauth2_client_credentials token_url={} client_id=… client_secret=…",
                    s["flows"]["clientCredentials"]["tokenUrl"].as_str().unwrap_or("…")
                ),
                (Some("oauth2"), _) => {
                    let flow = &s["flows"]["authorizationCode"];
                    format!(
                        "auth=oauth2_refresh_token token_url={} client_id=… client_secret=… refresh_token=…",
                        flow["tokenUrl"].as_str().unwrap_or("…")
                    )
                }
                (kind, scheme) => {
                    format!("not served by an http account ({} {})", kind.unwrap_or("?"), scheme.unwrap_or(""))
                }
            };
            (name.clone(), fields)
        })
        .collect()
}

/// Turns an OpenAPI document (YAML or JSON) into the operations of connector `name`; every
/// problem found, each saying where.
pub fn import(name: &str, text: &str) -> Result<Imported, Vec<String>> {
    let mut errors = Vec::new();
    if !name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        errors.push(format!(
            "`{name}` is not a connector name: lower-case letters, digits and `_`, starting with a letter"
        ));
    }
    if RESERVED.contains(&name) {
        errors.push(format!("`{name}` is a built-in connector's name; choose another with --name"));
    }
    let doc: Value = match yaml_serde::from_str(text) {
        Ok(d) => d,
        Err(e) => return Err(vec![format!("the document is neither YAML nor JSON: {e}")]),
    };
    match doc["openapi"].as_str() {
        Some(v) if v.starts_with("3.0") || v.starts_with("3.1") => {}
        Some(v) => errors.push(format!("`openapi: {v}`: OpenAPI 3.0 and 3.1 are supported")),
        None if doc.get("swagger").is_some() => {
            errors.push("a Swagger 2.0 document: convert it to OpenAPI 3 first (e.g. with swagger2openapi)".into());
        }
        None => errors.push("no `openapi` version: is this an OpenAPI document?".into()),
    }
    let secured_by_default = doc["security"].as_array().is_some_and(|s| !s.is_empty());
    let mut operations = Vec::new();
    let mut requests = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        let item = match resolve(&doc, item) {
            Ok(i) => i,
            Err(e) => {
                errors.push(format!("paths.{path}: {e}"));
                continue;
            }
        };
        for method in METHODS {
            let Some(op) = item.get(*method) else { continue };
            let at = format!("paths.{path}.{method}");
            let id = op["operationId"].as_str().map_or_else(|| derived_id(method, path), str::to_string);
            if !valid_id(&id) {
                errors.push(format!("{at}: operationId `{id}` has characters other than letters, digits, `_` and `-`"));
                continue;
            }
            if !seen.insert(id.clone()) {
                errors.push(format!("{at}: operationId `{id}` is used twice"));
                continue;
            }
            // Operation parameters replace path-level ones of the same name and place.
            let mut params: Vec<&Value> = Vec::new();
            for p in item["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(op["parameters"].as_array().into_iter().flatten())
            {
                match resolve(&doc, p) {
                    Ok(p) => {
                        params.retain(|q: &&Value| !(q["name"] == p["name"] && q["in"] == p["in"]));
                        params.push(p);
                    }
                    Err(e) => errors.push(format!("{at}: {e}")),
                }
            }
            let mut properties = Map::new();
            let mut required = Vec::new();
            let mut template = Vec::new();
            for p in params {
                let pname = p["name"].as_str().unwrap_or_default().to_string();
                let location = match p["in"].as_str() {
                    Some("path") => Location::Path,
                    Some("query") => Location::Query,
                    Some("header") => Location::Header,
                    other => {
                        errors.push(format!("{at}: parameter `{pname}` in {} is not supported", other.unwrap_or("?")));
                        continue;
                    }
                };
                let mut s = p.get("schema").map_or_else(|| json!({}), |s| schema(&doc, s, 0, true));
                // Parameters travel as text: a number or boolean where the document says string
                // (an id from an earlier step's JSON) is taken as its text.
                if s["type"] == "string"
                    && let Some(obj) = s.as_object_mut()
                {
                    obj.insert("type".into(), json!(["string", "number", "boolean"]));
                }
                if let (Some(d), Some(obj)) = (p["description"].as_str(), s.as_object_mut()) {
                    obj.entry("description").or_insert_with(|| json!(d));
                }
                if location == Location::Path || p["required"] == Value::Bool(true) {
                    required.push(json!(pname));
                }
                properties.insert(pname.clone(), s);
                template.push(Param { name: pname, location });
            }
            let mut body_type = None;
            if let Some(body) = op.get("requestBody") {
                match resolve(&doc, body) {
                    Ok(body) => {
                        let content = body["content"].as_object();
                        let chosen = content.and_then(|c| {
                            c.iter()
                                .find(|(t, _)| t.starts_with("application/json") || t.ends_with("+json"))
                                .or_else(|| c.iter().find(|(t, _)| *t == "application/x-www-form-urlencoded"))
                                .or_else(|| c.iter().next())
                        });
                        if let Some((media, spec)) = chosen {
                            let s = spec.get("schema").map_or_else(|| json!({}), |s| schema(&doc, s, 0, true));
                            properties.insert("body".into(), s);
                            if body["required"] == Value::Bool(true) {
                                required.push(json!("body"));
                            }
                            body_type = Some(media.clone());
                        }
                    }
                    Err(e) => errors.push(format!("{at}: requestBody: {e}")),
                }
            }
            let responses = op["responses"].as_object();
            let success = responses.and_then(|r| {
                r.iter()
                    .find(|(code, _)| code.starts_with('2'))
                    .or_else(|| r.iter().find(|(code, _)| *code == "default"))
            });
            let response_schema = success
                .and_then(|(_, r)| resolve(&doc, r).ok())
                .and_then(|r| r["content"].as_object())
                .and_then(|c| c.iter().find(|(t, _)| t.contains("json")).or_else(|| c.iter().next()))
                .and_then(|(_, spec)| spec.get("schema"))
                .map_or_else(|| json!({}), |s| schema(&doc, s, 0, false));
            let description = op["summary"]
                .as_str()
                .or_else(|| op["description"].as_str().and_then(|d| d.lines().next()))
                .map_or_else(|| format!("{} {path}", method.to_ascii_uppercase()), str::to_string);
            let secured = op.get("security").and_then(Value::as_array).map_or(secured_by_default, |s| !s.is_empty());
            let mut input = json!({ "type": "object", "additionalProperties": false, "properties": properties });
            if !required.is_empty() {
                input["required"] = Value::Array(required);
            }
            operations.push(Operation {
                name: format!("{name}.{id}"),
                description: description.replace('\n', " "),
                account: Some(AccountNeed { kind: "http".into(), required: secured }),
                retryable: !matches!(*method, "post" | "patch"),
                input,
                output: json!({
                    "type": "object",
                    "properties": {
                        "status": { "type": "integer" },
                        "headers": { "type": "object" },
                        "body": response_schema
                    }
                }),
            });
            requests.push(RequestTemplate {
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                params: template,
                body: body_type,
            });
        }
    }
    if operations.is_empty() && errors.is_empty() {
        errors.push("the document has no operations under `paths`".into());
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Imported {
        name: name.to_string(),
        base_url: server_url(&doc),
        operations,
        requests,
        auth: security_schemes(&doc),
    })
}

impl Imported {
    /// The `http.request` input for operation `index` with `input` (already checked against its
    /// schema); `base` is the account's `base_url`, which replaces the document's server.
    pub fn http_input(&self, index: usize, input: &Value, base: Option<&str>) -> Result<Value, String> {
        let template = &self.requests[index];
        let op = &self.operations[index].name;
        let base = base
            .or(self.base_url.as_deref())
            .ok_or_else(|| format!("{op}: the document names no server; give the account a `base_url`"))?;
        let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
        let mut path = template.path.clone();
        let mut query: Vec<(String, String)> = Vec::new();
        let mut headers = Map::new();
        for p in &template.params {
            let Some(value) = input.get(&p.name).filter(|v| !v.is_null()) else { continue };
            match p.location {
                Location::Path => {
                    path = path.replace(&format!("{{{}}}", p.name), &crate::http::segment(&text(value)));
                }
                Location::Query => match value {
                    Value::Array(items) => query.extend(items.iter().map(|i| (p.name.clone(), text(i)))),
                    other => query.push((p.name.clone(), text(other))),
                },
                Location::Header => {
                    headers.insert(p.name.clone(), json!(text(value)));
                }
            }
        }
        if path.contains('{') {
            return Err(format!("{op}: a path parameter of `{}` has no value", template.path));
        }
        let mut url = url::Url::parse(&format!("{}{path}", base.trim_end_matches('/')))
            .map_err(|e| format!("{op}: `{base}{path}` is not a URL: {e}"))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut request = json!({ "method": template.method, "url": url.as_str() });
        if let (Some(media), Some(body)) = (&template.body, input.get("body")) {
            if media == "application/x-www-form-urlencoded" {
                let mut form = form_urlencoded::Serializer::new(String::new());
                for (k, v) in body.as_object().into_iter().flatten() {
                    form.append_pair(k, &text(v));
                }
                request["body"] = json!(form.finish());
            } else if media.contains("json") {
                request["body"] = body.clone();
            } else {
                request["body"] = json!(text(body));
            }
            headers.insert("content-type".into(), json!(media));
        }
        if !headers.is_empty() {
            request["headers"] = Value::Object(headers);
        }
        Ok(request)
    }
}

/// The imported operation `name` (`petstore.listPets`) among `imported`: its document and index.
pub fn find<'a>(imported: &'a [Imported], name: &str) -> Option<(&'a Imported, usize)> {
    let (prefix, _) = name.split_once('.')?;
    let api = imported.iter().find(|api| api.name == prefix)?;
    api.operations.iter().position(|o| o.name == name).map(|i| (api, i))
}

/// Imported operations take an `http` account (required when the document's security says so).
pub fn account_use(op: &Operation) -> AccountUse {
    match &op.account {
        Some(a) if a.required => AccountUse::Required("http"),
        _ => AccountUse::Optional("http"),
    }
}

pub fn info(op: &Operation) -> OperationInfo<'_> {
    OperationInfo { input: &op.input, account: account_use(op) }
}

/// The documents a deployment carries (`files["../connectors/NAME.yaml"]`), imported.
pub fn from_files(files: &std::collections::BTreeMap<String, String>) -> Result<Vec<Imported>, Vec<String>> {
    let mut all = Vec::new();
    let mut errors = Vec::new();
    for (path, text) in files {
        let Some(name) = path.strip_prefix(onset_model::CONNECTORS_DIR).and_then(|f| f.strip_suffix(".yaml")) else {
            continue;
        };
        match import(name, text) {
            Ok(api) => all.push(api),
            Err(e) => errors.extend(e.into_iter().map(|e| format!("connectors/{name}.yaml: {e}"))),
        }
    }
    if errors.is_empty() { Ok(all) } else { Err(errors) }
}

/// Validation's view: the build's operations and a project's imported ones.
#[derive(Clone, Copy)]
pub struct WithImported<'a, C> {
    pub base: C,
    pub imported: &'a [Imported],
}

impl<C: Connectors> Connectors for WithImported<'_, C> {
    fn knows(&self, operation: &str) -> bool {
        find(self.imported, operation).is_some() || self.base.knows(operation)
    }
    fn operation(&self, operation: &str) -> Option<OperationInfo<'_>> {
        match find(self.imported, operation) {
            Some((api, i)) => Some(info(&api.operations[i])),
            None => self.base.operation(operation),
        }
    }
    fn operation_names(&self) -> Vec<&str> {
        let mut names = self.base.operation_names();
        names.extend(self.imported.iter().flat_map(|api| api.operations.iter().map(|o| o.name.as_str())));
        names
    }
    fn account_types(&self) -> Vec<&str> {
        self.base.account_types()
    }
    fn call<'a>(&'a self, operation: &'a str, input: Value, account: Option<Value>) -> onset_engine::CallFuture<'a> {
        self.base.call(operation, input, account)
    }
    fn runs_scripts(&self) -> bool {
        self.base.runs_scripts()
    }
    fn check_script<'a>(&'a self, source: std::sync::Arc<str>) -> onset_engine::CallFuture<'a> {
        self.base.check_script(source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PETSTORE: &str = include_str!("../testdata/petstore.yaml");

    #[test]
    fn the_petstore_becomes_three_operations() {
        let api = import("petstore", PETSTORE).unwrap();
        let names: Vec<&str> = api.operations.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["petstore.listPets", "petstore.createPets", "petstore.showPetById"]);
        assert_eq!(api.base_url.as_deref(), Some("http://petstore.swagger.io/v1"));
        let list = &api.operations[0];
        assert_eq!(list.description, "List all pets");
        assert_eq!(list.input["properties"]["limit"]["type"], "integer");
        assert!(list.input.get("required").is_none());
        assert!(list.retryable && !api.operations[1].retryable, "POST is not retried");
        // The response's $ref is inlined.
        assert_eq!(list.output["properties"]["body"]["items"]["required"], json!(["id", "name"]));
        let show = &api.operations[2];
        assert_eq!(show.input["required"], json!(["petId"]));
        let create = &api.operations[1];
        assert_eq!(create.input["required"], json!(["body"]));
        assert_eq!(create.input["properties"]["body"]["properties"]["name"]["type"], "string");

        let req = api.http_input(2, &json!({ "petId": "a b/c" }), None).unwrap();
        assert_eq!(req, json!({ "method": "GET", "url": "http://petstore.swagger.io/v1/pets/a%20b%2Fc" }));
        let req = api.http_input(0, &json!({ "limit": 2 }), Some("http://127.0.0.1:9/v1/")).unwrap();
        assert_eq!(req["url"], "http://127.0.0.1:9/v1/pets?limit=2");
        let req = api.http_input(1, &json!({ "body": { "id": 3, "name": "Rex" } }), None).unwrap();
        assert_eq!(req["method"], "POST");
        assert_eq!(req["body"], json!({ "id": 3, "name": "Rex" }));
        assert_eq!(req["headers"]["content-type"], "application/json");
    }

    #[test]
    fn documents_that_cannot_be_imported_say_why() {
        let err = import("petstore", "swagger: '2.0'\npaths: {}\n").unwrap_err();
        assert!(err[0].contains("Swagger 2.0"), "{err:?}");
        let err = import("http", PETSTORE).unwrap_err();
        assert!(err[0].contains("built-in connector"), "{err:?}");
        let twice = "openapi: 3.1.0\ninfo: { title: t, version: '1' }\npaths:\n  /a: { get: { operationId: x, responses: {} } }\n  /b: { get: { operationId: x, responses: {} } }\n";
        assert!(import("t", twice).unwrap_err()[0].contains("paths./b.get: operationId `x` is used twice"));
        let derived = "openapi: 3.0.3\ninfo: { title: t, version: '1' }\npaths:\n  /pets/{petId}/toys: { get: { parameters: [ { name: petId, in: path, schema: { type: string } } ], responses: {} } }\n";
        assert_eq!(import("t", derived).unwrap().operations[0].name, "t.getPetsPetIdToys");
    }

    #[test]
    fn security_schemes_become_http_account_kinds() {
        let doc = r#"openapi: 3.0.3
info: { title: t, version: '1' }
security: [ { key: [] } ]
paths:
  /a: { get: { operationId: a, responses: {} } }
  /b: { get: { operationId: b, security: [], responses: {} } }
components:
  securitySchemes:
    key: { type: apiKey, in: header, name: X-API-Key }
    bearer: { type: http, scheme: bearer }
    cc: { type: oauth2, flows: { clientCredentials: { tokenUrl: https://auth.example.com/token, scopes: {} } } }
"#;
        let api = import("t", doc).unwrap();
        assert!(api.operations[0].account.as_ref().unwrap().required);
        assert!(!api.operations[1].account.as_ref().unwrap().required, "security: [] opts out");
        assert_eq!(
            api.auth,
            [
                ("key".to_string(), "auth=api_key in=header name=X-API-Key".to_string()),
                ("bearer".to_string(), "auth=bearer token=…".to_string()),
                (
                    "cc".to_string(),
                    "auth=oauth2_client_credentials token_url=https://auth.example.com/token client_id=… client_secret=…"
                        .to_string()
                ),
            ]
        );
    }
}
