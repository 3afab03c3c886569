//! The CLI against a running server: tokens (with the local admin token found in ./.onset).

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::server::{Server, onset};

/// `onset serve` with nothing deployed, its state in `<dir>/.onset`.
fn serve(dir: &std::path::Path) -> (Server, String) {
    crate::server::serve(dir, &[], |c| {
        c.stdout(Stdio::null()).stderr(Stdio::null());
    })
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn tokens_are_created_listed_and_revoked_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = serve(dir.path());
    let out = onset(dir.path(), &["token", "create", "ci", "--role", "developer", "--promote", "--server", &base]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ci = text(&out.stdout).trim().to_string();
    assert!(ci.starts_with("onset_"), "{ci}");

    // The new token works on its own; a viewer-only action list shows it.
    let out = onset(dir.path(), &["token", "list", "--server", &base, "--token", &ci]);
    assert!(!out.status.success(), "a developer cannot list tokens");
    assert!(text(&out.stderr).contains("403"), "{}", text(&out.stderr));
    let out = onset(dir.path(), &["token", "list", "--server", &base]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list = text(&out.stdout);
    let line = list.lines().find(|l| l.contains(" ci ")).unwrap_or_else(|| panic!("{list}"));
    assert!(line.contains("developer") && line.contains("true"), "{line}");
    let id = line.split_whitespace().next().unwrap();

    let out = onset(dir.path(), &["token", "revoke", id, "--server", &base]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = onset(dir.path(), &["token", "list", "--server", &base, "--token", &ci]);
    assert!(text(&out.stderr).contains("401"), "{}", text(&out.stderr));

    // Elsewhere, without a token, the error says where one comes from.
    let other = tempfile::tempdir().unwrap();
    let out = onset(other.path(), &["token", "list", "--server", &base]);
    assert!(text(&out.stderr).contains("pass --token or set ONSET_TOKEN"), "{}", text(&out.stderr));
}

#[test]
fn environments_and_config_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = serve(dir.path());
    let out = onset(dir.path(), &["env", "create", "staging", "--after", "development", "--server", &base]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("development → staging → production"), "{}", text(&out.stdout));
    let out = onset(dir.path(), &["env", "list", "--server", &base]);
    assert_eq!(text(&out.stdout), "development\nstaging\nproduction\n");

    let out = onset(
        dir.path(),
        &["config", "set", "sheets", "sheet_id=1BxiM", "api_key=k-123=x", "--env", "staging", "--server", &base],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("set api_key, sheet_id") || text(&out.stdout).contains("set sheet_id, api_key"));
    let out = onset(dir.path(), &["config", "list", "sheets", "--env", "staging", "--server", &base]);
    let listed = text(&out.stdout);
    assert!(listed.contains("not deployed") && listed.contains("sheet_id") && !listed.contains("k-123"), "{listed}");
    let out = onset(dir.path(), &["config", "set", "sheets", "novalue", "--server", &base]);
    assert!(text(&out.stderr).contains("is not key=value"), "{}", text(&out.stderr));
}

fn project(dir: &std::path::Path, version: &str) {
    std::fs::create_dir_all(dir.join("components")).unwrap();
    std::fs::write(dir.join("onset.yaml"), "name: demo\n").unwrap();
    std::fs::write(
        dir.join("components/greet.yaml"),
        format!(
            "component: greet\ntrigger: {{ type: http }}\nconfig:\n  greeting: {{ type: string, description: what to say }}\nhandlers:\n  /:\n    POST: {{ steps: [ {{ log: \"{version} {{{{ config.greeting }}}}\" }} ] }}\n"
        ),
    )
    .unwrap();
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn deploy_promote_rollback_undeploy_and_git_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = serve(dir.path());
    let src = tempfile::tempdir().unwrap();
    project(src.path(), "v1");
    let p = src.path().to_str().unwrap();

    // Missing config: not deployed, every key named with how to set it.
    let out = onset(dir.path(), &["deploy", "--project", p, "--server", &base]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("greet → development: failed") && err.contains("config `greeting` (what to say)"), "{err}");
    assert!(err.contains("onset config set greet KEY=VALUE… --env development"), "{err}");

    ok(&onset(dir.path(), &["config", "set", "greet", "greeting=hi", "--server", &base]));
    let out = ok(&onset(dir.path(), &["deploy", "--project", p, "--server", &base]));
    assert!(out.contains("greet → development: active") && out.contains("activated"), "{out}");
    let out = ok(&onset(dir.path(), &["deploy", "--project", p, "--server", &base]));
    assert!(out.contains("unchanged"), "{out}");

    // From git: the commit is kept with the build.
    let repo = tempfile::tempdir().unwrap();
    project(repo.path(), "v2");
    let g = |args: &[&str]| {
        let o = Command::new("git").args(args).current_dir(repo.path()).output().unwrap();
        assert!(o.status.success(), "git {args:?}: {}", text(&o.stderr));
        text(&o.stdout)
    };
    g(&["init", "--quiet", "-b", "main"]);
    g(&["add", "."]);
    g(&["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "v2"]);
    let commit = g(&["rev-parse", "HEAD"]).trim().to_string();
    let url = format!("file://{}", repo.path().display());
    let out = ok(&onset(dir.path(), &["deploy", "--git", &url, "--ref", "main", "--server", &base]));
    assert!(out.contains(&commit), "{out}");
    let id = out
        .lines()
        .find_map(|l| l.split("(deployment ").nth(1))
        .map(|r| r.split(',').next().unwrap().to_string())
        .unwrap_or_else(|| panic!("{out}"));
    let logs = ok(&onset(dir.path(), &["logs", "--deployment", &id, "--server", &base]));
    assert!(logs.contains("active") && logs.contains(&commit) && logs.contains("activated"), "{logs}");

    // `onset pull` writes the active source (here: the git build) into a project, byte for byte.
    let pulled = tempfile::tempdir().unwrap();
    let into = pulled.path().to_str().unwrap();
    let out = ok(&onset(dir.path(), &["pull", "greet", "--project", into, "--server", &base]));
    assert!(out.contains("components/greet.yaml"), "{out}");
    assert_eq!(
        std::fs::read_to_string(pulled.path().join("components/greet.yaml")).unwrap(),
        std::fs::read_to_string(repo.path().join("components/greet.yaml")).unwrap()
    );
    // The component's API, described.
    let doc = ok(&onset(dir.path(), &["openapi", "greet", "--server", &base]));
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["servers"][0]["url"].as_str().unwrap().ends_with("/hooks/development/greet"), "{doc}");
    assert_eq!(doc["paths"]["/"]["post"]["operationId"], "post_root");
    let out = ok(&onset(dir.path(), &["postman", "greet", "--out", into, "--server", &base]));
    assert!(
        out.contains("greet.postman_collection.json") && out.contains("greet.development.postman_environment.json"),
        "{out}"
    );
    let collection: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(pulled.path().join("greet.postman_collection.json")).unwrap())
            .unwrap();
    assert_eq!(collection["item"][0]["name"], "POST /");
    let out = ok(&onset(dir.path(), &["lifecycle", "greet", "deprecated", "--server", &base]));
    assert!(out.starts_with("greet in development: deprecated (since "), "{out}");
    let out = ok(&onset(dir.path(), &["lifecycle", "greet", "published", "--server", &base]));
    assert_eq!(out.trim(), "greet in development: published");
    let out = onset(dir.path(), &["pull", "greet", "--env", "production", "--project", into, "--server", &base]);
    assert!(!out.status.success() && text(&out.stderr).contains("production"), "{}", text(&out.stderr));

    // Promote into production with its own config, roll development back, undeploy production.
    ok(&onset(dir.path(), &["config", "set", "greet", "greeting=hello", "--env", "production", "--server", &base]));
    let out = ok(&onset(dir.path(), &["promote", "greet", "--server", &base]));
    assert!(out.contains("greet → production: active"), "{out}");
    let out = ok(&onset(dir.path(), &["rollback", "greet", "--env", "development", "--server", &base]));
    assert!(out.contains("is active again"), "{out}");
    let out = ok(&onset(dir.path(), &["undeploy", "greet", "--env", "production", "--server", &base]));
    assert!(out.contains("removed from production"), "{out}");
    let out = onset(dir.path(), &["undeploy", "greet", "--env", "production", "--server", &base]);
    assert!(!out.status.success());
}

/// On a terminal, `onset deploy` asks for missing config (secrets without echo), stores it for
/// the environment and goes on. `script` gives the command a pseudo-terminal.
#[test]
fn deploy_asks_for_missing_config_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = serve(dir.path());
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("components")).unwrap();
    std::fs::write(src.path().join("onset.yaml"), "name: demo\n").unwrap();
    std::fs::write(
        src.path().join("components/notify.yaml"),
        "component: notify\ntrigger: { type: http }\nconfig:\n  channel: { type: string, description: where to post }\n  api_key: { type: secret, description: the API key }\nhandlers:\n  /:\n    POST: { steps: [ { log: \"{{ config.channel }}\" } ] }\n",
    )
    .unwrap();
    let cmd = format!("{} deploy --project {} --server {base}", env!("CARGO_BIN_EXE_onset"), src.path().display());
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        // Answers arrive as typed, after the prompts.
        std::thread::sleep(Duration::from_millis(1500));
        stdin.write_all(b"#alerts\n").unwrap();
        std::thread::sleep(Duration::from_millis(1000));
        stdin.write_all(b"k-secret-42\n").unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = child.wait_with_output().unwrap();
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{shown}\n{}", text(&out.stderr));
    assert!(shown.contains("channel (where to post)") && shown.contains("api_key (the API key)"), "{shown}");
    assert!(shown.contains("notify → development: active"), "{shown}");
    assert!(!shown.contains("k-secret-42"), "the secret is not echoed: {shown}");
    let listed = text(&onset(dir.path(), &["config", "list", "notify", "--server", &base]).stdout);
    assert!(listed.contains("#alerts") && !listed.contains("k-secret-42"), "{listed}");
}

#[test]
fn accounts_are_set_listed_masked_tested_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = serve(dir.path());
    let out = onset(
        dir.path(),
        &[
            "account",
            "set",
            "crm",
            "--type",
            "http",
            "auth=bearer",
            "token=tk-91f2",
            "--env",
            "staging",
            "--server",
            &base,
        ],
    );
    assert!(text(&out.stderr).contains("there is no environment `staging`"), "{}", text(&out.stderr));
    let bad = onset(dir.path(), &["account", "set", "crm", "--type", "http", "auth=basic", "--server", &base]);
    assert!(text(&bad.stderr).contains("auth=basic needs `username=…`"), "{}", text(&bad.stderr));
    let out = ok(&onset(
        dir.path(),
        &["account", "set", "crm", "--type", "http", "auth=bearer", "token=tk-91f2", "--server", &base],
    ));
    assert!(out.contains("token            [redacted]") && !out.contains("tk-91f2"), "{out}");
    let listed = ok(&onset(dir.path(), &["account", "list", "--server", &base]));
    assert!(listed.starts_with("crm (http) updated ") && listed.contains("auth             bearer"), "{listed}");
    assert!(!listed.contains("tk-91f2"), "{listed}");
    let types = ok(&onset(dir.path(), &["account", "types", "--server", &base]));
    assert!(
        types.contains("http: Any HTTP API") && types.contains("client_secret") && types.contains("(secret)"),
        "{types}"
    );
    // Nothing to call without a test_url: said, with the fix.
    let out = onset(dir.path(), &["account", "test", "crm", "--server", &base]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("give account `crm` a `test_url`"), "{}", text(&out.stderr));
    ok(&onset(dir.path(), &["account", "delete", "crm", "--server", &base]));
    let listed = ok(&onset(dir.path(), &["account", "list", "--server", &base]));
    assert!(listed.starts_with("no accounts in development"), "{listed}");
}

#[test]
fn applications_keys_plans_and_subscriptions_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = serve(dir.path());
    let out = ok(&onset(dir.path(), &["app", "create", "mobile", "--server", &base]));
    assert!(out.contains("client_id     onset_ci_") && out.contains("client_secret onset_cs_"), "{out}");
    let out = ok(&onset(dir.path(), &["app", "keys", "mobile", "--server", &base]));
    assert!(out.contains("no keys yet: onset app keys mobile --regenerate"), "{out}");
    let out = ok(&onset(dir.path(), &["app", "keys", "mobile", "--regenerate", "--server", &base]));
    let sandbox = out.lines().find_map(|l| l.strip_prefix("sandbox    ")).unwrap().to_string();
    assert!(sandbox.starts_with("onset_test_") && out.contains("production onset_live_"), "{out}");
    let out = ok(&onset(dir.path(), &["app", "keys", "mobile", "--server", &base]));
    assert!(out.contains("sandbox") && !out.contains(&sandbox), "prefixes only: {out}");
    ok(&onset(dir.path(), &["plan", "create", "Trial", "--rate", "10/m", "--daily", "100", "--server", &base]));
    let out = ok(&onset(dir.path(), &["plan", "list", "--server", &base]));
    assert!(out.contains("Bronze") && out.contains("1000/m") && out.contains("Trial") && out.contains("100"), "{out}");
    let out = ok(&onset(dir.path(), &["subscribe", "mobile", "orders", "--plan", "Trial", "--server", &base]));
    assert!(out.starts_with("mobile subscribed to orders in development under Trial"), "{out}");
    let out = onset(dir.path(), &["subscribe", "mobile", "orders", "--plan", "Trial", "--server", &base]);
    assert!(!out.status.success() && text(&out.stderr).contains("already"), "{}", text(&out.stderr));
    let out = ok(&onset(dir.path(), &["app", "list", "--server", &base]));
    assert!(out.contains("mobile") && out.contains("token:admin"), "{out}");
    ok(&onset(dir.path(), &["app", "delete", "mobile", "--server", &base]));
    let out = ok(&onset(dir.path(), &["app", "list", "--server", &base]));
    assert!(!out.contains("mobile"), "{out}");
}
