//! Facts about the SageMaker Runtime wire protocol, in one place.
//!
//! Everything here comes from botocore's service model for
//! `sagemaker-runtime` (2017-05-13) and `shared/PROTOCOL.md`. The client,
//! the local runtime and the Python layer all read these tables instead of
//! re-typing header names, limits or error codes.

/// SigV4 signing name of the service (the endpoint prefix differs).
pub const SIGNING_NAME: &str = "sagemaker";
/// Largest request body InvokeEndpoint / ...WithResponseStream accept (6 MiB).
pub const MAX_BODY_BYTES: usize = 6_291_456;
/// Largest inline Body InvokeEndpointAsync accepts.
pub const MAX_ASYNC_INLINE_BODY_BYTES: usize = 128_000;
/// Content type of an event-stream response body.
pub const EVENTSTREAM_CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";
/// Largest skew between a request's X-Amz-Date and the server clock (seconds).
pub const MAX_CLOCK_SKEW_SECS: u64 = 15 * 60;

/// Response header names that are not members of any operation.
pub mod header {
    pub const REQUEST_ID: &str = "x-amzn-RequestId";
    pub const ERROR_TYPE: &str = "x-amzn-ErrorType";
    pub const AMZ_DATE: &str = "X-Amz-Date";
    pub const SECURITY_TOKEN: &str = "X-Amz-Security-Token";
    pub const AUTHORIZATION: &str = "Authorization";
}

/// Event-stream header names and values used by SageMaker's ResponseStream.
pub mod event {
    pub const MESSAGE_TYPE: &str = ":message-type";
    pub const EVENT_TYPE: &str = ":event-type";
    pub const EXCEPTION_TYPE: &str = ":exception-type";
    pub const CONTENT_TYPE: &str = ":content-type";
    pub const ERROR_CODE: &str = ":error-code";
    pub const ERROR_MESSAGE: &str = ":error-message";

    pub const MESSAGE_TYPE_EVENT: &str = "event";
    pub const MESSAGE_TYPE_EXCEPTION: &str = "exception";
    pub const MESSAGE_TYPE_ERROR: &str = "error";

    pub const PAYLOAD_PART: &str = "PayloadPart";
    pub const PAYLOAD_PART_CONTENT_TYPE: &str = "application/octet-stream";
    pub const MODEL_STREAM_ERROR: &str = "ModelStreamError";
    pub const INTERNAL_STREAM_FAILURE: &str = "InternalStreamFailure";
    /// In-stream exception payloads are JSON.
    pub const EXCEPTION_CONTENT_TYPE: &str = "application/json";
}

/// The three operations sagerun serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    InvokeEndpoint,
    InvokeEndpointAsync,
    InvokeEndpointWithResponseStream,
}

impl Operation {
    pub const ALL: [Operation; 3] = [
        Operation::InvokeEndpoint,
        Operation::InvokeEndpointAsync,
        Operation::InvokeEndpointWithResponseStream,
    ];

    /// This operation's place in [`Operation::ALL`] (for per-operation tables).
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Operation::InvokeEndpoint => "InvokeEndpoint",
            Operation::InvokeEndpointAsync => "InvokeEndpointAsync",
            Operation::InvokeEndpointWithResponseStream => "InvokeEndpointWithResponseStream",
        }
    }

    /// The last path segment: `/endpoints/{EndpointName}/<suffix>`.
    pub fn path_suffix(self) -> &'static str {
        match self {
            Operation::InvokeEndpoint => "invocations",
            Operation::InvokeEndpointAsync => "async-invocations",
            Operation::InvokeEndpointWithResponseStream => "invocations-response-stream",
        }
    }

    /// HTTP status of a successful response.
    pub fn success_status(self) -> u16 {
        match self {
            Operation::InvokeEndpointAsync => 202,
            _ => 200,
        }
    }

    pub fn from_path_suffix(suffix: &str) -> Option<Operation> {
        Operation::ALL
            .into_iter()
            .find(|op| op.path_suffix() == suffix)
    }

    /// Request members sent as HTTP headers, in the model's order.
    pub fn request_headers(self) -> &'static [HeaderMember] {
        match self {
            Operation::InvokeEndpoint => INVOKE_ENDPOINT_REQUEST,
            Operation::InvokeEndpointAsync => INVOKE_ENDPOINT_ASYNC_REQUEST,
            Operation::InvokeEndpointWithResponseStream => INVOKE_STREAM_REQUEST,
        }
    }

    /// Response members read from HTTP headers.
    pub fn response_headers(self) -> &'static [HeaderMember] {
        match self {
            Operation::InvokeEndpoint => INVOKE_ENDPOINT_RESPONSE,
            Operation::InvokeEndpointAsync => INVOKE_ENDPOINT_ASYNC_RESPONSE,
            Operation::InvokeEndpointWithResponseStream => INVOKE_STREAM_RESPONSE,
        }
    }

    /// Modeled error codes this operation can answer with.
    pub fn errors(self) -> &'static [ErrorCode] {
        use ErrorCode::*;
        match self {
            Operation::InvokeEndpoint => &[
                InternalFailure,
                ServiceUnavailable,
                ValidationError,
                ModelError,
                InternalDependencyException,
                ModelNotReadyException,
            ],
            Operation::InvokeEndpointAsync => {
                &[InternalFailure, ServiceUnavailable, ValidationError]
            }
            Operation::InvokeEndpointWithResponseStream => &[
                InternalFailure,
                ServiceUnavailable,
                ValidationError,
                ModelError,
                ModelStreamError,
                InternalStreamFailure,
            ],
        }
    }
}

/// Builds the request path for an operation. The endpoint name must already
/// be validated (the model's pattern keeps it to one path segment), but it is
/// percent-encoded anyway so that nothing can ever add a segment.
pub fn request_path(op: Operation, endpoint_name: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    // RFC 3986 unreserved characters stay as they are; all else is encoded.
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    format!(
        "/endpoints/{}/{}",
        utf8_percent_encode(endpoint_name, SEGMENT),
        op.path_suffix()
    )
}

/// Splits `/endpoints/{EndpointName}/{suffix}` into its parts. The endpoint
/// name is returned still percent-encoded.
pub fn parse_request_path(path: &str) -> Option<(Operation, &str)> {
    let rest = path.strip_prefix("/endpoints/")?;
    let (name, suffix) = rest.split_once('/')?;
    if name.is_empty() {
        return None;
    }
    Some((Operation::from_path_suffix(suffix)?, name))
}

/// A structure member bound to an HTTP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderMember {
    /// The member name in the service model (and boto3's keyword argument).
    pub member: &'static str,
    /// The HTTP header name, spelled as in the model.
    pub header: &'static str,
    /// Integer members are sent as decimal text and returned as ints.
    pub is_integer: bool,
}

const fn hm(member: &'static str, header: &'static str) -> HeaderMember {
    HeaderMember {
        member,
        header,
        is_integer: false,
    }
}

const fn hm_int(member: &'static str, header: &'static str) -> HeaderMember {
    HeaderMember {
        member,
        header,
        is_integer: true,
    }
}

const INVOKE_ENDPOINT_REQUEST: &[HeaderMember] = &[
    hm("ContentType", "Content-Type"),
    hm("Accept", "Accept"),
    hm("CustomAttributes", "X-Amzn-SageMaker-Custom-Attributes"),
    hm("TargetModel", "X-Amzn-SageMaker-Target-Model"),
    hm("TargetVariant", "X-Amzn-SageMaker-Target-Variant"),
    hm(
        "TargetContainerHostname",
        "X-Amzn-SageMaker-Target-Container-Hostname",
    ),
    hm("InferenceId", "X-Amzn-SageMaker-Inference-Id"),
    hm("EnableExplanations", "X-Amzn-SageMaker-Enable-Explanations"),
    hm(
        "InferenceComponentName",
        "X-Amzn-SageMaker-Inference-Component",
    ),
    hm("SessionId", "X-Amzn-SageMaker-Session-Id"),
    hm("PrefixAwareId", "X-Amzn-SageMaker-Prefix-Aware-Id"),
];

const INVOKE_STREAM_REQUEST: &[HeaderMember] = &[
    hm("ContentType", "Content-Type"),
    hm("Accept", "X-Amzn-SageMaker-Accept"),
    hm("CustomAttributes", "X-Amzn-SageMaker-Custom-Attributes"),
    hm("TargetVariant", "X-Amzn-SageMaker-Target-Variant"),
    hm(
        "TargetContainerHostname",
        "X-Amzn-SageMaker-Target-Container-Hostname",
    ),
    hm("InferenceId", "X-Amzn-SageMaker-Inference-Id"),
    hm(
        "InferenceComponentName",
        "X-Amzn-SageMaker-Inference-Component",
    ),
    hm("SessionId", "X-Amzn-SageMaker-Session-Id"),
    hm("PrefixAwareId", "X-Amzn-SageMaker-Prefix-Aware-Id"),
];

const INVOKE_ENDPOINT_ASYNC_REQUEST: &[HeaderMember] = &[
    hm("ContentType", "X-Amzn-SageMaker-Content-Type"),
    hm("Accept", "X-Amzn-SageMaker-Accept"),
    hm("CustomAttributes", "X-Amzn-SageMaker-Custom-Attributes"),
    hm("InferenceId", "X-Amzn-SageMaker-Inference-Id"),
    hm("InputLocation", "X-Amzn-SageMaker-InputLocation"),
    hm(
        "S3OutputPathExtension",
        "X-Amzn-SageMaker-S3OutputPathExtension",
    ),
    hm("Filename", "X-Amzn-SageMaker-Filename"),
    hm_int("RequestTTLSeconds", "X-Amzn-SageMaker-RequestTTLSeconds"),
    hm_int(
        "InvocationTimeoutSeconds",
        "X-Amzn-SageMaker-InvocationTimeoutSeconds",
    ),
];

const INVOKE_ENDPOINT_RESPONSE: &[HeaderMember] = &[
    hm("ContentType", "Content-Type"),
    hm(
        "InvokedProductionVariant",
        "x-Amzn-Invoked-Production-Variant",
    ),
    hm("CustomAttributes", "X-Amzn-SageMaker-Custom-Attributes"),
    hm("NewSessionId", "X-Amzn-SageMaker-New-Session-Id"),
    hm("ClosedSessionId", "X-Amzn-SageMaker-Closed-Session-Id"),
];

const INVOKE_STREAM_RESPONSE: &[HeaderMember] = &[
    hm("ContentType", "X-Amzn-SageMaker-Content-Type"),
    hm(
        "InvokedProductionVariant",
        "x-Amzn-Invoked-Production-Variant",
    ),
    hm("CustomAttributes", "X-Amzn-SageMaker-Custom-Attributes"),
];

const INVOKE_ENDPOINT_ASYNC_RESPONSE: &[HeaderMember] = &[
    hm("OutputLocation", "X-Amzn-SageMaker-OutputLocation"),
    hm("FailureLocation", "X-Amzn-SageMaker-FailureLocation"),
];

/// Error codes the service answers with (modeled ones plus the unmodeled
/// ones seen in practice and those the signature check produces).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    ValidationError,
    ModelError,
    ModelNotReadyException,
    InternalFailure,
    ServiceUnavailable,
    InternalDependencyException,
    /// In-stream only (an `exception` event), never an HTTP status.
    ModelStreamError,
    /// In-stream only (an `exception` event), never an HTTP status.
    InternalStreamFailure,
    // Unmodeled, as AWS answers them.
    ThrottlingException,
    InvalidSignatureException,
    IncompleteSignature,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
    SignatureDoesNotMatch,
    AccessDeniedException,
    UnknownOperationException,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::ValidationError,
        ErrorCode::ModelError,
        ErrorCode::ModelNotReadyException,
        ErrorCode::InternalFailure,
        ErrorCode::ServiceUnavailable,
        ErrorCode::InternalDependencyException,
        ErrorCode::ModelStreamError,
        ErrorCode::InternalStreamFailure,
        ErrorCode::ThrottlingException,
        ErrorCode::InvalidSignatureException,
        ErrorCode::IncompleteSignature,
        ErrorCode::MissingAuthenticationTokenException,
        ErrorCode::UnrecognizedClientException,
        ErrorCode::SignatureDoesNotMatch,
        ErrorCode::AccessDeniedException,
        ErrorCode::UnknownOperationException,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ValidationError => "ValidationError",
            ErrorCode::ModelError => "ModelError",
            ErrorCode::ModelNotReadyException => "ModelNotReadyException",
            ErrorCode::InternalFailure => "InternalFailure",
            ErrorCode::ServiceUnavailable => "ServiceUnavailable",
            ErrorCode::InternalDependencyException => "InternalDependencyException",
            ErrorCode::ModelStreamError => "ModelStreamError",
            ErrorCode::InternalStreamFailure => "InternalStreamFailure",
            ErrorCode::ThrottlingException => "ThrottlingException",
            ErrorCode::InvalidSignatureException => "InvalidSignatureException",
            ErrorCode::IncompleteSignature => "IncompleteSignature",
            ErrorCode::MissingAuthenticationTokenException => "MissingAuthenticationTokenException",
            ErrorCode::UnrecognizedClientException => "UnrecognizedClientException",
            ErrorCode::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            ErrorCode::AccessDeniedException => "AccessDeniedException",
            ErrorCode::UnknownOperationException => "UnknownOperationException",
        }
    }

    pub fn parse(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// The HTTP status AWS answers this error with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::ValidationError | ErrorCode::ThrottlingException => 400,
            ErrorCode::ModelError => 424,
            ErrorCode::ModelNotReadyException => 429,
            ErrorCode::InternalFailure => 500,
            ErrorCode::ServiceUnavailable => 503,
            ErrorCode::InternalDependencyException => 530,
            // In-stream errors have no status of their own; if one must be
            // sent before the stream starts, it is a server fault.
            ErrorCode::ModelStreamError | ErrorCode::InternalStreamFailure => 500,
            ErrorCode::InvalidSignatureException
            | ErrorCode::IncompleteSignature
            | ErrorCode::MissingAuthenticationTokenException
            | ErrorCode::UnrecognizedClientException
            | ErrorCode::SignatureDoesNotMatch
            | ErrorCode::AccessDeniedException => 403,
            ErrorCode::UnknownOperationException => 404,
        }
    }

    /// Whether botocore's service model declares this error as a shape.
    pub fn is_modeled(self) -> bool {
        matches!(
            self,
            ErrorCode::ValidationError
                | ErrorCode::ModelError
                | ErrorCode::ModelNotReadyException
                | ErrorCode::InternalFailure
                | ErrorCode::ServiceUnavailable
                | ErrorCode::InternalDependencyException
                | ErrorCode::ModelStreamError
                | ErrorCode::InternalStreamFailure
        )
    }
}

/// Extracts the error code the way AWS JSON protocols define it: keep what is
/// after the last `#` and before the first `:`
/// (`aws.protocols#ValidationError:http://...` -> `ValidationError`).
pub fn sanitize_error_code(raw: &str) -> &str {
    let after_hash = raw.rsplit_once('#').map_or(raw, |(_, code)| code);
    after_hash
        .split_once(':')
        .map_or(after_hash, |(code, _)| code)
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_the_place_in_all() {
        for (i, op) in Operation::ALL.into_iter().enumerate() {
            assert_eq!(op.index(), i);
        }
    }

    #[test]
    fn paths_round_trip() {
        for op in Operation::ALL {
            let path = request_path(op, "my-endpoint-1");
            assert_eq!(parse_request_path(&path), Some((op, "my-endpoint-1")));
        }
    }

    #[test]
    fn endpoint_name_cannot_add_a_segment() {
        let path = request_path(Operation::InvokeEndpoint, "a/../b");
        assert_eq!(path, "/endpoints/a%2F..%2Fb/invocations");
        assert_eq!(
            parse_request_path(&path),
            Some((Operation::InvokeEndpoint, "a%2F..%2Fb"))
        );
    }

    #[test]
    fn error_codes_are_sanitized() {
        assert_eq!(sanitize_error_code("ValidationError"), "ValidationError");
        assert_eq!(
            sanitize_error_code("aws.protocols#ModelError:http://internal/"),
            "ModelError"
        );
        assert_eq!(sanitize_error_code("Throttling:foo"), "Throttling");
    }

    #[test]
    fn every_code_parses_back() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
    }
}
