//! The built-in models. Each turns an [`Invocation`] into a [`ModelOutput`]
//! whose bytes come as parts; the server frames them (event stream) or
//! joins them (InvokeEndpoint).

pub mod echo;
pub mod error;
pub mod proxy;
pub mod ready;
pub mod tokens;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

use crate::config::ModelConfig;
use crate::errors::ApiError;
pub use ready::{PartList, ReadyParts};

/// The request as a model sees it.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    pub endpoint: String,
    pub body: Bytes,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    pub custom_attributes: Option<String>,
    pub inference_id: Option<String>,
    pub target_model: Option<String>,
    pub session_id: Option<String>,
    /// Whether the caller reads a response stream (parts paced as produced)
    /// or one whole body.
    pub streaming: bool,
}

/// One piece of a model's output, or the failure that ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Data(Bytes),
    /// The output broke off (e.g. the container's connection dropped).
    Failure(String),
}

/// Parts known up front, or produced over time by a task.
#[derive(Debug)]
pub enum Parts {
    Ready(ReadyParts),
    Live(mpsc::Receiver<Part>),
}

#[derive(Debug)]
pub struct ModelOutput {
    pub content_type: Option<String>,
    pub custom_attributes: Option<String>,
    pub parts: Parts,
}

/// Context models need to answer like AWS (ARNs name region and account).
#[derive(Debug, Clone)]
pub struct ModelContext {
    pub region: String,
    pub account_id: String,
}

/// Largest whole body a model may produce for InvokeEndpoint, so a
/// runaway container cannot exhaust memory.
pub const MAX_WHOLE_OUTPUT: usize = 64 * 1024 * 1024;

#[derive(Debug)]
pub enum Model {
    Echo(echo::Echo),
    Tokens(tokens::Tokens),
    Error(error::ErrorModel),
    Proxy(proxy::Proxy),
}

impl Model {
    pub fn new(config: &ModelConfig, ctx: ModelContext) -> Model {
        match config {
            ModelConfig::Echo(c) => Model::Echo(echo::Echo::new(c.clone())),
            ModelConfig::Tokens(c) => Model::Tokens(tokens::Tokens::new(c.clone())),
            ModelConfig::Error(c) => Model::Error(error::ErrorModel::new(c.clone(), ctx)),
            ModelConfig::Proxy(c) => Model::Proxy(proxy::Proxy::new(c.clone(), ctx)),
        }
    }

    pub async fn invoke(&self, inv: &Invocation) -> Result<ModelOutput, ApiError> {
        match self {
            Model::Echo(m) => Ok(m.invoke(inv)),
            Model::Tokens(m) => Ok(m.invoke(inv)),
            Model::Error(m) => Err(m.invoke(inv)),
            Model::Proxy(m) => m.invoke(inv).await,
        }
    }
}

/// Joins all parts into one body (InvokeEndpoint), failing on a broken
/// output or one larger than [`MAX_WHOLE_OUTPUT`].
pub async fn collect_whole(parts: Parts) -> Result<Bytes, String> {
    match parts {
        Parts::Ready(ready) => match ready.remaining() {
            [] => Ok(Bytes::new()),
            [one] => Ok(one.clone()),
            many => Ok(Bytes::from(many.concat())),
        },
        Parts::Live(mut rx) => {
            let mut out = BytesMut::new();
            while let Some(part) = rx.recv().await {
                match part {
                    Part::Data(b) if out.len() + b.len() > MAX_WHOLE_OUTPUT => {
                        return Err(format!("model output exceeds {MAX_WHOLE_OUTPUT} bytes"))
                    }
                    Part::Data(b) => out.extend_from_slice(&b),
                    Part::Failure(msg) => return Err(msg),
                }
            }
            Ok(out.freeze())
        }
    }
}
