//! rustls client configuration: the system's trust store plus an optional
//! CA bundle (PEM), or no verification at all for testing (`verify=False`).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::ClientError;

/// How the server's certificate is checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Verify {
    /// The system's roots.
    #[default]
    System,
    /// The system's roots plus the certificates of a PEM bundle.
    SystemAndBundle(std::path::PathBuf),
    /// Accept any certificate (botocore's `verify=False`).
    Off,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system roots are read once per process: loading them parses every
/// certificate on disk.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

fn read_bundle(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let bad = |why: String| ClientError::Config(format!("CA bundle {}: {why}", path.display()));
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not a PEM certificate bundle ({e})")))?;
    if certs.is_empty() {
        return Err(bad("holds no PEM certificate".into()));
    }
    Ok(certs)
}

pub fn client_config(verify: &Verify) -> Result<ClientConfig, ClientError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Config(e.to_string()))?;
    let config = match verify {
        Verify::Off => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate))
            .with_no_client_auth(),
        Verify::System | Verify::SystemAndBundle(_) => {
            let mut roots = RootCertStore::empty();
            // Some system certificates may not parse; skip them like every
            // other TLS client does rather than refusing to start.
            roots.add_parsable_certificates(system_roots().iter().cloned());
            if let Verify::SystemAndBundle(path) = verify {
                for cert in read_bundle(path)? {
                    roots.add(cert).map_err(|e| {
                        ClientError::Config(format!("CA bundle {}: {e}", path.display()))
                    })?;
                }
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    // ALPN (http/1.1) is set by hyper-rustls's builder.
    Ok(config)
}

/// `verify=False`: the handshake still happens (and its signatures are
/// checked), but the certificate chain is not.
#[derive(Debug)]
struct AcceptAnyCertificate;

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
