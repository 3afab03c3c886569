//! A Postman collection (v2.1) of a component's API, with an environment file: a request per
//! operation of its OpenAPI document (path parameters as Postman variables, a body made from the
//! request schema) and a test that the answer is one the API promises for success.

use serde_json::{Map, Value, json};

/// A value a schema accepts: its `example`, `default` or first `enum` value, else one made from
/// its type (objects get every property).
pub fn example(schema: &Value) -> Value {
    for key in ["example", "default"] {
        if let Some(v) = schema.get(key) {
            return v.clone();
        }
    }
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("object"),
        Some(Value::String(t)) => t.as_str(),
        _ if schema.get("properties").is_some() => "object",
        _ => return json!({}),
    };
    match kind {
        "object" => {
            let props = schema.get("properties").and_then(Value::as_object);
            Value::Object(props.into_iter().flatten().map(|(k, v)| (k.clone(), example(v))).collect())
        }
        "array" => json!([example(schema.get("items").unwrap_or(&json!({})))]),
        "integer" => json!(schema.get("minimum").and_then(Value::as_i64).unwrap_or(1)),
        "number" => json!(schema.get("minimum").and_then(Value::as_f64).unwrap_or(1.5)),
        "boolean" => json!(true),
        "string" => json!("text"),
        _ => Value::Null,
    }
}

/// Fetches a token before the first request when the environment has the application's client
/// id and secret but no `accessToken` (so the collection runs by itself in newman or Postman).
const FETCH_TOKEN: &[&str] = &[
    "if (!pm.variables.get('accessToken') && pm.variables.get('clientId') && pm.variables.get('clientSecret')) {",
    "    pm.sendRequest({",
    "        url: pm.variables.get('tokenUrl'),",
    "        method: 'POST',",
    "        header: { 'Content-Type': 'application/x-www-form-urlencoded' },",
    "        body: { mode: 'urlencoded', urlencoded: [",
    "            { key: 'grant_type', value: 'client_credentials' },",
    "            { key: 'client_id', value: pm.variables.get('clientId') },",
    "            { key: 'client_secret', value: pm.variables.get('clientSecret') }",
    "        ] }",
    "    }, function (err, res) {",
    "        if (err || res.code !== 200) { throw new Error('no token from ' + pm.variables.get('tokenUrl') + ': ' + (err || res.text())); }",
    "        pm.environment.set('accessToken', res.json().access_token);",
    "    });",
    "}",
];

/// The collection and its environment (`baseUrl`; `apiKey` for the API's key when it takes one;
/// `accessToken`, or `tokenUrl`, `clientId` and `clientSecret` to get one, when it takes OAuth2
/// tokens).
pub fn collection(openapi: &Value, environment: &str) -> (Value, Value) {
    let title = openapi["info"]["title"].as_str().unwrap_or("api");
    let token_url =
        openapi.pointer("/components/securitySchemes/oauth2/flows/clientCredentials/tokenUrl").and_then(Value::as_str);
    let bearer = token_url.is_some() || openapi.pointer("/components/securitySchemes/bearer").is_some();
    // The API key, as the collection's variable `apiKey`.
    let key = openapi.pointer("/components/securitySchemes/apiKey");
    let key_in = key.and_then(|k| k["in"].as_str());
    let key_name = key.and_then(|k| k["name"].as_str()).unwrap_or("x-api-key");
    let base = openapi["servers"][0]["url"].as_str().unwrap_or_default();
    let mut items = Vec::new();
    for (path, item) in openapi["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten().filter(|(m, _)| *m != "parameters") {
            // `/orders/{id}` → `/orders/:id`, each a variable of the request.
            let segments: Vec<String> = path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => format!(":{name}"),
                    None => s.to_string(),
                })
                .collect();
            let variables: Vec<Value> = segments
                .iter()
                .filter_map(|s| s.strip_prefix(':'))
                .map(|name| json!({ "key": name, "value": "1" }))
                .collect();
            let raw = format!("{{{{baseUrl}}}}{}{}", if segments.is_empty() { "" } else { "/" }, segments.join("/"));
            let mut request = Map::new();
            request.insert("method".into(), json!(method.to_ascii_uppercase()));
            let mut headers = vec![json!({ "key": "Content-Type", "value": "application/json" })];
            if key_in == Some("header") {
                headers.push(json!({ "key": key_name, "value": "{{apiKey}}" }));
            }
            request.insert("header".into(), Value::Array(headers));
            let mut url = json!({ "raw": raw, "host": ["{{baseUrl}}"], "variable": variables });
            // No path at all for the API's root: an empty one would end the URL with `/`.
            if !segments.is_empty() {
                url["path"] = json!(segments);
            }
            if key_in == Some("query") {
                url["query"] = json!([{ "key": key_name, "value": "{{apiKey}}" }]);
                url["raw"] = json!(format!("{raw}?{key_name}={{{{apiKey}}}}"));
            }
            request.insert("url".into(), url);
            if let Some(schema) = op.pointer("/requestBody/content/application~1json/schema") {
                let body = serde_json::to_string_pretty(&example(schema)).unwrap_or_default();
                request.insert(
                    "body".into(),
                    json!({ "mode": "raw", "raw": body, "options": { "raw": { "language": "json" } } }),
                );
            }
            let name = op["summary"]
                .as_str()
                .map_or_else(|| format!("{} {path}", method.to_ascii_uppercase()), str::to_string);
            items.push(json!({
                "name": name,
                "request": request,
                "event": [{
                    "listen": "test",
                    "script": { "type": "text/javascript", "exec": [
                        "pm.test(\"the API takes the request\", function () {",
                        "    pm.expect(pm.response.code).to.be.oneOf([200, 202]);",
                        "});",
                    ] },
                }],
            }));
        }
    }
    let mut collection = json!({
        "info": {
            "name": title,
            "description": openapi["info"]["description"].as_str().unwrap_or_default(),
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "item": items,
        "variable": [{ "key": "baseUrl", "value": base }],
    });
    let mut values = vec![json!({ "key": "baseUrl", "value": base, "enabled": true })];
    if key.is_some() {
        values.push(json!({ "key": "apiKey", "value": "", "type": "secret", "enabled": true }));
    }
    if bearer {
        collection["auth"] =
            json!({ "type": "bearer", "bearer": [{ "key": "token", "value": "{{accessToken}}", "type": "string" }] });
        values.push(json!({ "key": "accessToken", "value": "", "type": "secret", "enabled": true }));
    }
    if let Some(url) = token_url {
        collection["event"] =
            json!([{ "listen": "prerequest", "script": { "type": "text/javascript", "exec": FETCH_TOKEN } }]);
        values.push(json!({ "key": "tokenUrl", "value": url, "enabled": true }));
        values.push(json!({ "key": "clientId", "value": "", "enabled": true }));
        values.push(json!({ "key": "clientSecret", "value": "", "type": "secret", "enabled": true }));
    }
    let environment = json!({
        "name": format!("{title} ({environment})"),
        "values": values,
        "_postman_variable_scope": "environment",
    });
    (collection, environment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_fill_what_the_schema_asks_for() {
        let schema = json!({
            "type": "object",
            "required": ["sku"],
            "properties": {
                "sku": { "type": "string" },
                "qty": { "type": "integer", "minimum": 2 },
                "kind": { "enum": ["a", "b"] },
                "tags": { "type": "array", "items": { "type": "string" } },
                "note": { "type": ["string", "null"], "example": "hi" },
            },
        });
        assert_eq!(example(&schema), json!({ "sku": "text", "qty": 2, "kind": "a", "tags": ["text"], "note": "hi" }));
        assert_eq!(example(&json!({})), json!({}), "any JSON: an empty object");
    }
}
