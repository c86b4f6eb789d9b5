//! The 34 cases of the AWS SigV4 test suite (botocore's copy, in
//! `shared/vectors/sigv4`): each `.req` signed must give exactly the
//! `.creq`, `.sts` and `.authz` files; `verify` accepts the `.authz` and
//! rejects tampered requests.

use super::*;
use std::path::{Path, PathBuf};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/vectors/sigv4");
const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SUITE_TOKEN: &str = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
/// 2015-08-30T12:36:00Z
const SUITE_TIME: i64 = 1_440_938_160;

struct Case {
    name: String,
    dir: PathBuf,
}

impl Case {
    fn read(&self, ext: &str) -> String {
        let file = self.dir.join(format!("{}.{ext}", self.name));
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
    }
}

fn cases() -> Vec<Case> {
    let mut found = Vec::new();
    collect(Path::new(VECTORS), &mut found);
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

fn collect(dir: &Path, found: &mut Vec<Case>) {
    for entry in
        std::fs::read_dir(dir).expect("shared/vectors/sigv4 must sit beside the repository")
    {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            if path.join(format!("{name}.req")).exists() {
                found.push(Case {
                    name,
                    dir: path.clone(),
                });
            }
            collect(&path, found);
        }
    }
}

/// A `.req` file: request line, `Name:value` lines (a line starting with
/// whitespace continues the previous value: obs-fold, replaced by one
/// space as RFC 9112 says), an empty line, the body.
struct RawRequest {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn parse_req(text: &str) -> RawRequest {
    let (head, body) = text
        .split_once("\n\n")
        .unwrap_or((text.trim_end_matches('\n'), ""));
    let mut lines = head.split('\n');
    let request_line = lines.next().unwrap();
    let (method, rest) = request_line.split_once(' ').unwrap();
    let (target, version) = rest.rsplit_once(' ').unwrap();
    assert_eq!(version, "HTTP/1.1");
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().expect("continuation before any header");
            last.1.push(' ');
            last.1.push_str(line.trim_start_matches([' ', '\t']));
        } else {
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    RawRequest {
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

fn token_for(case: &str) -> Option<String> {
    match case {
        "get-vanilla-with-session-token" => Some(SUITE_TOKEN.to_owned()),
        _ => None,
    }
}

fn credentials(token: Option<String>) -> Credentials {
    Credentials {
        access_key: ACCESS_KEY.to_owned(),
        secret_key: SECRET.to_owned(),
        session_token: token,
    }
}

fn sign_raw(raw: &RawRequest, creds: &Credentials) -> Result<SignatureDetails, SigningError> {
    let headers = raw.header_refs();
    let params = SigningParams {
        credentials: creds,
        region: "us-east-1",
        service: "service",
        time: SigningTime::from_unix(SUITE_TIME),
    };
    sign(&raw.signable(&headers), &params)
}

/// The streaming path, [`sign_headers`], on the same request.
fn sign_headers_raw(
    raw: &RawRequest,
    creds: &Credentials,
) -> Result<(Vec<(String, String)>, String), SigningError> {
    let headers = raw.header_refs();
    let time = SigningTime::from_unix(SUITE_TIME);
    let added = sign_headers(
        &raw.signable(&headers),
        creds.borrowed(),
        "us-east-1",
        "service",
        time,
    )?;
    let mut pairs = Vec::new();
    if let Some(date) = added.amz_date {
        pairs.push((header::AMZ_DATE.to_owned(), date.as_str().to_owned()));
    }
    if let Some(token) = added.security_token {
        pairs.push((header::SECURITY_TOKEN.to_owned(), token.to_owned()));
    }
    pairs.push((
        header::AUTHORIZATION.to_owned(),
        added.authorization.clone(),
    ));
    Ok((pairs, added.authorization))
}

impl RawRequest {
    fn header_refs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    fn signable<'a>(&'a self, headers: &'a [(&'a str, &'a str)]) -> SignableRequest<'a> {
        SignableRequest {
            method: &self.method,
            uri: &self.target,
            headers,
            payload: Payload::Bytes(&self.body),
        }
    }
}

#[test]
fn all_34_cases_reproduce_creq_sts_and_authz() {
    let cases = cases();
    assert_eq!(cases.len(), 34, "the suite has 34 cases");
    for case in &cases {
        let raw = parse_req(&case.read("req"));
        let details = sign_raw(&raw, &credentials(token_for(&case.name))).unwrap();
        assert_eq!(
            details.canonical_request,
            case.read("creq"),
            "{}: canonical request",
            case.name
        );
        assert_eq!(
            details.string_to_sign,
            case.read("sts"),
            "{}: string to sign",
            case.name
        );
        assert_eq!(
            details.authorization,
            case.read("authz"),
            "{}: authorization",
            case.name
        );
        assert!(details.authorization.ends_with(&details.signature));
        // Every .req carries X-Amz-Date already: it is not added twice.
        let added: Vec<&str> = details
            .headers_to_add
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        let expected: &[&str] = if token_for(&case.name).is_some() {
            &["X-Amz-Security-Token", "Authorization"]
        } else {
            &["Authorization"]
        };
        assert_eq!(added, expected, "{}", case.name);
        // The streaming path gives the same authorization and headers.
        let (streamed, authorization) =
            sign_headers_raw(&raw, &credentials(token_for(&case.name))).unwrap();
        assert_eq!(authorization, case.read("authz"), "{}: streamed", case.name);
        assert_eq!(streamed, details.headers_to_add, "{}: streamed", case.name);
    }
}

#[test]
fn token_already_in_the_request_is_signed_once() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "post-sts-header-before")
        .unwrap();
    let raw = parse_req(&case.read("req"));
    let token = raw
        .headers
        .iter()
        .find(|(n, _)| n == "X-Amz-Security-Token")
        .unwrap()
        .1
        .clone();
    let details = sign_raw(&raw, &credentials(Some(token))).unwrap();
    assert_eq!(details.authorization, case.read("authz"));
    assert_eq!(details.headers_to_add.len(), 1);
    let other = sign_raw(&raw, &credentials(Some("another-token".into())));
    assert!(matches!(other, Err(SigningError::InvalidRequest(_))));
}

#[test]
fn signing_time_must_agree_with_x_amz_date() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "get-vanilla")
        .unwrap();
    let raw = parse_req(&case.read("req"));
    let headers: Vec<(&str, &str)> = raw
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        time_from_headers(&headers),
        Ok(Some(SigningTime::from_unix(SUITE_TIME)))
    );
    let creds = credentials(None);
    let req = SignableRequest {
        method: "GET",
        uri: "/",
        headers: &headers,
        payload: Payload::Bytes(b""),
    };
    let params = SigningParams {
        credentials: &creds,
        region: "us-east-1",
        service: "service",
        time: SigningTime::from_unix(SUITE_TIME + 1),
    };
    assert!(
        matches!(sign(&req, &params), Err(SigningError::InvalidRequest(m)) if m.contains("X-Amz-Date"))
    );
}

/// The `.req` plus the suite's `.authz`, as a server would receive it.
fn received(case: &Case) -> (RawRequest, ParsedAuthorization) {
    (
        parse_req(&case.read("req")),
        ParsedAuthorization::parse(&case.read("authz")).unwrap(),
    )
}

fn verify_raw(
    raw: &RawRequest,
    auth: &ParsedAuthorization,
    secret: &str,
) -> Result<(), SigningError> {
    let headers: Vec<(&str, &str)> = raw
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let req = SignableRequest {
        method: &raw.method,
        uri: &raw.target,
        headers: &headers,
        payload: Payload::Bytes(&raw.body),
    };
    let time = time_from_headers(&headers)?.unwrap();
    verify(&req, auth, secret, time)
}

#[test]
fn verify_accepts_every_suite_signature() {
    for case in &cases() {
        let (mut raw, auth) = received(case);
        if let Some(token) = token_for(&case.name) {
            raw.headers.push(("X-Amz-Security-Token".into(), token));
        }
        assert_eq!(verify_raw(&raw, &auth, SECRET), Ok(()), "{}", case.name);
        // Headers outside SignedHeaders may change in flight.
        raw.headers.push(("User-Agent".into(), "proxy/1.0".into()));
        raw.headers.push(("X-Unsigned".into(), "anything".into()));
        assert_eq!(verify_raw(&raw, &auth, SECRET), Ok(()), "{}", case.name);
    }
}

#[test]
fn verify_rejects_tampering() {
    let all = cases();
    let by_name = |name: &str| all.iter().find(|c| c.name == name).unwrap();

    let (raw, auth) = received(by_name("post-x-www-form-urlencoded"));
    assert_eq!(verify_raw(&raw, &auth, SECRET), Ok(()));
    assert_eq!(
        verify_raw(&raw, &auth, "wrong-secret"),
        Err(SigningError::SignatureMismatch)
    );

    let mut body_changed = parse_req(&by_name("post-x-www-form-urlencoded").read("req"));
    body_changed.body = b"Param1=value2".to_vec();
    assert_eq!(
        verify_raw(&body_changed, &auth, SECRET),
        Err(SigningError::SignatureMismatch)
    );

    let (mut header_changed, auth) = received(by_name("get-header-value-trim"));
    for (name, value) in &mut header_changed.headers {
        if name == "My-Header2" {
            value.push('!');
        }
    }
    assert_eq!(
        verify_raw(&header_changed, &auth, SECRET),
        Err(SigningError::SignatureMismatch)
    );

    let (mut header_dropped, auth) = received(by_name("get-header-value-trim"));
    header_dropped
        .headers
        .retain(|(name, _)| name != "My-Header2");
    assert!(matches!(
        verify_raw(&header_dropped, &auth, SECRET),
        Err(SigningError::InvalidRequest(m)) if m.contains("my-header2")
    ));

    let (mut path_changed, auth) = received(by_name("get-vanilla"));
    path_changed.target = "/other".into();
    assert_eq!(
        verify_raw(&path_changed, &auth, SECRET),
        Err(SigningError::SignatureMismatch)
    );

    let (raw, mut auth) = received(by_name("get-vanilla"));
    auth.signature.replace_range(
        0..1,
        if auth.signature.starts_with('0') {
            "1"
        } else {
            "0"
        },
    );
    assert_eq!(
        verify_raw(&raw, &auth, SECRET),
        Err(SigningError::SignatureMismatch)
    );

    let (raw, mut auth) = received(by_name("get-vanilla"));
    auth.region = "us-west-2".into();
    assert_eq!(
        verify_raw(&raw, &auth, SECRET),
        Err(SigningError::SignatureMismatch)
    );

    let (raw, mut auth) = received(by_name("get-vanilla"));
    auth.signed_headers = vec!["x-amz-date".into()];
    assert!(matches!(
        verify_raw(&raw, &auth, SECRET),
        Err(SigningError::MalformedAuthorization(_))
    ));

    let (raw, mut auth) = received(by_name("get-vanilla"));
    auth.date = "20150831".into();
    assert!(matches!(
        verify_raw(&raw, &auth, SECRET),
        Err(SigningError::MalformedAuthorization(_))
    ));
}

#[test]
fn verify_request_reads_the_headers_itself() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "get-header-key-duplicate")
        .unwrap();
    let raw = parse_req(&case.read("req"));
    let authz = case.read("authz");
    let mut headers: Vec<(&str, &str)> = raw
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    headers.push(("Authorization", &authz));
    let req = SignableRequest {
        method: &raw.method,
        uri: &raw.target,
        headers: &headers,
        payload: Payload::Bytes(b""),
    };
    let auth = verify_request(&req, SECRET).unwrap();
    assert_eq!(auth.access_key, ACCESS_KEY);
    assert_eq!(
        verify_request(&req, "nope"),
        Err(SigningError::SignatureMismatch)
    );
    let unsigned = &headers[..headers.len() - 1];
    let req = SignableRequest {
        headers: unsigned,
        ..req
    };
    assert!(matches!(
        verify_request(&req, SECRET),
        Err(SigningError::MalformedAuthorization(_))
    ));
}

#[test]
fn sign_then_verify_round_trip_with_token_and_sha256_payload() {
    let creds = Credentials {
        access_key: "AKIAEXAMPLE".into(),
        secret_key: "secret".into(),
        session_token: Some("token/with+chars==".into()),
    };
    let body = br#"{"inputs":"hello"}"#;
    let hash = payload_sha256_hex(body);
    let base = [
        ("Host", "runtime.sagemaker.us-west-2.amazonaws.com"),
        ("Content-Type", "application/json"),
    ];
    let req = SignableRequest {
        method: "POST",
        uri: "/endpoints/my-endpoint/invocations",
        headers: &base,
        payload: Payload::Sha256Hex(&hash),
    };
    let time = SigningTime::from_unix(1_767_225_600);
    let params = SigningParams {
        credentials: &creds,
        region: "us-west-2",
        service: "sagemaker",
        time,
    };
    let details = sign(&req, &params).unwrap();
    let same_from_bytes = sign(
        &SignableRequest {
            payload: Payload::Bytes(body),
            ..req
        },
        &params,
    )
    .unwrap();
    assert_eq!(details, same_from_bytes);
    let names: Vec<&str> = details
        .headers_to_add
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        names,
        ["X-Amz-Date", "X-Amz-Security-Token", "Authorization"]
    );

    let mut sent: Vec<(&str, &str)> = base.to_vec();
    sent.extend(
        details
            .headers_to_add
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str())),
    );
    let received = SignableRequest {
        headers: &sent,
        payload: Payload::Bytes(body),
        ..req
    };
    let auth = verify_request(&received, "secret").unwrap();
    assert_eq!(auth.service, "sagemaker");
    assert_eq!(
        auth.signed_headers,
        ["content-type", "host", "x-amz-date", "x-amz-security-token"]
    );
    assert_eq!(
        verify_request(&received, "other"),
        Err(SigningError::SignatureMismatch)
    );
    let tampered = SignableRequest {
        payload: Payload::Bytes(b"{}"),
        ..received
    };
    assert_eq!(
        verify_request(&tampered, "secret"),
        Err(SigningError::SignatureMismatch)
    );
}

#[test]
fn bad_requests_are_refused_before_signing() {
    let creds = credentials(None);
    let params = SigningParams {
        credentials: &creds,
        region: "us-east-1",
        service: "service",
        time: SigningTime::from_unix(SUITE_TIME),
    };
    let host = ("Host", "example.amazonaws.com");
    let try_sign = |method: &str, uri: &str, headers: &[(&str, &str)]| {
        sign(
            &SignableRequest {
                method,
                uri,
                headers,
                payload: Payload::Bytes(b""),
            },
            &params,
        )
    };
    assert!(try_sign("GET", "/", &[host]).is_ok());
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);
    let refused: Vec<Case> = vec![
        ("GET", "/", vec![]),
        ("GET", "/", vec![host, host]),
        ("GET", "/", vec![host, ("X-Evil", "a\r\nInjected: yes")]),
        ("GET", "/", vec![host, ("X-Evil", "a\nb")]),
        ("GET", "/", vec![host, ("Bad Name", "x")]),
        ("GET", "/", vec![host, ("", "x")]),
        (
            "GET",
            "/",
            vec![host, ("Authorization", "AWS4-HMAC-SHA256 ...")],
        ),
        ("GET", "/", vec![host, ("X-Amz-Date", "garbage")]),
        (
            "GET",
            "/",
            vec![
                host,
                ("X-Amz-Date", "20150830T123600Z"),
                ("x-amz-date", "20150830T123600Z"),
            ],
        ),
        ("G ET", "/", vec![host]),
        ("GET", "relative", vec![host]),
        ("GET", "/a#frag", vec![host]),
        ("GET", "/a\nb", vec![host]),
    ];
    for (method, uri, headers) in refused {
        assert!(
            matches!(
                try_sign(method, uri, &headers),
                Err(SigningError::InvalidRequest(_))
            ),
            "{method:?} {uri:?} {headers:?}"
        );
    }
    let bad_hash = sign(
        &SignableRequest {
            method: "GET",
            uri: "/",
            headers: &[host],
            payload: Payload::Sha256Hex("abc"),
        },
        &params,
    );
    assert!(matches!(bad_hash, Err(SigningError::InvalidRequest(_))));
    for (region, service) in [("", "s"), ("us east", "s"), ("r", "a/b")] {
        let p = SigningParams {
            region,
            service,
            ..params
        };
        let req = SignableRequest {
            method: "GET",
            uri: "/",
            headers: &[host],
            payload: Payload::Bytes(b""),
        };
        assert!(
            matches!(sign(&req, &p), Err(SigningError::InvalidRequest(_))),
            "{region:?} {service:?}"
        );
    }
    let far = SigningParams {
        time: SigningTime::from_unix(i64::MAX),
        ..params
    };
    let req = SignableRequest {
        method: "GET",
        uri: "/",
        headers: &[host],
        payload: Payload::Bytes(b""),
    };
    assert!(matches!(
        sign(&req, &far),
        Err(SigningError::MalformedDate(_))
    ));
}

#[test]
fn unsigned_headers_are_left_out_like_botocore() {
    let creds = credentials(None);
    let params = SigningParams {
        credentials: &creds,
        region: "us-east-1",
        service: "service",
        time: SigningTime::from_unix(SUITE_TIME),
    };
    let headers = [
        ("Host", "example.amazonaws.com"),
        ("User-Agent", "sagerun/0.1"),
        ("Expect", "100-continue"),
        ("X-Amzn-Trace-Id", "Root=1"),
        ("Transfer-Encoding", "chunked"),
        ("Connection", "keep-alive"),
    ];
    let req = SignableRequest {
        method: "GET",
        uri: "/",
        headers: &headers,
        payload: Payload::Bytes(b""),
    };
    let details = sign(&req, &params).unwrap();
    assert!(
        details
            .authorization
            .contains("SignedHeaders=host;x-amz-date,"),
        "{}",
        details.authorization
    );
}

#[test]
fn debug_output_hides_secrets() {
    let creds = Credentials {
        access_key: "AKID".into(),
        secret_key: "super-secret-value".into(),
        session_token: Some("super-secret-token".into()),
    };
    let shown = format!("{creds:?}");
    assert!(
        shown.contains("AKID") && !shown.contains("super-secret"),
        "{shown}"
    );
    let params = SigningParams {
        credentials: &creds,
        region: "r",
        service: "s",
        time: SigningTime::from_unix(0),
    };
    assert!(!format!("{params:?}").contains("super-secret"));
}

fn suite_signer(token: Option<&str>) -> Signer {
    let creds = CredentialsRef {
        access_key: ACCESS_KEY,
        secret_key: SECRET,
        session_token: token,
    };
    Signer::new(creds, "us-east-1", "service").unwrap()
}

#[test]
fn a_bound_signer_reproduces_every_case() {
    for case in &cases() {
        let raw = parse_req(&case.read("req"));
        let token = token_for(&case.name);
        let signer = suite_signer(token.as_deref());
        let headers = raw.header_refs();
        let time = SigningTime::from_unix(SUITE_TIME);
        // Twice: the second signing uses the key the first one derived.
        for _ in 0..2 {
            let details = signer.sign_details(&raw.signable(&headers), time).unwrap();
            assert_eq!(
                details.canonical_request,
                case.read("creq"),
                "{}",
                case.name
            );
            assert_eq!(details.string_to_sign, case.read("sts"), "{}", case.name);
            assert_eq!(details.authorization, case.read("authz"), "{}", case.name);
            let added = signer.sign_headers(&raw.signable(&headers), time).unwrap();
            assert_eq!(added.authorization, case.read("authz"), "{}", case.name);
            assert_eq!(added.security_token, token.as_deref(), "{}", case.name);
            assert_eq!(added.amz_date, None, "{}: the .req has one", case.name);
        }
    }
}

/// Across midnight UTC the signer derives the new day's key (and back).
#[test]
fn a_bound_signer_follows_the_date() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "post-vanilla")
        .unwrap();
    let raw = parse_req(&case.read("req"));
    // Without the .req's X-Amz-Date, so any time can sign it.
    let headers: Vec<(&str, &str)> = raw
        .header_refs()
        .into_iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("x-amz-date"))
        .collect();
    let signer = suite_signer(Some("tok"));
    let creds = credentials(Some("tok".to_owned()));
    let before_midnight = SigningTime::from_unix(SUITE_TIME + 11 * 3600 + 23 * 60 + 59);
    let after_midnight = SigningTime::from_unix(before_midnight.unix_secs() + 1);
    let mut signatures = Vec::new();
    for time in [before_midnight, after_midnight, before_midnight] {
        let req = raw.signable(&headers);
        let bound = signer.sign_details(&req, time).unwrap();
        let free = sign_with(&req, creds.borrowed(), "us-east-1", "service", time).unwrap();
        assert_eq!(bound, free);
        // The key derived afresh with ring's HMAC (an independent one).
        let mut fresh_key = format!("AWS4{SECRET}").into_bytes();
        for part in [
            time.amz_date_text().date(),
            "us-east-1",
            "service",
            "aws4_request",
        ] {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &fresh_key);
            fresh_key = ring::hmac::sign(&key, part.as_bytes()).as_ref().to_vec();
        }
        let fresh = hex::encode(ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &fresh_key),
            bound.string_to_sign.as_bytes(),
        ));
        assert_eq!(bound.signature, fresh);
        signatures.push(bound.signature);
    }
    assert_ne!(signatures[0], signatures[1]);
    assert_eq!(signatures[0], signatures[2]);
}

#[test]
fn a_bound_signer_checks_its_principal_once_and_hides_secrets() {
    let creds = |ak: &'static str, token: Option<&'static str>| CredentialsRef {
        access_key: ak,
        secret_key: SECRET,
        session_token: token,
    };
    assert!(Signer::new(creds("", None), "us-east-1", "service").is_err());
    assert!(Signer::new(creds(ACCESS_KEY, None), "us/east", "service").is_err());
    assert!(Signer::new(creds(ACCESS_KEY, None), "us-east-1", "").is_err());
    assert!(Signer::new(creds(ACCESS_KEY, Some("a\nb")), "us-east-1", "service").is_err());
    let empty_token = Signer::new(creds(ACCESS_KEY, Some("")), "us-east-1", "service").unwrap();
    assert!(!empty_token.has_session_token());
    let shown = format!("{:?}", suite_signer(Some("the-token")));
    assert!(
        !shown.contains(SECRET) && !shown.contains("the-token"),
        "{shown}"
    );
    assert!(shown.contains(ACCESS_KEY));
}

/// A request's head is remembered per thread (`memo`) and reused by the
/// next request made of the same pieces: requests differing from the last
/// one in any single piece still sign exactly as the path that remembers
/// nothing (`sign_with`, which reproduces the suite), before and after.
#[test]
fn a_remembered_head_serves_only_the_same_request() {
    let body_a = b"{\"a\":1}".to_vec();
    let body_b = vec![7u8; 1000];
    let base: Vec<(&str, &str)> = vec![
        ("Host", "example.amazonaws.com"),
        ("Content-Type", "application/json"),
        ("X-Amz-Meta", "  a   b "),
    ];
    type Headers = Vec<(&'static str, &'static str)>;
    let with = |edit: &dyn Fn(&mut Headers)| {
        let mut headers = base.clone();
        edit(&mut headers);
        headers
    };
    let variants: Vec<Vec<(&str, &str)>> = vec![
        base.clone(),
        with(&|h| h[1].1 = "application/jsoN"),
        with(&|h| h[1].0 = "content-type"),
        with(&|h| h.swap(1, 2)),
        with(&|h| h.push(("X-Amz-Meta", "second"))),
        with(&|h| h.push(("User-Agent", "unsigned/1.0"))),
        with(&|h| h[2].1 = "a b"),
        with(&|h| h.push(("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"))),
        with(&|h| h.push(("X-Amz-Date", "20150830T123600Z"))),
        with(&|h| h.push(("X-Amz-Security-Token", "tok"))),
    ];
    let time = SigningTime::from_unix(SUITE_TIME);
    let later = SigningTime::from_unix(SUITE_TIME + 1);
    let tokens = [Some("tok"), None, Some("other")];
    let scopes = [
        ("us-east-1", "service"),
        ("us-west-2", "service"),
        ("us-east-1", "s3x"),
    ];
    let check = |method: &str,
                 uri: &str,
                 headers: &[(&str, &str)],
                 body: &[u8],
                 access_key: &str,
                 token: Option<&str>,
                 (region, service): (&str, &str),
                 time: SigningTime| {
        let req = SignableRequest {
            method,
            uri,
            headers,
            payload: Payload::Bytes(body),
        };
        let creds = CredentialsRef {
            access_key,
            secret_key: SECRET,
            session_token: token,
        };
        let expected = sign_with(&req, creds, region, service, time);
        let got = sign_headers(&req, creds, region, service, time);
        match (expected, got) {
            (Ok(expected), Ok(got)) => {
                assert_eq!(got.authorization, expected.authorization);
                let added: Vec<&str> = expected
                    .headers_to_add
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect();
                assert_eq!(got.amz_date.is_some(), added.contains(&"X-Amz-Date"));
                assert_eq!(
                    got.security_token.is_some(),
                    added.contains(&"X-Amz-Security-Token")
                );
            }
            (Err(expected), Err(got)) => assert_eq!(got, expected),
            (expected, got) => panic!("{expected:?} vs {got:?}"),
        }
    };
    let base_sign = || {
        check(
            "POST",
            "/p",
            &base,
            &body_a,
            ACCESS_KEY,
            Some("tok"),
            scopes[0],
            time,
        )
    };
    for headers in &variants {
        for body in [&body_a, &body_b] {
            // The same request twice (the second reuses the head), each
            // between two signings of the base request.
            for _ in 0..2 {
                base_sign();
                for _ in 0..2 {
                    check(
                        "POST",
                        "/p",
                        headers,
                        body,
                        ACCESS_KEY,
                        Some("tok"),
                        scopes[0],
                        time,
                    );
                }
            }
        }
        base_sign();
        check(
            "PUT",
            "/p",
            headers,
            &body_a,
            ACCESS_KEY,
            Some("tok"),
            scopes[0],
            time,
        );
        check(
            "POST",
            "/q",
            headers,
            &body_a,
            ACCESS_KEY,
            Some("tok"),
            scopes[0],
            time,
        );
        check(
            "POST",
            "/p",
            headers,
            &body_a,
            "AKIDOTHER",
            Some("tok"),
            scopes[0],
            time,
        );
        check(
            "POST",
            "/p",
            headers,
            &body_a,
            ACCESS_KEY,
            Some("tok"),
            scopes[0],
            later,
        );
        for token in tokens {
            check(
                "POST", "/p", headers, &body_a, ACCESS_KEY, token, scopes[0], time,
            );
        }
        for scope in scopes {
            check(
                "POST",
                "/p",
                headers,
                &body_a,
                ACCESS_KEY,
                Some("tok"),
                scope,
                time,
            );
        }
        // A refused request in between changes nothing.
        check(
            "POST",
            "/p",
            &[("Host", "h"), ("Bad Name", "x")],
            &body_a,
            ACCESS_KEY,
            None,
            scopes[0],
            time,
        );
    }
    // A given payload hash is checked on every request, the head's reuse aside.
    let creds = CredentialsRef {
        access_key: ACCESS_KEY,
        secret_key: SECRET,
        session_token: None,
    };
    let given = |hash: &'static str| SignableRequest {
        method: "POST",
        uri: "/p",
        headers: &base,
        payload: Payload::Sha256Hex(hash),
    };
    let good = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    assert!(sign_headers(&given(good), creds, "us-east-1", "service", time).is_ok());
    assert!(sign_headers(&given("not hex"), creds, "us-east-1", "service", time).is_err());
    assert!(sign_headers(&given(good), creds, "us-east-1", "service", time).is_ok());
}
