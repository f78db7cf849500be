//! The integration tests: one binary, one module per topic, all on real redis-server processes
//! started by the harness (see CONTRIBUTING.md for where a new test goes).
//!
//! `cargo test --test it` runs them all; `cargo test --test it links::` one topic.

mod harness;

mod acl;
mod cluster;
mod concurrency;
mod faults;
mod hostile_input;
mod hostile_server;
mod interop;
mod layout;
mod lifecycle;
mod links;
mod logger_conflict;
mod logging;
mod sentinel;
mod states;
mod stats;
mod tls;
mod unix;
mod validation;
