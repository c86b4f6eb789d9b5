//! Errors as AWS answers them: a status, `x-amzn-ErrorType` and a JSON body.
//!
//! Modeled errors (shapes in botocore's model) carry their members under the
//! shape's names (`Message`, `OriginalStatusCode`, ...); the errors AWS's
//! front door produces (signature checks, unknown operations, oversize
//! bodies) use a lower-case `message`. botocore's rest-json parser reads both.

use bytes::Bytes;
use http::StatusCode;
use sagerun_core::protocol::{ErrorCode, MAX_BODY_BYTES};
use serde_json::{Map, Value};

/// The suffix AWS's front door appends to its own error types.
const CORAL_SUFFIX: &str = ":http://internal.amazon.com/coral/com.amazon.coral.service/";

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    /// None for answers that carry no error type (an oversize body).
    pub code: Option<ErrorCode>,
    pub message: String,
    /// Extra modeled members, in order (e.g. ModelError's).
    pub fields: Vec<(&'static str, Value)>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::from_u16(code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: Some(code),
            message: message.into(),
            fields: Vec::new(),
        }
    }

    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::ValidationError, message)
    }

    /// ModelError with the members botocore's model declares for it.
    pub fn model_error(
        message: impl Into<String>,
        original_status: Option<u16>,
        original_message: Option<String>,
        log_stream_arn: Option<String>,
    ) -> ApiError {
        let mut e = ApiError::new(ErrorCode::ModelError, message);
        if let Some(s) = original_status {
            e.fields.push(("OriginalStatusCode", Value::from(s)));
        }
        if let Some(m) = original_message {
            e.fields.push(("OriginalMessage", Value::from(m)));
        }
        if let Some(a) = log_stream_arn {
            e.fields.push(("LogStreamArn", Value::from(a)));
        }
        e
    }

    /// What the service answers for a body over 6 MiB: a bare 413 whose
    /// message botocore shows, with no error type (so the code is "413").
    pub fn payload_too_large() -> ApiError {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: None,
            message: format!("HTTP content length exceeded {MAX_BODY_BYTES} bytes."),
            fields: Vec::new(),
        }
    }

    /// `x-amzn-ErrorType` value, or None when the answer carries none.
    pub fn error_type_header(&self) -> Option<String> {
        let code = self.code?;
        Some(if code.is_modeled() {
            code.as_str().to_owned()
        } else {
            format!("{}{CORAL_SUFFIX}", code.as_str())
        })
    }

    pub fn body(&self) -> Bytes {
        let modeled = self.code.is_some_and(ErrorCode::is_modeled);
        let mut obj = Map::new();
        obj.insert(
            if modeled { "Message" } else { "message" }.to_owned(),
            Value::from(self.message.as_str()),
        );
        for (k, v) in &self.fields {
            obj.insert((*k).to_owned(), v.clone());
        }
        Bytes::from(Value::Object(obj).to_string())
    }
}

/// The LogStreamArn AWS reports for an endpoint's model container.
pub fn log_stream_arn(region: &str, account: &str, endpoint: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/Endpoints/{endpoint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modeled_errors_use_shape_member_names() {
        let e = ApiError::model_error("boom", Some(500), Some("orig".into()), None);
        assert_eq!(e.status.as_u16(), 424);
        let v: Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(v["Message"], "boom");
        assert_eq!(v["OriginalStatusCode"], 500);
        assert_eq!(e.error_type_header().as_deref(), Some("ModelError"));
    }

    #[test]
    fn front_door_errors_carry_the_coral_suffix() {
        let e = ApiError::new(ErrorCode::InvalidSignatureException, "x");
        assert_eq!(e.status.as_u16(), 403);
        assert!(e
            .error_type_header()
            .unwrap()
            .starts_with("InvalidSignatureException:"));
        let v: Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(v["message"], "x");
        assert_eq!(ApiError::payload_too_large().error_type_header(), None);
    }
}
