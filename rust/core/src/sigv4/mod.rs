//! AWS Signature Version 4 (header signing).
//!
//! CONTRACT (other crates code against these names; the signer helper fills
//! in the bodies and may add fast paths beside them):
//! - `Credentials { access_key, secret_key, session_token }` (Debug redacts secrets)
//! - `SigningTime::from_unix(secs)`, `SigningTime::now()`, `SigningTime::parse_amz_date(&str)`
//! - `SignableRequest { method, uri (path?query as sent), headers: &[(String, String)], payload: Payload }`
//! - `sign(&SignableRequest, &SigningParams) -> Result<SignatureDetails, SigningError>`
//!   (`SignatureDetails { canonical_request, string_to_sign, signature, authorization, headers_to_add }`)
//! - `ParsedAuthorization::parse(&str)` and `verify(...)` for the local runtime.
