//! The integration tests: one binary, one module per topic, each test on its own redis-server
//! processes started by the harness (`harness/`). CONTRIBUTING.md says where a new test goes.
//!
//! `cargo test --test it` runs them all, `cargo test --test it links::` one topic. Tests that
//! assert timings call `alone()`; tests that need the process to themselves (the process-wide
//! logger, thread counts, memory peaks) call `own_process(..)` and run in a child process.

mod harness;

mod acl;
mod batch;
mod cache;
mod cluster;
mod concurrency;
mod eviction;
mod faults;
mod hostile_input;
mod hostile_server;
mod interop;
mod layout;
mod lifecycle;
mod links;
mod logger_conflict;
mod logging;
mod packed;
mod pipelining;
mod sentinel;
mod states;
mod stats;
mod tls;
mod unix;
mod validation;
