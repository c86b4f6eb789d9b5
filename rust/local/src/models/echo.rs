//! `echo`: answers the request body with its content type and custom
//! attributes (one PayloadPart when streamed).

use super::{Invocation, ModelOutput, Parts, ReadyParts};
use crate::config::EchoConfig;

/// Content type answered when neither the request nor the config sets one.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

#[derive(Debug)]
pub struct Echo {
    config: EchoConfig,
}

impl Echo {
    pub fn new(config: EchoConfig) -> Echo {
        Echo { config }
    }

    pub fn invoke(&self, inv: &Invocation) -> ModelOutput {
        let content_type = inv
            .content_type
            .clone()
            .or_else(|| self.config.content_type.clone())
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned());
        ModelOutput {
            content_type: Some(content_type),
            custom_attributes: inv.custom_attributes.clone(),
            parts: Parts::Ready(ReadyParts::one(inv.body.clone())),
        }
    }
}
