//! rustls client configuration: the system's trust store plus optional CA
//! bundles (PEM), or no verification at all for testing (`verify=False`);
//! and an optional client certificate (botocore's `client_cert` for the
//! endpoint, `proxies_config["proxy_client_cert"]` for an https:// proxy).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
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

/// A client certificate as botocore takes it: one PEM file holding the
/// certificate chain and its private key, or the chain and the key in two.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCert {
    pub cert: PathBuf,
    /// `None`: the key is in `cert`'s file.
    pub key: Option<PathBuf>,
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

fn read_pem(what: &str, path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|e| ClientError::Config(format!("{what} {}: {e}", path.display())))
}

fn read_certs(what: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let bad = |why: String| ClientError::Config(format!("{what} {}: {why}", path.display()));
    let pem = read_pem(what, path)?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not a PEM certificate file ({e})")))?;
    if certs.is_empty() {
        return Err(bad("holds no PEM certificate".into()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, ClientError> {
    let bad = |why: &str| {
        ClientError::Config(format!("client certificate key {}: {why}", path.display()))
    };
    let pem = read_pem("client certificate key", path)?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|_| bad("not a PEM file"))?
        .ok_or_else(|| bad("holds no PEM private key"))
}

/// The roots: the system's plus `bundles`.
fn roots(bundles: &[&Path]) -> Result<RootCertStore, ClientError> {
    let mut roots = RootCertStore::empty();
    // Some system certificates may not parse; skip them like every other
    // TLS client does rather than refusing to start.
    roots.add_parsable_certificates(system_roots().iter().cloned());
    for path in bundles {
        for cert in read_certs("CA bundle", path)? {
            roots
                .add(cert)
                .map_err(|e| ClientError::Config(format!("CA bundle {}: {e}", path.display())))?;
        }
    }
    Ok(roots)
}

/// The TLS settings of the endpoint's connections.
pub fn client_config(
    verify: &Verify,
    client_cert: Option<&ClientCert>,
) -> Result<ClientConfig, ClientError> {
    config_with_roots(verify, None, client_cert)
}

/// `verify` plus one more CA bundle (`extra_roots`), as urllib3 trusts an
/// https:// proxy: the endpoint's CAs and `proxy_ca_bundle`, unless
/// `verify=False` turns checking off for both.
pub fn config_with_roots(
    verify: &Verify,
    extra_roots: Option<&Path>,
    client_cert: Option<&ClientCert>,
) -> Result<ClientConfig, ClientError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Config(e.to_string()))?;
    let builder = match verify {
        Verify::Off => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate)),
        Verify::System | Verify::SystemAndBundle(_) => {
            let mut bundles: Vec<&Path> = extra_roots.into_iter().collect();
            if let Verify::SystemAndBundle(path) = verify {
                bundles.push(path);
            }
            builder.with_root_certificates(roots(&bundles)?)
        }
    };
    // ALPN (http/1.1) is set by hyper-rustls's builder.
    match client_cert {
        None => Ok(builder.with_no_client_auth()),
        Some(ClientCert { cert, key }) => {
            let chain = read_certs("client certificate", cert)?;
            let key = read_key(key.as_deref().unwrap_or(cert))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                ClientError::Config(format!("client certificate {}: {e}", cert.display()))
            })
        }
    }
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
