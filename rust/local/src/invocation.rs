//! Reads an operation's request members from HTTP headers, using the
//! protocol tables (header names are never re-typed here).

use http::HeaderMap;
use sagerun_core::protocol::{HeaderMember, Operation};

use crate::errors::ApiError;

/// The HTTP header bound to a member of an operation's request.
/// Panics if the member does not exist: that is a programming error,
/// covered by the unit tests.
pub fn request_header(op: Operation, member: &str) -> &'static str {
    find(op.request_headers(), member)
        .unwrap_or_else(|| panic!("{} has no request member {member}", op.name()))
}

fn find(table: &[HeaderMember], member: &str) -> Option<&'static str> {
    table.iter().find(|m| m.member == member).map(|m| m.header)
}

/// Request members sent as headers, by member name (borrowed from the
/// request's headers).
#[derive(Debug, Default)]
pub struct RequestMembers<'a> {
    values: Vec<(&'static str, &'a str)>,
}

impl<'a> RequestMembers<'a> {
    /// Reads the operation's header members, refusing values that are not
    /// visible ASCII or break the model's length limits. One pass over the
    /// request's few headers (rather than one hashed lookup per member the
    /// operation has); a repeated header counts once, by its first value.
    pub fn read(op: Operation, headers: &'a HeaderMap) -> Result<RequestMembers<'a>, ApiError> {
        let table = op.request_headers();
        let mut values: Vec<(&'static str, &'a str)> = Vec::new();
        for (name, raw) in headers {
            // Looked up once per header, not once per table entry.
            let name = name.as_str();
            let Some(m) = table.iter().find(|m| m.header.eq_ignore_ascii_case(name)) else {
                continue;
            };
            if values.iter().any(|(member, _)| *member == m.member) {
                continue;
            }
            let value = raw.to_str().map_err(|_| {
                ApiError::validation(format!("Header {} must be ASCII text.", m.header))
            })?;
            check_length(m.member, value)?;
            values.push((m.member, value));
        }
        Ok(RequestMembers { values })
    }

    pub fn get(&self, member: &str) -> Option<&'a str> {
        self.values
            .iter()
            .find(|(m, _)| *m == member)
            .map(|(_, v)| *v)
    }

    pub fn owned(&self, member: &str) -> Option<String> {
        self.get(member).map(str::to_owned)
    }
}

/// Length limits from botocore's model for the members we read.
fn max_len(member: &str) -> usize {
    match member {
        "InferenceId" => 64,
        "TargetVariant" | "TargetContainerHostname" | "InferenceComponentName" => 63,
        "SessionId" => 256,
        "S3OutputPathExtension" => 512,
        "Filename" => 32,
        _ => 1024,
    }
}

fn check_length(member: &str, value: &str) -> Result<(), ApiError> {
    let max = max_len(member);
    if value.len() > max {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have length less than or equal to {max}",
            lower_first(member)
        )));
    }
    Ok(())
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_used_by_the_runtime_exist() {
        for op in Operation::ALL {
            for m in ["ContentType", "Accept", "CustomAttributes", "InferenceId"] {
                request_header(op, m);
            }
        }
        request_header(Operation::InvokeEndpoint, "TargetModel");
        request_header(Operation::InvokeEndpoint, "SessionId");
        request_header(Operation::InvokeEndpointWithResponseStream, "SessionId");
        request_header(Operation::InvokeEndpointAsync, "InputLocation");
    }

    #[test]
    fn over_long_values_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(
            request_header(Operation::InvokeEndpoint, "InferenceId"),
            "x".repeat(65).parse().unwrap(),
        );
        let e = RequestMembers::read(Operation::InvokeEndpoint, &h).unwrap_err();
        assert!(e.message.contains("inferenceId"), "{}", e.message);
    }
}
