//! Slow and greedy clients: the body budget, the header and idle timeouts, the connection cap.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

const OPEN: &str = "component: open\ntrigger: { type: http }\nhandlers:\n  /:\n    POST: { steps: [ { log: hi } ] }\n";

fn head(len: usize) -> String {
    format!(
        "POST /hooks/development/open HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: {len}\r\n\r\n"
    )
}

/// The status line of the answer on `stream`, if one comes within `wait`.
async fn status_within(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return None,
        }
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    Some(text)
}

/// True when the server has closed `stream` (EOF or reset) within `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(tokio::time::timeout(wait, stream.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
}

#[tokio::test]
async fn bodies_beyond_the_inflight_budget_get_503_before_they_are_read() {
    let mut o = Options::new(&[("open.yaml", OPEN)]);
    o.tune = Some(|c| c.max_inflight_body = 3 << 20);
    let s = start_with(o).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let body = vec![b'x'; 1 << 20];

    // Three heads of 1 MiB bodies take the whole 3 MiB budget while their bodies are awaited.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut c = TcpStream::connect(&addr).await.unwrap();
        c.write_all(head(body.len()).as_bytes()).await.unwrap();
        held.push(c);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A fourth is answered at once, its body never sent.
    let mut refused = TcpStream::connect(&addr).await.unwrap();
    refused.write_all(head(body.len()).as_bytes()).await.unwrap();
    let answer = status_within(&mut refused, Duration::from_secs(5)).await.expect("an answer before the body");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"), "{answer}");

    for c in &mut held {
        c.write_all(&body).await.unwrap();
        let answer = status_within(c, Duration::from_secs(10)).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    }
    drop(held);
    // The budget came back: the same body is accepted again, and only the accepted ones are stored.
    let r = s.client.post(s.url("/hooks/development/open")).body(body.clone()).send().await.unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(s.events().await.len(), 4);
}

#[tokio::test]
async fn a_body_without_a_length_counts_as_it_arrives() {
    let mut o = Options::new(&[("open.yaml", OPEN)]);
    o.tune = Some(|c| c.max_inflight_body = 64 << 10);
    let s = start_with(o).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut c = TcpStream::connect(&addr).await.unwrap();
    let chunked = "POST /hooks/development/open HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n";
    c.write_all(chunked.as_bytes()).await.unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 16 << 10, "y".repeat(16 << 10));
    let mut answer = None;
    for _ in 0..8 {
        if c.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
        if let Some(a) = status_within(&mut c, Duration::from_millis(200)).await {
            answer = Some(a);
            break;
        }
    }
    let answer = answer.expect("refused once the chunks pass the budget");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(s.events().await.is_empty());
}

#[tokio::test]
async fn half_open_requests_are_cut_off_while_others_are_served() {
    let mut o = Options::new(&[("open.yaml", OPEN)]);
    o.tune = Some(|c| {
        c.header_timeout = Duration::from_millis(600);
        c.idle_timeout = Duration::from_millis(1500);
    });
    let s = start_with(o).await;
    let addr = s.base.trim_start_matches("http://").to_string();

    let mut half_open = Vec::new();
    for i in 0..200 {
        let mut c = TcpStream::connect(&addr).await.unwrap();
        // Headers that never end (and, for some, nothing at all).
        if i % 4 != 0 {
            c.write_all(b"POST /hooks/development/open HTTP/1.1\r\nhost: x\r\nx-slow: ").await.unwrap();
        }
        half_open.push(c);
    }
    let started = Instant::now();
    // Normal requests are served meanwhile.
    for _ in 0..20 {
        let r = s.client.post(s.url("/hooks/development/open")).body("ok").send().await.unwrap();
        assert_eq!(r.status(), 202);
    }
    for c in &mut half_open {
        assert!(closed_within(c, Duration::from_secs(5)).await, "a half-open request is closed");
    }
    assert!(started.elapsed() < Duration::from_secs(5));

    // A keep-alive connection that answered a request and then stays quiet is closed after the
    // idle timeout, not after the (shorter) header timeout.
    let mut c = TcpStream::connect(&addr).await.unwrap();
    c.write_all(format!("{}ok", head(2)).as_bytes()).await.unwrap();
    let answer = status_within(&mut c, Duration::from_secs(5)).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    assert!(!closed_within(&mut c, Duration::from_millis(1000)).await, "still open within the idle timeout");
    assert!(closed_within(&mut c, Duration::from_secs(3)).await, "closed after the idle timeout");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_one() {
    let mut o = Options::new(&[("open.yaml", OPEN)]);
    o.tune = Some(|c| {
        c.max_connections = 2;
        c.header_timeout = Duration::from_millis(800);
        c.idle_timeout = Duration::from_millis(200);
    });
    let s = start_with(o).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    // The keep-alive connection the start-up's readiness checks left is closed as idle by now.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut a = TcpStream::connect(&addr).await.unwrap();
    let mut b = TcpStream::connect(&addr).await.unwrap();
    a.write_all(b"POST /hooks").await.unwrap();
    b.write_all(b"POST /hooks").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(&addr).await.unwrap();
    third.write_all(format!("{}ok", head(2)).as_bytes()).await.unwrap();
    assert!(
        status_within(&mut third, Duration::from_millis(400)).await.is_none(),
        "two connections are open: the third waits"
    );
    let answer = status_within(&mut third, Duration::from_secs(5)).await.expect("served once the others timed out");
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    assert!(closed_within(&mut a, Duration::from_secs(1)).await && closed_within(&mut b, Duration::from_secs(1)).await);
}

#[tokio::test]
async fn a_stalled_body_is_answered_408() {
    let mut o = Options::new(&[("open.yaml", OPEN)]);
    o.tune = Some(|c| c.idle_timeout = Duration::from_millis(500));
    let s = start_with(o).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut c = TcpStream::connect(&addr).await.unwrap();
    c.write_all(format!("{}half", head(100)).as_bytes()).await.unwrap();
    let answer = status_within(&mut c, Duration::from_secs(5)).await.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let mut rest = answer.into_bytes();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&rest).contains("body_timeout") {
        match tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => rest.extend_from_slice(&buf[..n]),
            _ => panic!("no error body: {}", String::from_utf8_lossy(&rest)),
        }
    }
    assert!(s.events().await.is_empty());
}
