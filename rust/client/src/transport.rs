//! The HTTP/1.1 keep-alive pool: hyper-util's client over the connector
//! stack in [`crate::connect`], and the mapping of its failures onto
//! [`ClientError`].

use std::error::Error as StdError;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::{capture_connection, CaptureConnection};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::connect::{ConnectTimedOut, Dialer, Proxy, ReadTimedOut, WithConnectTimeout};
use crate::error::ClientError;
use crate::tls::{self, Verify};

/// Connection settings (botocore's Config: timeouts, pool size, proxies,
/// `verify`).
#[derive(Clone, Debug)]
pub struct TransportConfig {
    pub connect_timeout: Option<Duration>,
    pub read_timeout: Option<Duration>,
    /// Idle connections kept per host (urllib3's `maxsize`, non-blocking:
    /// more may be open at once; the extra ones are closed when done).
    pub max_pool_connections: usize,
    pub verify: Verify,
    pub proxy: Option<Proxy>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            connect_timeout: Some(Duration::from_secs(60)),
            read_timeout: Some(Duration::from_secs(70)),
            max_pool_connections: 128,
            verify: Verify::System,
            proxy: None,
        }
    }
}

type Connector = WithConnectTimeout<hyper_rustls::HttpsConnector<Dialer>>;

/// One connection pool. Its connections are tasks of the runtime that was
/// current when they were opened.
pub struct Transport {
    http: HyperClient<Connector, Full<Bytes>>,
}

impl Transport {
    /// Builds the TLS settings once per client (loading roots is costly).
    pub fn tls_config(config: &TransportConfig) -> Result<rustls::ClientConfig, ClientError> {
        tls::client_config(&config.verify)
    }

    pub fn new(config: &TransportConfig, tls: rustls::ClientConfig) -> Transport {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(Dialer::new(config.proxy.clone(), config.read_timeout));
        let connector = WithConnectTimeout::new(https, config.connect_timeout);
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(55))
            .pool_max_idle_per_host(config.max_pool_connections)
            .build(connector);
        Transport { http }
    }

    /// Sends `request` to `url` (its URI, kept by the caller: it is only
    /// formatted for an error).
    pub async fn send(
        &self,
        request: http::Request<Full<Bytes>>,
        url: &http::Uri,
    ) -> Result<http::Response<Incoming>, ClientError> {
        self.http
            .request(request)
            .await
            .map_err(|e| classify(&url.to_string(), &e))
    }
}

/// A handle on the connection that carries one request, so that a reader
/// that finds its response corrupt can keep that connection out of the pool
/// (hyper returns a connection to the pool as soon as the body's last byte
/// arrives, which may be in the same read as a corrupt frame).
#[derive(Default)]
pub struct ConnectionTap(Option<CaptureConnection>);

impl ConnectionTap {
    /// Taps the connection that will carry `request` (a small allocation per
    /// request: used for event streams only).
    pub fn on<B>(request: &mut http::Request<B>) -> ConnectionTap {
        ConnectionTap(Some(capture_connection(request)))
    }

    /// Marks the connection as never to be reused (a no-op if there was no
    /// connection or no tap).
    pub fn retire(&self) {
        if let Some(connected) = self.0.as_ref().map(|c| c.connection_metadata()) {
            if let Some(connected) = connected.as_ref() {
                connected.poison();
            }
        }
    }
}

/// Maps a failure of the HTTP stack to what botocore would raise for it.
pub fn classify(url: &str, error: &(dyn StdError + 'static)) -> ClientError {
    let url = url.to_string();
    if chain_has::<ConnectTimedOut>(error) {
        return ClientError::ConnectTimeout { url };
    }
    if chain_has::<ReadTimedOut>(error) {
        return ClientError::ReadTimeout { url };
    }
    let reason = describe(error);
    if chain_has::<rustls::Error>(error) {
        return ClientError::Tls { url, reason };
    }
    let is_connect = chain(error).any(|e| {
        e.downcast_ref::<hyper_util::client::legacy::Error>()
            .is_some_and(|e| e.is_connect())
    });
    if is_connect {
        ClientError::Connect { url, reason }
    } else {
        ClientError::ConnectionClosed { url, reason }
    }
}

fn chain<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |e: &&'a (dyn StdError + 'static)| {
        (*e).source()
    })
}

/// Finds a marker error anywhere in the chain, including inside (nested)
/// `io::Error`s, whose `source()` skips the error they wrap.
fn chain_has<T: StdError + 'static>(error: &(dyn StdError + 'static)) -> bool {
    chain(error).any(|e| {
        let mut current: &(dyn StdError + 'static) = e;
        loop {
            if current.is::<T>() {
                return true;
            }
            match current
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
            {
                Some(inner) => current = inner,
                None => return false,
            }
        }
    })
}

/// "outer: inner: innermost", skipping repeats.
fn describe(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in chain(error) {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}
