//! Reading responses: the head as botocore reports it (lower-cased header
//! names), whole bodies with a size cap, and the error code of an error
//! response (for retry decisions; the Python layer parses errors in full).

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};
use http::header::{GetAll, HeaderMap, HeaderValue};
use http_body_util::BodyExt;
use sagerun_core::protocol;

use crate::error::ClientError;
use crate::transport::{self, ResponseBody};

/// A response body larger than this is refused rather than buffered
/// (SageMaker answers at most a few MiB; a hostile server could send more).
pub const MAX_RESPONSE_BODY_BYTES: usize = 64 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// As they arrived (names lower-cased); `entries` and `get` give them
    /// as botocore reports them.
    pub headers: HeaderMap,
}

impl Head {
    /// A response's head and body (its header map moves here, nothing is
    /// copied).
    pub fn split<B>(response: http::Response<B>) -> (Head, B) {
        let (parts, body) = response.into_parts();
        let head = Head {
            status: parts.status.as_u16(),
            headers: parts.headers,
        };
        (head, body)
    }

    /// `(name, value)` as urllib3 and so botocore report them: lower-cased
    /// names, each once, in arrival order; a repeated name's values joined
    /// with ", ".
    pub fn entries(&self) -> impl Iterator<Item = (&str, Cow<'_, str>)> {
        // The map yields a name's values one after another, so they are
        // joined without looking the name up again.
        let mut all = self.headers.iter().peekable();
        std::iter::from_fn(move || {
            let (name, first) = all.next()?;
            let mut value = text(first);
            while let Some((_, more)) = all.next_if(|(next, _)| *next == name) {
                let joined = value.to_mut();
                joined.push_str(", ");
                joined.push_str(&text(more));
            }
            Some((name.as_str(), value))
        })
    }

    /// Looks a header up by name, case-insensitively (repeated values
    /// joined as in `entries`).
    pub fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        joined(self.headers.get_all(name))
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

fn joined(values: GetAll<'_, HeaderValue>) -> Option<Cow<'_, str>> {
    let mut values = values.iter();
    let first = text(values.next()?);
    let Some(second) = values.next() else {
        return Some(first);
    };
    let mut out = first.into_owned();
    for value in std::iter::once(second).chain(values) {
        out.push_str(", ");
        out.push_str(&text(value));
    }
    Some(Cow::Owned(out))
}

/// A header value as text: UTF-8, invalid bytes replaced. (Checked as
/// UTF-8 first: `from_utf8_lossy` costs more, and nearly every value is
/// plain ASCII.)
fn text(value: &HeaderValue) -> Cow<'_, str> {
    match std::str::from_utf8(value.as_bytes()) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(value.as_bytes()),
    }
}

/// How a call's attempts went, as botocore reports it in ResponseMetadata.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetryReport {
    /// Attempts made (1 = no retry).
    pub attempts: u32,
    pub flags: crate::retry::Flags,
}

/// A complete response: its head, its whole body and how its attempts went.
#[derive(Clone, Debug)]
pub struct Response {
    /// The operation answered (which header-bound members it has).
    pub op: protocol::Operation,
    pub head: Head,
    pub body: Bytes,
    pub retries: RetryReport,
}

/// Reads a whole body, failing cleanly past `MAX_RESPONSE_BODY_BYTES`.
/// (`url` is only formatted for an error.)
pub async fn read_body(url: &http::Uri, mut body: ResponseBody) -> Result<Bytes, ClientError> {
    use hyper::body::Body;
    let too_large = || ClientError::ResponseTooLarge {
        url: url.to_string(),
        limit: MAX_RESPONSE_BODY_BYTES,
    };
    // A declared Content-Length over the limit is refused before reading.
    if body.size_hint().lower() > MAX_RESPONSE_BODY_BYTES as u64 {
        return Err(too_large());
    }
    let declared = body.size_hint().exact();
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| body_failure(url, &e, total, declared))?;
        if let Ok(data) = frame.into_data() {
            total += data.len();
            if total > MAX_RESPONSE_BODY_BYTES {
                return Err(too_large());
            }
            chunks.push(data);
        }
    }
    // A body that arrived in one piece keeps its buffer (no copy).
    if chunks.len() == 1 {
        return Ok(chunks.pop().unwrap_or_default());
    }
    let mut out = BytesMut::with_capacity(total);
    for chunk in chunks {
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// What a failure while reading a body (after its head) is: timeouts stay
/// timeouts; a broken connection is a body cut short, reported like
/// urllib3's IncompleteRead (bytes read, bytes still expected).
fn body_failure(
    url: &http::Uri,
    error: &hyper::Error,
    read: usize,
    declared: Option<u64>,
) -> ClientError {
    match transport::classify(&url.to_string(), error) {
        ClientError::ConnectionClosed { url, reason } => {
            let reason = match declared {
                Some(length) => format!(
                    "IncompleteRead({read} bytes read, {} more expected)",
                    length.saturating_sub(read as u64)
                ),
                None => format!("IncompleteRead({read} bytes read): {reason}"),
            };
            ClientError::BodyCut { url, reason }
        }
        other => other,
    }
}

/// The error code of an error response, as botocore's rest-json parser finds
/// it: the `x-amzn-ErrorType` header, else the body's `code`, `Code` or
/// `__type`; sanitised (`ns#Code:uri` -> `Code`).
pub fn error_code(head: &Head, body: &[u8]) -> Option<String> {
    if let Some(raw) = head.get(protocol::header::ERROR_TYPE) {
        let code = protocol::sanitize_error_code(&raw);
        if !code.is_empty() {
            return Some(code.to_string());
        }
    }
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    ["code", "Code", "__type"]
        .iter()
        .find_map(|key| json.get(key).and_then(|v| v.as_str()))
        .map(|raw| protocol::sanitize_error_code(raw).to_string())
        .filter(|code| !code.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(headers: &[(&str, &str)]) -> Head {
        let mut response = http::Response::builder().status(400);
        for (name, value) in headers {
            response = response.header(*name, *value);
        }
        Head::split(response.body(()).unwrap()).0
    }

    #[test]
    fn error_code_prefers_the_header_and_sanitises() {
        let h = head(&[("x-amzn-errortype", "ModelError:http://internal/")]);
        assert_eq!(
            error_code(&h, b"{\"code\":\"Other\"}").as_deref(),
            Some("ModelError")
        );
        let h = head(&[]);
        assert_eq!(
            error_code(&h, b"{\"__type\":\"com.amazon#ThrottlingException\"}").as_deref(),
            Some("ThrottlingException")
        );
        assert_eq!(error_code(&h, b"not json"), None);
    }

    #[test]
    fn repeated_headers_are_joined() {
        let response = http::Response::builder()
            .status(200)
            .header("X-A", "1")
            .header("x-a", "2")
            .header("B", "3")
            .body(())
            .unwrap();
        let (h, _) = Head::split(response);
        let entries: Vec<(&str, Cow<str>)> = h.entries().collect();
        assert_eq!(entries, [("x-a", "1, 2".into()), ("b", "3".into())]);
        assert_eq!(h.get("X-A").as_deref(), Some("1, 2"));
        assert_eq!(h.get("b").as_deref(), Some("3"));
        assert_eq!(h.get("c"), None);
    }
}
