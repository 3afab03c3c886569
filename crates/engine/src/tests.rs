//! Step semantics, end to end through compile and run, with a scripted connector.

use std::sync::Mutex;

use serde_json::{Value as Json, json};

use crate::connector::CallFuture;
use crate::*;

/// Answers `test.echo` with its input; `test.flaky` fails (retryable) until its budget is spent;
/// `test.reject` fails for good.
#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<Json>>,
    flaky_failures: Mutex<u32>,
}

impl Connectors for Fake {
    fn knows(&self, op: &str) -> bool {
        op.starts_with("test.")
    }
    fn runs_scripts(&self) -> bool {
        true
    }
    /// Echoes the ctx it was given, with the source as a log line.
    fn script<'a>(&'a self, source: std::sync::Arc<str>, ctx: String) -> crate::ScriptFuture<'a> {
        Box::pin(async move {
            if source.contains("throw") {
                return Err(CallError { message: "Error: thrown".into(), retryable: false, retry_after: None });
            }
            Ok((serde_json::from_str(&ctx).unwrap(), vec![source.to_string()]))
        })
    }
    fn call<'a>(&'a self, op: &'a str, input: Json, _: Option<Json>) -> CallFuture<'a> {
        Box::pin(async move {
            self.calls.lock().unwrap().push(json!({ "op": op, "input": input.clone() }));
            match op {
                "test.flaky" => {
                    let mut left = self.flaky_failures.lock().unwrap();
                    if *left > 0 {
                        *left -= 1;
                        return Err(CallError { message: "HTTP 503".into(), retryable: true, retry_after: None });
                    }
                    Ok(json!({ "ok": true }))
                }
                "test.limited" => {
                    let mut left = self.flaky_failures.lock().unwrap();
                    if *left > 0 {
                        *left -= 1;
                        return Err(CallError {
                            message: "HTTP 429".into(),
                            retryable: true,
                            retry_after: Some(std::time::Duration::from_secs(30)),
                        });
                    }
                    Ok(json!({ "ok": true }))
                }
                "test.reject" => Err(CallError { message: "HTTP 400".into(), retryable: false, retry_after: None }),
                "test.slow" => {
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                    Ok(Json::Null)
                }
                _ => Ok(input),
            }
        })
    }
}

fn compile(steps_yaml: &str, fake: &Fake) -> CompiledComponent {
    let yaml = format!(
        "component: t\ntrigger: {{ type: http }}\nhandlers:\n  /:\n    POST:\n      steps:\n{}",
        steps_yaml.lines().map(|l| format!("        {l}\n")).collect::<String>()
    );
    let component: onset_model::Component = yaml_serde::from_str(&yaml).unwrap();
    CompiledComponent::compile(&component, &json!({ "limit": 2 }), fake).unwrap()
}

async fn run_with(c: &CompiledComponent, fake: &Fake, event: Json) -> RunOutcome {
    let handler = c.handler("/", "POST").unwrap();
    let input = RunInput {
        event: from_json(&event),
        meta: from_json(&json!({ "channel": "/" })),
        attempt: 1,
        responder: None,
        trace: None,
    };
    c.run(handler, input, fake).await
}

fn outputs(o: &RunOutcome) -> Vec<(String, Json)> {
    o.steps
        .iter()
        .map(|s| (s.path.clone(), s.output.as_deref().map_or(Json::Null, |t| serde_json::from_str(t).unwrap())))
        .collect()
}

#[tokio::test]
async fn map_if_call_and_native_values() {
    let fake = Fake::default();
    let c = compile(
        r#"- id: shaped
  map: { order: "{{ event.id }}", total: "{{ event['items'] | map(attribute='price') | sum }}" }
- if: "steps.shaped.output.total > config.limit"
  then:
    - call: test.echo
      with: { body: "{{ steps.shaped.output }}", headers: { authorization: "Bearer s" } }
  else:
    - log: small
"#,
        &fake,
    );
    let o = run_with(&c, &fake, json!({ "id": "o-1", "items": [{ "price": 2 }, { "price": 3 }] })).await;
    assert!(o.result.is_ok(), "{:?}", o.result);
    let out = outputs(&o);
    assert_eq!(out[0], ("0".into(), json!({ "order": "o-1", "total": 5 })));
    assert_eq!(out[1].0, "1");
    assert_eq!(out[2].0, "1.then.0");
    // The call got the object itself, not its string form; the record hides the credential.
    let calls = fake.calls.lock().unwrap();
    assert_eq!(calls[0]["input"]["body"], json!({ "order": "o-1", "total": 5 }));
    assert!(o.steps[2].input.as_deref().unwrap().contains("[redacted]"));
    assert_eq!(o.steps[1].input.as_deref(), Some(r#"{"condition":true}"#));
}

#[tokio::test]
async fn loops_in_branches_in_loops() {
    let fake = Fake::default();
    let c = compile(
        r#"- id: outer
  for_each: "{{ event.groups }}"
  as: g
  do:
    - if: "g.items | length > 0"
      then:
        - for_each: "{{ g.items }}"
          as: x
          do:
            - map: "{{ g.name ~ '-' ~ x ~ '-' ~ loop.index }}"
"#,
        &fake,
    );
    let o = run_with(&c, &fake, json!({ "groups": [{ "name": "a", "items": [1, 2] }, { "name": "b", "items": [] }] }))
        .await;
    assert!(o.result.is_ok(), "{:?}", o.result);
    let paths: Vec<_> = o.steps.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        ["0", "0.do[0].0", "0.do[0].0.then.0", "0.do[0].0.then.0.do[0].0", "0.do[0].0.then.0.do[1].0", "0.do[1].0"]
    );
    let out = outputs(&o);
    assert_eq!(out[0].1, json!([["a-1-1", "a-2-2"], null]));
}

#[tokio::test]
async fn set_vars_and_fail() {
    let fake = Fake::default();
    let c = compile(
        r#"- set: { n: "{{ event.n * 2 }}" }
- if: "vars.n > 5"
  then: [ { fail: "too big: {{ vars.n }}" } ]
- log: unreachable
"#,
        &fake,
    );
    let o = run_with(&c, &fake, json!({ "n": 3 })).await;
    let f = o.result.unwrap_err();
    assert_eq!(f.message, "too big: 6");
    assert_eq!(f.step, "1.then.0");
    assert!(!f.retryable);
    assert_eq!(o.steps.len(), 3, "the run stops at the failure");
    assert_eq!(o.steps[2].status, StepStatus::Failed);
}

#[tokio::test]
async fn expression_errors_fail_for_good() {
    let fake = Fake::default();
    let c = compile("- log: \"{{ event.missing.deeper }}\"\n", &fake);
    let f = run_with(&c, &fake, json!({})).await.result.unwrap_err();
    assert!(!f.retryable);
    assert!(f.message.contains("event.missing.deeper"), "{}", f.message);
}

#[tokio::test]
async fn connector_failures_keep_their_retryability() {
    let fake = Fake::default();
    let c = compile("- call: test.reject\n", &fake);
    assert!(!run_with(&c, &fake, json!({})).await.result.unwrap_err().retryable);
    *fake.flaky_failures.lock().unwrap() = 100;
    let c = compile("- call: test.flaky\n", &fake);
    assert!(run_with(&c, &fake, json!({})).await.result.unwrap_err().retryable);
}

#[tokio::test]
async fn step_retry_repeats_only_that_step() {
    let fake = Fake::default();
    *fake.flaky_failures.lock().unwrap() = 2;
    let c = compile("- log: once\n- call: test.flaky\n  retry: { attempts: 3, initial: 1ms, max: 2ms }\n", &fake);
    let o = run_with(&c, &fake, json!({})).await;
    assert!(o.result.is_ok(), "{:?}", o.result);
    let statuses: Vec<_> = o.steps.iter().map(|s| (s.path.as_str(), s.status)).collect();
    assert_eq!(
        statuses,
        [
            ("0", StepStatus::Succeeded),
            ("1", StepStatus::Failed),
            ("1", StepStatus::Failed),
            ("1", StepStatus::Succeeded)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_providers_retry_after_holds_back_the_step_retry_and_reaches_the_run() {
    let fake = Fake::default();
    *fake.flaky_failures.lock().unwrap() = 1;
    let c = compile("- call: test.limited\n  retry: { attempts: 2, initial: 1ms, max: 2ms }\n", &fake);
    let started = tokio::time::Instant::now();
    let o = run_with(&c, &fake, json!({})).await;
    assert!(o.result.is_ok(), "{:?}", o.result);
    // The backoff alone would wait 2 ms at most; the provider asked for 30 s.
    assert!(started.elapsed() >= std::time::Duration::from_secs(30), "{:?}", started.elapsed());
    // Without a step retry, the run's failure carries it to the run's own retry.
    *fake.flaky_failures.lock().unwrap() = 1;
    let c = compile("- call: test.limited\n", &fake);
    let failure = run_with(&c, &fake, json!({})).await.result.unwrap_err();
    assert_eq!(failure.retry_after, Some(std::time::Duration::from_secs(30)));
}

#[tokio::test]
async fn timeouts_and_on_error() {
    let fake = Fake::default();
    let c = compile(
        r#"- call: test.slow
  timeout: 20ms
  on_error:
    - set: { note: "{{ error.message }}" }
- call: test.reject
  on_error: continue
- map: "{{ vars.note }}"
"#,
        &fake,
    );
    let o = run_with(&c, &fake, json!({})).await;
    assert!(o.result.is_ok(), "{:?}", o.result);
    let last = outputs(&o).pop().unwrap().1;
    assert!(last.as_str().unwrap().contains("timeout of 20ms"), "{last}");
    assert_eq!(o.steps[0].status, StepStatus::Failed);
    assert_eq!(o.steps[1].path, "0.on_error.0");
}

#[tokio::test]
async fn for_each_with_concurrency_keeps_order() {
    let fake = Fake::default();
    let c = compile(
        "- for_each: \"{{ range(6) | list }}\"\n  concurrency: 3\n  do: [ { call: test.echo, with: { n: \"{{ item }}\" } } ]\n",
        &fake,
    );
    let o = run_with(&c, &fake, json!({})).await;
    let out = outputs(&o);
    assert_eq!(out[0].1, json!([{ "n": 0 }, { "n": 1 }, { "n": 2 }, { "n": 3 }, { "n": 4 }, { "n": 5 }]));
    assert_eq!(o.steps[6].path, "0.do[5].0");
}

#[test]
fn unknown_operations_and_bad_templates_are_compile_errors() {
    let yaml = "component: t\ntrigger: { type: http }\nhandlers:\n  /:\n    POST:\n      steps:\n        - call: nope.op\n        - log: \"{{ event. }}\"\n";
    let component: onset_model::Component = yaml_serde::from_str(yaml).unwrap();
    let errors = CompiledComponent::compile(&component, &json!({}), &Fake::default()).unwrap_err();
    assert_eq!(errors.len(), 2);
    assert!(errors[0].to_string().contains("step 0: `call: nope.op` is not a known operation"));
    assert!(errors[1].to_string().contains("step 1:"));
}

#[test]
fn backoff_is_full_jitter_under_the_cap() {
    let retry = onset_model::RetrySpec {
        attempts: 10,
        initial: onset_model::Duration::from_millis(100),
        max: onset_model::Duration::from_millis(1000),
    };
    let waits: Vec<_> = (0..200).map(|_| crate::run::backoff(&retry, 8)).collect();
    assert!(waits.iter().all(|w| *w <= std::time::Duration::from_millis(1000)));
    assert!(waits.iter().any(|w| *w > std::time::Duration::from_millis(500)));
    assert!(waits.iter().any(|w| *w < std::time::Duration::from_millis(500)));
    assert!((0..100).all(|_| crate::run::backoff(&retry, 1) <= std::time::Duration::from_millis(100)));
}

#[tokio::test]
async fn switch_takes_the_matching_case_or_default() {
    let fake = Fake::default();
    let c = compile(
        r#"- switch: "event.action"
  cases:
    opened: [ { map: "was opened" } ]
    "2": [ { map: "two" } ]
  default: [ { map: "something else" } ]
"#,
        &fake,
    );
    for (event, expected_path, expected) in [
        (json!({ "action": "opened" }), "0.cases.opened.0", json!("was opened")),
        (json!({ "action": 2 }), "0.cases.2.0", json!("two")),
        (json!({ "action": "closed" }), "0.default.0", json!("something else")),
    ] {
        let o = run_with(&c, &fake, event).await;
        assert!(o.result.is_ok(), "{:?}", o.result);
        let out = outputs(&o);
        assert_eq!(out[1], (expected_path.to_string(), expected.clone()));
        assert_eq!(out[0].1, expected, "the switch's output is its branch's last output");
    }
}

#[tokio::test]
async fn delay_waits_and_templated_delays_are_checked() {
    let fake = Fake::default();
    let c = compile("- delay: 30ms\n- delay: \"{{ event.wait }}\"\n", &fake);
    let started = std::time::Instant::now();
    let o = run_with(&c, &fake, json!({ "wait": "20ms" })).await;
    assert!(o.result.is_ok(), "{:?}", o.result);
    assert!(started.elapsed() >= std::time::Duration::from_millis(50));
    assert_eq!(o.steps[1].input.as_deref(), Some(r#"{"delay":"20ms"}"#));
    let f = run_with(&c, &fake, json!({ "wait": "1h" })).await.result.unwrap_err();
    assert!(f.message.contains("longer than the limit"), "{}", f.message);
    let f = run_with(&c, &fake, json!({ "wait": 5 })).await.result.unwrap_err();
    assert!(f.message.contains("no unit"), "{}", f.message);
}

#[tokio::test]
async fn respond_answers_the_waiting_caller_once_and_the_run_goes_on() {
    let fake = Fake::default();
    let c = compile(
        r#"- respond: { status: 201, headers: { x-order: "{{ event.id }}" }, body: { ok: true, id: "{{ event.id }}" } }
- respond: { status: 500 }
- map: after
"#,
        &fake,
    );
    let handler = c.handler("/", "POST").unwrap();
    let (responder, answer) = Responder::new();
    let input = RunInput {
        event: from_json(&json!({ "id": "o-1" })),
        meta: from_json(&json!({})),
        attempt: 1,
        responder: Some(responder.clone()),
        trace: None,
    };
    let o = c.run(handler, input, &fake).await;
    assert!(o.result.is_ok(), "{:?}", o.result);
    assert_eq!(
        answer.await.unwrap(),
        json!({ "status": 201, "headers": { "x-order": "o-1" }, "body": { "ok": true, "id": "o-1" } })
    );
    assert_eq!(o.steps[0].input.as_deref(), Some(r#"{"delivered":true}"#));
    assert_eq!(o.steps[1].input.as_deref(), Some(r#"{"delivered":false}"#), "only the first answer is sent");
    assert_eq!(o.output, json!("after"));
    assert!(!responder.is_pending());
}

#[tokio::test]
async fn respond_checks_its_status() {
    let fake = Fake::default();
    let c = compile("- respond: { status: \"{{ event.s }}\" }\n", &fake);
    let f = run_with(&c, &fake, json!({ "s": 42 })).await.result.unwrap_err();
    assert!(f.message.contains("from 100 to 599"), "{}", f.message);
    assert!(run_with(&c, &fake, json!({ "s": "204" })).await.result.is_ok());
}

#[tokio::test]
async fn script_steps_get_the_whole_ctx_and_record_their_logs() {
    let fake = Fake::default();
    let c = compile(
        r#"- set: { n: 1 }
- id: first
  map: 2
- for_each: [10]
  as: item
  do:
    - script: "export default (ctx) => ctx"
- script: "throw"
  on_error: continue
"#,
        &fake,
    );
    let o = run_with(&c, &fake, json!({ "id": "e" })).await;
    assert!(o.result.is_ok(), "{:?}", o.result);
    let script = &o.steps[3];
    assert_eq!(script.kind, "script");
    assert_eq!(script.logs, ["export default (ctx) => ctx"]);
    let ctx: Json = serde_json::from_str(script.output.as_deref().unwrap()).unwrap();
    assert_eq!(ctx["event"], json!({ "id": "e" }));
    assert_eq!(ctx["vars"], json!({ "n": 1 }));
    assert_eq!(ctx["steps"]["first"]["output"], 2);
    assert_eq!(ctx["config"], json!({ "limit": 2 }));
    assert_eq!(ctx["item"], 10, "loop variables sit beside the fixed names");
    assert_eq!(o.steps[4].error.as_deref(), Some("Error: thrown"));
}

#[test]
fn scripts_need_a_runner() {
    let yaml = "component: t\ntrigger: { type: http }\nhandlers:\n  /:\n    POST:\n      steps:\n        - script: \"export default () => 1\"\n";
    let component: onset_model::Component = yaml_serde::from_str(yaml).unwrap();
    let errors = CompiledComponent::compile(&component, &json!({}), &NoConnectors).unwrap_err();
    assert!(errors[0].message.contains("not available in this build"), "{errors:?}");
}
