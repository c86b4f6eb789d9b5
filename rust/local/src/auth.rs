//! SigV4 verification of incoming requests, answering as AWS does: 403 with
//! `MissingAuthenticationTokenException`, `IncompleteSignature`,
//! `UnrecognizedClientException` or `InvalidSignatureException`.
//! The signature itself is recomputed by sagerun-core (`sigv4::verify`,
//! constant-time comparison).

use std::collections::HashMap;

use http::HeaderMap;
use sagerun_core::protocol::{header, ErrorCode, MAX_CLOCK_SKEW_SECS, SIGNING_NAME};
use sagerun_core::sigv4::{
    self, ParsedAuthorization, Payload, SignableRequest, SigningError, SigningTime,
};

use crate::errors::ApiError;

const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. \
Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// Accepted credentials and the region requests must be scoped to.
#[derive(Debug, Clone)]
pub struct Verifier {
    region: String,
    secrets: HashMap<String, String>,
}

impl Verifier {
    pub fn new(region: &str, credentials: &[(String, String)]) -> Verifier {
        Verifier {
            region: region.to_owned(),
            secrets: credentials.iter().cloned().collect(),
        }
    }

    /// Checks a received request; `now` is the server clock (Unix seconds).
    pub fn check(
        &self,
        method: &str,
        uri: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<(), ApiError> {
        let authz = headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::new(
                ErrorCode::MissingAuthenticationTokenException,
                "Missing Authentication Token",
            )
        })?;
        let authz = authz
            .to_str()
            .map_err(|_| incomplete("Authorization header is not ASCII text."))?;
        let auth = ParsedAuthorization::parse(authz).map_err(|e| incomplete(&e.to_string()))?;
        let amz_date = headers
            .get(header::AMZ_DATE)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."))?;
        let time = SigningTime::parse_amz_date(amz_date).map_err(|e| incomplete(&e.to_string()))?;
        let secret = self.secrets.get(&auth.access_key).ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnrecognizedClientException,
                "The security token included in the request is invalid.",
            )
        })?;
        self.check_scope(&auth, amz_date)?;
        check_skew(amz_date, time.unix_secs(), now)?;
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
            .collect();
        let req = SignableRequest {
            method,
            uri,
            headers: &pairs,
            payload: Payload::Bytes(body),
        };
        sigv4::verify(&req, &auth, secret, time).map_err(|e| match e {
            SigningError::SignatureMismatch => invalid(SIGNATURE_MISMATCH.to_owned()),
            other => invalid(format!("{SIGNATURE_MISMATCH} ({other})")),
        })
    }

    fn check_scope(&self, auth: &ParsedAuthorization, amz_date: &str) -> Result<(), ApiError> {
        if auth.service != SIGNING_NAME {
            return Err(invalid(format!(
                "Credential should be scoped to correct service: '{SIGNING_NAME}'. "
            )));
        }
        if auth.region != self.region {
            return Err(invalid(format!(
                "Credential should be scoped to a valid region, not '{}'. This runtime serves '{}'.",
                auth.region, self.region
            )));
        }
        let date_stamp = amz_date.get(..8).unwrap_or(amz_date);
        if auth.date != date_stamp {
            return Err(invalid(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{date_stamp}', from '{amz_date}'.",
                auth.date
            )));
        }
        Ok(())
    }
}

fn check_skew(amz_date: &str, signed_at: i64, now: i64) -> Result<(), ApiError> {
    let max = MAX_CLOCK_SKEW_SECS as i64;
    if signed_at < now - max {
        return Err(invalid(format!(
            "Signature expired: {amz_date} is now earlier than the server time minus 15 min."
        )));
    }
    if signed_at > now + max {
        return Err(invalid(format!("Signature not yet current: {amz_date} is still later than the server time plus 15 min.")));
    }
    Ok(())
}

fn incomplete(msg: &str) -> ApiError {
    ApiError::new(ErrorCode::IncompleteSignature, msg)
}

fn invalid(msg: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidSignatureException, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_authorization_is_a_missing_token() {
        let v = Verifier::new("us-east-1", &[("AK".into(), "SK".into())]);
        let e = v.check("POST", "/", &HeaderMap::new(), b"", 0).unwrap_err();
        assert_eq!(e.code, Some(ErrorCode::MissingAuthenticationTokenException));
        assert_eq!(e.status.as_u16(), 403);
    }

    #[test]
    fn skew_is_bounded_both_ways() {
        assert!(check_skew("d", 1000, 1000 + 900).is_ok());
        assert!(check_skew("d", 1000, 1000 + 901).is_err());
        assert!(check_skew("d", 1000 + 901, 1000).is_err());
    }
}
