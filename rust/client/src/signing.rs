//! Glue between a prepared request and the SigV4 signer in sagerun-core.

use http::header::{HeaderName, HeaderValue};
use sagerun_core::protocol;
use sagerun_core::sigv4::{self, Credentials, Payload, SignableRequest, SigningTime};

use crate::error::ClientError;

pub fn sha256_hex(data: &[u8]) -> String {
    lower_hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

/// Lower-case hex, by table (`hex::encode` goes char by char through an
/// iterator: a measurable share of a small call).
pub fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0f)]);
    }
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// Signs `headers` (Host included) and returns the headers to add:
/// X-Amz-Date, X-Amz-Security-Token when there is a token, Authorization.
/// Like botocore, User-Agent and Content-Length are not signed.
pub fn sign(
    path: &str,
    headers: &[(HeaderName, HeaderValue)],
    payload_sha256: &str,
    credentials: &Credentials,
    region: &str,
) -> Result<Vec<(HeaderName, HeaderValue)>, ClientError> {
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        // Values were built from &str, so they are valid UTF-8.
        let value = value
            .to_str()
            .map_err(|e| ClientError::InvalidRequest(e.to_string()))?;
        pairs.push((name.as_str(), value));
    }
    let request = SignableRequest {
        method: "POST",
        uri: path,
        headers: &pairs,
        payload: Payload::Sha256Hex(payload_sha256),
    };
    // The per-request path: only the headers to add, no intermediate text.
    let added = sigv4::sign_headers(
        &request,
        credentials.borrowed(),
        region,
        protocol::SIGNING_NAME,
        SigningTime::now(),
    )
    .map_err(|e| ClientError::InvalidRequest(format!("could not sign the request: {e}")))?;
    let mut out = Vec::with_capacity(3);
    if let Some(date) = &added.amz_date {
        out.push((protocol::header::AMZ_DATE, date.as_str()));
    }
    if let Some(token) = added.security_token {
        out.push((protocol::header::SECURITY_TOKEN, token));
    }
    out.push((
        protocol::header::AUTHORIZATION,
        added.authorization.as_str(),
    ));
    out.into_iter()
        .map(|(name, value)| {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| ClientError::InvalidRequest(e.to_string()))?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                ClientError::InvalidRequest(format!("{name} would not be a valid header value"))
            })?;
            Ok((name, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_hex_matches_the_hex_crate() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(lower_hex(&all), hex::encode(&all));
        assert_eq!(lower_hex(&[]), "");
        // The empty payload's well-known SHA-256 (SigV4 test suite).
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
