//! The canonical request: method, canonical URI, canonical query, canonical
//! headers, signed-header list and payload hash, joined by `\n` (non-S3
//! rules: paths are normalised and their segments encoded a second time).

use percent_encoding::{percent_decode_str, percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::borrow::Cow;

/// SigV4 encodes every byte except the RFC 3986 unreserved characters.
const SIGV4_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Headers botocore never signs (`SIGNED_HEADERS_BLACKLIST` in its auth.py,
/// as of botocore 1.44, which added the W3C trace-context ones): proxies,
/// HTTP stacks and tracers add, drop or rewrite them in flight.
pub const UNSIGNED_HEADERS: [&str; 14] = [
    "baggage",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "traceparent",
    "tracestate",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
];

pub(crate) fn is_unsigned_header(lower_name: &str) -> bool {
    UNSIGNED_HEADERS.contains(&lower_name)
}

/// A header name lower-cased (borrowed when it already is).
pub(crate) fn lower_name(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

/// One header that takes part in the signature.
pub(crate) struct SignedHeader<'a> {
    pub name: Cow<'a, str>,
    pub value: &'a str,
}

/// Splits a request target into its path and (possibly empty) query.
pub(crate) fn split_target(uri: &str) -> (&str, &str) {
    uri.split_once('?').unwrap_or((uri, ""))
}

/// Appends the canonical URI: dot segments resolved and empty segments
/// dropped (as botocore's `remove_dot_segments` does: a trailing slash
/// survives only if something is left), then each segment encoded.
pub(crate) fn write_canonical_uri(out: &mut String, path: &str) {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    out.push('/');
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.extend(percent_encode(segment.as_bytes(), SIGV4_ENCODE));
    }
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
}

/// Appends the canonical query: each `name=value` pair percent-decoded, then
/// encoded the SigV4 way, sorted by name and then value. Empty pairs (`a&&b`)
/// are not parameters; `+` is a literal plus (RFC 3986, not form encoding).
pub(crate) fn write_canonical_query(out: &mut String, query: &str) {
    if query.is_empty() {
        return;
    }
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (reencode(name), reencode(value))
        })
        .collect();
    pairs.sort_unstable();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
}

fn reencode(component: &str) -> String {
    let decoded: Cow<'_, [u8]> = percent_decode_str(component).into();
    percent_encode(&decoded, SIGV4_ENCODE).to_string()
}

/// Appends `name:value\n` lines for the sorted headers (repeated names
/// joined with `,` in the order given) and returns the signed-header list.
/// `headers` must already be sorted by name, stably.
pub(crate) fn write_canonical_headers(out: &mut String, headers: &[SignedHeader<'_>]) -> String {
    let mut signed = String::with_capacity(headers.len() * 16);
    let mut previous: Option<&str> = None;
    for header in headers {
        if previous == Some(&*header.name) {
            out.push(',');
        } else {
            if previous.is_some() {
                out.push('\n');
                signed.push(';');
            }
            out.push_str(&header.name);
            out.push(':');
            signed.push_str(&header.name);
            previous = Some(&header.name);
        }
        push_trimmed_value(out, header.value);
    }
    if previous.is_some() {
        out.push('\n');
    }
    signed
}

/// Trims the value and collapses each run of spaces/tabs into one space.
fn push_trimmed_value(out: &mut String, value: &str) {
    let mut first = true;
    for word in value.split([' ', '\t']).filter(|w| !w.is_empty()) {
        if !first {
            out.push(' ');
        }
        out.push_str(word);
        first = false;
    }
}

/// Builds the whole canonical request. Returns it and the signed-header list.
pub(crate) fn canonical_request(
    method: &str,
    uri: &str,
    headers: &mut [SignedHeader<'_>],
    payload_hash: &str,
) -> (String, String) {
    headers.sort_by(|a, b| a.name.cmp(&b.name));
    let (path, query) = split_target(uri);
    let mut out = String::with_capacity(256 + uri.len() * 2 + headers.len() * 48);
    out.push_str(method);
    out.push('\n');
    write_canonical_uri(&mut out, path);
    out.push('\n');
    write_canonical_query(&mut out, query);
    out.push('\n');
    let signed = write_canonical_headers(&mut out, headers);
    out.push('\n');
    out.push_str(&signed);
    out.push('\n');
    out.push_str(payload_hash);
    (out, signed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(path: &str) -> String {
        let mut out = String::new();
        write_canonical_uri(&mut out, path);
        out
    }

    fn query(q: &str) -> String {
        let mut out = String::new();
        write_canonical_query(&mut out, q);
        out
    }

    #[test]
    fn uri_normalisation_follows_botocore() {
        // Expected values worked out by hand from botocore's
        // remove_dot_segments + quote(safe='/~').
        assert_eq!(uri("/"), "/");
        assert_eq!(uri(""), "/");
        assert_eq!(uri("//a//b//"), "/a/b/");
        assert_eq!(uri("/a/b/.."), "/a");
        assert_eq!(uri("/a/."), "/a");
        assert_eq!(uri("/../.."), "/");
        assert_eq!(uri("/a/%2F b"), "/a/%252F%20b");
        assert_eq!(uri("/ሴ/$"), "/%E1%88%B4/%24");
    }

    #[test]
    fn query_is_decoded_reencoded_and_sorted() {
        assert_eq!(query("b=2&a=1&a=0"), "a=0&a=1&b=2");
        assert_eq!(query("a&&=x&b="), "=x&a=&b=");
        assert_eq!(query("k=a+b%20c"), "k=a%2Bb%20c");
        // Invalid UTF-8 and broken escapes survive byte for byte.
        assert_eq!(query("k=%FF%zz%"), "k=%FF%25zz%25");
        assert_eq!(query("%E1%88%B4=1&ሴ=0"), "%E1%88%B4=0&%E1%88%B4=1");
    }

    #[test]
    fn header_values_are_trimmed_and_joined() {
        let mut headers = vec![
            SignedHeader {
                name: "b".into(),
                value: "  x   y \t z  ",
            },
            SignedHeader {
                name: "a".into(),
                value: "2",
            },
            SignedHeader {
                name: "b".into(),
                value: "w",
            },
            SignedHeader {
                name: "a".into(),
                value: "1",
            },
        ];
        headers.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out = String::new();
        let signed = write_canonical_headers(&mut out, &headers);
        assert_eq!(out, "a:2,1\nb:x y z,w\n");
        assert_eq!(signed, "a;b");
    }
}
