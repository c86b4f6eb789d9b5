//! The HTTP/1.1 server: one current-thread Tokio runtime per serving thread
//! (connections dealt out in turn, each served start to end on one thread),
//! keep-alive connections, optional TLS, stopped on demand.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;

use crate::async_invocations::AsyncStore;
use crate::auth::Verifier;
use crate::config::{parse_endpoints_json, ConfigError};
use crate::handler::{handle, Runtime};
use crate::head_deadline::HeadDeadline;
use crate::models::ModelContext;
use crate::sessions::Sessions;
use crate::tls;

/// How the runtime is started (the endpoints come separately, as JSON).
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub host: String,
    /// 0 picks a free port.
    pub port: u16,
    pub region: String,
    /// Accepted (access key, secret key) pairs.
    pub credentials: Vec<(String, String)>,
    pub verify_signatures: bool,
    /// PEM certificate chain and private key; HTTPS when set.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Stands in for S3 in InvokeEndpointAsync.
    pub data_dir: Option<PathBuf>,
    pub session_ttl: Duration,
    pub account_id: String,
    pub worker_threads: usize,
    /// How long a connection may wait for a request head (the first one
    /// counted from the connection's start, TLS handshake included; the
    /// next from the end of the last response) before it is closed.
    pub header_timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            host: "127.0.0.1".to_owned(),
            port: 0,
            region: "us-east-1".to_owned(),
            credentials: Vec::new(),
            verify_signatures: true,
            tls: None,
            data_dir: None,
            session_ttl: Duration::from_secs(20 * 60),
            account_id: "123456789012".to_owned(),
            worker_threads: 2,
            // hyper's default header_read_timeout, which this replaces.
            header_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Tls(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot start the server runtime: {0}")]
    Runtime(std::io::Error),
}

/// A running local runtime; stops when [`LocalServer::stop`] is called or
/// when dropped.
pub struct LocalServer {
    addr: SocketAddr,
    tls: bool,
    shutdown: watch::Sender<bool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl LocalServer {
    pub fn start(endpoints_json: &str, opts: ServerOptions) -> Result<LocalServer, StartError> {
        let endpoints = parse_endpoints_json(endpoints_json)?;
        let acceptor = match &opts.tls {
            Some((cert, key)) => Some(tls::acceptor(cert, key).map_err(StartError::Tls)?),
            None => None,
        };
        if opts.verify_signatures && opts.credentials.is_empty() {
            return Err(ConfigError(
                "signature checks are on but no credentials were given".into(),
            )
            .into());
        }
        let addr = format!("{}:{}", opts.host, opts.port);
        // The (host, port) form also takes bare IPv6 literals such as "::1".
        let std_listener =
            StdListener::bind((opts.host.as_str(), opts.port)).map_err(|source| {
                StartError::Bind {
                    addr: addr.clone(),
                    source,
                }
            })?;
        std_listener
            .set_nonblocking(true)
            .map_err(|source| StartError::Bind {
                addr: addr.clone(),
                source,
            })?;
        let local_addr = std_listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;

        let ctx = ModelContext {
            region: opts.region.clone(),
            account_id: opts.account_id.clone(),
        };
        let verifier = opts
            .verify_signatures
            .then(|| Verifier::new(&opts.region, &opts.credentials));
        let state = Arc::new(Runtime::new(
            endpoints,
            ctx,
            verifier,
            Sessions::new(opts.session_ttl),
            AsyncStore::new(opts.data_dir.clone()),
        ));
        let (shutdown, stop_rx) = watch::channel(false);
        let mut workers = Vec::new();
        let mut inboxes = Vec::new();
        for _ in 0..opts.worker_threads.max(1) {
            let (tx, rx) = mpsc::unbounded_channel();
            let serving = Serving {
                acceptor: acceptor.clone(),
                state: state.clone(),
                header_timeout: opts.header_timeout,
            };
            let worker = Worker::start(rx, serving, stop_rx.clone())?;
            workers.push(worker);
            inboxes.push(tx);
        }
        let listener = {
            let _guard = workers[0].runtime.enter();
            TcpListener::from_std(std_listener).map_err(StartError::Runtime)?
        };
        workers[0]
            .runtime
            .spawn(accept_loop(listener, inboxes, stop_rx));
        let threads = workers
            .into_iter()
            .map(Worker::run)
            .collect::<Result<Vec<_>, _>>()
            .map_err(StartError::Runtime)?;
        Ok(LocalServer {
            addr: local_addr,
            tls: opts.tls.is_some(),
            shutdown,
            threads,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }

    /// Stops accepting, drops open connections and joins the threads.
    /// Idempotent.
    pub fn stop(&mut self) {
        let _ = self.shutdown.send(true);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One serving thread: a current-thread runtime that serves the
/// connections handed to it, start to end. A connection never changes
/// threads, so answering a request wakes no other thread (a multi-thread
/// runtime's hand-offs between workers cost more than a small request).
struct Worker {
    runtime: tokio::runtime::Runtime,
    inbox: mpsc::UnboundedReceiver<std::net::TcpStream>,
    serving: Serving,
    stop: watch::Receiver<bool>,
}

/// What serving a connection needs.
#[derive(Clone)]
struct Serving {
    acceptor: Option<TlsAcceptor>,
    state: Arc<Runtime>,
    header_timeout: Duration,
}

impl Worker {
    fn start(
        inbox: mpsc::UnboundedReceiver<std::net::TcpStream>,
        serving: Serving,
        stop: watch::Receiver<bool>,
    ) -> Result<Worker, StartError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StartError::Runtime)?;
        Ok(Worker {
            runtime,
            inbox,
            serving,
            stop,
        })
    }

    fn run(self) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("sagerun-local".to_owned())
            .spawn(move || {
                let Worker {
                    runtime,
                    mut inbox,
                    serving,
                    mut stop,
                } = self;
                runtime.block_on(async {
                    loop {
                        let stream = tokio::select! {
                            _ = stop.changed() => return,
                            stream = inbox.recv() => stream,
                        };
                        let Some(stream) = stream else { return };
                        let Ok(stream) = TcpStream::from_std(stream) else {
                            continue;
                        };
                        tokio::spawn(serve_stream(stream, serving.clone()));
                    }
                });
                // Ends this thread's connections and tasks.
                runtime.shutdown_timeout(Duration::from_secs(2));
            })
    }
}

/// Accepts connections and deals them out to the workers in turn.
async fn accept_loop(
    listener: TcpListener,
    workers: Vec<mpsc::UnboundedSender<std::net::TcpStream>>,
    mut stop: watch::Receiver<bool>,
) {
    for next in (0..workers.len()).cycle() {
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            r = listener.accept() => r,
        };
        let stream = match accepted.and_then(|(stream, _)| stream.into_std()) {
            Ok(stream) => stream,
            Err(_) => {
                // Out of file descriptors and the like: back off, keep serving.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let _ = workers[next].send(stream);
    }
}

async fn serve_stream(stream: TcpStream, serving: Serving) {
    let deadline = HeadDeadline::new(serving.header_timeout);
    let serve = async {
        match serving.acceptor {
            None => serve_connection(stream, serving.state, &deadline).await,
            Some(acceptor) => {
                if let Ok(tls_stream) = acceptor.accept(stream).await {
                    serve_connection(tls_stream, serving.state, &deadline).await;
                }
            }
        }
    };
    deadline.serve(serve).await;
}

async fn serve_connection<S>(io: S, state: Arc<Runtime>, deadline: &HeadDeadline)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let deadline = deadline.clone();
    // The request counts as in progress from its head to the end of its
    // response body.
    let service = service_fn(move |req| handle(state.clone(), req, deadline.begin()));
    // Errors here are the client's doing (reset, bad HTTP); the connection
    // simply ends, as on a real server.
    let _ = http1::Builder::new()
        .keep_alive(true)
        // Copy head and body chunks into one buffer and write it with one
        // write(2), instead of a writev(2) of three iovecs per chunk that
        // hyper caps at 16 chunks: a 200-event stream that is ready at once
        // goes out in one write rather than 13 (one HTTP chunk per event
        // either way; the bytes on the wire are the same).
        .writev(false)
        // The wait for a head is bounded by `deadline` (one timer per
        // connection) instead of hyper's timer per request.
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(io), service)
        .await;
}
