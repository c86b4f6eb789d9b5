//! A signer bound to one set of credentials and one region/service (the
//! counterpart of botocore's `SigV4Auth(credentials, service, region)`):
//! what does not change between requests is checked once, when it is made,
//! and it remembers its derived key for the current date and the hash state
//! of its last canonical request's leading blocks.

use std::fmt;

use super::memory::Remembered;
use super::{
    sign_details_for, sign_headers_for, CredentialsRef, HeadersToAdd, Principal, SignableRequest,
    SignatureDetails, SigningError, SigningTime,
};

/// Signs requests for one principal and scope. `Debug` never shows the
/// secret or the token. Safe to share between threads.
pub struct Signer {
    access_key: String,
    secret_key: String,
    session_token: Option<String>,
    region: String,
    service: String,
    memory: Remembered,
}

impl Signer {
    /// Checks the access key, region, service and token (the checks
    /// [`sign_with`](super::sign_with) makes on every call).
    pub fn new(
        credentials: CredentialsRef<'_>,
        region: &str,
        service: &str,
    ) -> Result<Signer, SigningError> {
        let checked = Principal::checked(credentials, region, service)?;
        Ok(Signer {
            access_key: checked.access_key.to_owned(),
            secret_key: checked.secret_key.to_owned(),
            session_token: checked.token.map(str::to_owned),
            region: region.to_owned(),
            service: service.to_owned(),
            memory: Remembered::default(),
        })
    }

    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// Whether requests get a session token (an empty one counts as none).
    pub fn has_session_token(&self) -> bool {
        self.session_token.is_some()
    }

    fn principal(&self) -> Principal<'_> {
        Principal {
            access_key: &self.access_key,
            secret_key: &self.secret_key,
            token: self.session_token.as_deref(),
            region: &self.region,
            service: &self.service,
        }
    }

    /// [`sign_headers`](super::sign_headers) with this signer's principal.
    pub fn sign_headers(
        &self,
        req: &SignableRequest<'_>,
        time: SigningTime,
    ) -> Result<HeadersToAdd<'_>, SigningError> {
        let signed = sign_headers_for(req, self.principal(), time, &self.memory)?;
        Ok(signed.into_headers(self.session_token.as_deref()))
    }

    /// [`sign_with`](super::sign_with) with this signer's principal.
    pub fn sign_details(
        &self,
        req: &SignableRequest<'_>,
        time: SigningTime,
    ) -> Result<SignatureDetails, SigningError> {
        sign_details_for(req, self.principal(), time, &self.memory)
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("region", &self.region)
            .field("service", &self.service)
            .finish()
    }
}
