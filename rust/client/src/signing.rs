//! Glue between a prepared request and the SigV4 signer in sagerun-core.

use http::header::{HeaderName, HeaderValue, InvalidHeaderValue, AUTHORIZATION};
use sagerun_core::protocol;
use sagerun_core::sigv4::{self, Credentials, Payload, SignableRequest, SigningTime};

use crate::error::ClientError;

// The names of `protocol::header::{AMZ_DATE, SECURITY_TOKEN}` as HTTP
// carries them (lower case); a test checks they are the same names.
const X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
const X_AMZ_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-amz-security-token");

pub fn sha256_hex(data: &[u8]) -> String {
    lower_hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

/// Lower-case hex, by table (`hex::encode` goes char by char through an
/// iterator: a measurable share of a small call).
pub fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = vec![0u8; bytes.len() * 2];
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
    }
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// Signs `headers` (Host included) and returns the headers to add:
/// X-Amz-Date, X-Amz-Security-Token when there is a token, Authorization.
/// Like botocore, User-Agent and Content-Length are not signed. (The
/// streaming signer: the canonical request and string to sign are hashed as
/// they are written, never kept as text.)
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
    let checked = |name: &HeaderName, value: Result<HeaderValue, InvalidHeaderValue>| {
        value.map_err(|_| {
            ClientError::InvalidRequest(format!("{name} would not be a valid header value"))
        })
    };
    let mut out = Vec::with_capacity(3);
    if let Some(date) = &added.amz_date {
        out.push((
            X_AMZ_DATE,
            checked(&X_AMZ_DATE, HeaderValue::from_str(date.as_str()))?,
        ));
    }
    if let Some(token) = added.security_token {
        let token = HeaderValue::from_str(token);
        out.push((X_AMZ_SECURITY_TOKEN, checked(&X_AMZ_SECURITY_TOKEN, token)?));
    }
    // The String's buffer becomes the value's (checked, not copied).
    let authorization = HeaderValue::from_maybe_shared(bytes::Bytes::from(added.authorization));
    let authorization = checked(&AUTHORIZATION, authorization)?;
    out.push((AUTHORIZATION, authorization));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_the_protocol_tables() {
        for (name, table) in [
            (&X_AMZ_DATE, protocol::header::AMZ_DATE),
            (&X_AMZ_SECURITY_TOKEN, protocol::header::SECURITY_TOKEN),
            (&AUTHORIZATION, protocol::header::AUTHORIZATION),
        ] {
            assert!(
                name.as_str().eq_ignore_ascii_case(table),
                "{name} vs {table}"
            );
        }
    }

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
