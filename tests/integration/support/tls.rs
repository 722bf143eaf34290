//! A throwaway certificate authority for TLS tests: a self-signed CA and a server
//! certificate for `localhost` and `127.0.0.1` signed by it (rcgen), the rustls acceptor
//! the mock upstream serves with, and the CA PEM on disk for Pingora's `ca_file`.
//!
//! rustls needs a crypto provider. Nothing here relies on a process-wide default (which
//! panics when none is installed, or when two are compiled in): every config is built
//! with `builder_with_provider(ring)`.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use std::path::PathBuf;
use std::sync::Arc;
use tokio_rustls::rustls::crypto::{ring, CryptoProvider};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

pub struct TestCa {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    server_cert: CertificateDer<'static>,
    server_key_der: Vec<u8>,
    server_pem: String,
    server_key_pem: String,
    dir: tempfile::TempDir,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

impl TestCa {
    pub fn new() -> TestCa {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "modelgate test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign CA");

        let server_key = KeyPair::generate().expect("server key");
        // rcgen turns a name that parses as an IP address into an IP SAN.
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let mut server_params = CertificateParams::new(names).expect("server params");
        server_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server_params
            .signed_by(&server_key, &ca_cert, &ca_key)
            .expect("sign server cert");

        TestCa {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().clone(),
            server_cert: server_cert.der().clone(),
            server_key_der: server_key.serialize_der(),
            server_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            dir: tempfile::Builder::new()
                .prefix("modelgate-ca")
                .tempdir()
                .expect("CA temp dir"),
        }
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Writes the CA PEM (once per call; same path) and returns its path, for
    /// `ca_file:` in pingora.yaml. Lives as long as this `TestCa`.
    pub fn ca_pem_path(&self) -> PathBuf {
        let path = self.dir.path().join("test-ca.pem");
        std::fs::write(&path, &self.ca_pem).expect("write CA PEM");
        path
    }

    /// The server certificate and its key as PEM files in `dir` (`cert.pem`,
    /// `key.pem`), for a gateway's TLS listener; returns their paths.
    pub fn write_server_pem(&self, dir: &std::path::Path) -> (PathBuf, PathBuf) {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, &self.server_pem).expect("write cert PEM");
        std::fs::write(&key, &self.server_key_pem).expect("write key PEM");
        (cert, key)
    }

    /// Server side: the mock's certificate (not the CA) and key. No ALPN is configured,
    /// so a client offering h2 falls back to HTTP/1.1, the only protocol the mock speaks.
    pub fn acceptor(&self) -> TlsAcceptor {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone()));
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![self.server_cert.clone()], key)
            .expect("server TLS config");
        TlsAcceptor::from(Arc::new(config))
    }

    /// Client side trusting only this CA, for talking to a TLS mock directly.
    pub fn connector(&self) -> TlsConnector {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone()).expect("add CA root");
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }
}
