//! Issue 12, bounded resources, through raw sockets on both backends: slow-loris heads, silent and
//! idle kept-alive connections are closed, the connection cap is honoured, stalled bodies get 408.
//! No timing is asserted beyond "closed eventually, within a generous bound".

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::*;
use gantry_registry::config::ConnLimits;

/// Generous bound for "eventually": only a broken server takes this long.
const EVENTUALLY: Duration = Duration::from_secs(30);

/// A raw connection with a read timeout.
fn connect(reg: &TestRegistry, timeout: Duration) -> TcpStream {
    let s = TcpStream::connect(reg.addr).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    s
}

/// Reads until the server closes the connection; panics if it stays open past [`EVENTUALLY`].
fn closed_eventually(s: &mut TcpStream) -> Vec<u8> {
    let start = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return got,
        }
        assert!(start.elapsed() < EVENTUALLY, "connection still open");
    }
}

/// Reads one response with a `Content-Length` off a kept-alive connection.
fn read_one_response(s: &mut TcpStream) -> Resp {
    let mut raw = Vec::new();
    let mut buf = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut buf).unwrap();
        raw.push(buf[0]);
    }
    let head = parse_response(&raw);
    let len: usize = head.header("content-length").unwrap().parse().unwrap();
    let mut body = vec![0; len];
    s.read_exact(&mut body).unwrap();
    raw.extend_from_slice(&body);
    parse_response(&raw)
}

fn limits(f: impl FnOnce(&mut ConnLimits)) -> impl FnOnce(&mut gantry_registry::Config) {
    move |c| f(&mut c.limits)
}

fn slow_and_idle_connections_are_closed(backend: Backend) {
    let reg = TestRegistry::start_with(
        backend,
        limits(|l| {
            l.header_read_timeout = Duration::from_secs(2);
            l.idle_timeout = Duration::from_secs(1);
        }),
    );
    // Slow loris: a header byte every 100 ms keeps the idle timer quiet, but the head never
    // completes; the header-read timeout closes the connection.
    let mut s = connect(&reg, Duration::from_millis(100));
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();
    let start = Instant::now();
    let mut closed = false;
    while start.elapsed() < EVENTUALLY {
        if s.write_all(b"X").is_err() {
            closed = true;
            break;
        }
        let mut b = [0u8; 64];
        match s.read(&mut b) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "a head trickling in forever kept its connection");

    // Silence: a connection that sends nothing, and one kept alive after a response.
    let mut s = connect(&reg, EVENTUALLY);
    assert!(closed_eventually(&mut s).is_empty());
    let mut s = connect(&reg, EVENTUALLY);
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_one_response(&mut s).status, 200);
    assert!(closed_eventually(&mut s).is_empty());
    // The server still serves.
    assert_eq!(reg.http("GET", "/health", &[], b"").status, 200);
}

fn connection_cap_is_honoured(backend: Backend) {
    let reg = TestRegistry::start_with(
        backend,
        limits(|l| {
            l.max_connections = 2;
            l.idle_timeout = Duration::from_secs(600);
            l.header_read_timeout = Duration::from_secs(600);
        }),
    );
    let request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    // Two kept-alive connections take both slots (each was answered, so each was accepted).
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = connect(&reg, EVENTUALLY);
            s.write_all(request).unwrap();
            assert_eq!(read_one_response(&mut s).status, 200);
            s
        })
        .collect();
    // A third is not served while they are open (waiting can only make this pass wrongly, not
    // fail wrongly)...
    let mut third = connect(&reg, Duration::from_millis(500));
    third.write_all(request).unwrap();
    let mut b = [0u8; 1];
    match third.read(&mut b) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("a connection past the cap was served: {other:?}"),
    }
    // ...and is served once one of them closes.
    drop(held.pop());
    third.set_read_timeout(Some(EVENTUALLY)).unwrap();
    assert_eq!(read_one_response(&mut third).status, 200);
    let metrics = {
        drop(held);
        drop(third);
        reg.http("GET", "/metrics", &[], b"").text()
    };
    assert!(
        metrics.contains("gantry_http_connections_open "),
        "{metrics}"
    );
}

fn stalled_bodies_get_408(backend: Backend) {
    let reg = TestRegistry::start_with(
        backend,
        limits(|l| {
            l.body_idle_timeout = Duration::from_secs(1);
            l.idle_timeout = Duration::from_secs(2);
        }),
    );
    let tok = reg.token("alice");
    let mut s = connect(&reg, EVENTUALLY);
    let head = format!(
        "PUT /api/v1/crates/new HTTP/1.1\r\nHost: x\r\nAuthorization: {tok}\r\nContent-Length: 1000\r\n\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&[0u8; 10]).unwrap();
    let r = parse_response(&closed_eventually(&mut s));
    assert_eq!(r.status, 408, "{}", r.text());
    assert!(r.detail().starts_with("timed out reading the request body"));
    assert_eq!(reg.blob_count(), 0);
}

backend_tests!(
    slow_and_idle_connections_are_closed,
    connection_cap_is_honoured,
    stalled_bodies_get_408,
);
