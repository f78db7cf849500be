//! What every integration test uses: real redis-server processes on free loopback ports in
//! temporary directories, stopped (and their directories removed) when their handle drops.
//!
//! - [`RedisServer`] (server.rs): one server of any kind (plain, TLS, unix socket, cluster node,
//!   sentinel), one readiness rule; [`alone`] for tests that measure timings.
//! - [`Cluster`], [`SentinelSetup`] (topology.rs): several servers working together.
//! - [`TestCerts`] (certs.rs): certificates for the TLS tests.
//! - c_logger.rs: `sf_set_logger` called as a C host would.
//! - data.rs: raw commands behind the library's back, snapshots, command statistics.
//! - [`LoadRun`] (load.rs): N threads for a while, every result classified (fault tests).
//! - fake_resp.rs: the RESP side of the scripted fake servers.
//! - link_model.rs: what link operations should return, and whether links are whole.
//! - [`own_process`] (process.rs): a test that needs its process to itself.

mod c_logger;
mod certs;
mod data;
mod fake_resp;
mod link_model;
mod load;
mod process;
mod server;
mod topology;

pub use c_logger::*;
pub use certs::*;
pub use data::*;
pub use fake_resp::*;
pub use link_model::*;
pub use load::*;
pub use process::*;
pub use server::*;
pub use topology::*;
