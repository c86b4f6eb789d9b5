//! Response header names built once per process. Building a `HeaderName`
//! from text on every response costs a lower-casing pass, a table look-up
//! and an allocation for each custom name; these are built from the protocol
//! tables (never re-typed) and then only cloned, which costs nothing.
//! HTTP/1 writes header names in lower case either way, so the bytes on the
//! wire are the same.

use std::sync::LazyLock;

use http::HeaderName;
use sagerun_core::protocol::{header, Operation};

/// A name from the protocol tables as a `HeaderName` whose clones share one
/// static text. The few lower-cased copies are leaked on purpose: they are
/// made once per process and live as long as it does.
fn static_name(name: &'static str) -> HeaderName {
    HeaderName::from_static(Box::leak(name.to_ascii_lowercase().into_boxed_str()))
}

pub static REQUEST_ID: LazyLock<HeaderName> = LazyLock::new(|| static_name(header::REQUEST_ID));
pub static ERROR_TYPE: LazyLock<HeaderName> = LazyLock::new(|| static_name(header::ERROR_TYPE));

/// Every operation's response members as (operation, member, header name).
static RESPONSE_MEMBERS: LazyLock<Vec<(Operation, &'static str, HeaderName)>> =
    LazyLock::new(|| {
        Operation::ALL
            .into_iter()
            .flat_map(|op| {
                op.response_headers()
                    .iter()
                    .map(move |m| (op, m.member, static_name(m.header)))
            })
            .collect()
    });

/// The HTTP header bound to a member of an operation's response.
/// Panics if the member does not exist: that is a programming error,
/// covered by the unit tests.
pub fn response_header(op: Operation, member: &str) -> HeaderName {
    RESPONSE_MEMBERS
        .iter()
        .find(|(o, m, _)| *o == op && *m == member)
        .map(|(_, _, name)| name.clone())
        .unwrap_or_else(|| panic!("{} has no response member {member}", op.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_tables_names_and_the_members_used_exist() {
        for op in Operation::ALL {
            for m in op.response_headers() {
                let name = response_header(op, m.member);
                assert!(name.as_str().eq_ignore_ascii_case(m.header));
                // The parsed form of the same text, as hyper would build it.
                assert_eq!(name, HeaderName::from_bytes(m.header.as_bytes()).unwrap());
            }
        }
        for m in [
            "NewSessionId",
            "ClosedSessionId",
            "InvokedProductionVariant",
            "CustomAttributes",
        ] {
            response_header(Operation::InvokeEndpoint, m);
        }
        response_header(Operation::InvokeEndpointWithResponseStream, "ContentType");
        response_header(Operation::InvokeEndpointAsync, "OutputLocation");
        response_header(Operation::InvokeEndpointAsync, "FailureLocation");
        assert_eq!(
            *REQUEST_ID,
            HeaderName::from_bytes(header::REQUEST_ID.as_bytes()).unwrap()
        );
    }
}
