//! The SigV4 signer and verifier on arbitrary requests.
//!
//! Invariants: no panic; `sign` either refuses with a typed error or gives
//! a canonical request of the six-part shape (method, URI, query, header
//! lines ending in a blank line, signed list, payload hash) whose string to
//! sign and signature match an independent computation (the `sha2`/`hmac`
//! crates; the core uses `ring`); `verify` and `verify_request` accept the
//! signed request and reject it once the body changes; a changed signature
//! is rejected; signing is deterministic. Arbitrary Authorization values
//! and unsigned requests go through `verify_request` too (no panic).
#![no_main]

use arbitrary::Arbitrary;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sagerun_core::sigv4::{
    sign, verify, verify_request, Credentials, ParsedAuthorization, Payload, SignableRequest,
    SignatureDetails, SigningError, SigningParams, SigningTime,
};
use sha2::{Digest, Sha256};

/// Header names worth hitting often: the ones the signer treats specially,
/// in both cases, plus ordinary ones.
const NAMES: &[&str] = &[
    "host",
    "Host",
    "x-amz-date",
    "X-Amz-Date",
    "x-amz-security-token",
    "X-Amz-Security-Token",
    "x-amz-content-sha256",
    "authorization",
    "user-agent",
    "Connection",
    "traceparent",
    "content-type",
    "Content-Type",
    "X-Amzn-SageMaker-Custom-Attributes",
    "x-amz-meta-a",
    "X-AMZ-META-A",
];
const METHODS: &[&str] = &["POST", "GET", "PUT", "DELETE", "post"];
const TARGETS: &[&str] = &[
    "/",
    "/endpoints/my-endpoint/invocations",
    "/endpoints/my%20endpoint/invocations-response-stream",
    "/a/./b/../c//d/",
    "/../..",
    "/%2F%20x?b=2&a=1&a=0",
    "/?k=a+b%20c&&=x&b=",
    "/\u{1234}?\u{1234}=%FF%zz%",
];

#[derive(Arbitrary, Debug)]
enum Text {
    Known(u8),
    Raw(String),
}

impl Text {
    fn pick<'a>(&'a self, known: &[&'static str]) -> &'a str {
        match self {
            Text::Known(i) => known[usize::from(*i) % known.len()],
            Text::Raw(s) => s,
        }
    }
}

/// A header value, or one of the values the signer compares against.
#[derive(Arbitrary, Debug)]
enum Value {
    Raw(String),
    /// The signing time as `YYYYMMDDTHHMMSSZ`, padded with blanks.
    AmzDate {
        pad: bool,
    },
    SessionToken,
    BodySha256,
    UnsignedPayload,
}

#[derive(Arbitrary, Debug)]
enum Time {
    /// Seconds after 2014-05-13: ordinary instants.
    Recent(u32),
    Any(i64),
}

#[derive(Arbitrary, Debug)]
struct Input {
    method: Text,
    target: Text,
    host: Option<String>,
    headers: Vec<(Text, Value)>,
    body: Vec<u8>,
    /// Hand the signer the body's hash instead of the body.
    hash_given: bool,
    time: Time,
    access_key: Option<String>,
    secret_key: String,
    session_token: Option<String>,
    scope: Option<(String, String)>,
    /// Tried as an Authorization header on the unsigned request.
    raw_authorization: String,
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// What a request's canonical form must look like, given what was signed.
struct Expected<'a> {
    method: &'a str,
    amz_date: &'a str,
    scope: String,
    payload_line: String,
    secret_key: &'a str,
}

/// URI and query bytes after SigV4 encoding: unreserved characters and
/// `%XX` escapes with upper-case hex (plus the separators the part allows).
fn assert_encoded(text: &str, separators: &[u8]) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let escape = bytes.get(i + 1..i + 3).expect("escape cut short");
            assert!(
                escape
                    .iter()
                    .all(|c| matches!(c, b'0'..=b'9' | b'A'..=b'F')),
                "bad escape in {text:?}"
            );
            i += 3;
            continue;
        }
        assert!(
            b.is_ascii_alphanumeric() || b"-._~".contains(&b) || separators.contains(&b),
            "byte {b:#04x} not encoded in {text:?}"
        );
        i += 1;
    }
}

fn check_canonical_uri(uri: &str) {
    assert!(uri.starts_with('/'), "canonical URI {uri:?}");
    assert_encoded(uri, b"/");
    if uri != "/" {
        let inner = uri.trim_end_matches('/');
        for segment in inner[1..].split('/') {
            assert!(
                !matches!(segment, "" | "." | ".."),
                "segment {segment:?} survived normalisation in {uri:?}"
            );
        }
    }
}

fn check_canonical_query(query: &str) {
    assert_encoded(query, b"=&");
    if query.is_empty() {
        return;
    }
    let pairs: Vec<(&str, &str)> = query
        .split('&')
        .map(|p| p.split_once('=').expect("every parameter has '='"))
        .collect();
    assert!(pairs.iter().all(|(_, v)| !v.contains('=')));
    assert!(
        pairs.windows(2).all(|w| w[0] <= w[1]),
        "query not sorted: {query:?}"
    );
}

/// The six-part canonical request, string to sign, signature and
/// Authorization value, checked piece by piece.
fn check_details(d: &SignatureDetails, exp: &Expected<'_>, access_key: &str) -> Vec<String> {
    let lines: Vec<&str> = d.canonical_request.split('\n').collect();
    assert!(lines.len() >= 6, "canonical request too short: {lines:?}");
    let signed_list = lines[lines.len() - 2];
    let names: Vec<&str> = signed_list.split(';').collect();
    let k = names.len();
    assert_eq!(lines.len(), k + 6, "one line per signed header: {lines:?}");
    assert_eq!(lines[0], exp.method);
    check_canonical_uri(lines[1]);
    check_canonical_query(lines[2]);
    for (line, name) in lines[3..3 + k].iter().zip(&names) {
        let (line_name, _) = line.split_once(':').expect("header line has ':'");
        assert_eq!(line_name, *name, "header lines follow the signed list");
    }
    assert!(
        names.windows(2).all(|w| w[0] < w[1]),
        "names sorted, unique"
    );
    assert!(names
        .iter()
        .all(|n| !n.bytes().any(|b| b.is_ascii_uppercase())));
    assert!(names.contains(&"host") && names.contains(&"x-amz-date"));
    assert_eq!(lines[3 + k], "", "header block ends in a blank line");
    assert_eq!(lines[5 + k], exp.payload_line);

    let sts = format!(
        "AWS4-HMAC-SHA256\n{}\n{}\n{}",
        exp.amz_date,
        exp.scope,
        sha256_hex(d.canonical_request.as_bytes())
    );
    assert_eq!(d.string_to_sign, sts);
    let mut key = format!("AWS4{}", exp.secret_key).into_bytes();
    for part in exp.scope.split('/') {
        key = hmac(&key, part.as_bytes());
    }
    assert_eq!(d.signature, hex(&hmac(&key, sts.as_bytes())));
    assert_eq!(
        d.authorization,
        format!(
            "AWS4-HMAC-SHA256 Credential={access_key}/{}, SignedHeaders={signed_list}, Signature={}",
            exp.scope, d.signature
        )
    );
    names.iter().map(|n| n.to_string()).collect()
}

fuzz_target!(|input: Input| {
    let method = input.method.pick(METHODS);
    let target = input.target.pick(TARGETS);
    let time = match input.time {
        Time::Recent(s) => SigningTime::from_unix(1_400_000_000 + i64::from(s)),
        Time::Any(s) => SigningTime::from_unix(s),
    };
    let (region, service) = match &input.scope {
        Some((r, s)) => (r.as_str(), s.as_str()),
        None => ("us-east-1", "sagemaker"),
    };
    let credentials = Credentials {
        access_key: input
            .access_key
            .clone()
            .unwrap_or_else(|| "AKIDEXAMPLE".into()),
        secret_key: input.secret_key.clone(),
        session_token: input.session_token.clone(),
    };
    // Values computed before the header list borrows them.
    let amz_date = time.amz_date();
    let padded_date = format!(" {amz_date}\t");
    let body_sha = sha256_hex(&input.body);
    let token = input.session_token.clone().unwrap_or_default();

    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(host) = &input.host {
        headers.push(("Host", host));
    }
    for (name, value) in &input.headers {
        let value = match value {
            Value::Raw(v) => v.as_str(),
            Value::AmzDate { pad: false } => &amz_date,
            Value::AmzDate { pad: true } => &padded_date,
            Value::SessionToken => &token,
            Value::BodySha256 => &body_sha,
            Value::UnsignedPayload => "UNSIGNED-PAYLOAD",
        };
        headers.push((name.pick(NAMES), value));
    }
    let payload = if input.hash_given {
        Payload::Sha256Hex(&body_sha)
    } else {
        Payload::Bytes(&input.body)
    };
    let req = SignableRequest {
        method,
        uri: target,
        headers: &headers,
        payload,
    };

    // Hostile Authorization values on the unsigned request: typed errors only.
    let _ = ParsedAuthorization::parse(&input.raw_authorization);
    let _ = SigningTime::parse_amz_date(&input.raw_authorization);
    let mut with_auth = headers.clone();
    with_auth.push(("Authorization", &input.raw_authorization));
    let probe = SignableRequest {
        headers: &with_auth,
        ..req
    };
    if let Ok(auth) = verify_request(&probe, &input.secret_key) {
        panic!("an arbitrary Authorization was accepted: {auth:?}");
    }

    let params = SigningParams {
        credentials: &credentials,
        region,
        service,
        time,
    };
    let details = match sign(&req, &params) {
        Ok(d) => d,
        Err(SigningError::InvalidRequest(_) | SigningError::MalformedDate(_)) => return,
        Err(e) => panic!("sign gave {e:?}"),
    };
    assert_eq!(sign(&req, &params).as_ref(), Ok(&details), "deterministic");
    assert_eq!(
        SigningTime::parse_amz_date(&amz_date),
        Ok(time),
        "X-Amz-Date round trip"
    );
    if input.hash_given {
        let with_body = SignableRequest {
            payload: Payload::Bytes(&input.body),
            ..req
        };
        assert_eq!(sign(&with_body, &params).as_ref(), Ok(&details));
    }

    let declared = headers
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case("x-amz-content-sha256"))
        .map(|(_, v)| v.trim_matches([' ', '\t']));
    let expected = Expected {
        method,
        amz_date: &amz_date,
        scope: format!("{}/{region}/{service}/aws4_request", &amz_date[..8]),
        payload_line: declared.map_or_else(|| body_sha.clone(), str::to_owned),
        secret_key: &input.secret_key,
    };
    let signed_names = check_details(&details, &expected, &credentials.access_key);

    // The request as it goes out: the caller's headers plus what signing added.
    let mut sent = headers.clone();
    for (name, value) in &details.headers_to_add {
        sent.push((name, value));
    }
    assert_eq!(
        details.headers_to_add.last().map(|h| h.0.as_str()),
        Some("Authorization")
    );
    let sent_req = SignableRequest {
        headers: &sent,
        payload: Payload::Bytes(&input.body),
        ..req
    };
    let auth = ParsedAuthorization::parse(&details.authorization).expect("own header parses");
    assert_eq!(auth.signed_headers, signed_names);
    assert_eq!(auth.signature, details.signature);
    assert_eq!(
        (auth.region.as_str(), auth.service.as_str()),
        (region, service)
    );

    // A declared body hash that is a real SHA-256 must be the body's.
    let declared_hash = declared.filter(|d| is_sha256_hex(d));
    match declared_hash {
        Some(d) if d != body_sha => {
            assert!(matches!(
                verify(&sent_req, &auth, &input.secret_key, time),
                Err(SigningError::InvalidRequest(_))
            ));
            return;
        }
        _ => {}
    }
    assert_eq!(verify(&sent_req, &auth, &input.secret_key, time), Ok(()));
    assert_eq!(
        verify_request(&sent_req, &input.secret_key).as_ref(),
        Ok(&auth)
    );

    let mut other_body = input.body.clone();
    other_body.push(b'!');
    let tampered = SignableRequest {
        payload: Payload::Bytes(&other_body),
        ..sent_req
    };
    let result = verify(&tampered, &auth, &input.secret_key, time);
    match (declared, declared_hash) {
        (None, _) => assert_eq!(result, Err(SigningError::SignatureMismatch)),
        (Some(_), Some(_)) => assert!(matches!(result, Err(SigningError::InvalidRequest(_)))),
        // UNSIGNED-PAYLOAD and the like: the body is not part of the signature.
        (Some(_), None) => assert_eq!(result, Ok(())),
    }

    let mut forged = auth.clone();
    let flipped = if forged.signature.starts_with('0') {
        "1"
    } else {
        "0"
    };
    forged.signature.replace_range(0..1, flipped);
    assert_eq!(
        verify(&sent_req, &forged, &input.secret_key, time),
        Err(SigningError::SignatureMismatch)
    );
});
