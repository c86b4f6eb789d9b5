//! sagerun's SageMaker Runtime client, free of PyO3: the HTTP/1.1 pool with
//! TLS, proxies and timeouts ([`transport`], [`connect`], [`tls`]), request
//! building and signing ([`request`], [`signing`]), response and error
//! reading ([`response`]), event-stream reading ([`events`]), retries
//! ([`retry`], [`adaptive`]), and the process-wide Tokio runtime ([`runtime`]).

pub mod adaptive;
pub mod client;
pub mod connect;
pub mod error;
pub mod events;
pub mod many;
pub mod request;
pub mod response;
pub mod retry;
pub mod runtime;
pub mod signing;
pub mod timing;
pub mod tls;
pub mod transport;

pub use client::{Client, ClientConfig, StreamStart};
pub use error::{ClientError, StreamFault};
pub use events::{EventReader, StreamEvent};
pub use many::{Completed, FanOut, TaskPanicked};
pub use request::Invocation;
pub use response::{Head, Response, RetryReport};
pub use retry::{Flags, RetryConfig, RetryMode};
pub use tls::{ClientCert, Verify};
pub use transport::TransportConfig;
