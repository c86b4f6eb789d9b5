//! The connector stack under the HTTP pool:
//! `WithConnectTimeout<HttpsConnector<Dialer>>`.
//!
//! - [`Dialer`] opens TCP connections (TCP_NODELAY), directly or through an
//!   HTTP proxy (absolute-form requests for `http://` targets, a CONNECT
//!   tunnel for `https://` ones);
//! - hyper-rustls adds TLS for `https://` targets;
//! - [`WithConnectTimeout`] bounds the whole connect (TCP + proxy + TLS).
//!
//! Every connection is a [`TimedStream`]: a read that waits longer than the
//! read timeout since the last byte moved fails with [`ReadTimedOut`], which
//! is botocore's socket read-timeout semantics (it covers the response head
//! and every chunk of a streamed body alike).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderValue, Uri};
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tower_service::Service;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Marks a connect that outlived the connect timeout.
#[derive(Debug, thiserror::Error)]
#[error("connect timed out")]
pub struct ConnectTimedOut;

/// Marks a read that outlived the read timeout (inside an `io::Error`).
#[derive(Debug, thiserror::Error)]
#[error("read timed out")]
pub struct ReadTimedOut;

/// An HTTP proxy every connection goes through.
#[derive(Clone, Debug)]
pub struct Proxy {
    pub uri: Uri,
    /// `Proxy-Authorization` value from the proxy URL's user:password.
    pub authorization: Option<HeaderValue>,
}

/// A TCP connection with a read timeout.
pub struct TimedStream {
    io: TokioIo<TcpStream>,
    read_timeout: Option<Duration>,
    /// The timer of the read now waiting (allocated once, then reset).
    read_deadline: Option<Pin<Box<Sleep>>>,
    /// A read is waiting and `read_deadline` counts for it. The clock only
    /// runs while a read waits (like a socket timeout), never while the
    /// caller is slow to consume what already arrived.
    armed: bool,
    /// The peer is an HTTP proxy forwarding absolute-form requests.
    forwarding_proxy: bool,
}

impl TimedStream {
    fn new(io: TokioIo<TcpStream>, read_timeout: Option<Duration>, forwarding_proxy: bool) -> Self {
        TimedStream {
            io,
            read_timeout,
            read_deadline: None,
            armed: false,
            forwarding_proxy,
        }
    }

    /// The socket (for a non-blocking liveness check while idle).
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.io.inner().as_raw_fd()
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
        let result = Pin::new(&mut this.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            if n > 0 {
                this.restart_wait();
            }
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
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
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = result {
            if n > 0 {
                this.restart_wait();
            }
        }
        result
    }
}

/// Opens TCP connections, directly or through the configured proxy.
#[derive(Clone)]
pub struct Dialer {
    tcp: HttpConnector,
    proxy: Option<Proxy>,
    read_timeout: Option<Duration>,
}

impl Dialer {
    pub fn new(proxy: Option<Proxy>, read_timeout: Option<Duration>) -> Dialer {
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_keepalive(Some(Duration::from_secs(60)));
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
        let mut tcp = self.tcp.clone();
        match self.proxy.clone() {
            None => Box::pin(async move {
                let io = tcp.call(dst).await?;
                Ok(TimedStream::new(io, read_timeout, false))
            }),
            Some(proxy) if dst.scheme_str() == Some("https") => {
                let mut tunnel = Tunnel::new(proxy.uri, tcp);
                if let Some(auth) = proxy.authorization {
                    tunnel = tunnel.with_auth(auth);
                }
                Box::pin(async move {
                    let io = tunnel.call(dst).await?;
                    Ok(TimedStream::new(io, read_timeout, false))
                })
            }
            Some(proxy) => Box::pin(async move {
                let io = tcp.call(proxy.uri).await?;
                Ok(TimedStream::new(io, read_timeout, true))
            }),
        }
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
