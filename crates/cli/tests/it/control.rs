//! The CLI against a running server: tokens (with the local admin token found in ./.onset).

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `onset serve` with nothing deployed, its state in `<dir>/.onset`.
fn serve(dir: &std::path::Path) -> (Server, String) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_onset"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir)
        .env_remove("ONSET_SERVER")
        .env_remove("ONSET_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() || !dir.join(".onset/admin-token").exists() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (server, format!("http://127.0.0.1:{port}"))
}

fn onset(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_onset"))
        .args(args)
        .current_dir(dir)
        .env_remove("ONSET_SERVER")
        .env_remove("ONSET_TOKEN")
        .output()
        .unwrap()
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
