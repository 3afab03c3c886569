//! `security: { scheme: oauth2 }`: tokens of Onset's authorization server fetched with a standard
//! client library (authlib), checked by a standard verifier (PyJWT over the published JWKS), and
//! every bad token refused with 401/403 before anything is stored; an external issuer's tokens
//! checked against its JWKS, fetched again when it rotates its keys.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const ORDERS: &str = r#"
component: orders
trigger:
  type: http
  with:
    security:
      scheme: oauth2
      scopes:
        /orders: { POST: [orders:write] }
        /orders/{id}: { GET: [orders:read] }
handlers:
  /orders:
    POST: { steps: [ { log: created } ] }
  /orders/{id}:
    GET: { steps: [ { log: read } ] }
"#;

const STOCK: &str = r#"
component: stock
trigger:
  type: http
  with: { security: { scheme: oauth2 } }
handlers:
  /:
    POST: { steps: [ { log: ok } ] }
"#;

/// An application subscribed to `components` in development: (client id, secret).
async fn application(s: &TestServer, name: &str, components: &[&str]) -> (String, String) {
    let created: Value = s.post_json("/api/v1/applications", &json!({ "name": name })).await.json().await.unwrap();
    for c in components {
        let r = s.post_json("/api/v1/subscriptions", &json!({ "application": name, "component": c })).await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    (created["client_id"].as_str().unwrap().into(), created["client_secret"].as_str().unwrap().into())
}

/// Runs Python with `args`; its stdout is JSON.
async fn python(script: &'static str, args: Vec<String>) -> Value {
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3").arg("-c").arg(script).args(args).output().expect("python3")
    })
    .await
    .unwrap();
    assert!(out.status.success(), "python: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// authlib fetches a token (client credentials, HTTP Basic) for the scope asked and calls the API
/// with it; PyJWT then checks the token against the published JWKS.
const AUTHLIB: &str = r#"
import json, sys
import jwt
from authlib.integrations.requests_client import OAuth2Session
base, client_id, secret, scope, api = sys.argv[1:6]
session = OAuth2Session(client_id, secret, scope=scope or None)
token = session.fetch_token(base + "/oauth2/token", grant_type="client_credentials")
called = session.post(api, json={"sku": "A1"})
jwks = jwt.PyJWKClient(base + "/.well-known/jwks.json")
key = jwks.get_signing_key_from_jwt(token["access_token"])
claims = jwt.decode(token["access_token"], key.key, algorithms=["EdDSA"], audience=base + "/hooks/development/orders", issuer=base)
print(json.dumps({"token": token, "status": called.status_code, "claims": claims}))
"#;

/// A form-urlencoded body.
fn form<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut f = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        f.append_pair(k.as_ref(), v.as_ref());
    }
    f.finish()
}

trait Form {
    fn form_body(self, body: String) -> Self;
}

impl Form for reqwest::RequestBuilder {
    fn form_body(self, body: String) -> Self {
        self.header("content-type", "application/x-www-form-urlencoded").body(body)
    }
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn tokens_of_a_standard_client_are_accepted_and_bad_ones_refused() {
    let s = start(&[("orders.yaml", ORDERS), ("stock.yaml", STOCK)]).await;
    let (client_id, secret) = application(&s, "shop", &["orders"]).await;
    let api = s.url("/hooks/development/orders/orders");

    // authlib's token works, and PyJWT verifies it over the JWKS.
    let got =
        python(AUTHLIB, vec![s.base.clone(), client_id.clone(), secret.clone(), "orders:write".into(), api.clone()])
            .await;
    assert_eq!(got["status"], 202, "{got}");
    assert_eq!(got["token"]["token_type"], "Bearer");
    assert_eq!(got["token"]["scope"], "orders:write");
    assert_eq!(got["claims"]["client_id"], json!(client_id));
    assert_eq!(got["claims"]["exp"].as_i64().unwrap() - got["claims"]["iat"].as_i64().unwrap(), 3600);
    let write = got["token"]["access_token"].as_str().unwrap().to_string();
    let read =
        python(AUTHLIB, vec![s.base.clone(), client_id.clone(), secret.clone(), "orders:read".into(), api.clone()])
            .await;
    assert_eq!(read["status"], 403, "a read token does not create orders");
    let read = read["token"]["access_token"].as_str().unwrap().to_string();

    let call = |method: reqwest::Method, path: &str, token: Option<&str>| {
        let mut r = s.client.request(method, s.url(path)).json(&json!({ "sku": "A1" }));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let refused = |r: reqwest::Response| async move {
        let status = r.status();
        let challenge = r.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
        let body: Value = r.json().await.unwrap();
        (status, code(&body).to_string(), challenge.unwrap_or_default())
    };

    let (status, c, challenge) =
        refused(call(reqwest::Method::POST, "/hooks/development/orders/orders", None).await.unwrap()).await;
    assert_eq!((status, c.as_str()), (StatusCode::UNAUTHORIZED, "token_missing"));
    assert_eq!(challenge, r#"Bearer realm="onset""#);

    // Scopes per resource and method.
    let r = call(reqwest::Method::GET, "/hooks/development/orders/orders/7", Some(&read)).await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let (status, c, challenge) =
        refused(call(reqwest::Method::GET, "/hooks/development/orders/orders/7", Some(&write)).await.unwrap()).await;
    assert_eq!((status, c.as_str()), (StatusCode::FORBIDDEN, "insufficient_scope"));
    assert!(challenge.contains(r#"error="insufficient_scope", scope="orders:read""#), "{challenge}");

    // Tampered: the claims changed after signing.
    let mut parts: Vec<String> = write.split('.').map(str::to_string).collect();
    let claims = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &parts[1]).unwrap(),
    )
    .unwrap()
    .replace("orders:write", "orders:read");
    parts[1] = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims);
    let tampered = parts.join(".");
    let (status, c, challenge) =
        refused(call(reqwest::Method::GET, "/hooks/development/orders/orders/7", Some(&tampered)).await.unwrap()).await;
    assert_eq!((status, c.as_str()), (StatusCode::UNAUTHORIZED, "token_invalid"));
    assert!(challenge.starts_with(r#"Bearer realm="onset", error="invalid_token""#), "{challenge}");

    // Foreign: signed by a key Onset does not have, claiming Onset as issuer.
    let issuer = py_fake("jwks_issuer.py", &[]);
    let now = jiff::Timestamp::now().as_second();
    let sign = |kid: &str, claims: Value| {
        let (c, url) = (s.client.clone(), format!("{}/token", issuer.base));
        let kid = kid.to_string();
        async move {
            let v: Value =
                c.post(url).json(&json!({ "kid": kid, "claims": claims })).send().await.unwrap().json().await.unwrap();
            v["token"].as_str().unwrap().to_string()
        }
    };
    let good_claims = json!({
        "iss": s.base, "aud": format!("{}/hooks/development/orders", s.base), "client_id": client_id,
        "exp": now + 60, "nbf": now, "scope": "orders:write orders:read"
    });
    let foreign = sign("stranger", good_claims.clone()).await;
    let (status, c, _) =
        refused(call(reqwest::Method::GET, "/hooks/development/orders/orders/7", Some(&foreign)).await.unwrap()).await;
    assert_eq!((status, c.as_str()), (StatusCode::UNAUTHORIZED, "token_invalid"));

    // Wrong audience: a token for `stock` does not call `orders`.
    let (stock_id, stock_secret) = application(&s, "warehouse", &["stock"]).await;
    let r = s
        .client
        .post(s.url("/oauth2/token"))
        .basic_auth(&stock_id, Some(&stock_secret))
        .form_body(form(&[("grant_type", "client_credentials")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let stock_token = r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_string();
    let (status, c, _) =
        refused(call(reqwest::Method::POST, "/hooks/development/orders/orders", Some(&stock_token)).await.unwrap())
            .await;
    assert_eq!((status, c.as_str()), (StatusCode::UNAUTHORIZED, "token_audience"));
    assert_eq!(
        call(reqwest::Method::POST, "/hooks/development/stock", Some(&stock_token)).await.unwrap().status(),
        202
    );

    // The token endpoint's refusals, as RFC 6749 says.
    let token_error = |pairs: Vec<(&'static str, String)>| {
        let c = s.client.post(s.url("/oauth2/token")).form_body(form(&pairs)).send();
        async move {
            let r = c.await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap()["error"].as_str().unwrap_or_default().to_string())
        }
    };
    let creds = |extra: &[(&'static str, &str)]| {
        let mut f = vec![("client_id", client_id.clone()), ("client_secret", secret.clone())];
        f.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        f
    };
    assert_eq!(
        token_error(vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", client_id.clone()),
            ("client_secret", "nope".into())
        ])
        .await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    assert_eq!(
        token_error(creds(&[("grant_type", "password")])).await,
        (StatusCode::BAD_REQUEST, "unsupported_grant_type".into())
    );
    assert_eq!(
        token_error(creds(&[("grant_type", "client_credentials"), ("scope", "orders:delete")])).await,
        (StatusCode::BAD_REQUEST, "invalid_scope".into())
    );
    let stock_url = format!("{}/hooks/development/stock", s.base);
    assert_eq!(
        token_error(creds(&[("grant_type", "client_credentials"), ("resource", &stock_url)])).await,
        (StatusCode::BAD_REQUEST, "invalid_target".into()),
        "shop is not subscribed to stock"
    );

    // Nothing refused was stored: authlib's write, the read, the stock call.
    assert_eq!(s.events().await.len(), 3);

    // Onset's key rotates: tokens it signed stay good, new ones name the new key, the JWKS has both.
    let kid = |t: &str| {
        let header =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, t.split('.').next().unwrap())
                .unwrap();
        serde_json::from_slice::<Value>(&header).unwrap()["kid"].as_str().unwrap().to_string()
    };
    let rotated: Value = s.post_json("/api/v1/oauth2/keys", &json!({})).await.json().await.unwrap();
    let new_kid = rotated["kid"].as_str().unwrap();
    assert_ne!(new_kid, kid(&read));
    let jwks = s.client.get(s.url("/.well-known/jwks.json")).send().await.unwrap().json::<Value>().await.unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(kids.contains(&new_kid) && kids.contains(&kid(&read).as_str()), "{kids:?}");
    assert!(jwks.to_string().find("\"d\"").is_none(), "no private part");
    assert_eq!(
        call(reqwest::Method::GET, "/hooks/development/orders/orders/8", Some(&read)).await.unwrap().status(),
        202
    );
    let fresh =
        python(AUTHLIB, vec![s.base.clone(), client_id.clone(), secret.clone(), String::new(), api.clone()]).await;
    assert_eq!(fresh["status"], 202);
    assert_eq!(fresh["token"]["scope"], "orders:write orders:read", "every scope of the API when none is asked");
    assert_eq!(kid(fresh["token"]["access_token"].as_str().unwrap()), new_kid);

    // Discovery.
    let meta = s
        .client
        .get(s.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(meta["token_endpoint"], format!("{}/oauth2/token", s.base));

    // The OpenAPI document names the flow and each operation's scopes; Postman runs green with a
    // token, and by fetching one itself from the client id and secret.
    let doc = s.get("/api/v1/components/orders/openapi.json").await;
    assert_eq!(
        doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["tokenUrl"],
        format!("{}/oauth2/token", s.base)
    );
    assert_eq!(doc["paths"]["/orders/{id}"]["get"]["security"], json!([{ "oauth2": ["orders:read"] }]));
    crate::openapi_component::validate(&doc);
    let collection = s.get("/api/v1/components/orders/postman.json").await;
    let environment = s.get("/api/v1/components/orders/postman.json?file=environment").await;
    let with = |pairs: &[(&str, &str)]| {
        let mut e = environment.clone();
        for v in e["values"].as_array_mut().unwrap() {
            if let Some((_, value)) = pairs.iter().find(|(k, _)| v["key"] == *k) {
                v["value"] = json!(value);
            }
        }
        e
    };
    let before = s.events().await.len();
    let both =
        python(AUTHLIB, vec![s.base.clone(), client_id.clone(), secret.clone(), String::new(), api.clone()]).await;
    let token = both["token"]["access_token"].as_str().unwrap();
    crate::api_keys::newman(&collection, &with(&[("accessToken", token)])).await;
    crate::api_keys::newman(&collection, &with(&[("clientId", &client_id), ("clientSecret", &secret)])).await;
    assert_eq!(s.events().await.len(), before + 1 + 2 * 2, "authlib's call and newman's two requests, twice");

    // A deleted application's tokens stop working on the next request.
    let r = s.api.delete(s.url("/api/v1/applications/shop")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (status, c, _) =
        refused(call(reqwest::Method::GET, "/hooks/development/orders/orders/9", Some(&read)).await.unwrap()).await;
    assert_eq!((status, c.as_str()), (StatusCode::UNAUTHORIZED, "token_invalid"));
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let mut options = Options::new(&[("stock.yaml", STOCK)]);
    options.tune = Some(|c| c.oauth2_token_lifetime = std::time::Duration::from_secs(1));
    let s = start_with(options).await;
    let (id, secret) = application(&s, "shop", &["stock"]).await;
    let r = s
        .client
        .post(s.url("/oauth2/token"))
        .form_body(form(&[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret)]))
        .send()
        .await
        .unwrap();
    let token = r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = s.client.post(s.url("/hooks/development/stock")).bearer_auth(&token).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(code(&r.json::<Value>().await.unwrap()), "token_expired");
    assert!(s.events().await.is_empty());
}

#[tokio::test]
async fn an_external_issuers_tokens_are_checked_with_its_jwks_through_rotations() {
    let issuer = py_fake("jwks_issuer.py", &[]);
    let component = format!(
        r#"
component: ledger
trigger:
  type: http
  with:
    security:
      scheme: oauth2
      issuer: https://id.example.test/
      jwks_url: {}/jwks.json
      audience: api://ledger
      scopes:
        /entries: {{ POST: [ledger:write] }}
handlers:
  /entries:
    POST: {{ steps: [ {{ log: ok }} ] }}
"#,
        issuer.base
    );
    let s = start(&[("ledger.yaml", &component)]).await;
    let now = jiff::Timestamp::now().as_second();
    let claims = json!({
        "iss": "https://id.example.test/", "aud": ["api://ledger", "api://other"], "sub": "svc-1",
        "exp": now + 300, "nbf": now - 5, "scp": ["ledger:write"]
    });
    let sign = |kid: String, claims: Value| {
        let (c, url) = (s.client.clone(), format!("{}/token", issuer.base));
        async move {
            let v: Value =
                c.post(url).json(&json!({ "kid": kid, "claims": claims })).send().await.unwrap().json().await.unwrap();
            v["token"].as_str().unwrap().to_string()
        }
    };
    let call = |token: String| {
        let r = s.client.post(s.url("/hooks/development/ledger/entries")).bearer_auth(token).json(&json!({})).send();
        async move {
            let r = r.await.unwrap();
            let status = r.status();
            (status, code(&r.json::<Value>().await.unwrap()).to_string())
        }
    };
    let fetches = || {
        let r = s.client.get(format!("{}/fetches", issuer.base)).send();
        async move { r.await.unwrap().json::<Value>().await.unwrap()["fetches"].as_u64().unwrap() }
    };

    // RS256 by the published key: accepted; the JWKS fetched once for many calls.
    let first = "rsa-2".to_string();
    assert_eq!(call(sign(first.clone(), claims.clone()).await).await.0, StatusCode::ACCEPTED);
    assert_eq!(call(sign(first.clone(), claims.clone()).await).await.0, StatusCode::ACCEPTED);
    assert_eq!(fetches().await, 1);

    let with = |change: Value| {
        let mut c = claims.clone();
        for (k, v) in change.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    for (bad, expected) in [
        (with(json!({ "exp": now - 10 })), (StatusCode::UNAUTHORIZED, "token_expired")),
        (with(json!({ "nbf": now + 600 })), (StatusCode::UNAUTHORIZED, "token_not_yet_valid")),
        (with(json!({ "aud": "api://other" })), (StatusCode::UNAUTHORIZED, "token_audience")),
        (with(json!({ "iss": "https://evil.example.test/" })), (StatusCode::UNAUTHORIZED, "token_issuer")),
        (with(json!({ "scp": ["ledger:read"] })), (StatusCode::FORBIDDEN, "insufficient_scope")),
    ] {
        let got = call(sign(first.clone(), bad.clone()).await).await;
        assert_eq!((got.0, got.1.as_str()), expected, "{bad}");
    }
    // Signed by a key the issuer does not publish.
    let got = call(sign("stranger".into(), claims.clone()).await).await;
    assert_eq!((got.0, got.1.as_str()), (StatusCode::UNAUTHORIZED, "token_invalid"));

    // The issuer rotates to an EC key and withdraws the RSA one: a token naming the new key makes
    // Onset fetch the JWKS again (at most once a second).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let rotated: Value = s
        .client
        .post(format!("{}/rotate", issuer.base))
        .json(&json!({ "kind": "ec" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ec = rotated["kid"].as_str().unwrap().to_string();
    assert_eq!(call(sign(ec.clone(), claims.clone()).await).await.0, StatusCode::ACCEPTED);
    assert_eq!(call(sign(ec.clone(), claims.clone()).await).await.0, StatusCode::ACCEPTED);
    let after = fetches().await;
    assert!(after >= 2, "fetched again for the new key: {after}");
    // The withdrawn key's new tokens are refused once the JWKS no longer has it.
    let got = call(sign(first, with(json!({ "jti": "new" }))).await).await;
    assert_eq!((got.0, got.1.as_str()), (StatusCode::UNAUTHORIZED, "token_invalid"));
    // An Ed25519 key added beside it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let rotated: Value = s
        .client
        .post(format!("{}/rotate", issuer.base))
        .json(&json!({ "kind": "ed25519", "keep": true }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ed = rotated["kid"].as_str().unwrap().to_string();
    assert_eq!(call(sign(ed, claims.clone()).await).await.0, StatusCode::ACCEPTED);
    assert_eq!(s.events().await.len(), 5, "only the accepted calls were stored");
}
