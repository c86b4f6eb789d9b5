//! Reading responses: the head as botocore reports it (lower-cased header
//! names), whole bodies with a size cap, and the error code of an error
//! response (for retry decisions; the Python layer parses errors in full).

use bytes::{Bytes, BytesMut};
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
    /// Lower-cased names in arrival order; repeated names joined with ", "
    /// (as urllib3 and so botocore report them).
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn of<B>(response: &http::Response<B>) -> Head {
        let mut headers: Vec<(String, String)> = Vec::with_capacity(response.headers().len());
        for (name, value) in response.headers() {
            // Checked as UTF-8 first: `from_utf8_lossy` costs more, and
            // nearly every value is plain ASCII.
            let value = match std::str::from_utf8(value.as_bytes()) {
                Ok(text) => std::borrow::Cow::Borrowed(text),
                Err(_) => String::from_utf8_lossy(value.as_bytes()),
            };
            match headers.iter_mut().find(|(n, _)| n == name.as_str()) {
                Some((_, joined)) => {
                    joined.push_str(", ");
                    joined.push_str(&value);
                }
                None => headers.push((name.as_str().to_string(), value.into_owned())),
            }
        }
        Head {
            status: response.status().as_u16(),
            headers,
        }
    }

    /// Looks a header up by name, case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
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
        let code = protocol::sanitize_error_code(raw);
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
        Head {
            status: 400,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
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
        let h = Head::of(&response);
        assert_eq!(
            h.headers,
            vec![("x-a".into(), "1, 2".into()), ("b".into(), "3".into())]
        );
        assert_eq!(h.get("X-A"), Some("1, 2"));
    }
}
