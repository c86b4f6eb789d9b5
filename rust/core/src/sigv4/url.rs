//! Splits a full URL (`https://host[:port]/path?query#fragment`) into the
//! `Host` header value and the request target, for callers that hold URLs
//! rather than wire requests. The Host value follows botocore's
//! `_host_from_url`: lower-case, no user info, default port dropped.

use super::time::snippet;
use super::SigningError;
use std::borrow::Cow;
use std::cell::RefCell;
use std::ops::Range;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitUrl<'a> {
    /// The value a `Host` header carries for this URL.
    pub host: Cow<'a, str>,
    /// `/path?query` (the fragment dropped; `/` when the path is empty).
    pub target: Cow<'a, str>,
}

fn bad(url: &str, why: &str) -> SigningError {
    SigningError::InvalidRequest(format!("URL {:?} {why}", snippet(url)))
}

/// Whether any byte of `text` passes `test`: a branch-free scan (which the
/// compiler vectorises) for checks that almost never find anything.
fn any_byte(text: &str, test: impl Fn(u8) -> bool) -> bool {
    text.bytes().fold(false, |found, b| found | test(b))
}

/// A client signs request after request to the same endpoint URL: each
/// thread remembers where the parts of the last URL it split are (when both
/// are plain slices of it), and finds them again with one comparison.
struct LastSplit {
    url: String,
    host: Range<usize>,
    target: Range<usize>,
}

thread_local! {
    static LAST: RefCell<Option<LastSplit>> = const { RefCell::new(None) };
}

pub fn split_url(url: &str) -> Result<SplitUrl<'_>, SigningError> {
    // (`try_with`: during thread teardown there is no memory, only work.)
    let remembered = LAST
        .try_with(|last| {
            last.borrow()
                .as_ref()
                .filter(|last| last.url == url)
                .map(|last| SplitUrl {
                    host: Cow::Borrowed(&url[last.host.clone()]),
                    target: Cow::Borrowed(&url[last.target.clone()]),
                })
        })
        .ok()
        .flatten();
    if let Some(split) = remembered {
        return Ok(split);
    }
    let split = split_url_uncached(url)?;
    if let (Cow::Borrowed(host), Cow::Borrowed(target)) = (&split.host, &split.target) {
        let (host, target) = (range_in(url, host), range_in(url, target));
        let _ = LAST.try_with(|last| match &mut *last.borrow_mut() {
            Some(last) => {
                last.url.clear();
                last.url.push_str(url);
                (last.host, last.target) = (host, target);
            }
            empty => {
                *empty = Some(LastSplit {
                    url: url.to_owned(),
                    host,
                    target,
                })
            }
        });
    }
    Ok(split)
}

/// Where `part`, a slice of `whole`, lies in it.
fn range_in(whole: &str, part: &str) -> Range<usize> {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    start..start + part.len()
}

fn split_url_uncached(url: &str) -> Result<SplitUrl<'_>, SigningError> {
    if any_byte(url, |b| b < 0x20 || b == 0x7f) {
        return Err(bad(url, "contains a control character"));
    }
    // The scheme ends at the first ':' (it cannot hold one).
    let (scheme, rest) = url
        .split_once(':')
        .and_then(|(scheme, rest)| Some((scheme, rest.strip_prefix("//")?)))
        .ok_or_else(|| bad(url, "has no scheme://"))?;
    let scheme_ok = scheme
        .as_bytes()
        .first()
        .is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok {
        return Err(bad(url, "has an invalid scheme"));
    }
    let authority_end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let target = tail
        .bytes()
        .position(|b| b == b'#')
        .map_or(tail, |end| &tail[..end]);
    let target = if target.starts_with('/') {
        Cow::Borrowed(target)
    } else {
        Cow::Owned(format!("/{target}"))
    };

    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = if host_port.starts_with('[') {
        let close = host_port
            .find(']')
            .ok_or_else(|| bad(url, "has an unclosed IPv6 bracket"))?;
        let (host, after) = host_port.split_at(close + 1);
        match after.strip_prefix(':') {
            Some(port) => (host, port),
            None if after.is_empty() => (host, ""),
            None => return Err(bad(url, "has text after the IPv6 address")),
        }
    } else {
        host_port.rsplit_once(':').unwrap_or((host_port, ""))
    };
    if host.is_empty() || host == "[]" {
        return Err(bad(url, "has no host"));
    }
    if any_byte(host, |b| b == b' ' || b == b'\\') {
        return Err(bad(url, "has an invalid host"));
    }
    let port: Option<u16> = if port.is_empty() {
        None
    } else if port.bytes().all(|b| b.is_ascii_digit()) {
        Some(
            port.parse()
                .map_err(|_| bad(url, "has a port out of range"))?,
        )
    } else {
        return Err(bad(url, "has a non-numeric port"));
    };
    let default_port = if scheme.eq_ignore_ascii_case("https") {
        Some(443)
    } else if scheme.eq_ignore_ascii_case("http") {
        Some(80)
    } else {
        None
    };
    let host = match port {
        Some(p) if Some(p) != default_port => Cow::Owned(format!("{}:{p}", host.to_lowercase())),
        _ if any_byte(host, |b| b.is_ascii_uppercase() || !b.is_ascii()) => {
            Cow::Owned(host.to_lowercase())
        }
        _ => Cow::Borrowed(host),
    };
    Ok(SplitUrl { host, target })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> (String, String) {
        let s = split_url(url).unwrap();
        (s.host.into_owned(), s.target.into_owned())
    }

    #[test]
    fn splits_like_botocore_host_from_url() {
        let own = |h: &str, t: &str| (h.to_owned(), t.to_owned());
        assert_eq!(
            split("https://Example.COM/a/b?x=1#frag"),
            own("example.com", "/a/b?x=1")
        );
        assert_eq!(split("https://example.com"), own("example.com", "/"));
        assert_eq!(
            split("https://example.com?x=1"),
            own("example.com", "/?x=1")
        );
        assert_eq!(split("https://example.com:443/"), own("example.com", "/"));
        assert_eq!(split("http://example.com:80/"), own("example.com", "/"));
        assert_eq!(
            split("http://example.com:443/"),
            own("example.com:443", "/")
        );
        assert_eq!(
            split("http://127.0.0.1:8080/p"),
            own("127.0.0.1:8080", "/p")
        );
        assert_eq!(split("https://user:pw@host:8443/"), own("host:8443", "/"));
        assert_eq!(split("http://[::1]:8080/x"), own("[::1]:8080", "/x"));
        assert_eq!(split("http://[::1]/x"), own("[::1]", "/x"));
        assert_eq!(split("https://h/a b/ሴ"), own("h", "/a b/ሴ"));
    }

    #[test]
    fn a_remembered_split_equals_a_fresh_one() {
        let urls = [
            "https://Example.COM/a/b?x=1#frag",
            "https://example.com/a/b?x=1",
            "http://example.com:443/",
            "https://example.com",
            "https://example.com/a/b?x=1",
        ];
        for url in urls.iter().chain(urls.iter().rev()) {
            for _ in 0..2 {
                assert_eq!(
                    split_url(url).unwrap(),
                    split_url_uncached(url).unwrap(),
                    "{url}"
                );
            }
        }
        // Same text in another string: found again, borrowed from the new one.
        let copy = String::from("https://example.com/a/b?x=1");
        let split = split_url(&copy).unwrap();
        assert_eq!(split.target, "/a/b?x=1");
        assert!(
            matches!(split.target, Cow::Borrowed(t) if std::ptr::eq(t.as_ptr(), copy[19..].as_ptr()))
        );
        assert!(split_url("https://host/a\r\n").is_err());
    }

    #[test]
    fn rejects_bad_urls() {
        for url in [
            "",
            "example.com/path",
            "/path",
            "://host/",
            "1http://host/",
            "https:///path",
            "https://host:99999/",
            "https://host:80a/",
            "https://[::1/",
            "https://[::1]x/",
            "https://host/a\r\nInjected: 1",
            "https://ho st/",
        ] {
            assert!(split_url(url).is_err(), "{url:?}");
        }
    }
}
