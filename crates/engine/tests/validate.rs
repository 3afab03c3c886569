//! Golden test of `onset validate`'s findings on a file with many kinds of error.

use std::path::Path;

struct Ops;

impl onset_engine::Connectors for Ops {
    fn knows(&self, op: &str) -> bool {
        op == "http.request"
    }
    fn call<'a>(
        &'a self,
        _: &'a str,
        _: serde_json::Value,
        _: Option<serde_json::Value>,
    ) -> onset_engine::CallFuture<'a> {
        Box::pin(async { Ok(serde_json::Value::Null) })
    }
    fn runs_scripts(&self) -> bool {
        true
    }
}

#[test]
fn every_problem_in_one_pass() {
    let path = Path::new("tests/golden/many_errors.yaml");
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap();
    let found: Vec<String> =
        onset_engine::validate_component(path, &text, &Ops).iter().map(ToString::to_string).collect();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/many_errors.txt");
    if std::env::var_os("ONSET_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, found.join("\n") + "\n").unwrap();
    }
    let expected = std::fs::read_to_string(&golden).unwrap_or_default();
    assert_eq!(
        found.join("\n") + "\n",
        expected,
        "regenerate with ONSET_UPDATE_GOLDEN=1 after checking the new output"
    );
}

#[test]
fn the_example_components_are_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop/components");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let problems = onset_engine::validate_component(&path, &text, &Ops);
        assert!(problems.is_empty(), "{}: {problems:#?}", path.display());
    }
}

#[test]
fn provider_handler_names_and_settings_are_checked() {
    let text = "component: gh
trigger:
  type: github
  with: { secret: s, repo: acme/widgets }
handlers:
  IssuesService:
    onOpened: { steps: [ { log: ok } ] }
    onOpend: { steps: [ { log: x } ] }
  IssueService:
    onOpened: { steps: [ { log: x } ] }
  ReleaseService:
    onPreReleased: { steps: [ { log: alias } ] }
";
    let found: Vec<String> =
        onset_engine::validate_component(Path::new("gh.yaml"), text, &Ops).iter().map(ToString::to_string).collect();
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].starts_with("gh.yaml:4:") && found[0].contains("repo"), "{}", found[0]);
    assert!(found[1].starts_with("gh.yaml:8:5") && found[1].contains("has no event `onOpend`"), "{}", found[1]);
    assert!(found[2].starts_with("gh.yaml:9:3") || found[2].starts_with("gh.yaml:10:5"), "{}", found[2]);
    assert!(found[2].contains("no channel `IssueService`"), "{}", found[2]);
}

#[test]
fn retention_takes_durations_with_a_unit() {
    let text = "component: r
trigger: { type: http }
retention: { succeeded: 7d, failed: 30, kept: 1h }
handlers:
  /:
    POST: { steps: [ { log: ok } ] }
";
    let found: Vec<String> =
        onset_engine::validate_component(Path::new("r.yaml"), text, &Ops).iter().map(ToString::to_string).collect();
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].starts_with("r.yaml:3:37: `retention.failed` needs a unit"), "{found:#?}");
    assert!(found[1].starts_with("r.yaml:3:41: unknown key `kept` in `retention`"), "{found:#?}");
}

#[test]
fn rate_limits_security_and_schemas_of_http_apis_are_checked() {
    let text = "component: api
trigger:
  type: http
  with:
    rate_limit: 10/sec
    security: { scheme: oauth, in: cookie, where: x }
handlers:
  /:
    POST:
      rate_limit: 5/s
      schema: [not, a, schema]
      steps: [ { log: ok } ]
";
    let found: Vec<String> =
        onset_engine::validate_component(Path::new("a.yaml"), text, &Ops).iter().map(ToString::to_string).collect();
    let wanted = [
        "a.yaml:5:17: `10/sec` is not a rate",
        "a.yaml:6:25: `security.scheme` is `none`, `api_key` or `oauth2`",
        "a.yaml:6:36: `security.in` is `header` or `query`",
        "a.yaml:6:44: unknown key `where` in `trigger.with.security`",
        "a.yaml:11:15: `schema` (a JSON Schema of the request body) is a mapping",
    ];
    assert_eq!(found.len(), wanted.len(), "{found:#?}");
    for (f, w) in found.iter().zip(wanted) {
        assert!(f.starts_with(w), "{f} / {w}");
    }
}

#[test]
fn oauth2_scopes_name_handlers_and_an_external_issuer_its_keys() {
    let text = "component: api
trigger:
  type: http
  with:
    security:
      scheme: oauth2
      issuer: https://id.example.test/
      in: header
      scopes:
        /orders: { POST: [orders:write], DELETE: [orders:admin], GET: [\"a b\"] }
        /missing: { GET: [x] }
handlers:
  /orders:
    POST: { steps: [ { log: ok } ] }
    GET: { steps: [ { log: ok } ] }
";
    let found: Vec<String> =
        onset_engine::validate_component(Path::new("a.yaml"), text, &Ops).iter().map(ToString::to_string).collect();
    let wanted = [
        "a.yaml:6:7: `security.issuer` needs `jwks_url`",
        "a.yaml:8:7: unknown key `in` in `trigger.with.security`",
        "a.yaml:10:42: `security.scopes`: `/orders` has no `DELETE` handler",
        "a.yaml:10:72: a scope is a name without spaces",
        "a.yaml:11:9: `security.scopes`: no handler has the path `/missing`",
    ];
    assert_eq!(found.len(), wanted.len(), "{found:#?}");
    for (f, w) in found.iter().zip(wanted) {
        assert!(f.starts_with(w), "{f} / {w}");
    }
}

/// Operations described by schema, as the connector registry describes its own.
struct Described(serde_json::Value);

impl onset_engine::Connectors for Described {
    fn knows(&self, op: &str) -> bool {
        op == "chat.post"
    }
    fn operation(&self, op: &str) -> Option<onset_engine::OperationInfo<'_>> {
        (op == "chat.post").then_some(onset_engine::OperationInfo {
            input: &self.0,
            account: onset_engine::AccountUse::Required("chat"),
        })
    }
    fn operation_names(&self) -> Vec<&str> {
        vec!["chat.post"]
    }
    fn account_types(&self) -> Vec<&str> {
        vec!["chat", "mail"]
    }
    fn call<'a>(
        &'a self,
        _: &'a str,
        _: serde_json::Value,
        _: Option<serde_json::Value>,
    ) -> onset_engine::CallFuture<'a> {
        Box::pin(async { Ok(serde_json::Value::Null) })
    }
}

#[test]
fn call_steps_are_checked_against_the_operation_schema() {
    let ops = Described(serde_json::json!({
        "type": "object",
        "required": ["channel", "text"],
        "additionalProperties": false,
        "properties": {
            "channel": { "type": "string", "minLength": 1 },
            "text": { "type": "string" },
            "priority": { "type": "integer", "minimum": 1 },
            "tags": { "type": "array", "items": { "type": "string" } }
        }
    }));
    let text = "component: c
trigger: { type: http }
config:
  chat: { type: account, connector: chat }
handlers:
  /:
    POST:
      steps:
        - call: chat.post
          account: \"{{ config.chat }}\"
          with: { channel: \"#ops\", text: \"{{ event.text }}\", priority: 2, tags: [a, b] }
        - call: chat.post
          account: \"{{ config.chat }}\"
          with: { channel: \"{{ event.channel }}\", text: hi, priorty: 2 }
        - call: chat.post
          with:
            channel: \"\"
            priority: \"high\"
            tags: [a, 3]
        - call: chat.pots
          with: {}
        - call: chat.post
          account: \"{{ config.chat }}\"
          with: \"{{ event.message }}\"
";
    let found: Vec<String> =
        onset_engine::validate_component(Path::new("c.yaml"), text, &ops).iter().map(ToString::to_string).collect();
    let expected = [
        "c.yaml:14:61: `priorty` is not an input of `chat.post` (did you mean `priority`?); it takes channel (string, required), text (string, required), priority (integer), tags (array) (found `priorty`)",
        "c.yaml:15:17: `chat.post` needs `account:` naming a `chat` account, e.g. `account: \"{{ config.chat }}\"` with `config: { chat: { type: account, connector: chat } }` (found `chat.post`)",
        "c.yaml:17:13: `with` of `chat.post` needs `text`; it takes channel (string, required), text (string, required), priority (integer), tags (array) (found `channel: \"\"`)",
        "c.yaml:17:22: `with.channel` is empty (`chat.post`) (found `\"\"`)",
        "c.yaml:18:23: `with.priority` of `chat.post` is a string, expected an integer (found `\"high\"`)",
        "c.yaml:19:23: `with.tags[1]` of `chat.post` is a number, expected a string (found `3`)",
        "c.yaml:20:17: `chat.pots` is not a known operation (did you mean `chat.post`?); `onset catalog connectors` lists them (found `chat.pots`)",
    ];
    assert_eq!(found, expected, "{found:#?}");
}

#[test]
fn accounts_named_by_steps_are_config_of_type_account_of_the_right_type() {
    let ops = Described(serde_json::json!({ "type": "object", "properties": { "text": { "type": "string" } } }));
    let text = "component: c
trigger: { type: http }
config:
  chat: { type: account, connector: chat }
  mail: { type: account, connector: mail }
  plain: { type: string }
  typo: { type: account, connector: chta }
  odd: { type: string, connector: chat }
handlers:
  /:
    POST:
      steps:
        - call: chat.post
          account: \"{{ config.chat }}\"
        - call: chat.post
          account: \"{{ config.mail }}\"
        - call: chat.post
          account: \"{{ config.plain }}\"
";
    let found: Vec<String> =
        onset_engine::validate_component(Path::new("c.yaml"), text, &ops).iter().map(ToString::to_string).collect();
    let expected = [
        "c.yaml:7:37: `chta` is not an account type (did you mean `chat`?); types: chat, mail (found `chta`)",
        "c.yaml:8:35: `connector` belongs to a config entry of `type: account` (found `chat`)",
        "c.yaml:16:20: `config.mail` is a `mail` account; `chat.post` needs a `chat` one (found `\"{{ config.mail }}\"`)",
        "c.yaml:18:20: `config.plain` is not of type account: declare it `plain: { type: account, connector: chat }` (found `\"{{ config.plain }}\"`)",
    ];
    assert_eq!(found, expected, "{found:#?}");
}
