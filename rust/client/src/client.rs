//! The client: one endpoint, one region, a connection pool, a retry policy.
//! Async throughout (the sync Python binding drives it with `block_on`; an
//! async binding can await the same methods).

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use http::HeaderValue;
use sagerun_core::protocol::Operation;
use sagerun_core::sigv4::Credentials;

use crate::error::ClientError;
use crate::events::EventReader;
use crate::request::{self, AttemptInfo, Endpoint, Invocation, PreparedRequest};
use crate::response::{self, Head, Response, RetryReport};
use crate::retry::{Outcome, RetryConfig, RetryPolicy};
use crate::runtime;
use crate::tls;
use crate::transport::{ConnectionTap, ResponseBody, Transport, TransportConfig};

#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The resolved endpoint URL (botocore's endpoint resolver decides it).
    pub endpoint_url: String,
    pub region: String,
    pub user_agent: String,
    pub transport: TransportConfig,
    pub retry: RetryConfig,
    /// botocore's `signature_version=UNSIGNED`: requests carry no SigV4
    /// headers (and the caller needs no credentials).
    pub unsigned: bool,
}

/// The start of a response stream: either events are coming, or the service
/// answered with an error (read in full).
pub enum StreamStart {
    Events {
        /// The operation answered (which header-bound members it has).
        op: Operation,
        head: Head,
        retries: RetryReport,
        reader: Box<EventReader>,
    },
    Complete(Response),
}

static NEXT_CLIENT_ID: AtomicU64 = AtomicU64::new(1);

/// Per thread: (process generation, client id -> (is the client alive?, its pool)).
type PoolTable = (u64, HashMap<u64, (Weak<()>, Arc<Transport>)>);

thread_local! {
    static POOLS: RefCell<PoolTable> = RefCell::new((runtime::process_generation(), HashMap::new()));
}

pub struct Client {
    endpoint: Endpoint,
    region: String,
    unsigned: bool,
    user_agent: HeaderValue,
    transport_config: TransportConfig,
    tls: rustls::ClientConfig,
    /// Identifies this client's pools in each thread's pool table.
    id: u64,
    /// Dropped with the client, so that threads can forget its pools.
    alive: Arc<()>,
    /// The pool of calls running on the process-wide multi-thread runtime
    /// (async callers): one per client, made on first use, with the process
    /// generation that made it (a forked child makes its own).
    shared_pool: Mutex<Option<(u64, Arc<Transport>)>>,
    retry: RetryPolicy,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        let endpoint = Endpoint::parse(&config.endpoint_url)?;
        let user_agent = request::header_value("User-Agent", &config.user_agent)
            .map_err(|e| ClientError::Config(e.to_string()))?;
        // Surface a bad CA bundle now, not on the first request.
        let tls = if endpoint.is_https() {
            Transport::tls_config(&config.transport)?
        } else {
            Transport::tls_config(&TransportConfig {
                verify: tls::Verify::Off,
                ..config.transport.clone()
            })?
        };
        Ok(Client {
            endpoint,
            region: config.region,
            unsigned: config.unsigned,
            user_agent,
            transport_config: config.transport,
            tls,
            id: NEXT_CLIENT_ID.fetch_add(1, Ordering::Relaxed),
            alive: Arc::new(()),
            shared_pool: Mutex::new(None),
            retry: RetryPolicy::new(config.retry),
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The calling thread's pool for this client. Each thread has its own:
    /// a thread's connections are registered with its own runtime (see
    /// `runtime::local`). The pools live in a thread-local table, so they
    /// close when their thread ends; a forked child starts a new table.
    /// Calls running on the multi-thread runtime (async callers, whose
    /// futures move between its workers) share one pool per client instead.
    fn transport(&self) -> Arc<Transport> {
        let generation = runtime::process_generation();
        if runtime::on_multi_thread_runtime() {
            return self.shared_transport(generation);
        }
        POOLS.with(|table| {
            let mut table = table.borrow_mut();
            let (owner, pools) = &mut *table;
            if *owner != generation {
                // Forked: those connections belong to the parent process.
                for (_, (_, stale)) in pools.drain() {
                    std::mem::forget(stale);
                }
                *owner = generation;
            }
            if let Some((_, transport)) = pools.get(&self.id) {
                return transport.clone();
            }
            // Forget the pools of clients that no longer exist.
            pools.retain(|_, (alive, _)| alive.strong_count() > 0);
            let transport = Arc::new(self.new_transport());
            pools.insert(self.id, (Arc::downgrade(&self.alive), transport.clone()));
            transport
        })
    }

    fn new_transport(&self) -> Transport {
        Transport::new(
            &self.transport_config,
            self.tls.clone(),
            self.endpoint.is_https(),
        )
    }

    fn shared_transport(&self, generation: u64) -> Arc<Transport> {
        let mut slot = self
            .shared_pool
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match slot.as_ref() {
            Some((owner, transport)) if *owner == generation => transport.clone(),
            _ => {
                if let Some((_, stale)) = slot.take() {
                    // Forked: those connections belong to the parent process.
                    std::mem::forget(stale);
                }
                let transport = Arc::new(self.new_transport());
                *slot = Some((generation, transport.clone()));
                transport
            }
        }
    }

    /// Closes the idle connections of the async callers' pool now (instead
    /// of when the client is dropped); later async calls open a new pool.
    /// Calls in flight keep their connections until they end.
    pub fn close_shared_pool(&self) {
        let stale = self
            .shared_pool
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        drop(stale);
    }

    /// Sends an invocation and reads the whole response (success or error).
    pub async fn invoke(
        &self,
        call: Invocation,
        credentials: &Credentials,
    ) -> Result<Response, ClientError> {
        let op = call.op;
        let prepared = PreparedRequest::new(&self.endpoint, call)?;
        let url = prepared.uri();
        let (result, _) = self
            .with_retries(
                &prepared,
                credentials,
                false,
                |head, body, _, retries| async move {
                    let body = response::read_body(url, body).await?;
                    Ok(Response {
                        op,
                        head,
                        body,
                        retries,
                    })
                },
            )
            .await;
        result.map(|answer| answer.unwrap_or_else(|error_response| error_response))
    }

    /// Sends an invocation whose success is an event stream. Retries stop as
    /// soon as the stream has started.
    pub async fn invoke_stream(
        &self,
        call: Invocation,
        credentials: &Credentials,
    ) -> Result<StreamStart, ClientError> {
        let started = crate::timing::monotonic_seconds();
        let op = call.op;
        let prepared = PreparedRequest::new(&self.endpoint, call)?;
        let url = prepared.uri().to_string();
        let (result, _) = self
            .with_retries(&prepared, credentials, true, |head, body, tap, retries| {
                let mut reader = Box::new(EventReader::new(url.clone(), body, tap));
                reader.request_sent_at = started;
                async move {
                    Ok(StreamStart::Events {
                        op,
                        head,
                        retries,
                        reader,
                    })
                }
            })
            .await;
        result.map(|answer| answer.unwrap_or_else(StreamStart::Complete))
    }

    /// Runs attempts until one succeeds (`Ok(Ok(_))`), the service answers
    /// with an error that is not retried (`Ok(Err(response))`), or a failure
    /// that is not retried (`Err`). Returns the attempts made too.
    /// `tap_connection`: hand `on_success` a tap on the connection (for a
    /// reader that may have to keep it out of the pool).
    async fn with_retries<T, F, Fut>(
        &self,
        prepared: &PreparedRequest,
        credentials: &Credentials,
        tap_connection: bool,
        on_success: F,
    ) -> (Result<Result<T, Response>, ClientError>, u32)
    where
        F: Fn(Head, ResponseBody, ConnectionTap, RetryReport) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let mut info = AttemptInfo {
            attempt: 1,
            max_attempts: self.retry.config().max_attempts,
            ttl: None,
        };
        let mut last_retry_cost = None;
        loop {
            let attempt = info.attempt;
            let mut result = self
                .attempt(prepared, credentials, &info, tap_connection, &on_success)
                .await;
            let (retry, flags) = match &mut result {
                Ok(Ok(_)) => {
                    self.retry.on_success(last_retry_cost);
                    return (result, attempt);
                }
                Ok(Err(error)) => {
                    if let (Some(date), Some(read_timeout)) =
                        (error.head.get("date"), self.transport_config.read_timeout)
                    {
                        info.ttl = AttemptInfo::ttl_from(&date, read_timeout).or(info.ttl.take());
                    }
                    let code = response::error_code(&error.head, &error.body);
                    let retry_after = error.head.get("x-amz-retry-after");
                    let outcome = Outcome::Response {
                        status: error.head.status,
                        code: code.as_deref(),
                        retry_after: retry_after.as_deref(),
                    };
                    let (retry, flags) = self.retry.decide_with_flags(attempt, &outcome);
                    error.retries.flags = flags;
                    (retry, flags)
                }
                Err(failure) => self
                    .retry
                    .decide_with_flags(attempt, &Outcome::Failed(failure)),
            };
            let Some(retry) = retry else {
                log::debug!("attempt {attempt} is the last ({flags:?})");
                return (result, attempt);
            };
            log::debug!("attempt {attempt} failed; retrying in {:?}", retry.delay);
            tokio::time::sleep(retry.delay).await;
            last_retry_cost = Some(retry.quota_taken);
            info.attempt += 1;
        }
    }

    async fn attempt<T, F, Fut>(
        &self,
        prepared: &PreparedRequest,
        credentials: &Credentials,
        info: &AttemptInfo,
        tap_connection: bool,
        on_success: &F,
    ) -> Result<Result<T, Response>, ClientError>
    where
        F: Fn(Head, ResponseBody, ConnectionTap, RetryReport) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let transport = self.transport();
        let proxy_auth = match &self.transport_config.proxy {
            // Only a forwarding proxy (not a tunnel) sees our headers.
            Some(proxy) if proxy.forwards(self.endpoint.is_https()) => proxy.authorization.as_ref(),
            _ => None,
        };
        // Adaptive mode's rate limiter; before signing, so that a long wait
        // does not age the signature.
        self.retry.before_send().await;
        let request = prepared.signed(
            (!self.unsigned).then_some(credentials),
            &self.region,
            &self.user_agent,
            proxy_auth,
            info,
        )?;
        let attempt = info.attempt;
        let answer = transport.send(request, prepared.uri()).await?;
        let tap = if tap_connection {
            answer.body().tap()
        } else {
            ConnectionTap::default()
        };
        let (head, body) = Head::split(answer);
        if head.is_success() {
            let retries = RetryReport {
                attempts: attempt,
                flags: self.retry.success_flags(attempt),
            };
            return on_success(head, body, tap, retries).await.map(Ok);
        }
        let body = response::read_body(prepared.uri(), body).await?;
        // Flags are filled in once the retry decision is made.
        Ok(Err(Response {
            op: prepared.op(),
            head,
            body,
            retries: RetryReport {
                attempts: attempt,
                ..Default::default()
            },
        }))
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Arc<Client> {
        Arc::new(
            Client::new(ClientConfig {
                endpoint_url: "http://127.0.0.1:9".into(),
                region: "us-east-1".into(),
                user_agent: "test".into(),
                transport: TransportConfig::default(),
                retry: RetryConfig::default(),
                unsigned: false,
            })
            .unwrap(),
        )
    }

    #[test]
    fn tasks_of_the_multi_thread_runtime_share_one_pool_per_client() {
        let (a, b) = (client(), client());
        let rt = runtime::get();
        let pool = |c: &Arc<Client>| {
            let c = c.clone();
            rt.block_on(rt.spawn(async move { c.transport() })).unwrap()
        };
        let (a1, a2, b1) = (pool(&a), pool(&a), pool(&b));
        assert!(
            Arc::ptr_eq(&a1, &a2),
            "one pool for all of a client's tasks"
        );
        assert!(!Arc::ptr_eq(&a1, &b1), "each client has its own");
        // A blocking caller's thread runtime keeps its own pool.
        let local = runtime::local().block_on(async { a.transport() });
        assert!(!Arc::ptr_eq(&a1, &local));
    }
}
