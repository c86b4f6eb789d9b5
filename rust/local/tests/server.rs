//! The server over real loopback HTTP, read with a bare std TcpStream and
//! decoded with sagerun-core's event-stream decoder.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use sagerun_core::eventstream::{DecodeError, Decoder, HeaderValue, Limits, Message};
use sagerun_local::{LocalServer, ServerOptions};

fn start(endpoints: &str) -> LocalServer {
    let opts = ServerOptions {
        verify_signatures: false,
        ..ServerOptions::default()
    };
    LocalServer::start(endpoints, opts).expect("server starts")
}

/// One request with `Connection: close`: (status, lower-cased head, body).
fn post(server: &LocalServer, path: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        server.local_addr(),
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    let status = head[9..12].parse().unwrap();
    let body = raw[split + 4..].to_vec();
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(&body)
    } else {
        body
    };
    (status, head, body)
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size =
            usize::from_str_radix(std::str::from_utf8(&raw[..line_end]).unwrap(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[line_end + 2..line_end + 2 + size]);
        raw = &raw[line_end + 4 + size..];
    }
}

fn header<'a>(m: &'a Message, name: &str) -> Option<&'a HeaderValue> {
    m.headers.iter().find(|h| h.name == name).map(|h| &h.value)
}

#[test]
fn echo_answers_with_a_request_id() {
    let server = start(r#"{"e": {"model": "echo"}}"#);
    let (status, head, body) = post(&server, "/endpoints/e/invocations", b"hello");
    assert_eq!(status, 200);
    assert_eq!(body, b"hello");
    assert!(head.contains("x-amzn-requestid: "), "{head}");
}

#[test]
fn stream_frames_decode_with_the_core_decoder() {
    let server = start(r#"{"t": {"model": "tokens", "text": "abcdef", "parts": 3}}"#);
    let (status, head, body) = post(&server, "/endpoints/t/invocations-response-stream", b"x");
    assert_eq!(status, 200);
    assert!(
        head.contains("content-type: application/vnd.amazon.eventstream"),
        "{head}"
    );
    let mut decoder = Decoder::new(Limits::default());
    let messages = decoder.feed(&body).unwrap();
    decoder.finish().unwrap();
    let payloads: Vec<&[u8]> = messages.iter().map(|m| &m.payload[..]).collect();
    assert_eq!(payloads, [&b"ab"[..], b"cd", b"ef"]);
    for m in &messages {
        assert_eq!(
            header(m, ":event-type"),
            Some(&HeaderValue::String("PayloadPart".into()))
        );
        assert_eq!(
            header(m, ":message-type"),
            Some(&HeaderValue::String("event".into()))
        );
    }
}

#[test]
fn corrupted_crc_is_caught_by_the_core_decoder() {
    let server = start(
        r#"{"t": {"model": "tokens", "text": "abcdef", "parts": 3, "faults": {"corrupt_crc_at": 1}}}"#,
    );
    let (_, _, body) = post(&server, "/endpoints/t/invocations-response-stream", b"x");
    let mut decoder = Decoder::new(Limits::default());
    let first_len = u32::from_be_bytes(body[..4].try_into().unwrap()) as usize;
    assert_eq!(decoder.feed(&body[..first_len]).unwrap().len(), 1);
    assert!(matches!(
        decoder.feed(&body[first_len..]),
        Err(DecodeError::ChecksumMismatch { .. })
    ));
}

#[test]
fn unknown_endpoint_and_path_are_json_errors() {
    let server = start(r#"{"e": {"model": "echo"}}"#);
    let (status, head, body) = post(&server, "/endpoints/missing/invocations", b"x");
    assert_eq!(status, 400);
    assert!(head.contains("x-amzn-errortype: validationerror"), "{head}");
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v["Message"],
        "Endpoint missing of account 123456789012 not found."
    );
    let (status, head, _) = post(&server, "/other", b"");
    assert_eq!(status, 404);
    assert!(
        head.contains("x-amzn-errortype: unknownoperationexception"),
        "{head}"
    );
}

#[test]
fn configuration_errors_stop_the_start() {
    let e = LocalServer::start(
        r#"{"e": {"model": "echo", "bogus": 1}}"#,
        ServerOptions::default(),
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("bogus"), "{e}");
    let no_creds = ServerOptions {
        verify_signatures: true,
        ..ServerOptions::default()
    };
    assert!(LocalServer::start(r#"{}"#, no_creds).is_err());
}

#[test]
fn ipv6_loopback_urls_are_bracketed() {
    let opts = ServerOptions {
        host: "::1".into(),
        verify_signatures: false,
        ..ServerOptions::default()
    };
    // Machines without IPv6 cannot bind ::1; nothing to check there.
    if let Ok(server) = LocalServer::start(r#"{"e": {"model": "echo"}}"#, opts) {
        assert!(
            server.url().starts_with("http://[::1]:"),
            "{}",
            server.url()
        );
        let (status, _, body) = post(&server, "/endpoints/e/invocations", b"v6");
        assert_eq!((status, body), (200, b"v6".to_vec()));
    }
}

/// A server that waits `header_timeout` for a request head.
fn start_with_header_timeout(endpoints: &str, header_timeout: Duration) -> LocalServer {
    let opts = ServerOptions {
        verify_signatures: false,
        header_timeout,
        ..ServerOptions::default()
    };
    LocalServer::start(endpoints, opts).expect("server starts")
}

/// Reads until the server closes the connection (a bounded wait: a server
/// that never closes fails the test instead of hanging it).
fn read_until_closed(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut raw = Vec::new();
    match s.read_to_end(&mut raw) {
        Ok(_) => raw,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => raw,
        Err(e) => panic!("the server did not close the connection: {e} (read {raw:?})"),
    }
}

#[test]
fn a_connection_that_never_completes_a_head_is_closed() {
    let server =
        start_with_header_timeout(r#"{"e": {"model": "echo"}}"#, Duration::from_millis(200));
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.write_all(b"POST /endpoints/e/invocations HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    assert_eq!(read_until_closed(&mut s), b"");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_its_response() {
    let server =
        start_with_header_timeout(r#"{"e": {"model": "echo"}}"#, Duration::from_millis(200));
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.write_all(
        b"POST /endpoints/e/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    )
    .unwrap();
    // The response, then the close (no `Connection: close` was asked for).
    let raw = read_until_closed(&mut s);
    assert!(raw.starts_with(b"HTTP/1.1 200 OK\r\n"), "{raw:?}");
    assert!(raw.ends_with(b"\r\n\r\nhello"), "{raw:?}");
}

#[test]
fn a_stream_longer_than_the_header_timeout_is_not_cut() {
    // Four parts 150 ms apart: the response outlasts the 200 ms wait for a
    // head, which only counts while no request is in progress.
    let server = start_with_header_timeout(
        r#"{"t": {"model": "tokens", "text": "abcdefgh", "parts": 4, "delay_ms": 150}}"#,
        Duration::from_millis(200),
    );
    let (status, _, body) = post(&server, "/endpoints/t/invocations-response-stream", b"x");
    assert_eq!(status, 200);
    let mut decoder = Decoder::new(Limits::default());
    let messages = decoder.feed(&body).unwrap();
    decoder.finish().unwrap();
    let payloads: Vec<&[u8]> = messages.iter().map(|m| &m.payload[..]).collect();
    assert_eq!(payloads, [&b"ab"[..], b"cd", b"ef", b"gh"]);
}

#[test]
fn a_body_sent_after_the_head_is_waited_for() {
    let server = start(r#"{"e": {"model": "echo"}}"#);
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.write_all(b"POST /endpoints/e/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n")
        .unwrap();
    // The handler sees the head first, finds no body yet, and must wait.
    std::thread::sleep(Duration::from_millis(100));
    s.write_all(b"hel").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(b"lo").unwrap();
    let raw = read_until_closed(&mut s);
    assert!(raw.starts_with(b"HTTP/1.1 200 OK\r\n"), "{raw:?}");
    assert!(raw.ends_with(b"\r\n\r\nhello"), "{raw:?}");
}
