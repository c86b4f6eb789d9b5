//! Glue between a prepared request and the SigV4 signer in sagerun-core.

use http::header::{HeaderName, HeaderValue};
use sagerun_core::protocol;
use sagerun_core::sigv4::{
    self, Credentials, Payload, SignableRequest, SigningParams, SigningTime,
};

use crate::error::ClientError;

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, data))
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
    let params = SigningParams {
        credentials,
        region,
        service: protocol::SIGNING_NAME,
        time: SigningTime::now(),
    };
    let details = sigv4::sign(&request, &params)
        .map_err(|e| ClientError::InvalidRequest(format!("could not sign the request: {e}")))?;
    details
        .headers_to_add
        .into_iter()
        .map(|(name, value)| {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| ClientError::InvalidRequest(e.to_string()))?;
            let value = HeaderValue::from_str(&value).map_err(|_| {
                ClientError::InvalidRequest(format!("{name} would not be a valid header value"))
            })?;
            Ok((name, value))
        })
        .collect()
}
