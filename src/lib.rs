//! Routing state of stateful services in Redis: the state of each pod of a service, the state of
//! the whole workload, and sticky links from a uid to the one pod of a service that serves it.
//!
//! Blocking and thread-safe. The data layout is the one the existing Java and Go services use
//! (see `README.md`), so services can move onto this library one at a time.
//!
//! One server ([`Config::new`]), a Redis Cluster ([`Config::cluster`]) or a primary watched by
//! Redis Sentinel ([`Config::sentinel`]); `rediss://` URLs for TLS ([`Config::set_tls_ca_file`],
//! [`Config::set_tls_client_cert`]); ACL users in the URLs. The operations are the same for all.
//!
//! ```no_run
//! use stateful_executor::{Config, Executor, Persistence};
//!
//! let executor = Executor::open(&Config::new("redis://127.0.0.1:6380")?)?;
//! let pod = executor.set_linked_pod_if_absent("prod", "user-42", "chat", 3, Persistence::Persistent)?;
//! assert_eq!(executor.get_linked_pod("prod", "user-42", "chat")?, Some(pod));
//! # Ok::<(), stateful_executor::Error>(())
//! ```

#![warn(missing_docs)]

mod cache;
mod codec;
mod config;
mod engine;
mod error;
mod executor;
mod ffi;
pub mod keys;
mod logging;
mod ops;
pub mod packed;
mod pool_threads;
mod scripts;
mod stats;
mod transport;
mod types;

pub use cache::CLIENT_CACHE_FRESHNESS;
pub use config::{
    Config, DEFAULT_PIPELINING_MIN_IN_FLIGHT, DEFAULT_POOL_MAX_SIZE, DEFAULT_POOL_MIN_IDLE,
    DEFAULT_TIMEOUT, MAX_POOL_MAX_SIZE,
};
pub use error::{Error, ErrorKind, Result};
pub use executor::Executor;
pub use ops::{BatchOp, BatchOutcome};
pub use packed::Packed;
pub use stats::Stats;
pub use types::{Candidate, Grace, Persistence, Pod, TrySet};
