//! AWS Signature Version 4 (header signing).
//!
//! CONTRACT: other crates (the client, the local runtime, the bindings) code
//! against exactly these names and signatures. The signer fills in the bodies
//! and may add fast paths beside them, but keeps these.
//!
//! Layout: `time` (the signing instant), `validate` (input checks),
//! `canonical` (canonical request), `sink` (where the text goes: a buffer
//! or a hash), `sha256` (SHA-256/HMAC with their states at hand),
//! `resume` (a canonical request's hash resumed after the blocks it shares
//! with the previous one), `memo` (the last request's head, reused by the
//! next one made of the same pieces), `key_cache` (derived signing keys), `memory`
//! (which key signs), `signer` (a [`Signer`] bound to one principal and
//! scope), `authorization` (the header value), `url` (URL -> Host +
//! target).

use std::fmt;

use crate::protocol::header;

mod authorization;
mod canonical;
mod key_cache;
mod memo;
mod memory;
mod resume;
mod sha256;
mod signer;
mod sink;
mod time;
mod url;
mod validate;
#[cfg(test)]
mod vector_tests;

pub use self::canonical::UNSIGNED_HEADERS;
pub use self::signer::Signer;
pub use self::time::{AmzDate, SigningTime};
pub use self::url::{split_url, SplitUrl};

use self::canonical::{LowerNames, SignedHeader, SignedHeaders};
use self::memory::{Memory, Shared};
use self::sink::Sink;

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
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Credentials borrowed for one signing: what [`sign_with`] takes, so a
/// caller holding the parts elsewhere (e.g. Python strings) copies nothing.
#[derive(Clone, Copy)]
pub struct CredentialsRef<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub session_token: Option<&'a str>,
}

impl fmt::Debug for CredentialsRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialsRef")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("session_token", &self.session_token.map(|_| "<redacted>"))
            .finish()
    }
}

impl Credentials {
    pub fn borrowed(&self) -> CredentialsRef<'_> {
        CredentialsRef {
            access_key: &self.access_key,
            secret_key: &self.secret_key,
            session_token: self.session_token.as_deref(),
        }
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

/// Signs `req`. The caller's headers may already carry `X-Amz-Date` (it
/// must then equal `params.time`) and `X-Amz-Security-Token` (it must then
/// equal the credentials' token); those are not added twice. An existing
/// `Authorization` header is refused. As in botocore, an
/// `X-Amz-Content-SHA256` header's value stands for the payload hash, and
/// hop-by-hop headers, `User-Agent` and `X-Amzn-Trace-Id` are not signed
/// (see [`UNSIGNED_HEADERS`]).
pub fn sign(
    req: &SignableRequest<'_>,
    params: &SigningParams<'_>,
) -> Result<SignatureDetails, SigningError> {
    sign_with(
        req,
        params.credentials.borrowed(),
        params.region,
        params.service,
        params.time,
    )
}

/// [`sign`] with borrowed credentials and the parameters spelled out.
pub fn sign_with(
    req: &SignableRequest<'_>,
    creds: CredentialsRef<'_>,
    region: &str,
    service: &str,
    time: SigningTime,
) -> Result<SignatureDetails, SigningError> {
    let principal = Principal::checked(creds, region, service)?;
    sign_details_for(req, principal, time, &Shared)
}

/// The headers [`sign_headers`] adds to a request, in this order on the
/// wire: `X-Amz-Date` (unless the request has it), `X-Amz-Security-Token`
/// (with a session token the request lacks) and `Authorization`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadersToAdd<'a> {
    pub amz_date: Option<AmzDate>,
    pub security_token: Option<&'a str>,
    pub authorization: String,
}

/// [`sign_with`] for the per-request path: the same rules and checks, but
/// the string to sign is streamed into its HMAC instead of kept as text,
/// and only the headers to add come back.
pub fn sign_headers<'a>(
    req: &SignableRequest<'a>,
    creds: CredentialsRef<'a>,
    region: &str,
    service: &str,
    time: SigningTime,
) -> Result<HeadersToAdd<'a>, SigningError> {
    let principal = Principal::checked(creds, region, service)?;
    let signed = sign_headers_for(req, principal, time, &Shared)?;
    // (The token added is the credentials' own, under their lifetime.)
    Ok(signed.into_headers(creds.session_token))
}

/// Who signs, for which region and service: checked once, by the free
/// functions per call and by a [`Signer`] when it is made.
#[derive(Clone, Copy)]
pub(crate) struct Principal<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    /// `None` for no token or an empty one (as in botocore).
    pub token: Option<&'a str>,
    pub region: &'a str,
    pub service: &'a str,
}

impl<'a> Principal<'a> {
    pub(crate) fn checked(
        creds: CredentialsRef<'a>,
        region: &'a str,
        service: &'a str,
    ) -> Result<Principal<'a>, SigningError> {
        validate::access_key(creds.access_key)?;
        validate::scope_part("region", region)?;
        validate::scope_part("service", service)?;
        let token = creds.session_token.filter(|t| !t.is_empty());
        if let Some(token) = token {
            validate::header_value(header::SECURITY_TOKEN, token)?;
        }
        Ok(Principal {
            access_key: creds.access_key,
            secret_key: creds.secret_key,
            token,
            region,
            service,
        })
    }
}

/// What the streaming path produced, before its token is borrowed back
/// from whoever holds it.
pub(crate) struct Signed {
    amz_date: Option<AmzDate>,
    token_added: bool,
    authorization: String,
}

impl Signed {
    /// `token`: the (unfiltered) session token the principal was made of.
    pub(crate) fn into_headers(self, token: Option<&str>) -> HeadersToAdd<'_> {
        HeadersToAdd {
            amz_date: self.amz_date,
            security_token: token.filter(|_| self.token_added),
            authorization: self.authorization,
        }
    }
}

/// The streaming signing, shared by [`sign_headers`] and [`Signer`].
pub(crate) fn sign_headers_for(
    req: &SignableRequest<'_>,
    principal: Principal<'_>,
    time: SigningTime,
    memory: &impl Memory,
) -> Result<Signed, SigningError> {
    let amz_date = signing_date(time)?;
    let scope = Scope {
        date: amz_date.date(),
        region: principal.region,
        service: principal.service,
    };
    let own = head_pieces(req, &principal, &amz_date);
    let pieces = memo::Pieces {
        own: &own,
        headers: req.headers,
    };
    memo::with_head(
        pieces,
        || head_of(req, principal, &amz_date),
        |head| {
            let payload = payload_line(head.declared_payload.as_deref(), req.payload)?;
            let canonical_hash = head.canonical_hash(payload.as_bytes());
            let key = memory.key(&principal, scope.date);
            let signature = sink::hex32(&resume::hmac_of_string_to_sign(&key, |text| {
                write_string_to_sign(text, amz_date.as_str(), &scope, &canonical_hash)
            }));
            Ok(Signed {
                amz_date: head.add_date.then_some(amz_date),
                token_added: head.add_token,
                authorization: head.authorization.finish(&signature),
            })
        },
    )
}

/// What a request's head is made of besides its headers: its method and
/// target, the signing second and the principal (the secret aside: the
/// head does not depend on it). (A principal's token is never `Some("")`.)
fn head_pieces<'a>(
    req: &SignableRequest<'a>,
    principal: &Principal<'a>,
    amz_date: &'a AmzDate,
) -> [&'a str; 7] {
    [
        req.method,
        req.uri,
        amz_date.as_str(),
        principal.access_key,
        principal.region,
        principal.service,
        principal.token.unwrap_or(""),
    ]
}

/// The request's head, checked and written out (see `memo`).
fn head_of(
    req: &SignableRequest<'_>,
    principal: Principal<'_>,
    amz_date: &AmzDate,
) -> Result<memo::Head, SigningError> {
    let mut names = LowerNames::new();
    let mut signed = SignedHeaders::new();
    let prepared = prepare(req, principal, amz_date, &mut names, &mut signed)?;
    let mut canonical = Vec::with_capacity(512);
    prepared.write_canonical_head(&mut canonical);
    Ok(memo::Head {
        canonical_state: resume::state_of_canonical_head(&canonical),
        canonical,
        declared_payload: prepared.declared_payload.map(str::to_owned),
        add_date: prepared.add_date,
        add_token: prepared.add_token,
        authorization: prepared.authorization,
    })
}

/// The signing that keeps its text, shared by [`sign_with`] and [`Signer`].
pub(crate) fn sign_details_for(
    req: &SignableRequest<'_>,
    principal: Principal<'_>,
    time: SigningTime,
    memory: &impl Memory,
) -> Result<SignatureDetails, SigningError> {
    let amz_date = signing_date(time)?;
    let mut names = LowerNames::new();
    let mut signed = SignedHeaders::new();
    let prepared = prepare(req, principal, &amz_date, &mut names, &mut signed)?;
    let payload = payload_line(prepared.declared_payload, req.payload)?;
    let mut canonical_request = Vec::with_capacity(512);
    prepared.write_canonical_head(&mut canonical_request);
    canonical_request.put(payload.as_bytes());
    let canonical_hash = resume::sha256_of_canonical_request(|text| text.put(&canonical_request));
    let mut string_to_sign = Vec::with_capacity(160);
    prepared.write_string_to_sign(&mut string_to_sign, &canonical_hash);
    let key = memory.key(&principal, amz_date.date());
    let signature = sink::hex32(&resume::hmac_of_string_to_sign(&key, |text| {
        text.put(&string_to_sign)
    }));
    let (add_date, add_token) = (prepared.add_date, prepared.add_token);
    let authorization = prepared.authorization(&signature);

    let mut headers_to_add = Vec::with_capacity(3);
    if add_date {
        headers_to_add.push((header::AMZ_DATE.to_owned(), amz_date.as_str().to_owned()));
    }
    if let (true, Some(token)) = (add_token, principal.token) {
        headers_to_add.push((header::SECURITY_TOKEN.to_owned(), token.to_owned()));
    }
    headers_to_add.push((header::AUTHORIZATION.to_owned(), authorization.clone()));
    Ok(SignatureDetails {
        canonical_request: text(canonical_request),
        string_to_sign: text(string_to_sign),
        signature: text(signature.to_vec()),
        authorization,
        headers_to_add,
    })
}

fn signing_date(time: SigningTime) -> Result<AmzDate, SigningError> {
    time.check_representable()?;
    Ok(time.amz_date_text())
}

/// The signer's text is built from `str` pieces, ASCII-lower-cased in
/// places (which keeps UTF-8 valid), so this cannot fail.
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("built from str pieces")
}

/// A checked request, ready to be written out canonically.
pub(crate) struct Prepared<'a> {
    method: &'a str,
    uri: &'a str,
    /// Sorted by lower-cased name.
    signed: &'a [SignedHeader<'a>],
    /// The X-Amz-Content-SHA256 value (it stands for the payload hash).
    declared_payload: Option<&'a str>,
    amz_date: &'a AmzDate,
    add_date: bool,
    add_token: bool,
    scope: Scope<'a>,
    /// Holds the signed-header list the canonical request needs.
    authorization: authorization::Draft,
}

/// Checks everything about a request to sign (the principal is checked
/// already) and gathers what signing it takes (the payload aside: see
/// [`payload_line`]); nothing is hashed. The signed headers go into the caller's
/// `signed` (a large stack value better not moved around), their
/// lower-cased names into `names`.
fn prepare<'s, 'n: 's>(
    req: &SignableRequest<'n>,
    principal: Principal<'n>,
    amz_date: &'n AmzDate,
    names: &'n mut LowerNames,
    signed: &'s mut SignedHeaders<'n>,
) -> Result<Prepared<'s>, SigningError> {
    validate::method(req.method)?;
    validate::request_target(req.uri)?;
    let token = principal.token;

    let (mut has_host, mut has_date, mut has_token) = (false, false, false);
    let mut content_sha256 = None;
    let lowered = canonical::lower_names(req.headers, names);
    for (&(name, value), lower) in req.headers.iter().zip(lowered) {
        validate::header_name(name)?;
        validate::header_value(name, value)?;
        match lower {
            b"host" => once(&mut has_host, name)?,
            b"x-amz-date" => {
                once(&mut has_date, name)?;
                if trim(value) != amz_date.as_str() {
                    return Err(invalid(format!(
                        "the request's X-Amz-Date {:?} differs from the signing time {}",
                        time::snippet(value),
                        amz_date.as_str()
                    )));
                }
            }
            // Without credentials' token, a token header is signed as it is.
            b"x-amz-security-token" => {
                if let Some(token) = token {
                    once(&mut has_token, name)?;
                    if trim(value) != token {
                        return Err(invalid(
                            "the request's X-Amz-Security-Token differs from the credentials' session token"
                                .to_owned(),
                        ));
                    }
                }
            }
            b"authorization" => {
                return Err(invalid(
                    "the request already carries an Authorization header".to_owned(),
                ))
            }
            b"x-amz-content-sha256" => content_sha256 = Some(trim(value)),
            _ => {}
        }
        if !canonical::is_unsigned_header(lower) {
            signed.push(SignedHeader::new(lower, value));
        }
    }
    if !has_host {
        return Err(invalid("the request has no Host header".to_owned()));
    }
    if !has_date {
        signed.push(SignedHeader::new(b"x-amz-date", amz_date.as_str()));
    }
    let add_token = token.filter(|_| !has_token);
    if let Some(token) = add_token {
        signed.push(SignedHeader::new(b"x-amz-security-token", token));
    }
    canonical::sort_signed_headers(signed);

    let scope = Scope {
        date: amz_date.date(),
        region: principal.region,
        service: principal.service,
    };
    Ok(Prepared {
        method: req.method,
        uri: req.uri,
        signed,
        declared_payload: content_sha256,
        amz_date,
        add_date: !has_date,
        add_token: add_token.is_some(),
        scope,
        authorization: authorization::Draft::new(principal.access_key, &scope, signed),
    })
}

impl Prepared<'_> {
    /// The canonical request but its payload-hash line.
    fn write_canonical_head(&self, out: &mut impl Sink) {
        canonical::write_canonical_head(
            out,
            self.method,
            self.uri,
            self.signed,
            self.authorization.signed_list(),
        );
    }

    fn write_string_to_sign(&self, out: &mut impl Sink, canonical_hash: &[u8; 32]) {
        write_string_to_sign(out, self.amz_date.as_str(), &self.scope, canonical_hash);
    }

    fn authorization(&self, signature_hex: &[u8; 64]) -> String {
        self.authorization.finish(signature_hex)
    }
}

/// The credential scope, `date/region/service/aws4_request`.
#[derive(Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

impl Scope<'_> {
    pub(crate) fn write(&self, out: &mut impl Sink) {
        for (i, part) in [
            self.date,
            self.region,
            self.service,
            authorization::TERMINATOR,
        ]
        .iter()
        .enumerate()
        {
            if i > 0 {
                out.put(b"/");
            }
            out.put(part.as_bytes());
        }
    }
}

fn write_string_to_sign(
    out: &mut impl Sink,
    amz_date: &str,
    scope: &Scope<'_>,
    canonical_hash: &[u8; 32],
) {
    out.put(authorization::ALGORITHM.as_bytes());
    out.put(b"\n");
    out.put(amz_date.as_bytes());
    out.put(b"\n");
    scope.write(out);
    out.put(b"\n");
    out.put(&sink::hex32(canonical_hash));
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
    pub fn parse(value: &str) -> Result<ParsedAuthorization, SigningError> {
        authorization::parse(value)
    }
}

/// Recomputes the signature of a received request (only the headers named in
/// `auth.signed_headers` count) with `secret_key` and `time` (the request's
/// X-Amz-Date) and compares it with `auth.signature` in constant time.
pub fn verify(
    req: &SignableRequest<'_>,
    auth: &ParsedAuthorization,
    secret_key: &str,
    time: SigningTime,
) -> Result<(), SigningError> {
    validate::method(req.method)?;
    validate::request_target(req.uri)?;
    let amz_date = signing_date(time)?;
    let date = amz_date.date();
    if auth.date != date {
        return Err(SigningError::MalformedAuthorization(format!(
            "credential date {} differs from the request date {date}",
            time::snippet(&auth.date)
        )));
    }
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(SigningError::MalformedAuthorization(
            "the Host header is not signed".to_owned(),
        ));
    }
    validate::scope_part("region", &auth.region)?;
    validate::scope_part("service", &auth.service)?;

    let mut names = LowerNames::new();
    let mut signed = SignedHeaders::new();
    let mut content_sha256 = None;
    let lowered = canonical::lower_names(req.headers, &mut names);
    for (&(name, value), lower) in req.headers.iter().zip(lowered) {
        if lower == b"x-amz-content-sha256" {
            content_sha256 = Some(trim(value));
        }
        // (Parsed names are lower-case; a hand-built `auth` may not be.)
        if auth
            .signed_headers
            .iter()
            .any(|h| h.as_bytes().eq_ignore_ascii_case(lower))
        {
            validate::header_name(name)?;
            validate::header_value(name, value)?;
            signed.push(SignedHeader::new(lower, value));
        }
    }
    if let Some(missing) = auth.signed_headers.iter().find(|h| {
        !signed
            .iter()
            .any(|s| s.name.eq_ignore_ascii_case(h.as_bytes()))
    }) {
        return Err(invalid(format!(
            "signed header {:?} is not in the request",
            time::snippet(missing)
        )));
    }
    canonical::sort_signed_headers(&mut signed);

    let body_hash = payload_hash(req.payload)?;
    let payload_line = match content_sha256 {
        // A declared hash must be the body's; other declared values
        // (UNSIGNED-PAYLOAD) are signed as they are.
        Some(declared)
            if is_sha256_hex(declared) && declared.as_bytes() != body_hash.as_bytes() =>
        {
            return Err(invalid(
                "X-Amz-Content-SHA256 does not match the body".to_owned(),
            ))
        }
        Some(declared) => declared.as_bytes(),
        None => body_hash.as_bytes(),
    };
    let mut string_to_sign = Vec::with_capacity(160);
    let canonical_hash = sink::sha256_of(|sink| {
        let mut signed_list = Vec::with_capacity(signed.len() * 24);
        canonical::write_signed_list(&mut signed_list, &signed);
        canonical::write_canonical_request(
            sink,
            req.method,
            req.uri,
            &signed,
            &signed_list,
            payload_line,
        )
    });
    let scope = Scope {
        date,
        region: &auth.region,
        service: &auth.service,
    };
    write_string_to_sign(
        &mut string_to_sign,
        amz_date.as_str(),
        &scope,
        &canonical_hash,
    );
    let claimed = hex::decode(&auth.signature)
        .map_err(|_| SigningError::MalformedAuthorization("Signature is not hex".to_owned()))?;
    let key = key_cache::signing_key(secret_key, date, &auth.region, &auth.service);
    if same_in_constant_time(&key.sign(&string_to_sign), &claimed) {
        Ok(())
    } else {
        Err(SigningError::SignatureMismatch)
    }
}

/// Compares every byte whatever the first difference (no timing hint at
/// how much of a forged signature was right).
fn same_in_constant_time(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Checks a received request end to end: finds its `Authorization` and
/// `X-Amz-Date` headers, parses them and [`verify`]s the signature. Returns
/// the parsed header (its access key and scope) on success. Clock skew and
/// which access key/region/service are acceptable are the caller's policy.
pub fn verify_request(
    req: &SignableRequest<'_>,
    secret_key: &str,
) -> Result<ParsedAuthorization, SigningError> {
    let auth_value = single_header(req.headers, "authorization")?.ok_or_else(|| {
        SigningError::MalformedAuthorization("the request has no Authorization header".to_owned())
    })?;
    let auth = ParsedAuthorization::parse(auth_value)?;
    let time = time_from_headers(req.headers)?.ok_or_else(|| {
        SigningError::MalformedDate("the request has no X-Amz-Date header".to_owned())
    })?;
    verify(req, &auth, secret_key, time)?;
    Ok(auth)
}

/// The time in a request's `X-Amz-Date` header, if it has one.
pub fn time_from_headers(headers: &[(&str, &str)]) -> Result<Option<SigningTime>, SigningError> {
    single_header(headers, "x-amz-date")?
        .map(|value| SigningTime::parse_amz_date(trim(value)))
        .transpose()
}

/// Lower-case hex SHA-256 of a body (what the canonical request carries).
pub fn payload_sha256_hex(body: &[u8]) -> String {
    text(body_sha256_hex(body).to_vec())
}

fn body_sha256_hex(body: &[u8]) -> [u8; 64] {
    sink::hex32(&sha256::sha256(body))
}

/// The payload line of the canonical request: a hash given by the caller
/// (or an `X-Amz-Content-SHA256` header), or the body's, computed.
enum PayloadHash<'a> {
    Given(&'a str),
    Computed([u8; 64]),
}

impl PayloadHash<'_> {
    fn as_bytes(&self) -> &[u8] {
        match self {
            PayloadHash::Given(hash) => hash.as_bytes(),
            PayloadHash::Computed(hex) => hex,
        }
    }
}

/// The payload line: the request's X-Amz-Content-SHA256 value when it
/// has one (as in botocore), else the payload's hash.
fn payload_line<'a>(
    declared: Option<&'a str>,
    payload: Payload<'a>,
) -> Result<PayloadHash<'a>, SigningError> {
    match declared {
        Some(declared) => Ok(PayloadHash::Given(declared)),
        None => payload_hash(payload),
    }
}

fn payload_hash(payload: Payload<'_>) -> Result<PayloadHash<'_>, SigningError> {
    match payload {
        Payload::Bytes(body) => Ok(PayloadHash::Computed(body_sha256_hex(body))),
        Payload::Sha256Hex(hash) if is_sha256_hex(hash) => Ok(PayloadHash::Given(hash)),
        Payload::Sha256Hex(_) => Err(invalid(
            "payload hash is not 64 lower-case hex digits".to_owned(),
        )),
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The value of a header that may appear at most once (`name` lower-case).
fn single_header<'a>(
    headers: &[(&str, &'a str)],
    name: &str,
) -> Result<Option<&'a str>, SigningError> {
    let mut found = None;
    for &(n, v) in headers {
        if n.eq_ignore_ascii_case(name) {
            if found.is_some() {
                return Err(invalid(format!(
                    "the request has more than one {name} header"
                )));
            }
            found = Some(v);
        }
    }
    Ok(found)
}

fn once(seen: &mut bool, name: &str) -> Result<(), SigningError> {
    if std::mem::replace(seen, true) {
        Err(invalid(format!(
            "the request has more than one {name} header"
        )))
    } else {
        Ok(())
    }
}

/// HTTP strips spaces and tabs around a field value.
fn trim(value: &str) -> &str {
    value.trim_matches([' ', '\t'])
}

fn invalid(msg: String) -> SigningError {
    SigningError::InvalidRequest(msg)
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
