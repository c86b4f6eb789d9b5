//! Per-endpoint fault state: what happens before the model is invoked
//! (latency, not-ready calls, random errors). The stream faults are applied
//! while framing (see `body`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sagerun_core::protocol::ErrorCode;

use crate::config::Faults;
use crate::errors::ApiError;

#[derive(Debug)]
pub struct FaultState {
    faults: Faults,
    not_ready_left: AtomicU64,
    rng: Mutex<StdRng>,
}

impl FaultState {
    pub fn new(faults: Faults) -> FaultState {
        let rng = match faults.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        FaultState {
            not_ready_left: AtomicU64::new(faults.not_ready_first),
            rng: Mutex::new(rng),
            faults,
        }
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Applies latency, then the not-ready and random-error faults.
    pub async fn before_invoke(&self) -> Result<(), ApiError> {
        let f = &self.faults;
        if f.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(f.latency_ms)).await;
        }
        let was_not_ready = self
            .not_ready_left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if was_not_ready {
            return Err(ApiError::new(
                ErrorCode::ModelNotReadyException,
                "Model is not ready yet (injected by faults.not_ready_first). Wait and try your request again.",
            ));
        }
        if f.error_rate > 0.0 {
            let draw: f64 = self.rng.lock().unwrap_or_else(|p| p.into_inner()).random();
            if draw < f.error_rate {
                return Err(ApiError::new(
                    f.error_code,
                    format!("{} injected by faults.error_rate.", f.error_code.as_str()),
                ));
            }
        }
        Ok(())
    }
}
