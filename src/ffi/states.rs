//! Pod states of a service and workload states.

// The packed readers' signatures follow the C contract's argument order.
#![allow(clippy::too_many_arguments)]

use std::ffi::{c_char, CString};

use super::executor::{executor, sf_executor};
use super::packed::{packed_call, sf_packed};
use super::results::sf_pod_states;
use super::status::{sf_error, sf_status};
use super::{c_string, call, text, texts, Out, OutArray};
use crate::error::Result;

/// Publishes the state of one pod of a service (`HSET` of the pod's field in
/// `sf:{ns:state:service}`).
///
/// `ns`: 1-253 bytes of UTF-8 without `:`, `{`, `}` or ASCII control characters; `service`: the
/// same, `:` allowed; `pod`: `0..=2147483647`; `state`: 1-4096 bytes of UTF-8. Anything else, or a NULL `ex`, `ns`, `service` or `state`, fails with
/// `SF_INVALID_ARGUMENT` before anything is sent. Thread-safe.
///
/// # Safety
/// `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `err` is NULL or
/// points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_set_service_state(
    ex: *const sf_executor,
    ns: *const c_char,
    service: *const c_char,
    pod: i32,
    state: *const c_char,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let ex = unsafe { executor(ex) }?;
        let (ns, service) = unsafe { (text(ns, "ns")?, text(service, "service")?) };
        let state = unsafe { text(state, "state") }?;
        ex.set_service_state(ns, service, pod, state)
    })
}

/// Reads the states of all pods of a service. Fields of the hash that are not pod ordinals are
/// skipped.
///
/// On success `*out` receives a new `sf_pod_states` (with 0 entries when the service has none)
/// that the caller owns and frees with `sf_pod_states_free`. On failure `*out` is set to NULL.
/// Fails with `SF_INVALID_ARGUMENT` for a NULL `ex`, `ns`, `service` or `out` or a bad name, and
/// with `SF_UNEXPECTED_REPLY` when a state is not UTF-8 or holds a NUL byte. Thread-safe.
///
/// # Safety
/// `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `out` is NULL or
/// writable; `err` is NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_get_service_state(
    ex: *const sf_executor,
    ns: *const c_char,
    service: *const c_char,
    out: *mut *mut sf_pod_states,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out, std::ptr::null_mut()) }.required("out")?;
        let ex = unsafe { executor(ex) }?;
        let (ns, service) = unsafe { (text(ns, "ns")?, text(service, "service")?) };
        let entries = ex
            .get_service_state(ns, service)?
            .into_iter()
            .map(|(pod, state)| Ok((pod, c_string(state, || format!("state of pod {pod}"))?)))
            .collect::<Result<Vec<_>>>()?;
        out.set(Box::into_raw(Box::new(sf_pod_states { entries })));
        Ok(())
    })
}

/// Publishes the state of a whole service (`SET` of `sf:{ns:workload:service}`, no expiry).
///
/// Same argument rules as `sf_set_service_state` (state: 1-4096 bytes of UTF-8). Thread-safe.
///
/// # Safety
/// `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `err` is NULL or
/// points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_set_workload_state(
    ex: *const sf_executor,
    ns: *const c_char,
    service: *const c_char,
    state: *const c_char,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let ex = unsafe { executor(ex) }?;
        let (ns, service) = unsafe { (text(ns, "ns")?, text(service, "service")?) };
        let state = unsafe { text(state, "state") }?;
        ex.set_workload_state(ns, service, state)
    })
}

/// Reads the state of a whole service.
///
/// On success `*out_state` receives a new NUL-terminated string that the caller owns and frees
/// with `sf_string_free`, or NULL when no state was published (absence is `SF_OK`, not an
/// error). On failure `*out_state` is set to NULL. Fails with `SF_INVALID_ARGUMENT` for a NULL
/// `ex`, `ns`, `service` or `out_state` or a bad name, and with `SF_UNEXPECTED_REPLY` when the
/// stored value is not UTF-8 or holds a NUL byte. Thread-safe.
///
/// # Safety
/// `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `out_state` is NULL
/// or writable; `err` is NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_get_workload_state(
    ex: *const sf_executor,
    ns: *const c_char,
    service: *const c_char,
    out_state: *mut *mut c_char,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out_state, std::ptr::null_mut()) }.required("out_state")?;
        let ex = unsafe { executor(ex) }?;
        let (ns, service) = unsafe { (text(ns, "ns")?, text(service, "service")?) };
        let state = ex
            .get_workload_state(ns, service)?
            .map(|state| c_string(state, || format!("workload state of {service}")))
            .transpose()?;
        out.set(state.map_or(std::ptr::null_mut(), CString::into_raw));
        Ok(())
    })
}

/// Reads the workload states of `count` services in one round trip.
///
/// `services`: an array of `count` service names; `out_states`: a caller-provided array of
/// `count` entries. On success entry `i` receives a new string with the state of `services[i]`,
/// which the caller owns and frees with `sf_string_free`, or NULL when that service has none.
/// On failure every entry is set to NULL (nothing is left to free). With `count == 0` the call
/// succeeds without touching Redis, and both arrays may be NULL (`ex` and `ns` are still checked).
/// Fails with `SF_INVALID_ARGUMENT` for a NULL `ex`, `ns`, a NULL array with `count > 0`, a NULL
/// or bad name among `services`, and with `SF_UNEXPECTED_REPLY` when a stored value is not UTF-8
/// or holds a NUL byte. Thread-safe.
///
/// # Safety
/// `ex` is NULL or a live executor; `ns` is NULL or NUL-terminated; `services` is NULL or holds
/// `count` pointers, each NULL or NUL-terminated; `out_states` is NULL or has room for `count`
/// pointers; `err` is NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_get_workload_states(
    ex: *const sf_executor,
    ns: *const c_char,
    services: *const *const c_char,
    count: usize,
    out_states: *mut *mut c_char,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let out = unsafe { OutArray::new(out_states, count, std::ptr::null_mut()) }
            .required("out_states")?;
        let ex = unsafe { executor(ex) }?;
        let ns = unsafe { text(ns, "ns") }?;
        let services = unsafe { texts(services, count, "services") }?;
        // Every string is converted before any is handed out, so a failure leaks nothing.
        let states = ex
            .get_workload_states(ns, &services)?
            .into_iter()
            .zip(&services)
            .map(|(state, service)| {
                state
                    .map(|state| c_string(state, || format!("workload state of {service}")))
                    .transpose()
            })
            .collect::<Result<Vec<_>>>()?;
        // Lazy: nothing is turned into a raw pointer unless the whole array is written.
        out.set(
            states
                .into_iter()
                .map(|state| state.map_or(std::ptr::null_mut(), CString::into_raw)),
        )
    })
}

/// Reads the states of all pods of a service, as `sf_get_service_state` does, into one packed
/// result instead of one allocation per entry: an extra of 0.2.
///
/// On success `*out` describes `count` entries sorted by pod ordinal, each with the pod as `key`
/// and its state as text (see `sf_packed`; 0 entries when the service has none). They are
/// written into `buffer` when they fit in its `capacity` bytes, else into one block the library
/// allocates (the read is never repeated); either way call `sf_packed_free(out)` when done.
/// `buffer` may be NULL when `capacity` is 0. On failure `*out` is zeroed and `buffer`'s
/// contents are unspecified. Fails with `SF_INVALID_ARGUMENT` for a NULL `ex`, `ns`, `service`
/// or `out`, a NULL `buffer` with `capacity > 0`, or a bad name, and with `SF_UNEXPECTED_REPLY`
/// when a state is not UTF-8 or holds a NUL byte. Thread-safe.
///
/// # Safety
/// `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `buffer` is NULL or
/// writable for `capacity` bytes; `out` is NULL or writable; `err` is NULL or points to a
/// writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_get_service_state_packed(
    ex: *const sf_executor,
    ns: *const c_char,
    service: *const c_char,
    buffer: *mut u8,
    capacity: usize,
    out: *mut sf_packed,
    err: *mut sf_error,
) -> sf_status {
    // SAFETY: per this function's contract.
    unsafe {
        packed_call(err, buffer, capacity, out, |packed| {
            let ex = executor(ex)?;
            let (ns, service) = (text(ns, "ns")?, text(service, "service")?);
            ex.get_service_state_packed(ns, service, packed)
        })
    }
}

/// Reads the workload states of `count` services in one round trip, as `sf_get_workload_states`
/// does, into one packed result instead of one allocation per entry: an extra of 0.2.
///
/// On success `*out` describes `count` entries in input order, entry `i` with `i` as `key` and
/// the state of `services[i]` as text, or an absent text (length -1, `sf_packed_next` gives
/// NULL) when that service has none. Buffer, `sf_packed_free` and failures as for
/// `sf_get_service_state_packed`. With `count == 0` the call succeeds with 0 entries without
/// touching Redis, and `services` may be NULL (`ex`, `ns` and `out` are still checked). Fails
/// with `SF_INVALID_ARGUMENT` for a NULL `ex`, `ns` or `out`, a NULL `services` with
/// `count > 0`, a NULL `buffer` with `capacity > 0`, a NULL or bad name among `services`, and
/// with `SF_UNEXPECTED_REPLY` when a stored value is not UTF-8 or holds a NUL byte. Thread-safe.
///
/// # Safety
/// `ex` is NULL or a live executor; `ns` is NULL or NUL-terminated; `services` is NULL or holds
/// `count` pointers, each NULL or NUL-terminated; `buffer` is NULL or writable for `capacity`
/// bytes; `out` is NULL or writable; `err` is NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_get_workload_states_packed(
    ex: *const sf_executor,
    ns: *const c_char,
    services: *const *const c_char,
    count: usize,
    buffer: *mut u8,
    capacity: usize,
    out: *mut sf_packed,
    err: *mut sf_error,
) -> sf_status {
    // SAFETY: per this function's contract.
    unsafe {
        packed_call(err, buffer, capacity, out, |packed| {
            let ex = executor(ex)?;
            let ns = text(ns, "ns")?;
            let services = texts(services, count, "services")?;
            ex.get_workload_states_packed(ns, &services, packed)
        })
    }
}
