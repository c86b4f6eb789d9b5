//! Turns one invocation (operation, endpoint name, header members, body)
//! into a signed HTTP request. The member -> header mapping comes from
//! `sagerun_core::protocol`, the one place that knows it.

use std::cell::RefCell;
use std::sync::OnceLock;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, HOST, USER_AGENT};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Method, Request, Uri};
use http_body_util::Full;
use sagerun_core::protocol::{self, Operation};
use sagerun_core::sigv4::Credentials;

use crate::error::ClientError;
use crate::signing;

/// Where requests go: the resolved endpoint URL (botocore's resolver picks
/// it; a custom `endpoint_url` may carry a base path).
#[derive(Clone, Debug)]
pub struct Endpoint {
    scheme: Scheme,
    authority: Authority,
    /// Without a trailing slash; "" for none.
    base_path: String,
    /// The `Host` header: the authority without a default port.
    host: HeaderValue,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, ClientError> {
        let bad = |why: &str| ClientError::Config(format!("invalid endpoint URL {url:?}: {why}"));
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        let scheme = uri.scheme().cloned().ok_or_else(|| bad("no scheme"))?;
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err(bad("the scheme must be http or https"));
        }
        let authority = uri.authority().cloned().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("credentials in the URL are not supported"));
        }
        if uri.query().is_some() {
            return Err(bad("a query string is not supported"));
        }
        let default_port = if scheme == Scheme::HTTPS { 443 } else { 80 };
        let host = match authority.port_u16() {
            Some(port) if port == default_port => authority.host().to_string(),
            _ => authority.as_str().to_string(),
        };
        let base_path = uri.path().trim_end_matches('/').to_string();
        Ok(Endpoint {
            scheme,
            authority,
            base_path,
            host: header_value("Host", &host)?,
        })
    }

    pub fn is_https(&self) -> bool {
        self.scheme == Scheme::HTTPS
    }

    fn path(&self, op: Operation, endpoint_name: &str) -> String {
        let path = protocol::request_path(op, endpoint_name);
        if self.base_path.is_empty() {
            return path;
        }
        let mut joined = String::with_capacity(self.base_path.len() + path.len());
        joined.push_str(&self.base_path);
        joined.push_str(&path);
        joined
    }

    /// The request's path and absolute URI. The last ones made on this
    /// thread are reused when they are for the same endpoint, operation and
    /// endpoint name (nearly every call of a client repeats them), instead
    /// of encoding, formatting and parsing them again.
    fn target(
        &self,
        op: Operation,
        endpoint_name: &str,
    ) -> Result<(PathAndQuery, Uri), ClientError> {
        LAST_TARGET.with(|last| {
            let mut last = last.borrow_mut();
            if let Some(t) = last.as_ref() {
                if t.op == op
                    && t.endpoint_name == endpoint_name
                    && t.uri.scheme() == Some(&self.scheme)
                    && t.uri.authority().map(Authority::as_str) == Some(self.authority.as_str())
                    && t.base_path == self.base_path
                {
                    return Ok((t.path.clone(), t.uri.clone()));
                }
            }
            let path = self.path(op, endpoint_name);
            let path: PathAndQuery = path
                .parse()
                .map_err(|_| ClientError::InvalidRequest(format!("bad request path {path:?}")))?;
            let uri = Uri::builder()
                .scheme(self.scheme.clone())
                .authority(self.authority.clone())
                .path_and_query(path.clone())
                .build()
                .map_err(|e| ClientError::InvalidRequest(e.to_string()))?;
            *last = Some(Target {
                op,
                endpoint_name: endpoint_name.to_owned(),
                base_path: self.base_path.clone(),
                path: path.clone(),
                uri: uri.clone(),
            });
            Ok((path, uri))
        })
    }
}

/// A request target made once (see `Endpoint::target`).
struct Target {
    op: Operation,
    endpoint_name: String,
    base_path: String,
    path: PathAndQuery,
    uri: Uri,
}

thread_local! {
    static LAST_TARGET: RefCell<Option<Target>> = const { RefCell::new(None) };
}

/// The wire names of `op`'s request members, in `request_headers()` order
/// (lower-cased once, not on every call).
fn request_header_names(op: Operation) -> &'static [HeaderName] {
    static NAMES: OnceLock<Vec<Vec<HeaderName>>> = OnceLock::new();
    let all = NAMES.get_or_init(|| {
        Operation::ALL
            .iter()
            .map(|op| {
                op.request_headers()
                    .iter()
                    .map(|b| {
                        HeaderName::from_bytes(b.header.as_bytes())
                            .expect("the protocol's header names are valid HTTP names")
                    })
                    .collect()
            })
            .collect()
    });
    &all[op.index()]
}

/// One call's inputs, as the caller gave them (already validated by the
/// Python layer; checked again here where it matters for safety).
#[derive(Clone, Debug)]
pub struct Invocation {
    pub op: Operation,
    pub endpoint_name: String,
    /// (member name, value) for the members bound to headers.
    pub members: Vec<(String, String)>,
    pub body: Bytes,
}

/// An invocation turned into wire headers once; signed again per attempt.
pub struct PreparedRequest {
    op: Operation,
    /// `amz-sdk-invocation-id`: one UUID for all attempts of a call.
    invocation_id: HeaderValue,
    path: PathAndQuery,
    uri: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
    /// Hashed when the first attempt is signed (never for an unsigned
    /// client: a 6 MiB body costs milliseconds to hash).
    payload_sha256: OnceLock<String>,
}

impl PreparedRequest {
    pub fn new(endpoint: &Endpoint, call: Invocation) -> Result<PreparedRequest, ClientError> {
        if call.endpoint_name.is_empty() {
            return Err(ClientError::InvalidRequest(
                "EndpointName must not be empty".into(),
            ));
        }
        // Percent-encoding leaves `.` and `..` as they are: as a path
        // segment they would be resolved away by any normalising server or
        // proxy (botocore sends them so). No valid name is either.
        if matches!(call.endpoint_name.as_str(), "." | "..") {
            return Err(ClientError::InvalidRequest(format!(
                "EndpointName {:?} is not a valid endpoint name",
                call.endpoint_name
            )));
        }
        let bindings = call.op.request_headers();
        let names = request_header_names(call.op);
        let mut headers = Vec::with_capacity(call.members.len() + 1);
        headers.push((HOST, endpoint.host.clone()));
        for (member, value) in &call.members {
            let index = bindings
                .iter()
                .position(|b| b.member == member)
                .ok_or_else(|| {
                    ClientError::InvalidRequest(format!(
                        "{member} is not a header member of {}",
                        call.op.name()
                    ))
                })?;
            headers.push((names[index].clone(), header_value(member, value)?));
        }
        let (path, uri) = endpoint.target(call.op, &call.endpoint_name)?;
        Ok(PreparedRequest {
            op: call.op,
            invocation_id: HeaderValue::from_bytes(&uuid4())
                .expect("a UUID is a valid header value"),
            path,
            uri,
            headers,
            body: call.body,
            payload_sha256: OnceLock::new(),
        })
    }

    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    pub fn op(&self) -> Operation {
        self.op
    }

    /// A freshly signed request for one attempt (`None`: unsigned), described
    /// in `amz-sdk-request` as botocore does.
    pub fn signed(
        &self,
        credentials: Option<&Credentials>,
        region: &str,
        user_agent: &HeaderValue,
        proxy_authorization: Option<&HeaderValue>,
        attempt: &AttemptInfo,
    ) -> Result<Request<Full<Bytes>>, ClientError> {
        let added = match credentials {
            Some(credentials) => signing::sign(
                self.path.as_str(),
                &self.headers,
                self.payload_sha256
                    .get_or_init(|| signing::sha256_hex(&self.body)),
                credentials,
                region,
            )?,
            None => Vec::new(),
        };
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone());
        let headers = builder.headers_mut().expect("a fresh builder has headers");
        headers.reserve(self.headers.len() + added.len() + 3);
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        for (name, value) in added {
            headers.append(name, value);
        }
        headers.insert(USER_AGENT, user_agent.clone());
        // Unsigned, like botocore's: they describe the attempt, not the call.
        headers.insert(
            HeaderName::from_static("amz-sdk-invocation-id"),
            self.invocation_id.clone(),
        );
        headers.insert(
            HeaderName::from_static("amz-sdk-request"),
            HeaderValue::from_str(&attempt.sdk_request())
                .map_err(|_| ClientError::InvalidRequest("bad amz-sdk-request value".into()))?,
        );
        headers.insert(CONTENT_LENGTH, HeaderValue::from(self.body.len()));
        if let Some(auth) = proxy_authorization {
            headers.insert(http::header::PROXY_AUTHORIZATION, auth.clone());
        }
        builder
            .body(Full::new(self.body.clone()))
            .map_err(|e| ClientError::InvalidRequest(e.to_string()))
    }
}

/// Which attempt a request is (botocore's retries context).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttemptInfo {
    /// 1-based.
    pub attempt: u32,
    pub max_attempts: u32,
    /// When the previous answer's server time plus the read timeout falls
    /// (`YYYYMMDDTHHMMSSZ`), once an answer carried a `Date` header.
    pub ttl: Option<String>,
}

impl AttemptInfo {
    /// `[ttl=...; ]attempt=N; max=M`
    pub fn sdk_request(&self) -> String {
        // Pushed piece by piece: `format!` was a measurable share of the
        // Rust part of a small call.
        let mut out = String::with_capacity(48);
        if let Some(ttl) = &self.ttl {
            out.push_str("ttl=");
            out.push_str(ttl);
            out.push_str("; ");
        }
        out.push_str("attempt=");
        push_decimal(&mut out, self.attempt);
        out.push_str("; max=");
        push_decimal(&mut out, self.max_attempts);
        out
    }

    /// botocore's TTL: the server's `Date` plus the read timeout.
    pub fn ttl_from(date_header: &str, read_timeout: std::time::Duration) -> Option<String> {
        let server_time = httpdate::parse_http_date(date_header).ok()?;
        let ttl = server_time + read_timeout;
        let secs = ttl.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
        Some(sagerun_core::sigv4::SigningTime::from_unix(secs as i64).amz_date())
    }
}

/// `n` in decimal digits.
fn push_decimal(out: &mut String, mut n: u32) {
    let mut digits = [0u8; 10]; // u32::MAX has 10 digits
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[start..]).expect("ASCII digits"));
}

/// A random (version 4) UUID, as botocore's `amz-sdk-invocation-id`.
fn uuid4() -> [u8; 36] {
    sagerun_core::uuid::v4_text(rand::random())
}

/// Header values with control characters would let a caller inject headers
/// or split the request: refuse them (tabs included) rather than send them.
pub fn header_value(member: &str, value: &str) -> Result<HeaderValue, ClientError> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(ClientError::InvalidRequest(format!(
            "{member} contains the control character {c:?}, which is not allowed in an HTTP header"
        )));
    }
    // The model's header members are all ASCII, and HTTP has no agreed
    // encoding for anything else.
    if !value.is_ascii() {
        return Err(ClientError::InvalidRequest(format!(
            "{member} is not a valid header value: it must be ASCII"
        )));
    }
    HeaderValue::from_str(value)
        .map_err(|_| ClientError::InvalidRequest(format!("{member} is not a valid header value")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(members: &[(&str, &str)]) -> Invocation {
        Invocation {
            op: Operation::InvokeEndpoint,
            endpoint_name: "ep".into(),
            members: members
                .iter()
                .map(|(m, v)| (m.to_string(), v.to_string()))
                .collect(),
            body: Bytes::from_static(b"{}"),
        }
    }

    #[test]
    fn endpoint_keeps_base_path_and_drops_default_port() {
        let e = Endpoint::parse("https://example.com:443/base/").unwrap();
        assert_eq!(e.host, "example.com");
        assert_eq!(
            e.path(Operation::InvokeEndpoint, "x"),
            "/base/endpoints/x/invocations"
        );
        let e = Endpoint::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(e.host, "127.0.0.1:8080");
        assert!(Endpoint::parse("ftp://x").is_err());
        assert!(Endpoint::parse("http://u:p@x").is_err());
    }

    #[test]
    fn members_map_to_the_protocol_headers() {
        let e = Endpoint::parse("http://h").unwrap();
        let p = PreparedRequest::new(&e, call(&[("Accept", "a/b"), ("TargetModel", "m")])).unwrap();
        let names: Vec<&str> = p.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["host", "accept", "x-amzn-sagemaker-target-model"]);
    }

    #[test]
    fn sdk_request_and_ttl_like_botocore() {
        let mut info = AttemptInfo {
            attempt: 1,
            max_attempts: 3,
            ttl: None,
        };
        assert_eq!(info.sdk_request(), "attempt=1; max=3");
        for (attempt, max_attempts) in [(0, 10), (9, 100), (1234567, u32::MAX)] {
            let info = AttemptInfo {
                attempt,
                max_attempts,
                ttl: None,
            };
            let expected = format!("attempt={attempt}; max={max_attempts}");
            assert_eq!(info.sdk_request(), expected);
        }
        info.ttl = AttemptInfo::ttl_from(
            "Sat, 21 Nov 2026 08:14:54 GMT",
            std::time::Duration::from_secs(60),
        );
        info.attempt = 2;
        assert_eq!(info.sdk_request(), "ttl=20261121T081554Z; attempt=2; max=3");
        assert_eq!(
            AttemptInfo::ttl_from("yesterday", std::time::Duration::ZERO),
            None
        );
    }

    #[test]
    fn invocation_ids_are_fresh_version_4_uuids() {
        // The layout is sagerun_core::uuid's (tested there): each call
        // draws new bits.
        assert_eq!(uuid4()[14], b'4');
        assert_ne!(uuid4(), uuid4());
    }

    #[test]
    fn reused_targets_are_those_of_the_same_endpoint_operation_and_name() {
        // Every call here goes through the same thread's memo of the last
        // target: each must still get its own path and URI.
        let cases = [
            (
                "http://h",
                Operation::InvokeEndpoint,
                "a",
                "http://h/endpoints/a/invocations",
            ),
            (
                "http://h",
                Operation::InvokeEndpoint,
                "a",
                "http://h/endpoints/a/invocations",
            ),
            (
                "http://h",
                Operation::InvokeEndpoint,
                "b",
                "http://h/endpoints/b/invocations",
            ),
            (
                "http://h",
                Operation::InvokeEndpointAsync,
                "b",
                "http://h/endpoints/b/async-invocations",
            ),
            (
                "http://g",
                Operation::InvokeEndpointAsync,
                "b",
                "http://g/endpoints/b/async-invocations",
            ),
            (
                "https://g",
                Operation::InvokeEndpointAsync,
                "b",
                "https://g/endpoints/b/async-invocations",
            ),
            (
                "https://g/base",
                Operation::InvokeEndpointAsync,
                "b",
                "https://g/base/endpoints/b/async-invocations",
            ),
            (
                "https://g:8443/base",
                Operation::InvokeEndpointAsync,
                "b",
                "https://g:8443/base/endpoints/b/async-invocations",
            ),
            (
                "http://h",
                Operation::InvokeEndpoint,
                "a",
                "http://h/endpoints/a/invocations",
            ),
        ];
        for (url, op, name, expected) in cases {
            let e = Endpoint::parse(url).unwrap();
            let (path, uri) = e.target(op, name).unwrap();
            assert_eq!(uri.to_string(), expected);
            assert_eq!(path.as_str(), uri.path_and_query().unwrap().as_str());
        }
    }

    #[test]
    fn unknown_members_and_control_characters_are_refused() {
        let e = Endpoint::parse("http://h").unwrap();
        assert!(PreparedRequest::new(&e, call(&[("InputLocation", "s3://b/k")])).is_err());
        for bad in [
            "a\r\nX-Evil: 1",
            "a\nb",
            "a\u{0}b",
            "a\tb",
            "a\u{7f}",
            "caf\u{e9}",
        ] {
            assert!(
                PreparedRequest::new(&e, call(&[("CustomAttributes", bad)])).is_err(),
                "{bad:?}"
            );
        }
    }
}
