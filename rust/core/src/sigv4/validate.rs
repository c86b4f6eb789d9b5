//! Input checks: everything the signer puts on the wire or into the
//! credential scope is checked before anything is signed, so that a bad
//! value is a clear error instead of a request the server cannot parse (or
//! a header injection).

use super::SigningError;

fn invalid(msg: String) -> SigningError {
    SigningError::InvalidRequest(msg)
}

/// RFC 9110 `tchar`: what an HTTP method or header name may consist of,
/// as a table (one load per byte: every header name is checked per request).
const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

fn is_token(s: &str) -> bool {
    // Branch-free (valid names are the rule): one load and AND per byte.
    !s.is_empty() && s.bytes().fold(true, |ok, b| ok & TCHAR[usize::from(b)])
}

/// Where the first control character (other than tab when `tab_ok`) is.
/// The common case, none, is a branch-free scan the compiler vectorises;
/// the position is only looked for once one was seen.
fn control_at(bytes: &[u8], tab_ok: bool) -> Option<usize> {
    let is_control = |b: u8| (b < 0x20 && !(tab_ok && b == b'\t')) || b == 0x7f;
    let seen = bytes.iter().fold(false, |seen, &b| seen | is_control(b));
    if seen {
        bytes.iter().position(|&b| is_control(b))
    } else {
        None
    }
}

pub(crate) fn method(m: &str) -> Result<(), SigningError> {
    if is_token(m) {
        Ok(())
    } else {
        Err(invalid(format!(
            "HTTP method {:?} is not a token",
            super::time::snippet(m)
        )))
    }
}

pub(crate) fn header_name(name: &str) -> Result<(), SigningError> {
    if is_token(name) {
        Ok(())
    } else {
        Err(invalid(format!(
            "header name {:?} is empty or has characters HTTP does not allow",
            super::time::snippet(name)
        )))
    }
}

/// Header values may hold visible characters, spaces, tabs and non-ASCII
/// text; CR, LF and the other control characters are refused (header
/// injection). The value is not echoed: it may be a secret.
pub(crate) fn header_value(name: &str, value: &str) -> Result<(), SigningError> {
    match control_at(value.as_bytes(), true) {
        None => Ok(()),
        Some(at) => Err(invalid(format!(
            "value of header {:?} has control character {:#04x} at byte {at}",
            super::time::snippet(name),
            value.as_bytes()[at]
        ))),
    }
}

/// The request target as sent: origin form (`/path?query`), no fragment, no
/// control characters. Spaces and raw UTF-8 are tolerated (the AWS suite
/// signs such targets).
pub(crate) fn request_target(uri: &str) -> Result<(), SigningError> {
    if !uri.starts_with('/') {
        return Err(invalid(format!(
            "request target {:?} does not start with '/'",
            super::time::snippet(uri)
        )));
    }
    if uri.as_bytes().contains(&b'#') {
        return Err(invalid(
            "request target contains a fragment ('#')".to_owned(),
        ));
    }
    if let Some(at) = control_at(uri.as_bytes(), false) {
        return Err(invalid(format!(
            "request target has control character {:#04x} at byte {at}",
            uri.as_bytes()[at]
        )));
    }
    Ok(())
}

/// Region and service names are parts of the credential scope
/// (`date/region/service/aws4_request`).
pub(crate) fn scope_part(what: &str, value: &str) -> Result<(), SigningError> {
    if !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what} {:?} must be non-empty ASCII letters, digits, '-', '_' or '.'",
            super::time::snippet(value)
        )))
    }
}

/// The access key goes into `Credential=AK/...,`: it must not break that
/// grammar.
pub(crate) fn access_key(ak: &str) -> Result<(), SigningError> {
    if !ak.is_empty()
        && ak
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"/,=".contains(&b))
    {
        Ok(())
    } else {
        Err(invalid(
            "access key must be non-empty visible ASCII without '/', ',' or '='".to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values() {
        assert!(header_value("a", "plain text\twith tab, ünïcödé").is_ok());
        for bad in [
            "a\r\nInjected: 1",
            "a\nb",
            "a\rb",
            "nul\0",
            "del\x7f",
            "vt\x0b",
        ] {
            assert!(header_value("x", bad).is_err(), "{bad:?}");
        }
        let err = header_value("X-Secret", "s3cr3t\n")
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("s3cr3t"),
            "the value must not be echoed: {err}"
        );
    }

    #[test]
    fn names_and_methods() {
        assert!(header_name("X-Amz-Date").is_ok());
        for bad in ["", "Bad Name", "a:b", "é", "a\nb"] {
            assert!(header_name(bad).is_err(), "{bad:?}");
            assert!(method(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn targets_and_scope() {
        assert!(request_target("/a b/ሴ?x=1").is_ok());
        for bad in ["", "a/b", "/a#frag", "/a\nb", "http://host/"] {
            assert!(request_target(bad).is_err(), "{bad:?}");
        }
        assert!(scope_part("region", "us-west-2").is_ok());
        for bad in ["", "us west", "a/b", "é"] {
            assert!(scope_part("region", bad).is_err(), "{bad:?}");
        }
        assert!(access_key("AKIDEXAMPLE").is_ok());
        for bad in ["", "AK/ID", "AK,ID", "AK ID"] {
            assert!(access_key(bad).is_err(), "{bad:?}");
        }
    }
}
