//! Self-test of the mock upstream at the byte level: `Expect: 100-continue`,
//! `Connection: close`, TLS with the test CA, and that dropping the mock stops it.
//! Raw sockets here, because reqwest hides exactly these details.

use crate::support::{chat_body, Behaviour, MockUpstream, TestCa};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;

/// Reads up to and including the blank line that ends a response head.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = stream.read(&mut byte).await.expect("read head");
        assert_eq!(
            n,
            1,
            "connection closed mid-head: {}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    String::from_utf8(head).expect("ASCII head")
}

fn request_head(body: &str, extra: &str) -> String {
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: mock\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n{extra}\r\n",
        body.len()
    )
}

/// Sends one `Connection: close` request and reads the whole response.
async fn exchange_to_close<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> String {
    let body = chat_body("m1").to_string();
    let request = request_head(&body, "connection: close\r\n") + &body;
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .expect("read to close");
    String::from_utf8(response).unwrap()
}

#[tokio::test]
async fn expect_continue_is_answered_only_when_asked() {
    let mock = MockUpstream::start(Behaviour::chat_ok().send_continue());
    let mut tcp = TcpStream::connect(mock.addr()).await.unwrap();
    let body = chat_body("m1").to_string();
    let head = request_head(&body, "expect: 100-continue\r\n");
    tcp.write_all(head.as_bytes()).await.unwrap();
    assert_eq!(read_head(&mut tcp).await, "HTTP/1.1 100 Continue\r\n\r\n");
    tcp.write_all(body.as_bytes()).await.unwrap();
    assert!(read_head(&mut tcp).await.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(mock.last_request().unwrap().expected_continue());

    // Not asked: no 100, the mock just waits for the body.
    let quiet = MockUpstream::start(Behaviour::chat_ok());
    let mut tcp = TcpStream::connect(quiet.addr()).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(body.as_bytes()).await.unwrap();
    assert!(read_head(&mut tcp).await.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(quiet.last_request().unwrap().expected_continue());
}

#[tokio::test]
async fn connection_close_is_honoured() {
    let mock = MockUpstream::start(Behaviour::chat_ok());
    let mut tcp = TcpStream::connect(mock.addr()).await.unwrap();
    let response = exchange_to_close(&mut tcp).await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("connection: close\r\n"));
    assert!(response.ends_with('}'));
}

#[tokio::test]
async fn tls_serves_localhost_and_the_ip_with_the_test_ca() {
    let ca = TestCa::new();
    let mock = MockUpstream::start_tls(Behaviour::chat_ok(), &ca);
    assert_eq!(
        mock.base_url(),
        format!("https://localhost:{}/v1", mock.addr().port())
    );
    let pem = std::fs::read_to_string(ca.ca_pem_path()).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));

    for name in ["localhost", "127.0.0.1"] {
        let tcp = TcpStream::connect(mock.addr()).await.unwrap();
        let server_name = ServerName::try_from(name.to_string()).unwrap();
        let mut tls = ca.connector().connect(server_name, tcp).await.expect(name);
        let response = exchange_to_close(&mut tls).await;
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.contains("\"chat.completion\""));
    }
    assert_eq!(mock.hits(), 2);

    let stranger = TestCa::new();
    let tcp = TcpStream::connect(mock.addr()).await.unwrap();
    let server_name = ServerName::try_from("localhost").unwrap();
    assert!(stranger
        .connector()
        .connect(server_name, tcp)
        .await
        .is_err());
}

#[tokio::test]
async fn dropping_the_mock_closes_its_connections_and_listener() {
    let mock = MockUpstream::start(Behaviour::hang());
    let addr = mock.addr();
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let body = chat_body("m1").to_string();
    tcp.write_all((request_head(&body, "") + &body).as_bytes())
        .await
        .unwrap();
    assert!(mock.wait_for_hits(1, Duration::from_secs(5)).await);
    drop(mock);

    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "hung connection still open: {read:?}"
    );

    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "listener still accepting after drop"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
