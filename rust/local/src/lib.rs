//! The local SageMaker Runtime: an HTTP/1.1 server speaking the same wire
//! protocol as AWS, with built-in models (echo, tokens, error, proxy),
//! SigV4 verification, async invocations, stateful sessions and fault
//! injection. PyO3-free; the bindings only start and stop it.

pub mod async_invocations;
pub mod auth;
pub mod body;
pub mod config;
pub mod errors;
pub mod events;
pub mod faults;
pub mod handler;
pub mod head_deadline;
pub mod header_names;
pub mod ids;
pub mod invocation;
pub mod models;
pub mod panics;
pub mod routing;
pub mod server;
pub mod sessions;
pub mod tls;

pub use config::{parse_endpoints_json, ConfigError, EndpointConfig};
pub use server::{LocalServer, ServerOptions, StartError};
