//! The `sagerun._native` extension module: thin PyO3 bindings over the
//! PyO3-free crates. Each submodule converts types and maps errors for one
//! part; none of them holds protocol logic.

use pyo3::prelude::*;

/// Rust's allocations in this module (Python's objects keep CPython's own):
/// cheaper than glibc's malloc per small call, and across threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod adaptive;
mod async_client;
mod client;
mod events;
mod eventstream;
mod local;
mod many;
mod panics;
mod sigv4;
mod streaming;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // Benchmarks refuse a debug build (a test run's editable install can
    // replace the release one in the same checkout).
    m.add("DEBUG_BUILD", cfg!(debug_assertions))?;
    streaming::register(m)?;
    eventstream::register(m)?;
    sigv4::register(m)?;
    local::register(m)?;
    client::register(m)?;
    events::register(m)?;
    async_client::register(m)?;
    many::register(m)?;
    adaptive::register(m)?;
    panics::register(m)?;
    Ok(())
}
