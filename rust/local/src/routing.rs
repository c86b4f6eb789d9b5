//! Maps a request line to an operation and an endpoint name.

use http::Method;
use percent_encoding::percent_decode_str;
use sagerun_core::protocol::{parse_request_path, ErrorCode, Operation};

use crate::config::check_endpoint_name;
use crate::errors::ApiError;

/// The operation and the (decoded) endpoint name. The name is checked
/// separately ([`check_name`]), after the signature, as AWS validates input
/// only for authenticated callers.
pub fn route(method: &Method, path: &str) -> Result<(Operation, String), ApiError> {
    let unknown = || {
        ApiError::new(
            ErrorCode::UnknownOperationException,
            format!("Unknown operation: {method} {path}"),
        )
    };
    let (op, encoded) = parse_request_path(path).ok_or_else(unknown)?;
    if method != Method::POST {
        return Err(unknown());
    }
    Ok((
        op,
        percent_decode_str(encoded).decode_utf8_lossy().into_owned(),
    ))
}

/// The service model's constraint on EndpointName, answered as AWS does.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    check_endpoint_name(name).map_err(|_| {
        ApiError::validation(format!(
            "1 validation error detected: Value '{name}' at 'endpointName' failed to satisfy constraint: \
Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            route(&Method::POST, "/endpoints/ep-1/invocations-response-stream").unwrap(),
            (
                Operation::InvokeEndpointWithResponseStream,
                "ep-1".to_owned()
            )
        );
        let e = route(&Method::GET, "/endpoints/ep/invocations").unwrap_err();
        assert_eq!(e.code, Some(ErrorCode::UnknownOperationException));
        assert!(route(&Method::POST, "/nope").is_err());
        let (_, name) = route(&Method::POST, "/endpoints/a%2Fb/invocations").unwrap();
        assert_eq!(name, "a/b");
        assert_eq!(
            check_name(&name).unwrap_err().code,
            Some(ErrorCode::ValidationError)
        );
    }
}
