//! `onset serve` as a child process for the tests, and the CLI run against it.

use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// The server process; killed when dropped, so a failing test leaves nothing running.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `onset serve --listen 127.0.0.1:<port> <args>` in `dir` (its state in `<dir>/.onset`), set up
/// further by `setup` (environment, output); returns once it listens and has written its admin
/// token, with its base URL.
pub fn serve(dir: &Path, args: &[&str], setup: impl FnOnce(&mut Command)) -> (Server, String) {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_onset"));
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .current_dir(dir)
        .env_remove("ONSET_SERVER")
        .env_remove("ONSET_TOKEN");
    setup(&mut cmd);
    let server = Server(cmd.spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() || !dir.join(".onset/admin-token").exists() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (server, format!("http://127.0.0.1:{port}"))
}

/// The `onset` CLI in `dir`, finding the server only through its arguments.
pub fn onset(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_onset"))
        .args(args)
        .current_dir(dir)
        .env_remove("ONSET_SERVER")
        .env_remove("ONSET_TOKEN")
        .output()
        .unwrap()
}
