//! `error`: answers every call with the configured error code.

use sagerun_core::protocol::ErrorCode;

use super::{Invocation, ModelContext};
use crate::config::ErrorModelConfig;
use crate::errors::{log_stream_arn, ApiError};

#[derive(Debug)]
pub struct ErrorModel {
    config: ErrorModelConfig,
    ctx: ModelContext,
}

impl ErrorModel {
    pub fn new(config: ErrorModelConfig, ctx: ModelContext) -> ErrorModel {
        ErrorModel { config, ctx }
    }

    pub fn invoke(&self, inv: &Invocation) -> ApiError {
        let c = &self.config;
        if c.code != ErrorCode::ModelError {
            let msg = c
                .message
                .clone()
                .unwrap_or_else(|| format!("{} (from the local error model)", c.code.as_str()));
            return ApiError::new(c.code, msg);
        }
        let status = c.original_status.unwrap_or(500);
        let original = c
            .original_message
            .clone()
            .unwrap_or_else(|| "error model".to_owned());
        let arn = c.log_stream_arn.clone().unwrap_or_else(|| {
            log_stream_arn(&self.ctx.region, &self.ctx.account_id, &inv.endpoint)
        });
        let msg = c
            .message
            .clone()
            .unwrap_or_else(|| container_error_message(status, &original, &arn));
        ApiError::model_error(msg, Some(status), Some(original), Some(arn))
    }
}

/// The message SageMaker builds when a container answers an error status.
pub fn container_error_message(status: u16, original: &str, arn: &str) -> String {
    let side = if (400..500).contains(&status) {
        "client"
    } else {
        "server"
    };
    format!("Received {side} error ({status}) from primary with message \"{original}\". See {arn} for more information.")
}
