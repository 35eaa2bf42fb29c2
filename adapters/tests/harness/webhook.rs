//! A webhook receiver for tests: a small HTTP/1.1 server on `std::net::TcpListener` that
//! passes on every request it gets (shared by the alert tests and the live-run tests).
#![allow(dead_code, reason = "each test binary uses the part it needs")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

/// Upper bound on waiting for something that should happen soon; reaching it fails the test
/// instead of hanging it. Not a timing assertion.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// One request the receiver got.
#[derive(Debug)]
pub struct Request {
    pub request_line: String,
    /// Header lines, names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

pub fn read_request(stream: &mut TcpStream) -> Request {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).expect("read the request head");
        assert!(n > 0, "connection closed inside the request head");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap().to_owned();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (name, value) = l.split_once(':').expect("a header line");
            (name.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let length: usize =
        headers.iter().find(|(n, _)| n == "content-length").map(|(_, v)| v.parse().unwrap()).expect("a Content-Length");
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).expect("read the body");
        assert!(n > 0, "connection closed inside the body");
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Request { request_line, headers, body }
}

/// A webhook answering the `statuses` in turn (the last one from then on), one request per
/// connection; every request is passed on before it is answered.
pub fn receiver(statuses: Vec<u16>) -> (String, mpsc::Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/starlog", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for i in 0.. {
            let Ok((mut stream, _)) = listener.accept() else { return };
            let request = read_request(&mut stream);
            if tx.send(request).is_err() {
                return;
            }
            let status = statuses[i.min(statuses.len() - 1)];
            let body = "{\"note\":\"webhook body, never logged\"}";
            let answer = format!(
                "HTTP/1.1 {status} Whatever\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (url, rx)
}
