//! sfctl's integration tests: the real binary against real redis-server processes (a
//! standalone server, a 3-primary cluster, TLS, a unix socket, Sentinel) that the library's test
//! harness starts on free loopback ports.

// The library's harness, shared as it is (this binary uses part of it).
#[allow(dead_code, unused_imports)]
#[path = "../../../tests/it/harness/mod.rs"]
mod harness;

mod backup;
mod check;
mod commands;
mod common;
mod connect;
mod drain;
mod usage;
