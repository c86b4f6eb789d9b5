//! The one Tokio runtime of the process, created on first use.
//!
//! A forked child inherits the parent's memory but none of its threads, so a
//! runtime created before `fork()` is dead in the child. Every lookup checks
//! the process id and builds a fresh runtime in a new process; the parent's
//! copy is leaked on purpose (dropping it would wait for threads that do not
//! exist in the child).

use std::sync::{Arc, Mutex};

use tokio::runtime::Runtime;

static RUNTIME: Mutex<Option<(u32, Arc<Runtime>)>> = Mutex::new(None);

/// The process-wide runtime (two worker threads drive all connections; the
/// calling threads run their own requests via `block_on`).
pub fn get() -> Arc<Runtime> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((owner, rt)) = slot.as_ref() {
        if *owner == pid {
            return rt.clone();
        }
    }
    if let Some((_, stale)) = slot.take() {
        std::mem::forget(stale);
    }
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sagerun-io")
            .enable_all()
            .build()
            .expect("the Tokio runtime could not start (out of threads?)"),
    );
    *slot = Some((pid, rt.clone()));
    rt
}
