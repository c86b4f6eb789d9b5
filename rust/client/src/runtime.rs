//! Tokio runtimes: one multi-threaded runtime per process for async use,
//! and one current-thread runtime per calling thread for blocking calls
//! (a blocking call then does its own I/O on its own thread: no hand-off
//! to a worker thread and back, which is most of the cost of a small call).
//!
//! A forked child inherits the parent's memory but none of its threads, so a
//! runtime created before `fork()` is dead in the child. Every lookup checks
//! the process generation (bumped by a fork hook) and builds a fresh runtime
//! in a new process; the parent's copy is leaked on purpose (dropping it
//! would wait for threads that do not exist in the child).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};

use tokio::runtime::Runtime;

/// Bumped in every forked child (by a `pthread_atfork` hook): state made
/// in another "generation" belongs to the parent process. Cheaper than
/// asking the kernel for the pid on every call.
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

extern "C" fn after_fork_in_child() {
    // Async-signal-safe: one atomic add.
    FORK_GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// Which process generation this is (changes in a forked child).
pub fn process_generation() -> u64 {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        // SAFETY: registers a plain function that only touches an atomic.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
        assert_eq!(rc, 0, "pthread_atfork failed");
    });
    FORK_GENERATION.load(Ordering::SeqCst)
}

static RUNTIME: Mutex<Option<(u64, Arc<Runtime>)>> = Mutex::new(None);

/// The process-wide runtime (two worker threads drive all connections; the
/// calling threads run their own requests via `block_on`).
pub fn get() -> Arc<Runtime> {
    let mut slot = RUNTIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    made_in_this_process(&mut slot, || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sagerun-io")
            .enable_all()
            .build()
            .expect("the Tokio runtime could not start (out of threads?)")
    })
}

/// The runtime in `slot` if this process made it, else a new one from
/// `build` (a parent's runtime is leaked: see the module comment).
fn made_in_this_process(
    slot: &mut Option<(u64, Arc<Runtime>)>,
    build: impl FnOnce() -> Runtime,
) -> Arc<Runtime> {
    let generation = process_generation();
    if let Some((owner, rt)) = slot.as_ref() {
        if *owner == generation {
            return rt.clone();
        }
    }
    if let Some((_, stale)) = slot.take() {
        std::mem::forget(stale);
    }
    let rt = Arc::new(build());
    *slot = Some((generation, rt.clone()));
    rt
}

/// Whether the calling task runs on a multi-thread runtime (the process-wide
/// one: async callers), rather than a thread's own current-thread runtime.
pub fn on_multi_thread_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

thread_local! {
    static LOCAL: RefCell<Option<(u64, Arc<Runtime>)>> = const { RefCell::new(None) };
}

/// This thread's current-thread runtime (made on first use, and again in a
/// forked child). Blocking calls run on it with `block_on`; the connections
/// they open are registered with its I/O driver, so they are read and
/// written while this thread (or another thread calling `block_on` on the
/// same runtime) drives a request or a body on them.
pub fn local() -> Arc<Runtime> {
    LOCAL.with(|slot| {
        made_in_this_process(&mut slot.borrow_mut(), || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the Tokio runtime could not start")
        })
    })
}
