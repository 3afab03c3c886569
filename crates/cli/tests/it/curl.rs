//! `onset curl` against a running server: the printed command, run in a shell, is accepted by an
//! HMAC preset (Stripe) and by Standard Webhooks; a body changed after signing is refused; a
//! scheme only the provider can sign is named as such.

use std::process::{Command, Stdio};

use crate::server::{onset, serve};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const SHOP: &str = "component: shop\ntrigger:\n  type: http\n  with:\n    verify: { preset: stripe, secret: \"{{ config.secret }}\" }\nconfig:\n  secret: { type: secret }\nhandlers:\n  /:\n    POST: { steps: [ { log: \"{{ event.type }}\" } ] }\n";
const HOOKS: &str = "component: hooks\ntrigger:\n  type: http\n  with:\n    verify: { preset: standard-webhooks, secret: \"{{ config.secret }}\" }\nconfig:\n  secret: { type: secret }\nhandlers:\n  /:\n    POST: { steps: [ { log: ok } ] }\n";
const KEYED: &str = "component: keyed\ntrigger:\n  type: http\n  with:\n    security: { scheme: api_key, in: query, name: key }\nhandlers:\n  /:\n    POST: { steps: [ { log: ok } ] }\n";
const LOCKED: &str = "component: locked\ntrigger:\n  type: http\n  with:\n    security: { scheme: oauth2 }\nhandlers:\n  /:\n    POST: { steps: [ { log: ok } ] }\n";
const BOT: &str = "component: bot\ntrigger:\n  type: http\n  with:\n    verify: { preset: discord, public_key: d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a }\nhandlers:\n  /:\n    POST: { steps: [ { log: ok } ] }\n";

fn shell(command: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(command).stderr(Stdio::inherit()).output().unwrap();
    assert!(out.status.success(), "{command}");
    text(&out.stdout)
}

#[test]
fn printed_commands_are_accepted_and_signed_only_by_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = serve(dir.path(), &[], |c| {
        c.stdout(Stdio::null()).stderr(Stdio::null());
    });
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join("components")).unwrap();
    std::fs::write(project.path().join("onset.yaml"), "name: demo\n").unwrap();
    for (name, text) in [("shop", SHOP), ("hooks", HOOKS), ("bot", BOT), ("keyed", KEYED), ("locked", LOCKED)] {
        std::fs::write(project.path().join(format!("components/{name}.yaml")), text).unwrap();
    }
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--server", &base]);
        onset(dir.path(), &all)
    };
    let stripe_secret = "whsec_test_curl_secret";
    for (component, kv) in
        [("shop", format!("secret={stripe_secret}")), ("hooks", "secret=whsec_c2VjcmV0LWZvci1jdXJs".into())]
    {
        let out = run(&["config", "set", component, &kv]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let out = run(&["deploy", "--project", project.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));

    // Stripe: the body from a file, signed `t=…,v1=…`.
    let payload = project.path().join("event.json");
    std::fs::write(&payload, r#"{"id":"evt_curl_1","object":"event","type":"customer.created"}"#).unwrap();
    let out = run(&["curl", "shop", "--env", "development", "--payload", payload.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let command = text(&out.stdout);
    assert!(command.contains("stripe-signature: t=") && !command.contains(stripe_secret), "{command}");
    let answer = shell(&command);
    assert!(answer.contains(r#""duplicate":false"#), "{answer}");
    // The same delivery again is a duplicate (the event id is the preset's delivery id) …
    assert!(shell(&command).contains(r#""duplicate":true"#));
    // … and a body changed after signing is refused.
    std::fs::write(&payload, r#"{"id":"evt_curl_2","object":"event","type":"customer.deleted"}"#).unwrap();
    let refused = shell(&command);
    assert!(refused.contains("signature_mismatch"), "{refused}");

    // Standard Webhooks, default body.
    let out = run(&["curl", "hooks"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let command = text(&out.stdout);
    assert!(command.contains("webhook-signature: v1,") && command.contains("webhook-id: msg_"), "{command}");
    assert!(shell(&command).contains(r#""duplicate":false"#));

    // An API that takes a key: the key goes where the component says (here the query).
    let out = run(&["app", "create", "curl-app"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&["app", "keys", "curl-app", "--regenerate"]);
    let sandbox = text(&out.stdout).lines().find_map(|l| l.strip_prefix("sandbox    ")).unwrap().to_string();
    assert!(run(&["subscribe", "curl-app", "keyed"]).status.success());
    let out = run(&["curl", "keyed", "--api-key", &sandbox]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let command = text(&out.stdout);
    assert!(command.contains(&format!("/hooks/development/keyed?key={sandbox}")), "{command}");
    assert!(shell(&command).contains(r#""duplicate":false"#));
    let out = run(&["curl", "hooks", "--api-key", &sandbox]);
    assert!(!out.status.success() && text(&out.stderr).contains("takes no API key"), "{}", text(&out.stderr));

    // An OAuth2 API: a token of the server's authorization server goes in `Authorization`.
    let out = run(&["app", "create", "token-app"]);
    let created = text(&out.stdout);
    let field = |name: &str| {
        created.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string())).unwrap_or_default()
    };
    let (client_id, client_secret) = (field("client_id"), field("client_secret"));
    assert!(run(&["subscribe", "token-app", "locked"]).status.success());
    let answer = shell(&format!(
        "curl -sS -u '{client_id}:{client_secret}' -d grant_type=client_credentials {base}/oauth2/token"
    ));
    let token: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let token = token["access_token"].as_str().unwrap_or_else(|| panic!("{answer}"));
    let out = run(&["curl", "locked", "--access-token", token]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let command = text(&out.stdout);
    assert!(command.contains(&format!("Authorization: Bearer {token}")), "{command}");
    assert!(shell(&command).contains(r#""duplicate":false"#));
    let out = run(&["curl", "locked"]);
    assert!(shell(&text(&out.stdout)).contains("token_missing"));
    let out = run(&["curl", "keyed", "--access-token", token]);
    assert!(!out.status.success() && text(&out.stderr).contains("takes no access token"), "{}", text(&out.stderr));

    // Discord signs with its own private key: the server cannot.
    let out = run(&["curl", "bot"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("422") && text(&out.stderr).contains("only the provider"),
        "{}",
        text(&out.stderr)
    );

    // A viewer may not sign.
    let out = run(&["token", "create", "watcher", "--role", "viewer"]);
    let viewer = text(&out.stdout).trim().to_string();
    let out = onset(dir.path(), &["curl", "shop", "--server", &base, "--token", &viewer]);
    assert!(text(&out.stderr).contains("403"), "{}", text(&out.stderr));
}
