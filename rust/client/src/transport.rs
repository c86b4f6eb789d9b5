//! The HTTP/1.1 keep-alive pool: hyper's `client::conn::http1` connections
//! over the connector stack in [`crate::connect`], and the mapping of their
//! failures onto [`ClientError`].
//!
//! A connection is not a spawned task: the future that sends a request, and
//! then the response body, poll the connection themselves. So a small call
//! is driven start to end by the caller's own `block_on` (no hand-off to a
//! connection task and back, no extra scheduler turn per body chunk), and a
//! connection only lives while a request uses it or while it idles in the
//! pool. Before an idle connection is reused it is checked the way urllib3
//! checks one (did the server close it, or send something unasked?).

use std::error::Error as StdError;
use std::future::{poll_fn, Future};
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1;
use hyper_rustls::MaybeHttpsStream;
use tower_service::Service;

use crate::connect::{
    ConnectTimedOut, Dialer, ForwardingRoute, Proxy, ReadTimedOut, TimedStream, WithConnectTimeout,
};
use crate::error::ClientError;
use crate::tls::{self, ClientCert, Verify};

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
    /// Client certificate for the endpoint's TLS (botocore's `client_cert`).
    pub client_cert: Option<ClientCert>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            connect_timeout: Some(Duration::from_secs(60)),
            read_timeout: Some(Duration::from_secs(70)),
            max_pool_connections: 128,
            verify: Verify::System,
            proxy: None,
            client_cert: None,
        }
    }
}

type Connector = WithConnectTimeout<ForwardingRoute<hyper_rustls::HttpsConnector<Dialer>>>;
type Io = MaybeHttpsStream<TimedStream>;

/// An idle connection older than this is closed rather than reused (servers
/// drop idle connections after about a minute).
const IDLE_TIMEOUT: Duration = Duration::from_secs(55);

/// An idle connection used again within this long is not asked whether the
/// server closed it (a syscall): a server closing it in that window is no
/// likelier than during the call itself.
const CHECK_AFTER_IDLE: Duration = Duration::from_millis(1);

/// Boxed: a connection's state is large (hyper's buffers, TLS), and moves
/// with every request that takes it and every body that holds it.
#[allow(clippy::vec_box)]
type IdleConns = Vec<Box<Conn>>;

/// One connection pool (one endpoint). Its connections are registered with
/// the runtime that was current when they were opened, and are used from
/// futures running on that runtime.
pub struct Transport {
    connector: Connector,
    idle: Mutex<IdleConns>,
    max_idle: usize,
    /// Requests go to an HTTP proxy that forwards them (absolute-form URIs).
    forwarding_proxy: bool,
}

impl Transport {
    /// Builds the TLS settings once per client (loading roots is costly).
    pub fn tls_config(config: &TransportConfig) -> Result<rustls::ClientConfig, ClientError> {
        tls::client_config(&config.verify, config.client_cert.as_ref())
    }

    /// `https`: whether the endpoint is `https://` (a proxy then tunnels
    /// instead of forwarding).
    pub fn new(config: &TransportConfig, tls: rustls::ClientConfig, https: bool) -> Transport {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(Dialer::new(config.proxy.clone(), config.read_timeout));
        let proxy = config.proxy.as_ref();
        Transport {
            connector: WithConnectTimeout::new(
                ForwardingRoute::new(connector, proxy),
                config.connect_timeout,
            ),
            idle: Mutex::new(Vec::new()),
            max_idle: config.max_pool_connections,
            forwarding_proxy: proxy.is_some_and(|p| p.forwards(https)),
        }
    }

    /// Sends `request` (its URI absolute; `url` is the same, kept by the
    /// caller and only formatted for an error). The response's body drives
    /// the connection and gives it back to the pool once read to its end.
    pub async fn send(
        self: &Arc<Self>,
        mut request: http::Request<Full<Bytes>>,
        url: &http::Uri,
    ) -> Result<http::Response<ResponseBody>, ClientError> {
        if !self.forwarding_proxy {
            // Origin form (`/path`): only a forwarding proxy wants the URL.
            let path = request.uri().path_and_query().cloned();
            *request.uri_mut() = path.map(http::Uri::from).unwrap_or_default();
        }
        loop {
            let (mut conn, reused) = match self.checkout() {
                Some(conn) => (conn, true),
                // Boxed: opening a connection is rare, and its future would
                // otherwise make every call's future larger.
                None => (Box::pin(self.connect(url)).await?, false),
            };
            let sending = conn.sender.try_send_request(request);
            match conn.drive_until(sending).await {
                Ok(response) => {
                    return Ok(response.map(|incoming| ResponseBody {
                        incoming,
                        conn: Some(conn),
                        pool: self.clone(),
                    }))
                }
                Err(mut failed) => match failed.take_message() {
                    // A reused connection that closed before it took the
                    // request: nothing was sent, so try a fresh one (as
                    // hyper-util's pool does).
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(classify(&url.to_string(), failed.error())),
                },
            }
        }
    }

    /// The most recently used idle connection that is still good.
    fn checkout(&self) -> Option<Box<Conn>> {
        loop {
            let mut conn = self.lock_idle().pop()?;
            if conn.reusable() {
                return Some(conn);
            }
        }
    }

    /// Back to the pool after a response was read to its end (if it can
    /// serve another request and the pool has room).
    fn checkin(&self, mut conn: Box<Conn>, cx: &mut Context<'_>) {
        // Lets the connection finish the exchange (and notice a
        // `Connection: close`) before anyone picks it.
        conn.poll_driver(cx);
        if conn.driver.is_none() || conn.is_poisoned() || !conn.sender.is_ready() {
            return;
        }
        conn.idle_since = Instant::now();
        let mut idle = self.lock_idle();
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, IdleConns> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn connect(&self, url: &http::Uri) -> Result<Box<Conn>, ClientError> {
        let failed = |e: &(dyn StdError + 'static)| classify_connect(&url.to_string(), e);
        let mut connector = self.connector.clone();
        poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(|e| failed(&*e))?;
        let io = connector.call(url.clone()).await.map_err(|e| failed(&*e))?;
        let fd = raw_fd(&io);
        let (sender, driver) = http1::handshake(io).await.map_err(|e| failed(&e))?;
        Ok(Box::new(Conn {
            sender,
            driver: Some(driver),
            fd,
            poisoned: Arc::new(AtomicBool::new(false)),
            idle_since: Instant::now(),
        }))
    }
}

fn raw_fd(io: &Io) -> RawFd {
    match io {
        MaybeHttpsStream::Http(tcp) => tcp.raw_fd(),
        MaybeHttpsStream::Https(tls) => tls.inner().get_ref().0.inner().raw_fd(),
    }
}

/// One connection: hyper's request sender and the connection future, which
/// whoever uses the connection polls.
struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
    /// The connection future; `None` once it has completed (closed or
    /// failed).
    driver: Option<http1::Connection<Io, Full<Bytes>>>,
    /// The socket, to ask the kernel whether an idle connection was closed.
    fd: RawFd,
    /// Set through a [`ConnectionTap`]: never reuse this connection.
    poisoned: Arc<AtomicBool>,
    idle_since: Instant,
}

impl Conn {
    /// Lets the connection make progress (write the request, read and hand
    /// over what arrived). A completed connection is dropped at once: its
    /// error, if any, went to the request or body it concerns, and dropping
    /// it fails a request still queued on it (returned unsent) instead of
    /// leaving it waiting for a connection that is gone.
    fn poll_driver(&mut self, cx: &mut Context<'_>) {
        if let Some(driver) = self.driver.as_mut() {
            if Pin::new(driver).poll(cx).is_ready() {
                self.driver = None;
            }
        }
    }

    /// Polls `work` (a request on this connection) while driving the
    /// connection, until `work` completes.
    async fn drive_until<F: Future>(&mut self, work: F) -> F::Output {
        let mut work = std::pin::pin!(work);
        poll_fn(|cx| {
            self.poll_driver(cx);
            work.as_mut().poll(cx)
        })
        .await
    }

    fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// Can an idle connection take another request?
    fn reusable(&mut self) -> bool {
        if self.is_poisoned() || self.idle_since.elapsed() > IDLE_TIMEOUT {
            return false;
        }
        // Whatever the runtime already knows (a close it has seen).
        self.poll_driver(&mut Context::from_waker(std::task::Waker::noop()));
        if self.driver.is_none() || !self.sender.is_ready() {
            return false;
        }
        self.idle_since.elapsed() < CHECK_AFTER_IDLE || !peer_closed_or_spoke(self.fd)
    }
}

/// urllib3's "is the connection dropped?": an idle connection that is
/// readable was closed by the server, or has bytes nobody asked for; either
/// way it cannot carry a request. (One non-blocking peek, no waiting.)
fn peer_closed_or_spoke(fd: RawFd) -> bool {
    let mut byte = 0u8;
    // SAFETY: a one-byte peek into a local buffer on a socket this pool owns.
    let n = unsafe {
        libc::recv(
            fd,
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n >= 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::WouldBlock
}

/// A response body that drives its connection while it is read, and gives
/// the connection back to the pool once the body has ended. Dropped before
/// its end, it closes the connection.
pub struct ResponseBody {
    incoming: Incoming,
    conn: Option<Box<Conn>>,
    pool: Arc<Transport>,
}

impl ResponseBody {
    /// A tap on the connection carrying this body (see [`ConnectionTap`]).
    pub fn tap(&self) -> ConnectionTap {
        ConnectionTap(self.conn.as_ref().map(|c| c.poisoned.clone()))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        // Twice at most: asking the body for data is what lets the
        // connection hand over the next chunk it has read, so a chunk that
        // has arrived is taken in this poll, not after a scheduler turn.
        for _ in 0..2 {
            if let Some(conn) = this.conn.as_mut() {
                conn.poll_driver(cx);
            }
            match Pin::new(&mut this.incoming).poll_frame(cx) {
                Poll::Pending => continue,
                Poll::Ready(None) => {
                    if let Some(conn) = this.conn.take() {
                        this.pool.checkin(conn, cx);
                    }
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(frame)) => return Poll::Ready(Some(frame)),
            }
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

/// A handle on the connection that carries one response, so that a reader
/// that finds the response corrupt can keep that connection out of the pool
/// (the connection may go back to the pool as soon as the body's last byte
/// arrives, which may be in the same read as a corrupt frame).
#[derive(Default)]
pub struct ConnectionTap(Option<Arc<AtomicBool>>);

impl ConnectionTap {
    /// Marks the connection as never to be reused (a no-op without a tap).
    pub fn retire(&self) {
        if let Some(poisoned) = &self.0 {
            poisoned.store(true, Ordering::Release);
        }
    }
}

/// Maps a failure while opening a connection to what botocore would raise.
fn classify_connect(url: &str, error: &(dyn StdError + 'static)) -> ClientError {
    let url = url.to_string();
    if chain_has::<ConnectTimedOut>(error) {
        return ClientError::ConnectTimeout { url };
    }
    let reason = describe(error);
    if chain_has::<rustls::Error>(error) {
        ClientError::Tls { url, reason }
    } else {
        ClientError::Connect { url, reason }
    }
}

/// Maps a failure on an open connection to what botocore would raise for it.
pub fn classify(url: &str, error: &(dyn StdError + 'static)) -> ClientError {
    let url = url.to_string();
    if chain_has::<ReadTimedOut>(error) {
        return ClientError::ReadTimeout { url };
    }
    let reason = describe(error);
    if chain_has::<rustls::Error>(error) {
        ClientError::Tls { url, reason }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    fn plain_pool() -> Arc<Transport> {
        let tls = Transport::tls_config(&TransportConfig {
            verify: Verify::Off,
            ..TransportConfig::default()
        })
        .unwrap();
        Arc::new(Transport::new(&TransportConfig::default(), tls, false))
    }

    #[tokio::test]
    async fn a_request_on_a_connection_that_closed_fails_unsent_instead_of_waiting() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url: http::Uri = format!("http://{}/x", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let server = tokio::spawn(async move { drop(listener.accept().await.unwrap()) });
        let mut conn = plain_pool().connect(&url).await.unwrap();
        server.await.unwrap();
        // Lets the runtime see the server's close before the request goes.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let request = http::Request::post("/x")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let sending = conn.sender.try_send_request(request);
        let outcome = tokio::time::timeout(Duration::from_secs(5), conn.drive_until(sending))
            .await
            .expect("the request ends with the connection");
        let mut failed = outcome.expect_err("the server closed the connection");
        assert!(failed.take_message().is_some(), "{:?}", failed.error());
    }

    #[test]
    fn requests_and_bodies_can_move_across_threads() {
        // A multi-thread runtime may resume a call on another worker.
        let pool = plain_pool();
        let url: http::Uri = "http://127.0.0.1:9/x".parse().unwrap();
        let sending = pool.send(http::Request::new(Full::new(Bytes::new())), &url);
        assert_send(&sending);
        let client = crate::Client::new(crate::ClientConfig {
            endpoint_url: "http://127.0.0.1:9".into(),
            region: "us-east-1".into(),
            user_agent: "test".into(),
            transport: TransportConfig::default(),
            retry: Default::default(),
            unsigned: false,
        })
        .unwrap();
        let credentials = sagerun_core::sigv4::Credentials {
            access_key: "AKID".into(),
            secret_key: "secret".into(),
            session_token: None,
        };
        let call = crate::Invocation {
            op: sagerun_core::protocol::Operation::InvokeEndpoint,
            endpoint_name: "ep".into(),
            members: Vec::new(),
            body: Bytes::new(),
        };
        assert_send(&client.invoke(call.clone(), &credentials));
        assert_send(&client.invoke_stream(call, &credentials));
    }
}
