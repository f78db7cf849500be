//! Result objects and strings handed to the caller, their accessors and their frees.

use std::ffi::{c_char, CString};

use super::quiet;
use super::status::SF_NO_POD;
use crate::types::Pod;

/// The pod states of a service: an opaque, immutable list of (pod, state) entries sorted by pod
/// ordinal, from `sf_get_service_state`. Owned by the caller, freed with `sf_pod_states_free`.
/// May be read from several threads at once.
pub struct sf_pod_states {
    pub(crate) entries: Vec<(Pod, CString)>,
}

/// The persistent links of a uid: an opaque, immutable list of (service, pod) entries sorted by
/// service name, from `sf_get_link_services`. Owned by the caller, freed with
/// `sf_service_links_free`. May be read from several threads at once.
pub struct sf_service_links {
    pub(crate) entries: Vec<(CString, Pod)>,
}

/// The number of entries; 0 when `s` is NULL. Thread-safe (the object is immutable).
///
/// # Safety
/// `s` is NULL or a live `sf_pod_states`.
#[no_mangle]
pub unsafe extern "C" fn sf_pod_states_len(s: *const sf_pod_states) -> usize {
    // SAFETY: per this function's contract.
    quiet(0, || unsafe { s.as_ref() }.map_or(0, |s| s.entries.len()))
}

/// The pod ordinal of entry `i` (entries are sorted by pod ordinal); `SF_NO_POD` when `s` is NULL
/// or `i` is out of range. Thread-safe (the object is immutable).
///
/// # Safety
/// `s` is NULL or a live `sf_pod_states`.
#[no_mangle]
pub unsafe extern "C" fn sf_pod_states_pod(s: *const sf_pod_states, i: usize) -> i32 {
    quiet(SF_NO_POD, || {
        // SAFETY: per this function's contract.
        unsafe { s.as_ref() }
            .and_then(|s| s.entries.get(i))
            .map_or(SF_NO_POD, |(pod, _)| *pod)
    })
}

/// The state of entry `i` as a NUL-terminated UTF-8 string; NULL when `s` is NULL or `i` is out
/// of range. The string belongs to `s`: it stays valid until `sf_pod_states_free(s)` and must not
/// be freed by the caller. Thread-safe (the object is immutable).
///
/// # Safety
/// `s` is NULL or a live `sf_pod_states`.
#[no_mangle]
pub unsafe extern "C" fn sf_pod_states_state(s: *const sf_pod_states, i: usize) -> *const c_char {
    quiet(std::ptr::null(), || {
        // SAFETY: per this function's contract.
        unsafe { s.as_ref() }
            .and_then(|s| s.entries.get(i))
            .map_or(std::ptr::null(), |(_, state)| state.as_ptr())
    })
}

/// Frees pod states and every string they hold. NULL is accepted and does nothing. Must not be
/// called while another thread still reads `s`.
///
/// # Safety
/// `s` is NULL or a live `sf_pod_states`, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sf_pod_states_free(s: *mut sf_pod_states) {
    if !s.is_null() {
        // SAFETY: created by Box::into_raw in sf_get_service_state, freed once per the contract.
        quiet((), || drop(unsafe { Box::from_raw(s) }));
    }
}

/// The number of entries; 0 when `l` is NULL. Thread-safe (the object is immutable).
///
/// # Safety
/// `l` is NULL or a live `sf_service_links`.
#[no_mangle]
pub unsafe extern "C" fn sf_service_links_len(l: *const sf_service_links) -> usize {
    // SAFETY: per this function's contract.
    quiet(0, || unsafe { l.as_ref() }.map_or(0, |l| l.entries.len()))
}

/// The service name of entry `i` (entries are sorted by service name) as a NUL-terminated
/// string; NULL when `l` is NULL or `i` is out of range. The string belongs to `l`: it stays
/// valid until `sf_service_links_free(l)` and must not be freed by the caller. Thread-safe (the
/// object is immutable).
///
/// # Safety
/// `l` is NULL or a live `sf_service_links`.
#[no_mangle]
pub unsafe extern "C" fn sf_service_links_service(
    l: *const sf_service_links,
    i: usize,
) -> *const c_char {
    quiet(std::ptr::null(), || {
        // SAFETY: per this function's contract.
        unsafe { l.as_ref() }
            .and_then(|l| l.entries.get(i))
            .map_or(std::ptr::null(), |(service, _)| service.as_ptr())
    })
}

/// The pod of entry `i`; `SF_NO_POD` when `l` is NULL or `i` is out of range. Thread-safe (the
/// object is immutable).
///
/// # Safety
/// `l` is NULL or a live `sf_service_links`.
#[no_mangle]
pub unsafe extern "C" fn sf_service_links_pod(l: *const sf_service_links, i: usize) -> i32 {
    quiet(SF_NO_POD, || {
        // SAFETY: per this function's contract.
        unsafe { l.as_ref() }
            .and_then(|l| l.entries.get(i))
            .map_or(SF_NO_POD, |(_, pod)| *pod)
    })
}

/// Frees service links and every string they hold. NULL is accepted and does nothing. Must not
/// be called while another thread still reads `l`.
///
/// # Safety
/// `l` is NULL or a live `sf_service_links`, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sf_service_links_free(l: *mut sf_service_links) {
    if !l.is_null() {
        // SAFETY: created by Box::into_raw in sf_get_link_services, freed once per the contract.
        quiet((), || drop(unsafe { Box::from_raw(l) }));
    }
}

/// Frees a string returned by the library (`sf_get_workload_state`, `sf_get_workload_states`).
/// NULL is accepted and does nothing. Never pass it a string that belongs to a result object
/// (`sf_pod_states_state`, `sf_service_links_service`) or one the library did not allocate.
/// Thread-safe (each string is freed once, by whichever thread owns it).
///
/// # Safety
/// `s` is NULL or a string returned by the library as caller-owned, not yet freed.
#[no_mangle]
pub unsafe extern "C" fn sf_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: created by CString::into_raw, freed once per the contract.
        quiet((), || drop(unsafe { CString::from_raw(s) }));
    }
}
