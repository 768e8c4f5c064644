//! TLS: https:// and wss:// from PEM files, and clear errors for bad ones.

mod common;

use std::path::Path;
use std::sync::Arc;

use clap::Parser;
use common::TestServer;
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{CertificateDer, ServerName};
use signaling_server::{Config, ServerError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::Connector;
use tokio_tungstenite::tungstenite::Message;

/// Writes a self-signed certificate for localhost into `dir`; returns its DER.
fn self_signed(dir: &Path) -> CertificateDer<'static> {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), key.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.signing_key.serialize_pem()).unwrap();
    key.cert.der().clone()
}

fn client_config(cert: CertificateDer<'static>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn tls_flags(dir: &Path) -> Vec<String> {
    vec![
        "--tls-cert".into(),
        dir.join("cert.pem").display().to_string(),
        "--tls-key".into(),
        dir.join("key.pem").display().to_string(),
    ]
}

#[tokio::test]
async fn wss_and_https_work_with_a_pem_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = self_signed(dir.path());
    let flags = tls_flags(dir.path());
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = TestServer::start(&flags).await;
    let config = client_config(cert);

    let url = format!("wss://localhost:{}/ws", server.addr.port());
    let (mut ws, _) = tokio_tungstenite::connect_async_tls_with_config(
        url,
        None,
        false,
        Some(Connector::Rustls(Arc::clone(&config))),
    )
    .await
    .unwrap();
    ws.send(Message::Text(r#"{"type":"join","room":"secure"}"#.into()))
        .await
        .unwrap();
    let Some(Ok(Message::Text(welcome))) = ws.next().await else {
        panic!("expected welcome")
    };
    assert!(welcome.contains(r#""type":"welcome""#), "{welcome}");

    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.starts_with("HTTP/1.1 200") && out.ends_with("ok"),
        "{out}"
    );
}

#[tokio::test]
async fn plain_http_to_a_tls_port_does_not_disturb_it() {
    let dir = tempfile::tempdir().unwrap();
    let cert = self_signed(dir.path());
    let flags = tls_flags(dir.path());
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = TestServer::start(&flags).await;
    let mut plain = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    let _ = plain.read_to_end(&mut out).await;
    assert!(!out.starts_with(b"HTTP/1.1 200"));
    let url = format!("wss://localhost:{}/ws", server.addr.port());
    tokio_tungstenite::connect_async_tls_with_config(
        url,
        None,
        false,
        Some(Connector::Rustls(client_config(cert))),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn missing_or_mismatched_pem_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    self_signed(dir.path());
    let serve = |cert: &Path, key: &Path| {
        let config = Config::parse_from([
            "s",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ]);
        async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            signaling_server::serve(listener, config, std::future::pending())
                .await
                .unwrap_err()
        }
    };
    let missing = dir.path().join("nope.pem");
    let err = serve(&missing, &dir.path().join("key.pem")).await;
    assert!(
        matches!(&err, ServerError::Tls { what: "certificate", path, .. } if *path == missing),
        "{err}"
    );
    assert!(err.to_string().contains("nope.pem"));

    let other = tempfile::tempdir().unwrap();
    self_signed(other.path());
    let err = serve(&dir.path().join("cert.pem"), &other.path().join("key.pem")).await;
    assert!(err.to_string().contains("does not match"), "{err}");

    let err = serve(&dir.path().join("key.pem"), &dir.path().join("key.pem")).await;
    assert!(err.to_string().contains("CERTIFICATE"), "{err}");
}
