//! The `Authorization` header value: written by `sign`, parsed by servers.
//! `AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/aws4_request,
//! SignedHeaders=a;b;c, Signature=<64 hex>`

use super::canonical::{write_signed_list, SignedHeader};
use super::sink::Sink;
use super::time::snippet;
use super::{ParsedAuthorization, Scope, SigningError};

pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
pub(crate) const TERMINATOR: &str = "aws4_request";

/// The header value up to its signature, begun before the canonical
/// request: the signed-header list (`a;b;c`) is written once, here, and
/// the canonical request takes its copy from here.
pub(crate) struct Draft {
    text: Vec<u8>,
    /// Where the signed-header list starts in `text` (it runs to the end).
    list_at: usize,
}

impl Draft {
    pub(crate) fn new(
        access_key: &str,
        scope: &Scope<'_>,
        signed_headers: &[SignedHeader<'_>],
    ) -> Draft {
        let mut text = Vec::with_capacity(160 + access_key.len() + signed_headers.len() * 24);
        text.put(ALGORITHM.as_bytes());
        text.put(b" Credential=");
        text.put(access_key.as_bytes());
        text.put(b"/");
        scope.write(&mut text);
        text.put(b", SignedHeaders=");
        let list_at = text.len();
        write_signed_list(&mut text, signed_headers);
        Draft { text, list_at }
    }

    pub(crate) fn signed_list(&self) -> &[u8] {
        &self.text[self.list_at..]
    }

    /// The whole header value. (The draft stays: a remembered request
    /// head signs its next body with it.)
    pub(crate) fn finish(&self, signature_hex: &[u8; 64]) -> String {
        const SIGNATURE: &[u8] = b", Signature=";
        let mut text = Vec::with_capacity(self.text.len() + SIGNATURE.len() + signature_hex.len());
        text.put(&self.text);
        text.put(SIGNATURE);
        text.put(signature_hex);
        String::from_utf8(text).expect("built from str pieces")
    }
}

fn malformed(msg: impl Into<String>) -> SigningError {
    SigningError::MalformedAuthorization(msg.into())
}

pub(crate) fn parse(value: &str) -> Result<ParsedAuthorization, SigningError> {
    let rest = value
        .trim()
        .strip_prefix(ALGORITHM)
        .filter(|rest| rest.starts_with(' '))
        .ok_or_else(|| malformed(format!("algorithm is not {ALGORITHM}")))?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim_matches(' ');
        let (name, field) = part
            .split_once('=')
            .ok_or_else(|| malformed(format!("component {:?} has no '='", snippet(part))))?;
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(malformed(format!("unknown component {:?}", snippet(name)))),
        };
        if slot.replace(field).is_some() {
            return Err(malformed(format!("{name} appears twice")));
        }
    }
    let credential = credential.ok_or_else(|| malformed("Credential is missing"))?;
    let signed_headers = signed_headers.ok_or_else(|| malformed("SignedHeaders is missing"))?;
    let signature = signature.ok_or_else(|| malformed("Signature is missing"))?;

    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, service, terminator] = parts[..] else {
        return Err(malformed(
            "Credential is not AK/DATE/REGION/SERVICE/aws4_request",
        ));
    };
    if terminator != TERMINATOR {
        return Err(malformed("Credential scope does not end in aws4_request"));
    }
    if access_key.is_empty() || region.is_empty() || service.is_empty() {
        return Err(malformed(
            "Credential has an empty access key, region or service",
        ));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed("Credential date is not YYYYMMDD"));
    }

    let names: Vec<String> = signed_headers.split(';').map(str::to_owned).collect();
    let well_formed = |n: &String| {
        !n.is_empty()
            && n.bytes()
                .all(|b| !b.is_ascii_uppercase() && (b.is_ascii_graphic()) && b != b',')
    };
    if !names.iter().all(well_formed) {
        return Err(malformed(
            "SignedHeaders must be lower-case header names separated by ';'",
        ));
    }
    if !names.windows(2).all(|w| w[0] < w[1]) {
        return Err(malformed(
            "SignedHeaders must be sorted and without repeats",
        ));
    }

    if signature.len() != 64
        || !signature
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(malformed("Signature is not 64 lower-case hex digits"));
    }

    Ok(ParsedAuthorization {
        access_key: access_key.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers: names,
        signature: signature.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    #[test]
    fn parses_the_suite_form_and_compact_form() {
        let parsed = parse(GOOD).unwrap();
        assert_eq!(parsed.access_key, "AKIDEXAMPLE");
        assert_eq!(parsed.date, "20150830");
        assert_eq!(parsed.region, "us-east-1");
        assert_eq!(parsed.service, "service");
        assert_eq!(parsed.signed_headers, vec!["host", "x-amz-date"]);
        assert_eq!(parsed.signature.len(), 64);
        let compact = GOOD.replace(", ", ",");
        assert_eq!(parse(&compact).unwrap(), parsed);
        // Component order is free.
        let reordered = "AWS4-HMAC-SHA256 Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31, SignedHeaders=host;x-amz-date, Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";
        assert_eq!(parse(reordered).unwrap(), parsed);
    }

    #[test]
    fn rejects_malformed_values() {
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "algorithm"),
            ("AWS4-HMAC-SHA1 Credential=a".into(), "algorithm"),
            ("AWS4-HMAC-SHA256Credential=x".into(), "algorithm"),
            (GOOD.replace("Credential=", "Cred="), "unknown component"),
            (GOOD.replace(", Signature=", ", Signature"), "has no '='"),
            (format!("{GOOD}, Signature=00"), "twice"),
            (GOOD.replace("/aws4_request", "/aws4"), "aws4_request"),
            (GOOD.replace("/service/", "/"), "AK/DATE"),
            (GOOD.replace("20150830", "2015083"), "YYYYMMDD"),
            (GOOD.replace("AKIDEXAMPLE", ""), "empty"),
            (GOOD.replace("host;x-amz-date", "x-amz-date;host"), "sorted"),
            (GOOD.replace("host;x-amz-date", "host;host"), "sorted"),
            (
                GOOD.replace("host;x-amz-date", "Host;x-amz-date"),
                "lower-case",
            ),
            (
                GOOD.replace("host;x-amz-date", "host;;x-amz-date"),
                "lower-case",
            ),
            (GOOD.replace("5fa00f", "5FA00F"), "hex"),
            (GOOD.replace("5fa00f", "5fa00"), "hex"),
            (
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
                    .into(),
                "SignedHeaders is missing",
            ),
        ];
        for (value, expected) in cases {
            match parse(&value) {
                Err(SigningError::MalformedAuthorization(msg)) => {
                    assert!(
                        msg.contains(expected),
                        "{value:?}: {msg:?} lacks {expected:?}"
                    )
                }
                other => panic!("{value:?} gave {other:?}"),
            }
        }
    }
}
