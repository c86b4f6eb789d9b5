//! The connector stack under the HTTP pool:
//! `WithConnectTimeout<HttpsConnector<Dialer>>`.
//!
//! - [`Dialer`] opens TCP connections (TCP_NODELAY), directly or through a
//!   proxy (absolute-form requests for `http://` targets, a CONNECT tunnel
//!   for `https://` ones); an `https://` proxy is reached over TLS first;
//! - hyper-rustls adds TLS for `https://` targets (inside the tunnel);
//! - [`ForwardingRoute`] keeps hyper-rustls out of the way when an
//!   `https://` proxy forwards `https://` requests itself
//!   (`proxy_use_forwarding_for_https`);
//! - [`WithConnectTimeout`] bounds the whole connect (TCP + proxy + TLS).
//!
//! Every connection is a [`TimedStream`]: a read that waits longer than the
//! read timeout since the last byte moved fails with [`ReadTimedOut`], which
//! is botocore's socket read-timeout semantics (it covers the response head
//! and every chunk of a streamed body alike).

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderValue, Uri};
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use crate::error::ClientError;
use crate::tls::{self, ClientCert, Verify};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Marks a connect that outlived the connect timeout.
#[derive(Debug, thiserror::Error)]
#[error("connect timed out")]
pub struct ConnectTimedOut;

/// Marks a read that outlived the read timeout (inside an `io::Error`).
#[derive(Debug, thiserror::Error)]
#[error("read timed out")]
pub struct ReadTimedOut;

/// A proxy every connection goes through (`http://` or `https://`).
#[derive(Clone, Debug)]
pub struct Proxy {
    pub uri: Uri,
    /// `Proxy-Authorization` value from the proxy URL's user:password.
    pub authorization: Option<HeaderValue>,
    /// TLS to the proxy itself (an `https://` proxy).
    tls: Option<Arc<rustls::ClientConfig>>,
    /// `https://` requests go to the proxy as absolute-form requests (it
    /// makes the TLS connection to the target) instead of through a tunnel.
    forward_https: bool,
}

/// botocore's `proxies_config`, and how the endpoint's certificate is
/// checked (an https:// proxy is checked the same way, plus
/// `proxy_ca_bundle`).
#[derive(Clone, Debug, Default)]
pub struct ProxyOptions {
    pub verify: Verify,
    pub ca_bundle: Option<PathBuf>,
    pub client_cert: Option<ClientCert>,
    pub use_forwarding_for_https: bool,
}

impl Proxy {
    /// `uri` is `http://host:port` or `https://host:port`.
    pub fn new(
        uri: Uri,
        authorization: Option<HeaderValue>,
        options: &ProxyOptions,
    ) -> Result<Proxy, ClientError> {
        let tls = match uri.scheme_str() {
            Some("http") => None,
            Some("https") => Some(Arc::new(
                tls::config_with_roots(
                    &options.verify,
                    options.ca_bundle.as_deref(),
                    options.client_cert.as_ref(),
                )
                .map_err(|e| match e {
                    ClientError::Config(why) => ClientError::ProxyConfig(why),
                    other => other,
                })?,
            )),
            _ => {
                return Err(ClientError::Config(format!(
                    "proxy URL {uri} is neither http:// nor https://"
                )))
            }
        };
        if uri.host().is_none() {
            return Err(ClientError::Config(format!("proxy URL {uri} has no host")));
        }
        // urllib3 forwards https:// requests only to an https:// proxy (a
        // plain one would see them in clear); otherwise it tunnels.
        let forward_https = options.use_forwarding_for_https && tls.is_some();
        Ok(Proxy {
            uri,
            authorization,
            tls,
            forward_https,
        })
    }

    /// Whether requests to a target of this scheme are forwarded to the
    /// proxy in absolute form (and carry `Proxy-Authorization`), rather
    /// than sent through a CONNECT tunnel.
    pub fn forwards(&self, https_target: bool) -> bool {
        !https_target || self.forward_https
    }
}

/// A TCP connection (or one over TLS to an https:// proxy).
type ProxiedIo = MaybeHttpsStream<TokioIo<TcpStream>>;

/// A connection with a read timeout.
pub struct TimedStream {
    io: ProxiedIo,
    read_timeout: Option<Duration>,
    /// The timer of the read now waiting (allocated once, then reset).
    read_deadline: Option<Pin<Box<Sleep>>>,
    /// A read is waiting and `read_deadline` counts for it. The clock only
    /// runs while a read waits (like a socket timeout), never while the
    /// caller is slow to consume what already arrived.
    armed: bool,
    /// The peer is an HTTP proxy forwarding absolute-form requests.
    forwarding_proxy: bool,
    /// The peer stopped reading (a write met a broken pipe or a reset):
    /// what is still written is dropped, so that the answer it sent before
    /// closing (a 413 for a body too large, say) is read, as urllib3 reads
    /// it, instead of the write's error hiding it. No answer there: the read
    /// fails as the connection closed.
    peer_stopped_reading: bool,
}

impl TimedStream {
    fn new(io: ProxiedIo, read_timeout: Option<Duration>, forwarding_proxy: bool) -> Self {
        TimedStream {
            io,
            read_timeout,
            read_deadline: None,
            armed: false,
            forwarding_proxy,
            peer_stopped_reading: false,
        }
    }

    /// The socket (for a non-blocking liveness check while idle).
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match &self.io {
            MaybeHttpsStream::Http(tcp) => tcp.inner().as_raw_fd(),
            MaybeHttpsStream::Https(tls) => tls.inner().get_ref().0.inner().inner().as_raw_fd(),
        }
    }

    /// Bytes went out: a waiting read waits for their answer from now on,
    /// not from when the connection went idle in the pool.
    fn restart_wait(&mut self) {
        if let (true, Some(timeout), Some(deadline)) =
            (self.armed, self.read_timeout, self.read_deadline.as_mut())
        {
            deadline.as_mut().reset(Instant::now() + timeout);
        }
    }

    /// What a write of `len` bytes reports, given what the socket said.
    fn wrote(&mut self, result: Poll<io::Result<usize>>, len: usize) -> Poll<io::Result<usize>> {
        match result {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.restart_wait();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                ) =>
            {
                self.peer_stopped_reading = true;
                Poll::Ready(Ok(len))
            }
            other => other,
        }
    }
}

impl Connection for TimedStream {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.forwarding_proxy)
    }
}

impl Read for TimedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.armed = false;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let Some(timeout) = this.read_timeout else {
                    return Poll::Pending;
                };
                let deadline = this
                    .read_deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if !this.armed {
                    deadline.as_mut().reset(Instant::now() + timeout);
                    this.armed = true;
                }
                match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.armed = false;
                        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, ReadTimedOut)))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl Write for TimedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.peer_stopped_reading {
            return Poll::Ready(Ok(buf.len()));
        }
        let result = Pin::new(&mut this.io).poll_write(cx, buf);
        this.wrote(result, buf.len())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.peer_stopped_reading {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.peer_stopped_reading {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let len = bufs.iter().map(|b| b.len()).sum();
        if this.peer_stopped_reading {
            return Poll::Ready(Ok(len));
        }
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.wrote(result, len)
    }
}

/// Opens connections, directly or through the configured proxy.
#[derive(Clone)]
pub struct Dialer {
    tcp: HttpConnector,
    proxy: Option<(Proxy, ProxyLink)>,
    read_timeout: Option<Duration>,
}

impl Dialer {
    pub fn new(proxy: Option<Proxy>, read_timeout: Option<Duration>) -> Dialer {
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_keepalive(Some(Duration::from_secs(60)));
        let proxy = proxy.map(|proxy| {
            let link = ProxyLink::new(&proxy, tcp.clone());
            (proxy, link)
        });
        Dialer {
            tcp,
            proxy,
            read_timeout,
        }
    }
}

type Connecting = Pin<Box<dyn Future<Output = Result<TimedStream, BoxError>> + Send>>;

impl Service<Uri> for Dialer {
    type Response = TimedStream;
    type Error = BoxError;
    type Future = Connecting;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let read_timeout = self.read_timeout;
        let Some((proxy, link)) = self.proxy.clone() else {
            let mut tcp = self.tcp.clone();
            return Box::pin(async move {
                let io = tcp.call(dst).await?;
                Ok(TimedStream::new(
                    MaybeHttpsStream::Http(io),
                    read_timeout,
                    false,
                ))
            });
        };
        // ForwardingRoute turned an https:// target the proxy forwards into
        // an http:// one, so only http:// targets are forwarded here.
        if dst.scheme_str() == Some("https") {
            let mut tunnel = Tunnel::new(proxy.uri, link);
            if let Some(auth) = proxy.authorization {
                tunnel = tunnel.with_auth(auth);
            }
            Box::pin(async move {
                let io = tunnel.call(dst).await?;
                Ok(TimedStream::new(io, read_timeout, false))
            })
        } else {
            let mut link = link;
            Box::pin(async move {
                let io = link.call(proxy.uri).await?;
                Ok(TimedStream::new(io, read_timeout, true))
            })
        }
    }
}

/// Connects to the proxy itself: plain TCP, or TLS for an https:// proxy.
#[derive(Clone)]
enum ProxyLink {
    Plain(HttpConnector),
    Tls(HttpsConnector<HttpConnector>),
}

impl ProxyLink {
    fn new(proxy: &Proxy, tcp: HttpConnector) -> ProxyLink {
        match &proxy.tls {
            None => ProxyLink::Plain(tcp),
            Some(tls) => ProxyLink::Tls(
                hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config((**tls).clone())
                    .https_only()
                    .enable_http1()
                    .wrap_connector(tcp),
            ),
        }
    }
}

impl Service<Uri> for ProxyLink {
    type Response = ProxiedIo;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<ProxiedIo, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, proxy_uri: Uri) -> Self::Future {
        match self {
            ProxyLink::Plain(tcp) => {
                let connecting = tcp.call(proxy_uri);
                Box::pin(async move { Ok(MaybeHttpsStream::Http(connecting.await?)) })
            }
            ProxyLink::Tls(tls) => tls.call(proxy_uri),
        }
    }
}

/// Sends an `https://` target that the proxy forwards
/// (`proxy_use_forwarding_for_https`) down the plain path: the proxy makes
/// the TLS connection to the target, so the connection to the proxy must
/// not get a TLS session with the target from hyper-rustls.
#[derive(Clone)]
pub struct ForwardingRoute<C> {
    inner: C,
    forward_https: bool,
}

impl<C> ForwardingRoute<C> {
    pub fn new(inner: C, proxy: Option<&Proxy>) -> Self {
        ForwardingRoute {
            inner,
            forward_https: proxy.is_some_and(|p| p.forwards(true)),
        }
    }
}

impl<C: Service<Uri>> Service<Uri> for ForwardingRoute<C> {
    type Response = C::Response;
    type Error = C::Error;
    type Future = C::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        if self.forward_https && dst.scheme_str() == Some("https") {
            let mut parts = dst.into_parts();
            parts.scheme = Some(http::uri::Scheme::HTTP);
            let plain = Uri::from_parts(parts).expect("an absolute URI stays valid as http");
            return self.inner.call(plain);
        }
        self.inner.call(dst)
    }
}

/// Bounds a whole connect (TCP, proxy tunnel, TLS handshake).
#[derive(Clone)]
pub struct WithConnectTimeout<C> {
    inner: C,
    timeout: Option<Duration>,
}

impl<C> WithConnectTimeout<C> {
    pub fn new(inner: C, timeout: Option<Duration>) -> Self {
        WithConnectTimeout { inner, timeout }
    }
}

impl<C> Service<Uri> for WithConnectTimeout<C>
where
    C: Service<Uri>,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
    C::Response: 'static,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let connecting = self.inner.call(dst);
        let timeout = self.timeout;
        Box::pin(async move {
            match timeout {
                None => connecting.await.map_err(Into::into),
                Some(limit) => match tokio::time::timeout(limit, connecting).await {
                    Ok(result) => result.map_err(Into::into),
                    Err(_) => Err(Box::new(ConnectTimedOut) as BoxError),
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(url: &str, forwarding: bool) -> Result<Proxy, ClientError> {
        let options = ProxyOptions {
            verify: Verify::Off,
            use_forwarding_for_https: forwarding,
            ..ProxyOptions::default()
        };
        Proxy::new(url.parse().unwrap(), None, &options)
    }

    #[test]
    fn https_requests_are_forwarded_only_to_an_https_proxy_that_asks_for_it() {
        let plain = proxy("http://127.0.0.1:3128", true).unwrap();
        assert!(plain.forwards(false) && !plain.forwards(true));
        let tls = proxy("https://127.0.0.1:3129", false).unwrap();
        assert!(tls.forwards(false) && !tls.forwards(true));
        let forwarding = proxy("https://127.0.0.1:3129", true).unwrap();
        assert!(forwarding.forwards(false) && forwarding.forwards(true));
    }

    #[test]
    fn other_proxy_schemes_are_refused() {
        for url in ["socks5://127.0.0.1:1080", "/relative"] {
            assert!(
                matches!(proxy(url, false), Err(ClientError::Config(_))),
                "{url}"
            );
        }
    }

    /// Records the URIs it is asked to connect to.
    #[derive(Clone, Default)]
    struct Recorder(Arc<std::sync::Mutex<Vec<Uri>>>);

    impl Service<Uri> for Recorder {
        type Response = ();
        type Error = BoxError;
        type Future = std::future::Ready<Result<(), BoxError>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, dst: Uri) -> Self::Future {
            self.0.lock().unwrap().push(dst);
            std::future::ready(Ok(()))
        }
    }

    #[test]
    fn a_forwarded_https_target_is_connected_as_plain_http() {
        let target: Uri = "https://runtime.example:8443/endpoints/x".parse().unwrap();
        for (forwarding, expected) in [
            (true, "http://runtime.example:8443/endpoints/x"),
            (false, "https://runtime.example:8443/endpoints/x"),
        ] {
            let recorder = Recorder::default();
            let proxy = proxy("https://127.0.0.1:3129", forwarding).unwrap();
            let mut route = ForwardingRoute::new(recorder.clone(), Some(&proxy));
            drop(route.call(target.clone()));
            assert_eq!(recorder.0.lock().unwrap()[0].to_string(), expected);
        }
    }
}
