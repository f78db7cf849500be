//! Routes the library's `log` records to a host's callback (the C API's `sf_set_logger`).
//!
//! The Rust `log` facade holds one process-wide logger. The first [`set_sink`] installs
//! [`FORWARDER`] there; later calls only swap the sink inside it. Rust hosts install their own
//! logger and never call this.
//!
//! Records are delivered under the read side of an `RwLock` and a swap takes the write side, so
//! [`set_sink`] returns only once every callback running with the old sink has finished: the
//! caller may free the old sink's state right after it returns. A sink must not call
//! [`set_sink`] from inside itself (it would wait for itself): that is refused.

use std::cell::Cell;
use std::sync::{Arc, RwLock};

use crate::error::{Error, Result};

/// Where records go: called with the level, the target (module path) and the formatted message.
pub(crate) type Sink = Arc<dyn Fn(log::Level, &str, &str) + Send + Sync>;

struct State {
    /// Whether `FORWARDER` is the `log` facade's logger.
    installed: bool,
    sink: Option<Sink>,
}

static STATE: RwLock<State> = RwLock::new(State {
    installed: false,
    sink: None,
});

thread_local! {
    /// Set while this thread runs a sink, to refuse a swap from inside it.
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

struct Forwarder;

static FORWARDER: Forwarder = Forwarder;

impl log::Log for Forwarder {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) || IN_SINK.with(Cell::get) {
            return;
        }
        // A poisoned lock only means a sink panicked earlier; the state itself is consistent.
        let state = STATE.read().unwrap_or_else(|e| e.into_inner());
        let Some(sink) = &state.sink else { return };
        let message = record.args().to_string();
        IN_SINK.with(|flag| flag.set(true));
        let delivered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            sink(record.level(), record.target(), &message)
        }));
        IN_SINK.with(|flag| flag.set(false));
        drop(delivered);
    }

    fn flush(&self) {}
}

/// Sends records at `max_level` and more severe to `sink`, from any thread; `None` turns
/// logging off. Returns once no callback of the previous sink is running any more.
///
/// Fails with a config error when another `log` logger is installed in the process (it keeps
/// receiving the records), and with an invalid argument when called from inside a sink.
pub(crate) fn set_sink(sink: Option<Sink>, max_level: log::LevelFilter) -> Result<()> {
    if IN_SINK.with(Cell::get) {
        return Err(Error::invalid(
            "the logger cannot be changed from inside the log callback",
        ));
    }
    let mut state = STATE.write().unwrap_or_else(|e| e.into_inner());
    if !state.installed {
        if sink.is_none() {
            return Ok(());
        }
        log::set_logger(&FORWARDER).map_err(|_| {
            Error::config(
                "another logger is already installed in this process (the Rust `log` facade \
                 holds one); it keeps receiving stateful-executor's records",
            )
        })?;
        state.installed = true;
    }
    let level = if sink.is_some() {
        max_level
    } else {
        log::LevelFilter::Off
    };
    state.sink = sink;
    log::set_max_level(level);
    Ok(())
}
