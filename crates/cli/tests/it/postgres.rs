//! `onset migrate` and `onset serve --database-url` as a user runs them.

use std::process::Command;

use crate::server::serve;

pub fn database_url() -> String {
    std::env::var("ONSET_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub fn psql(sql: &str) -> String {
    let out = Command::new("psql")
        .env("PGOPTIONS", "--client-min-messages=warning")
        .arg(database_url())
        .args(["-Atc", sql])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A schema of its own, dropped at the end.
pub struct Schema(pub String);

impl Schema {
    /// `<prefix>_<pid>_<nanos>`: unique across the tests of this and other processes.
    pub fn new(prefix: &str) -> Schema {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        Schema(format!("{prefix}_{}_{nanos}", std::process::id()))
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        psql(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0));
    }
}

fn onset(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_onset")).args(args).env_remove("ONSET_DATABASE_URL").output().unwrap()
}

#[test]
fn migrate_creates_the_tables_and_serve_uses_them() {
    let schema = Schema::new("onset_cli");
    let url = database_url();
    let out = onset(&["migrate", "--database-url", &url, "--database-schema", &schema.0]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "the database is up to date");
    let tables = psql(&format!("SELECT count(*) FROM pg_tables WHERE schemaname = '{}'", schema.0));
    assert!(tables.parse::<u32>().unwrap() >= 15, "{tables} tables");
    // Again: nothing to do, same answer.
    assert!(onset(&["migrate", "--database-url", &url, "--database-schema", &schema.0]).status.success());

    let dir = tempfile::tempdir().unwrap();
    let (server, base) = serve(dir.path(), &["--database-url", &url, "--database-schema", &schema.0], |_| {});
    let token = std::fs::read_to_string(dir.path().join(".onset/admin-token")).unwrap();
    let created = psql(&format!("SELECT count(*) FROM {}.tokens", schema.0));
    assert_eq!(created, "1", "the first admin token is in the database");
    let ready = get(&base, "/readyz");
    assert!(ready.starts_with("HTTP/1.1 200") && ready.contains("\"store\":true"), "{ready}");
    assert!(!dir.path().join(".onset/onset.db").exists());
    assert!(!token.trim().is_empty());
    drop(server);
}

#[test]
fn a_database_that_cannot_be_reached_is_named_without_its_password() {
    let out = onset(&["migrate", "--database-url", "postgres://onset:hunter2@127.0.0.1:1/nowhere"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("database error"), "{err}");
    assert!(!err.contains("hunter2"), "the password stays out of messages: {err}");
    let out = onset(&["migrate"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--database-url"), "it says what is missing");
}

/// A plain HTTP GET, the whole answer as text.
fn get(base: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut conn = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    write!(conn, "GET {path} HTTP/1.1\r\nHost: onset\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    answer
}
