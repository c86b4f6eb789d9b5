//! The fan-out engine behind `invoke_endpoint_many`: many futures run on a
//! Tokio runtime, at most `concurrency` of them at once; a consumer that is
//! not async (a Python thread) collects the finished ones in completion
//! order with a blocking wait, and submits more as room opens.
//!
//! Memory stays bounded however many items flow through: an item is
//! *outstanding* from its submission until it has been collected and every
//! item before it has been collected too (results are released in input
//! order, so a finished item may wait for a slower one before it). The
//! engine accepts at most `concurrency + window` outstanding items
//! ([`FanOut::capacity`]); a slow item at the head therefore stops new
//! submissions once the window behind it is full (head-of-line blocking,
//! by design: it is what bounds the consumer's reorder buffer).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio::task::{Id, JoinSet};

/// A task that panicked instead of producing its result (a bug; reported
/// as that item's failure rather than stalling the batch).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the request's task panicked: {0}")]
pub struct TaskPanicked(pub String);

/// One finished item: its index (0-based, in submission order) and result.
pub type Completed<T> = (u64, Result<T, TaskPanicked>);

/// Which outstanding items have been collected; the frontier is the first
/// index that has not (everything before it is released).
#[derive(Debug, Default)]
struct ReorderWindow {
    frontier: u64,
    /// `collected[i]`: whether item `frontier + i` has been collected.
    collected: VecDeque<bool>,
}

impl ReorderWindow {
    /// Opens a slot for the next item; returns its index.
    fn open(&mut self) -> u64 {
        self.collected.push_back(false);
        self.frontier + self.collected.len() as u64 - 1
    }

    fn collect(&mut self, index: u64) {
        let offset = index
            .checked_sub(self.frontier)
            .and_then(|o| usize::try_from(o).ok())
            .filter(|&o| o < self.collected.len())
            .expect("only outstanding items are collected");
        self.collected[offset] = true;
        while self.collected.front() == Some(&true) {
            self.collected.pop_front();
            self.frontier += 1;
        }
    }

    fn outstanding(&self) -> usize {
        self.collected.len()
    }
}

/// Runs submitted futures with a concurrency limit; see the module docs.
pub struct FanOut<T> {
    /// Multi-threaded: the tasks run on its workers while the consumer
    /// works; current-thread: they run while the consumer waits.
    runtime: Arc<Runtime>,
    /// One permit per running item: queued tasks wait here, so at most
    /// `concurrency` items are in flight.
    permits: Arc<Semaphore>,
    tasks: JoinSet<T>,
    index_of: HashMap<Id, u64>,
    window: ReorderWindow,
    limit: usize,
}

impl<T: Send + 'static> FanOut<T> {
    /// `concurrency` items run at once (at least 1, at most what a tokio
    /// semaphore holds); `window` more may be outstanding behind the
    /// slowest one.
    pub fn new(runtime: Arc<Runtime>, concurrency: usize, window: usize) -> FanOut<T> {
        let concurrency = concurrency.clamp(1, Semaphore::MAX_PERMITS);
        FanOut {
            runtime,
            permits: Arc::new(Semaphore::new(concurrency)),
            tasks: JoinSet::new(),
            index_of: HashMap::new(),
            window: ReorderWindow::default(),
            limit: concurrency.saturating_add(window),
        }
    }

    /// How many more items may be submitted (or settled) now.
    pub fn capacity(&self) -> usize {
        self.limit - self.window.outstanding()
    }

    /// Items submitted whose results have not been collected yet.
    pub fn pending(&self) -> usize {
        self.tasks.len()
    }

    /// Items outstanding (see the module docs): never more than
    /// `concurrency + window`.
    pub fn outstanding(&self) -> usize {
        self.window.outstanding()
    }

    /// The index the next submitted or settled item gets.
    pub fn next_index(&self) -> u64 {
        self.window.frontier + self.window.outstanding() as u64
    }

    /// Starts `work` (it runs once a concurrency permit is free); returns
    /// its index. Panics if there is no capacity: check [`Self::capacity`].
    pub fn submit<F>(&mut self, work: F) -> u64
    where
        F: Future<Output = T> + Send + 'static,
    {
        assert!(self.capacity() > 0, "submit() without capacity");
        let index = self.window.open();
        // Queue for a permit now, in submission order (tokio's semaphore
        // is fair), not when the task is first polled (in any order): the
        // items start in input order, one after another with concurrency 1.
        let mut acquire = Box::pin(self.permits.clone().acquire_owned());
        let ready = match acquire
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(permit) => Some(permit),
            Poll::Pending => None,
        };
        let task = self.tasks.spawn_on(
            async move {
                // The semaphore is never closed: the permit is Ok.
                let _running = match ready {
                    Some(permit) => permit,
                    None => acquire.await,
                };
                work.await
            },
            self.runtime.handle(),
        );
        self.index_of.insert(task.id(), index);
        index
    }

    /// Takes an index for an item the caller finished itself (say, one that
    /// failed validation): it is collected at once, but still holds its
    /// place in the window until the items before it are.
    pub fn settle(&mut self) -> u64 {
        assert!(self.capacity() > 0, "settle() without capacity");
        let index = self.window.open();
        self.window.collect(index);
        index
    }

    /// Blocks (outside the runtime) until at least one item finishes or
    /// `max_wait` passes, then collects every finished item, in completion
    /// order. Empty when nothing is pending or the wait timed out.
    pub fn wait(&mut self, max_wait: Duration) -> Vec<Completed<T>> {
        if self.tasks.is_empty() {
            return Vec::new();
        }
        let tasks = &mut self.tasks;
        let first = self
            .runtime
            .block_on(async { tokio::time::timeout(max_wait, tasks.join_next_with_id()).await });
        match first {
            Ok(Some(joined)) => {
                let mut done = vec![self.collected(joined)];
                done.extend(self.try_collect());
                done
            }
            _ => Vec::new(),
        }
    }

    /// Collects without waiting: every item that has finished already.
    pub fn try_collect(&mut self) -> Vec<Completed<T>> {
        let mut done = Vec::new();
        while let Some(joined) = self.tasks.try_join_next_with_id() {
            done.push(self.collected(joined));
        }
        done
    }

    fn collected(&mut self, joined: Result<(Id, T), tokio::task::JoinError>) -> Completed<T> {
        let (id, result) = match joined {
            Ok((id, value)) => (id, Ok(value)),
            Err(error) => {
                let id = error.id();
                (id, Err(TaskPanicked(panic_reason(error))))
            }
        };
        let index = self
            .index_of
            .remove(&id)
            .expect("every task's index is recorded");
        self.window.collect(index);
        (index, result)
    }

    /// Stops every item still running or queued (their connections are
    /// closed, not pooled). Dropping the FanOut does the same.
    pub fn abort_all(&mut self) {
        self.tasks.abort_all();
    }
}

fn panic_reason(error: tokio::task::JoinError) -> String {
    if !error.is_panic() {
        // Only abort_all() or dropping the FanOut cancels tasks.
        return "cancelled".to_string();
    }
    let payload = error.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    fn runtime() -> Arc<tokio::runtime::Runtime> {
        Arc::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
        )
    }

    /// Runs every item through a FanOut the way the Python layer does:
    /// fill to capacity, then collect; returns results in input order.
    fn drive<T: Send + 'static>(
        fan: &mut FanOut<T>,
        mut items: impl Iterator<Item = Option<std::pin::Pin<Box<dyn Future<Output = T> + Send>>>>,
        mut on_collect: impl FnMut(&FanOut<T>),
    ) -> Vec<Option<Result<T, TaskPanicked>>> {
        let mut results: Vec<Option<Result<T, TaskPanicked>>> = Vec::new();
        let mut exhausted = false;
        loop {
            while !exhausted && fan.capacity() > 0 {
                match items.next() {
                    None => exhausted = true,
                    Some(Some(work)) => {
                        let i = fan.submit(work) as usize;
                        assert_eq!(i, results.len());
                        results.push(None);
                    }
                    Some(None) => {
                        let i = fan.settle() as usize;
                        assert_eq!(i, results.len());
                        results.push(None);
                    }
                }
            }
            if exhausted && fan.pending() == 0 {
                return results;
            }
            for (index, result) in fan.wait(Duration::from_secs(5)) {
                assert!(results[index as usize].is_none(), "collected twice");
                results[index as usize] = Some(result);
            }
            on_collect(fan);
        }
    }

    #[test]
    fn runs_everything_once_and_honours_the_concurrency_limit() {
        let rt = runtime();
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut fan = FanOut::new(rt.clone(), 4, 4);
        let items = (0..40u64).map(|i| {
            let (running, peak) = (running.clone(), peak.clone());
            let work: std::pin::Pin<Box<dyn Future<Output = u64> + Send>> = Box::pin(async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5 + (i * 7) % 11)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                i * 10
            });
            Some(work)
        });
        let results = drive(&mut fan, items, |fan| assert!(fan.outstanding() <= 8));
        let values: Vec<u64> = results.into_iter().map(|r| r.unwrap().unwrap()).collect();
        assert_eq!(values, (0..40).map(|i| i * 10).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn items_start_in_submission_order() {
        let rt = runtime();
        let started = Arc::new(Mutex::new(Vec::new()));
        let mut fan = FanOut::new(rt.clone(), 1, 300);
        for i in 0..300u32 {
            let started = started.clone();
            fan.submit(async move {
                started.lock().unwrap().push(i);
                tokio::task::yield_now().await;
            });
        }
        while fan.pending() > 0 {
            fan.wait(Duration::from_secs(5));
        }
        assert_eq!(*started.lock().unwrap(), (0..300).collect::<Vec<_>>());
    }

    #[test]
    fn a_slow_head_blocks_new_submissions_once_the_window_is_full() {
        let rt = runtime();
        let mut fan: FanOut<u32> = FanOut::new(rt.clone(), 2, 3);
        let gate = Arc::new(tokio::sync::Notify::new());
        let g = gate.clone();
        fan.submit(async move {
            g.notified().await;
            0
        });
        for i in 1..5 {
            fan.submit(async move { i });
        }
        assert_eq!(fan.capacity(), 0);
        let mut seen = Vec::new();
        while seen.len() < 4 {
            seen.extend(fan.wait(Duration::from_secs(5)).into_iter().map(|(i, _)| i));
        }
        seen.sort();
        assert_eq!(seen, vec![1, 2, 3, 4]);
        // Collected, but still behind item 0: no room yet.
        assert_eq!(fan.capacity(), 0);
        assert_eq!(fan.outstanding(), 5);
        gate.notify_one();
        let head = fan.wait(Duration::from_secs(5));
        assert_eq!(head.len(), 1);
        assert_eq!(head[0].0, 0);
        assert_eq!(fan.capacity(), 5);
        assert_eq!(fan.outstanding(), 0);
    }

    #[test]
    fn settled_items_keep_their_place() {
        let rt = runtime();
        let mut fan: FanOut<&'static str> = FanOut::new(rt.clone(), 2, 0);
        let items = ["a", "-", "b", "-", "-", "c"].into_iter().map(|s| {
            (s != "-").then(|| {
                let w: std::pin::Pin<Box<dyn Future<Output = &'static str> + Send>> =
                    Box::pin(async move { s });
                w
            })
        });
        let results = drive(&mut fan, items, |_| {});
        let shape: Vec<Option<&str>> = results.into_iter().map(|r| r.map(|r| r.unwrap())).collect();
        assert_eq!(
            shape,
            vec![Some("a"), None, Some("b"), None, None, Some("c")]
        );
    }

    #[test]
    fn a_panicking_task_is_reported_in_its_place() {
        let rt = runtime();
        let mut fan: FanOut<u32> = FanOut::new(rt.clone(), 3, 3);
        fan.submit(async { 1 });
        fan.submit(async { panic!("boom") });
        fan.submit(async { 3 });
        let mut got = Vec::new();
        while got.len() < 3 {
            got.extend(fan.wait(Duration::from_secs(5)));
        }
        got.sort_by_key(|(i, _)| *i);
        assert_eq!(got[0].1, Ok(1));
        assert_eq!(got[1].1, Err(TaskPanicked("boom".into())));
        assert_eq!(got[2].1, Ok(3));
        assert_eq!(fan.outstanding(), 0);
    }

    #[test]
    fn wait_times_out_and_dropping_aborts_the_rest() {
        let rt = runtime();
        let dropped = Arc::new(Mutex::new(0));
        struct Guard(Arc<Mutex<u32>>);
        impl Drop for Guard {
            fn drop(&mut self) {
                *self.0.lock().unwrap() += 1;
            }
        }
        let mut fan: FanOut<()> = FanOut::new(rt.clone(), 2, 2);
        assert!(
            fan.wait(Duration::from_millis(1)).is_empty(),
            "nothing pending"
        );
        for _ in 0..4 {
            let guard = Guard(dropped.clone());
            fan.submit(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            });
        }
        assert!(fan.wait(Duration::from_millis(20)).is_empty());
        drop(fan);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while *dropped.lock().unwrap() < 4 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(*dropped.lock().unwrap(), 4);
    }

    #[test]
    fn many_items_keep_the_window_small() {
        let rt = runtime();
        let mut fan: FanOut<u64> = FanOut::new(rt.clone(), 64, 64);
        let items = (0..200_000u64).map(|i| {
            let w: std::pin::Pin<Box<dyn Future<Output = u64> + Send>> = Box::pin(async move { i });
            Some(w)
        });
        let mut max_outstanding = 0;
        let results = drive(&mut fan, items, |f| {
            max_outstanding = max_outstanding.max(f.outstanding())
        });
        assert_eq!(results.len(), 200_000);
        assert!(max_outstanding <= 128);
        assert!(fan.index_of.is_empty() && fan.window.collected.is_empty());
    }
}
