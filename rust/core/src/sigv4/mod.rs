//! AWS Signature Version 4 (header signing).
//!
//! CONTRACT: other crates (the client, the local runtime, the bindings) code
//! against exactly these names and signatures. The signer fills in the bodies
//! and may add fast paths beside them, but keeps these.

use std::fmt;

/// AWS credentials. `Debug` never shows the secret or the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The instant a request is signed at, to the second (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SigningTime {
    unix_secs: i64,
}

impl SigningTime {
    pub fn from_unix(unix_secs: i64) -> SigningTime {
        SigningTime { unix_secs }
    }
    pub fn unix_secs(self) -> i64 {
        self.unix_secs
    }
    pub fn now() -> SigningTime {
        todo!()
    }
    /// Parses `YYYYMMDDTHHMMSSZ`.
    pub fn parse_amz_date(_s: &str) -> Result<SigningTime, SigningError> {
        todo!()
    }
    /// `YYYYMMDDTHHMMSSZ`
    pub fn amz_date(self) -> String {
        todo!()
    }
    /// `YYYYMMDD`
    pub fn date_stamp(self) -> String {
        todo!()
    }
}

/// The request body, or its SHA-256 when the caller already has it.
#[derive(Clone, Copy, Debug)]
pub enum Payload<'a> {
    Bytes(&'a [u8]),
    Sha256Hex(&'a str),
}

/// A request as it goes on the wire. `uri` is the request target as sent
/// (`/path?query`, already percent-encoded once by the HTTP layer; the
/// signer encodes path segments again, as non-S3 services require).
/// `headers` may repeat a name; `Host` must be among them.
#[derive(Clone, Copy, Debug)]
pub struct SignableRequest<'a> {
    pub method: &'a str,
    pub uri: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub payload: Payload<'a>,
}

#[derive(Clone, Copy, Debug)]
pub struct SigningParams<'a> {
    pub credentials: &'a Credentials,
    pub region: &'a str,
    pub service: &'a str,
    pub time: SigningTime,
}

/// Everything a signing produced. `headers_to_add` holds, in this order,
/// `X-Amz-Date`, `X-Amz-Security-Token` (when a token is set) and
/// `Authorization`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureDetails {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
    pub authorization: String,
    pub headers_to_add: Vec<(String, String)>,
}

pub fn sign(_req: &SignableRequest<'_>, _params: &SigningParams<'_>) -> Result<SignatureDetails, SigningError> {
    todo!()
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedAuthorization {
    pub access_key: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl ParsedAuthorization {
    pub fn parse(_value: &str) -> Result<ParsedAuthorization, SigningError> {
        todo!()
    }
}

/// Recomputes the signature of a received request (only the headers named in
/// `auth.signed_headers` count) with `secret_key` and `time` (the request's
/// X-Amz-Date) and compares it with `auth.signature` in constant time.
pub fn verify(
    _req: &SignableRequest<'_>,
    _auth: &ParsedAuthorization,
    _secret_key: &str,
    _time: SigningTime,
) -> Result<(), SigningError> {
    todo!()
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    #[error("invalid request to sign: {0}")]
    InvalidRequest(String),
    #[error("malformed Authorization header: {0}")]
    MalformedAuthorization(String),
    #[error("malformed X-Amz-Date: {0}")]
    MalformedDate(String),
    #[error("signature does not match")]
    SignatureMismatch,
}
