//! Large uploads at once: beyond `--max-inflight-body` they are refused before their bodies are
//! read, so the process's peak memory stays near the budget.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

use crate::server::serve;

/// The documented margin: the server's own memory besides the bodies it holds.
const MARGIN: u64 = 100 << 20;
const BUDGET: u64 = 64 << 20;
const BODY: usize = 20_000_000;

fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib << 10
}

/// Sends the head; sends the body only when no answer came first. Returns the status code.
fn upload(port: u16, body: &[u8]) -> u16 {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let head = format!(
        "POST /hooks/development/uploads HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    c.write_all(head.as_bytes()).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut buf = [0u8; 12];
    let early = match c.read(&mut buf) {
        Ok(n) if n >= 12 => Some(buf),
        _ => None,
    };
    let line = match early {
        Some(b) => b,
        None => {
            c.write_all(body).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            c.read_exact(&mut buf).unwrap();
            buf
        }
    };
    String::from_utf8_lossy(&line[9..12]).parse().unwrap()
}

#[test]
fn concurrent_large_bodies_beyond_the_budget_get_503_and_memory_stays_near_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("project/components")).unwrap();
    std::fs::write(dir.path().join("project/onset.yaml"), "name: mem\n").unwrap();
    std::fs::write(
        dir.path().join("project/components/uploads.yaml"),
        "component: uploads\ntrigger: { type: http }\nhandlers:\n  /:\n    POST: { steps: [ { log: \"{{ event.n }}\" } ] }\n",
    )
    .unwrap();
    let (server, base) =
        serve(dir.path(), &["--no-watch", "--project", "project", "--max-inflight-body", "64MiB"], |c| {
            c.env("ONSET_LOG", "warn").stdout(Stdio::null()).stderr(Stdio::inherit());
        });
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    // Runs are held back, so the peak is the ingress's alone.
    let token = std::fs::read_to_string(dir.path().join(".onset/admin-token")).unwrap();
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let pause = format!(
        "POST /api/v1/components/uploads/pause?environment=development HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        token.trim()
    );
    c.write_all(pause.as_bytes()).unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let body = std::sync::Arc::new(format!("{{\"n\": 1, \"pad\": \"{}\"}}", "x".repeat(BODY - 20)).into_bytes());
    let before = peak_rss(server.0.id());
    let uploads: Vec<_> = (0..24)
        .map(|_| {
            let body = body.clone();
            std::thread::spawn(move || upload(port, &body))
        })
        .collect();
    let codes: Vec<u16> = uploads.into_iter().map(|t| t.join().unwrap()).collect();
    let accepted = codes.iter().filter(|c| **c == 202).count();
    let refused = codes.iter().filter(|c| **c == 503).count();
    assert_eq!(accepted + refused, 24, "{codes:?}");
    assert!(accepted >= 1 && refused >= 1, "some fit the budget, the rest are refused: {codes:?}");
    let peak = peak_rss(server.0.id());
    assert!(
        peak < BUDGET + MARGIN,
        "peak RSS {} MiB is over the budget (64 MiB) plus the margin (100 MiB); it was {} MiB before",
        peak >> 20,
        before >> 20
    );
}
