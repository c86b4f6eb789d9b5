//! The canonical request: method, canonical URI, canonical query, canonical
//! headers, signed-header list and payload hash, joined by `\n` (non-S3
//! rules: paths are normalised and their segments encoded a second time).

use percent_encoding::{percent_decode_str, percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::borrow::Cow;
use std::cmp::Ordering;

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

pub(crate) fn is_unsigned_header(name: &str) -> bool {
    UNSIGNED_HEADERS
        .iter()
        .any(|u| u.eq_ignore_ascii_case(name))
}

/// One header that takes part in the signature. The name is kept as given
/// and compared/written lower-cased, which saves an allocation per header.
pub(crate) struct SignedHeader<'a> {
    pub name: &'a str,
    pub value: &'a str,
}

/// Orders header names as their lower-case forms would sort.
fn cmp_lower(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

fn push_lower(out: &mut String, name: &str) {
    let start = out.len();
    out.push_str(name);
    out[start..].make_ascii_lowercase();
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
        if previous.is_some_and(|p| p.eq_ignore_ascii_case(header.name)) {
            out.push(',');
        } else {
            if previous.is_some() {
                out.push('\n');
                signed.push(';');
            }
            push_lower(out, header.name);
            out.push(':');
            push_lower(&mut signed, header.name);
            previous = Some(header.name);
        }
        push_trimmed_value(out, header.value);
    }
    if previous.is_some() {
        out.push('\n');
    }
    signed
}

/// Trims the value and collapses each run of spaces/tabs into one space.
/// (Byte-wise: space and tab are ASCII, so cuts stay on char boundaries.)
fn push_trimmed_value(out: &mut String, value: &str) {
    let is_blank = |b: &u8| *b == b' ' || *b == b'\t';
    let mut rest = value.trim_matches([' ', '\t']);
    while let Some(gap) = rest.bytes().position(|b| is_blank(&b)) {
        out.push_str(&rest[..gap]);
        out.push(' ');
        let after = rest[gap..]
            .bytes()
            .position(|b| !is_blank(&b))
            .unwrap_or(rest.len() - gap);
        rest = &rest[gap + after..];
    }
    out.push_str(rest);
}

/// Builds the whole canonical request. Returns it and the signed-header list.
pub(crate) fn canonical_request(
    method: &str,
    uri: &str,
    headers: &mut [SignedHeader<'_>],
    payload_hash: &str,
) -> (String, String) {
    headers.sort_by(|a, b| cmp_lower(a.name, b.name));
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
    fn names_sort_and_group_case_insensitively() {
        let mut headers = vec![
            SignedHeader {
                name: "X-B",
                value: "1",
            },
            SignedHeader {
                name: "x-a",
                value: "2",
            },
            SignedHeader {
                name: "X-A",
                value: "3",
            },
            SignedHeader {
                name: "X-a-long",
                value: "4",
            },
        ];
        headers.sort_by(|a, b| cmp_lower(a.name, b.name));
        let mut out = String::new();
        let signed = write_canonical_headers(&mut out, &headers);
        assert_eq!(out, "x-a:2,3\nx-a-long:4\nx-b:1\n");
        assert_eq!(signed, "x-a;x-a-long;x-b");
    }

    #[test]
    fn value_whitespace_runs_collapse() {
        let trimmed = |v: &str| {
            let mut out = String::new();
            push_trimmed_value(&mut out, v);
            out
        };
        assert_eq!(trimmed(""), "");
        assert_eq!(trimmed(" \t "), "");
        assert_eq!(trimmed("a"), "a");
        assert_eq!(trimmed(" \tሴ \t é  😀\t"), "ሴ é 😀");
        assert_eq!(trimmed("\"a   b   c\""), "\"a b c\"");
    }

    #[test]
    fn header_values_are_trimmed_and_joined() {
        let mut headers = vec![
            SignedHeader {
                name: "b",
                value: "  x   y \t z  ",
            },
            SignedHeader {
                name: "a",
                value: "2",
            },
            SignedHeader {
                name: "b",
                value: "w",
            },
            SignedHeader {
                name: "a",
                value: "1",
            },
        ];
        headers.sort_by(|a, b| cmp_lower(a.name, b.name));
        let mut out = String::new();
        let signed = write_canonical_headers(&mut out, &headers);
        assert_eq!(out, "a:2,1\nb:x y z,w\n");
        assert_eq!(signed, "a;b");
    }
}
