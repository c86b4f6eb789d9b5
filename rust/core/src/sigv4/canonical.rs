//! The canonical request: method, canonical URI, canonical query, canonical
//! headers, signed-header list and payload hash, joined by `\n` (non-S3
//! rules: paths are normalised and their segments encoded a second time).

use percent_encoding::{percent_decode_str, percent_encode, AsciiSet, NON_ALPHANUMERIC};
use smallvec::SmallVec;
use std::borrow::Cow;

use super::sink::Sink;

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

/// `lower_name`: a lower-cased header name (see [`lower_names`]).
pub(crate) fn is_unsigned_header(lower_name: &[u8]) -> bool {
    UNSIGNED_HEADERS.iter().any(|u| u.as_bytes() == lower_name)
}

/// One header that takes part in the signature, its name lower-cased
/// (see [`lower_names`]). `order` is the name's first 8 bytes,
/// big-endian: comparing it settles most sort comparisons in one step.
pub(crate) struct SignedHeader<'a> {
    pub name: &'a [u8],
    pub value: &'a str,
    order: u64,
}

impl<'a> SignedHeader<'a> {
    pub(crate) fn new(lower_name: &'a [u8], value: &'a str) -> SignedHeader<'a> {
        // Built arithmetically: reading back a just-copied short array as
        // one u64 stalls the CPU (failed store forwarding). Zero padding
        // sorts a short name before its extensions, as the byte-wise
        // comparison does (header names hold no NUL bytes).
        let n = lower_name.len().min(8);
        let prefix = lower_name[..n]
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        SignedHeader {
            name: lower_name,
            value,
            // (An empty name, refused elsewhere, would shift by 64.)
            order: prefix.checked_shl(8 * (8 - n as u32)).unwrap_or(0),
        }
    }
}

/// The signed headers, on the stack for any ordinary request.
pub(crate) type SignedHeaders<'a> = SmallVec<[SignedHeader<'a>; 16]>;

/// The lower-cased names of one request's headers, side by side: names
/// are compared and written lower-case (each signed one three times), so
/// they are lower-cased once, in one pass.
pub(crate) type LowerNames = SmallVec<[u8; 256]>;

/// The names of `headers`, lower-cased into `names`, in order.
pub(crate) fn lower_names<'n>(
    headers: &'n [(&str, &str)],
    names: &'n mut LowerNames,
) -> impl Iterator<Item = &'n [u8]> + 'n {
    names.clear();
    for (name, _) in headers {
        names.extend_from_slice(name.as_bytes());
    }
    // ASCII only: UTF-8 stays valid.
    names.make_ascii_lowercase();
    let names: &'n LowerNames = names;
    let mut at = 0;
    headers.iter().map(move |(name, _)| {
        let lower = &names[at..at + name.len()];
        at += name.len();
        lower
    })
}

/// Sorts by name, stably: repeated names keep their order.
pub(crate) fn sort_signed_headers(headers: &mut [SignedHeader<'_>]) {
    headers.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.name.cmp(b.name)));
}

/// Splits a request target into its path and (possibly empty) query.
pub(crate) fn split_target(uri: &str) -> (&str, &str) {
    // A byte scan: `str::split_once` sets up a general searcher per call.
    match uri.bytes().position(|b| b == b'?') {
        Some(at) => (&uri[..at], &uri[at + 1..]),
        None => (uri, ""),
    }
}

/// Appends the canonical URI: dot segments resolved and empty segments
/// dropped (as botocore's `remove_dot_segments` does: a trailing slash
/// survives only if something is left), then each segment encoded.
pub(crate) fn write_canonical_uri(out: &mut impl Sink, path: &str) {
    if is_canonical_already(path.as_bytes()) {
        out.put(path.as_bytes());
    } else {
        write_normalised_uri(out, path);
    }
}

/// Whether a path is its own canonical form (as API paths like
/// `/endpoints/name/invocations` are): it starts with '/', holds only
/// unreserved characters and '/', and has no empty segment (but a last
/// one: a trailing slash) and no segment starting with '.' (which covers
/// the dot segments). Branch-free scans: the answer is nearly always yes.
fn is_canonical_already(path: &[u8]) -> bool {
    let Some(rest) = path.strip_prefix(b"/") else {
        return false;
    };
    let plain = rest.iter().fold(true, |ok, &b| {
        ok & (b.is_ascii_alphanumeric() | matches!(b, b'-' | b'.' | b'_' | b'~' | b'/'))
    });
    let odd_segment = path.windows(2).fold(false, |odd, pair| {
        odd | ((pair[0] == b'/') & matches!(pair[1], b'/' | b'.'))
    });
    plain & !odd_segment
}

/// [`write_canonical_uri`] for any path.
fn write_normalised_uri(out: &mut impl Sink, path: &str) {
    let mut segments: SmallVec<[&[u8]; 16]> = SmallVec::new();
    // Split as bytes ('/' is ASCII): cheaper than `str::split`'s searcher.
    for segment in path.as_bytes().split(|&b| b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    out.put(b"/");
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            out.put(b"/");
        }
        write_encoded(out, segment);
    }
    if path.ends_with('/') && !segments.is_empty() {
        out.put(b"/");
    }
}

fn write_encoded(out: &mut impl Sink, raw: &[u8]) {
    for piece in percent_encode(raw, SIGV4_ENCODE) {
        out.put(piece.as_bytes());
    }
}

/// Appends the canonical query: each `name=value` pair percent-decoded, then
/// encoded the SigV4 way, sorted by name and then value. Empty pairs (`a&&b`)
/// are not parameters; `+` is a literal plus (RFC 3986, not form encoding).
pub(crate) fn write_canonical_query(out: &mut impl Sink, query: &str) {
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
            out.put(b"&");
        }
        out.put(name.as_bytes());
        out.put(b"=");
        out.put(value.as_bytes());
    }
}

fn reencode(component: &str) -> String {
    let decoded: Cow<'_, [u8]> = percent_decode_str(component).into();
    percent_encode(&decoded, SIGV4_ENCODE).to_string()
}

/// Runs of headers sharing a (case-insensitive) name, in sorted order.
fn name_groups<'h, 'a>(
    headers: &'h [SignedHeader<'a>],
) -> impl Iterator<Item = &'h [SignedHeader<'a>]> {
    headers.chunk_by(|a, b| a.order == b.order && a.name == b.name)
}

/// Appends `name:value\n` lines for the sorted headers (repeated names
/// joined with `,` in the order given).
pub(crate) fn write_canonical_headers(out: &mut impl Sink, headers: &[SignedHeader<'_>]) {
    for group in name_groups(headers) {
        out.put(group[0].name);
        out.put(b":");
        for (i, header) in group.iter().enumerate() {
            if i > 0 {
                out.put(b",");
            }
            write_trimmed_value(out, header.value);
        }
        out.put(b"\n");
    }
}

/// Appends the signed-header list (`a;b;c`) of the sorted headers: it goes
/// into the canonical request and into the Authorization header.
pub(crate) fn write_signed_list(out: &mut impl Sink, headers: &[SignedHeader<'_>]) {
    for (i, group) in name_groups(headers).enumerate() {
        if i > 0 {
            out.put(b";");
        }
        out.put(group[0].name);
    }
}

/// Trims the value and collapses each run of spaces/tabs into one space.
/// Most values have nothing to trim: they are copied in one piece.
fn write_trimmed_value(out: &mut impl Sink, value: &str) {
    let bytes = value.as_bytes();
    if !needs_trimming(bytes) {
        out.put(bytes);
        return;
    }
    for (i, word) in bytes
        .split(|b| is_blank(*b))
        .filter(|w| !w.is_empty())
        .enumerate()
    {
        if i > 0 {
            out.put(b" ");
        }
        out.put(word);
    }
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Whether a value has a tab, two spaces in a row, or a blank at either end.
/// (A branch-free scan over byte pairs, which the compiler vectorises:
/// values are often long and rarely need trimming.)
fn needs_trimming(bytes: &[u8]) -> bool {
    // Most values have no blank at all: one quick search says so.
    if memchr::memchr2(b' ', b'\t', bytes).is_none() {
        return false;
    }
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    let inner = bytes
        .iter()
        .zip(&bytes[1..])
        .fold(false, |found, (&a, &b)| {
            found | (a == b'\t') | ((a == b' ') & (b == b' '))
        });
    inner | is_blank(first) | is_blank(last)
}

/// Writes the whole canonical request into `out`; `signed_list`: what
/// [`write_signed_list`] writes for `sorted_headers`.
pub(crate) fn write_canonical_request(
    out: &mut impl Sink,
    method: &str,
    uri: &str,
    sorted_headers: &[SignedHeader<'_>],
    signed_list: &[u8],
    payload_hash: &[u8],
) {
    write_canonical_head(out, method, uri, sorted_headers, signed_list);
    out.put(payload_hash);
}

/// The canonical request up to its last line, the payload hash: all of it
/// that a request's body does not change.
pub(crate) fn write_canonical_head(
    out: &mut impl Sink,
    method: &str,
    uri: &str,
    sorted_headers: &[SignedHeader<'_>],
    signed_list: &[u8],
) {
    let (path, query) = split_target(uri);
    out.put(method.as_bytes());
    out.put(b"\n");
    write_canonical_uri(out, path);
    out.put(b"\n");
    write_canonical_query(out, query);
    out.put(b"\n");
    write_canonical_headers(out, sorted_headers);
    out.put(b"\n");
    out.put(signed_list);
    out.put(b"\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        write(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn uri(path: &str) -> String {
        written(|out| write_canonical_uri(out, path))
    }

    fn query(q: &str) -> String {
        written(|out| write_canonical_query(out, q))
    }

    /// Canonical header lines and signed-header list of `pairs`.
    fn headers(pairs: &[(&str, &str)]) -> (String, String) {
        let mut names = LowerNames::new();
        let mut headers: SignedHeaders<'_> = lower_names(pairs, &mut names)
            .zip(pairs)
            .map(|(lower, &(_, value))| SignedHeader::new(lower, value))
            .collect();
        sort_signed_headers(&mut headers);
        (
            written(|out| write_canonical_headers(out, &headers)),
            written(|out| write_signed_list(out, &headers)),
        )
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
    fn paths_taken_as_they_are_are_their_normalised_form() {
        let normalised = |path: &str| written(|out| write_normalised_uri(out, path));
        for path in [
            "/",
            "/a",
            "/a/",
            "/endpoints/my-endpoint/invocations",
            "/a.b/c~d_e-f",
            "/a./b",
        ] {
            assert!(is_canonical_already(path.as_bytes()), "{path:?}");
            assert_eq!(uri(path), normalised(path));
        }
        for path in [
            "", "a", "//", "/a//b", "/.", "/..", "/a/.", "/a/..", "/.a", "/a/./b", "/a%20", "/a b",
            "/a?", "/ሴ", "/a/+",
        ] {
            assert!(!is_canonical_already(path.as_bytes()), "{path:?}");
        }
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
        let (lines, signed) =
            headers(&[("X-B", "1"), ("x-a", "2"), ("X-A", "3"), ("X-a-long", "4")]);
        assert_eq!(lines, "x-a:2,3\nx-a-long:4\nx-b:1\n");
        assert_eq!(signed, "x-a;x-a-long;x-b");
    }

    #[test]
    fn long_names_sharing_a_prefix_sort_by_the_whole_name() {
        // Equal first 8 bytes: the sort key ties, the full comparison decides.
        let (lines, signed) = headers(&[
            ("X-Amzn-Zeta", "1"),
            ("x-amzn-alpha", "2"),
            ("X-AMZN-ALPHA", "3"),
            ("x-amzn", "4"),
            ("x-amz", "5"),
        ]);
        assert_eq!(
            lines,
            "x-amz:5\nx-amzn:4\nx-amzn-alpha:2,3\nx-amzn-zeta:1\n"
        );
        assert_eq!(signed, "x-amz;x-amzn;x-amzn-alpha;x-amzn-zeta");
    }

    #[test]
    fn value_whitespace_runs_collapse() {
        let trimmed = |v: &str| written(|out| write_trimmed_value(out, v));
        assert_eq!(trimmed(""), "");
        assert_eq!(trimmed(" \t "), "");
        assert_eq!(trimmed(" "), "");
        assert_eq!(trimmed("\t"), "");
        assert_eq!(trimmed("a"), "a");
        assert_eq!(trimmed("a b"), "a b");
        assert_eq!(trimmed("a\tb"), "a b");
        assert_eq!(trimmed("ab\t"), "ab");
        assert_eq!(trimmed(" \tሴ \t é  😀\t"), "ሴ é 😀");
        assert_eq!(trimmed("\"a   b   c\""), "\"a b c\"");
    }

    #[test]
    fn header_values_are_trimmed_and_joined() {
        let (lines, signed) =
            headers(&[("b", "  x   y \t z  "), ("a", "2"), ("b", "w"), ("a", "1")]);
        assert_eq!(lines, "a:2,1\nb:x y z,w\n");
        assert_eq!(signed, "a;b");
    }
}
