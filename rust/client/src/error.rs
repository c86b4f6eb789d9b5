//! What can go wrong while sending a request, in terms the Python layer maps
//! one-to-one onto botocore's exception classes.

use std::fmt;

/// A failure of the client itself (never a service error response: those are
/// returned as responses with their status and body).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request could not be built (bad member, bad header value, ...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The client was configured wrongly (bad CA bundle, bad proxy URL, ...).
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// botocore's `proxies_config` names files that cannot be used
    /// (`proxy_ca_bundle`, `proxy_client_cert`).
    #[error("{0}")]
    ProxyConfig(String),
    /// No connection could be made to the endpoint (refused, DNS, TLS, proxy).
    #[error("could not connect to the endpoint URL {url:?}: {reason}")]
    Connect { url: String, reason: String },
    /// The TLS handshake failed (untrusted certificate, wrong host, ...).
    #[error("SSL validation failed for {url:?}: {reason}")]
    Tls { url: String, reason: String },
    /// Connecting took longer than the connect timeout.
    #[error("connect timeout on endpoint URL {url:?}")]
    ConnectTimeout { url: String },
    /// The server did not answer (or stopped sending) within the read timeout.
    #[error("read timeout on endpoint URL {url:?}")]
    ReadTimeout { url: String },
    /// The connection broke after it was made (reset, closed mid-response).
    #[error("connection to {url:?} was closed: {reason}")]
    ConnectionClosed { url: String, reason: String },
    /// The response head arrived but the connection broke before the whole
    /// body did (botocore raises ResponseStreamingError from `Body.read()`
    /// for this, outside its retry loop, so it is not retried).
    #[error("Connection broken: {reason}")]
    BodyCut { url: String, reason: String },
    /// The response body is larger than the client accepts.
    #[error("the response body from {url:?} is larger than {limit} bytes")]
    ResponseTooLarge { url: String, limit: usize },
    /// The event stream was corrupt, truncated or not an event stream.
    #[error("{0}")]
    Stream(StreamFault),
}

/// Why an event stream could not be read to its end.
#[derive(Debug)]
pub enum StreamFault {
    /// The frames failed to decode (checksum, framing, limits).
    Decode(sagerun_core::eventstream::DecodeError),
    /// The body ended inside a frame.
    Truncated(sagerun_core::eventstream::DecodeError),
}

impl fmt::Display for StreamFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamFault::Decode(e) => write!(f, "corrupt event stream: {e}"),
            StreamFault::Truncated(e) => write!(f, "truncated event stream: {e}"),
        }
    }
}

impl ClientError {
    /// Whether botocore counts this as a connection error (retried by both
    /// retry modes, as `GENERAL_CONNECTION_ERROR` / transient exceptions).
    pub fn is_connection_error(&self) -> bool {
        matches!(
            self,
            ClientError::Connect { .. }
                | ClientError::Tls { .. }
                | ClientError::ConnectTimeout { .. }
                | ClientError::ReadTimeout { .. }
                | ClientError::ConnectionClosed { .. }
        )
    }

    /// Timeouts cost more retry quota in botocore's standard mode.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            ClientError::ConnectTimeout { .. } | ClientError::ReadTimeout { .. }
        )
    }
}
