//! A TLS listener (`listen` entries with `tls: {cert, key}`): HTTPS end to end beside
//! a plain listener, and certificate mistakes caught by `-t` and at start, one line
//! and exit 1.

use crate::support::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::ServerName;

/// One HTTP/1.1 exchange over TLS, trusting only `ca`; returns the whole reply.
async fn https(addr: std::net::SocketAddr, ca: &TestCa, request: &[u8]) -> String {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("name");
    let mut tls = ca
        .connector()
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    tls.write_all(request).await.expect("write");
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut out)).await;
    read.expect("the reply in time").ok();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_tls_listener_serves_https_beside_a_plain_one() {
    let ca = TestCa::new();
    let files = tempfile::tempdir().expect("dir");
    let (cert, key) = ca.write_server_pem(files.path());
    let up = MockUpstream::start(Behaviour::ok());
    let yaml = instances_yaml("", &bases(&[&up]), &["m1"]);
    let listen = format!(
        "[\"127.0.0.1:0\", {{ addr: \"127.0.0.1:0\", tls: {{ cert: {}, key: {} }} }}]",
        cert.display(),
        key.display()
    );
    let gw = (Gateway::builder(&yaml).instance_keys(1))
        .listen(&listen)
        .start()
        .await;
    assert!(gw.logs().contains("(TLS)"), "{}", gw.logs());
    let listeners = gw.listeners();
    assert_eq!(listeners.len(), 2, "{listeners:?}");
    let tls_addr = listeners[1];

    let health = https(
        tls_addr,
        &ca,
        b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let body = chat_body("m1").to_string();
    let post = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let chat = https(tls_addr, &ca, post.as_bytes()).await;
    assert!(chat.starts_with("HTTP/1.1 200"), "{chat}");
    assert!(chat.contains("chat.completion"), "{chat}");
    assert_eq!(up.posts(), 1);

    // Plain HTTP on the TLS port gets no HTTP answer; the plain port still serves.
    let mut plain = tokio::net::TcpStream::connect(tls_addr)
        .await
        .expect("connect");
    plain
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut out)).await;
    assert!(!String::from_utf8_lossy(&out).contains("200 OK"));
    assert_eq!(gw.get("/health").await.status(), 200);
}

#[tokio::test]
async fn a_missing_or_bad_certificate_is_one_line_and_exit_1() {
    let dir = tempfile::tempdir().expect("dir");
    let junk = write_file(dir.path(), "junk.pem", "not a certificate\n");
    let missing = dir.path().join("missing.pem");
    let ca = TestCa::new();
    let (cert, _key) = ca.write_server_pem(dir.path());
    let other = tempfile::tempdir().expect("dir");
    let (_, other_key) = TestCa::new().write_server_pem(other.path());
    for (cert, key, why) in [
        // Another certificate's key: Pingora would panic when the listener starts.
        (cert.clone(), other_key.clone(), "key"),
        (missing.clone(), junk.clone(), "No such file"),
        (
            junk.clone(),
            junk.clone(),
            "no certificate, or no private key",
        ),
        (
            cert.clone(),
            cert.clone(),
            "no certificate, or no private key",
        ),
    ] {
        let gw = format!(
            "listen: [{{ addr: \"127.0.0.1:0\", tls: {{ cert: {}, key: {} }} }}]\n\
             providers:\n  - {{ id: p, type: openai-compatible, base_url: \"http://127.0.0.1:9/v1\", models: [m] }}\n",
            cert.display(),
            key.display()
        );
        let path = write_file(dir.path(), "gateway.yaml", &gw);
        let path = path.display().to_string();
        for args in [vec!["-t", "-g", path.as_str()], vec!["-g", path.as_str()]] {
            let (code, out, err) = run_modelgate(&args, &[]);
            assert_eq!(code, 1, "{args:?}: {out}{err}");
            let lines: Vec<&str> = err
                .lines()
                .filter(|l| l.contains("TLS certificate"))
                .collect();
            assert_eq!(lines.len(), 1, "{args:?}: {err}");
            assert!(lines[0].contains(why), "{args:?}: {err}");
            assert!(!err.contains("panicked"), "{err}");
        }
    }
}
