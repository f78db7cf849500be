//! Links from a uid to the pod of a service that serves it.

// The signatures are the fixed C contract (c-api.md).
#![allow(clippy::too_many_arguments)]

use std::ffi::{c_char, CString};

use super::executor::{executor, sf_executor};
use super::packed::{packed_call, sf_packed};
use super::results::sf_service_links;
use super::status::{sf_error, sf_status, SF_NO_POD};
use super::{c_string, call, slice, text, texts, Out, OutArray};
use crate::error::Result;
use crate::ops::links::checked_touch_seconds;
use crate::types::{Candidate, Grace, Persistence, Pod};

/// A pod result for C: the pod, or `SF_NO_POD` for none.
fn or_no_pod(pod: Option<Pod>) -> i32 {
    pod.unwrap_or(SF_NO_POD)
}

/// The three strings every link operation takes.
///
/// # Safety
/// Each pointer is NULL or NUL-terminated and outlives `'a`.
unsafe fn link_args<'a>(
    ns: *const c_char,
    uid: *const c_char,
    service: *const c_char,
) -> Result<(&'a str, &'a str, &'a str)> {
    // SAFETY: per the caller's contract.
    unsafe {
        Ok((
            text(ns, "ns")?,
            text(uid, "uid")?,
            text(service, "service")?,
        ))
    }
}

/// Links `uid` to `pod` for `service`, whatever was there, in one atomic script.
///
/// `persist_seconds`: `-1` for a persistent link (no expiry, listed by `sf_get_link_services`),
/// or `1..=2147483647` for a temporary link that expires after that many seconds. On success
/// `*out_previous` receives the pod of the link replaced, or `SF_NO_POD` when there was none; on
/// failure it is set to `SF_NO_POD`.
///
/// `ns`: 1-253 bytes of UTF-8 without `:`, `{`, `}` or ASCII control characters; `service`:
/// the same, `:` allowed; `uid`: 1-512 bytes of UTF-8 without `{`, `}` or control characters;
/// `pod`: `0..=2147483647`. Anything else, or a NULL pointer other
/// than `err`, fails with `SF_INVALID_ARGUMENT` before anything is sent. A stored link that is
/// not a pod ordinal fails with `SF_UNEXPECTED_REPLY`. Thread-safe.
///
/// # Safety
/// `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `out_previous` is
/// NULL or writable; `err` is NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_set_linked_pod(
    ex: *const sf_executor,
    ns: *const c_char,
    uid: *const c_char,
    service: *const c_char,
    pod: i32,
    persist_seconds: i32,
    out_previous: *mut i32,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out_previous, SF_NO_POD) }.required("out_previous")?;
        let ex = unsafe { executor(ex) }?;
        let (ns, uid, service) = unsafe { link_args(ns, uid, service) }?;
        let persistence = Persistence::from_seconds(persist_seconds)?;
        out.set(or_no_pod(ex.set_linked_pod(
            ns,
            uid,
            service,
            pod,
            persistence,
        )?));
        Ok(())
    })
}

/// Links `uid` to `pod` for `service` unless a *persistent* link to a different pod exists, in
/// one atomic script.
///
/// On success `*out_linked` says whether the link was written and `*out_current` receives the
/// pod linked now: `pod`, or the pod of the persistent link that refused it (`*out_linked` false,
/// nothing changed). On failure `*out_linked` is false and `*out_current` is `SF_NO_POD`.
/// Arguments as for `sf_set_linked_pod`. Thread-safe.
///
/// # Safety
/// `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; the output pointers
/// are NULL or writable; `err` is NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_try_set_linked_pod(
    ex: *const sf_executor,
    ns: *const c_char,
    uid: *const c_char,
    service: *const c_char,
    pod: i32,
    persist_seconds: i32,
    out_linked: *mut bool,
    out_current: *mut i32,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let linked = unsafe { Out::new(out_linked, false) };
        let current = unsafe { Out::new(out_current, SF_NO_POD) };
        let (linked, current) = (
            linked.required("out_linked")?,
            current.required("out_current")?,
        );
        let ex = unsafe { executor(ex) }?;
        let (ns, uid, service) = unsafe { link_args(ns, uid, service) }?;
        let persistence = Persistence::from_seconds(persist_seconds)?;
        let outcome = ex.try_set_linked_pod(ns, uid, service, pod, persistence)?;
        linked.set(outcome.linked);
        current.set(outcome.pod);
        Ok(())
    })
}

/// Links `uid` to `pod` for `service` only when it has no link (persistent or temporary), in one
/// atomic script. Of any number of concurrent callers for the same (ns, uid, service), exactly
/// one writes and all get the same pod.
///
/// On success `*out_current` receives the pod linked now: the existing link's, or `pod`. On
/// failure it is set to `SF_NO_POD`. Arguments as for `sf_set_linked_pod`. Thread-safe.
///
/// # Safety
/// `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `out_current` is
/// NULL or writable; `err` is NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_set_linked_pod_if_absent(
    ex: *const sf_executor,
    ns: *const c_char,
    uid: *const c_char,
    service: *const c_char,
    pod: i32,
    persist_seconds: i32,
    out_current: *mut i32,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out_current, SF_NO_POD) }.required("out_current")?;
        let ex = unsafe { executor(ex) }?;
        let (ns, uid, service) = unsafe { link_args(ns, uid, service) }?;
        let persistence = Persistence::from_seconds(persist_seconds)?;
        out.set(ex.set_linked_pod_if_absent(ns, uid, service, pod, persistence)?);
        Ok(())
    })
}

/// Reads the pod `uid` is linked to for `service`, persistent or temporary.
///
/// On success `*out_pod` receives the pod, or `SF_NO_POD` when there is no link (absence is
/// `SF_OK`). On failure it is set to `SF_NO_POD`. A stored link that is not a pod ordinal fails
/// with `SF_UNEXPECTED_REPLY`. Thread-safe.
///
/// # Safety
/// `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `out_pod` is NULL or
/// writable; `err` is NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_get_linked_pod(
    ex: *const sf_executor,
    ns: *const c_char,
    uid: *const c_char,
    service: *const c_char,
    out_pod: *mut i32,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out_pod, SF_NO_POD) }.required("out_pod")?;
        let ex = unsafe { executor(ex) }?;
        let (ns, uid, service) = unsafe { link_args(ns, uid, service) }?;
        out.set(or_no_pod(ex.get_linked_pod(ns, uid, service)?));
        Ok(())
    })
}

/// Reads the pod `uid` is linked to for `service`, only when the link is persistent.
///
/// On success `*out_pod` receives the pod, or `SF_NO_POD` when there is no link or it is
/// temporary. On failure it is set to `SF_NO_POD`. Thread-safe.
///
/// # Safety
/// `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `out_pod` is NULL or
/// writable; `err` is NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_get_linked_pod_if_persist(
    ex: *const sf_executor,
    ns: *const c_char,
    uid: *const c_char,
    service: *const c_char,
    out_pod: *mut i32,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out_pod, SF_NO_POD) }.required("out_pod")?;
        let ex = unsafe { executor(ex) }?;
        let (ns, uid, service) = unsafe { link_args(ns, uid, service) }?;
        out.set(or_no_pod(ex.get_linked_pod_if_persist(ns, uid, service)?));
        Ok(())
    })
}

/// Reads the linked pods of `count` uids for `service` in one round trip.
///
/// `uids`: an array of `count` uids; `out_pods`: a caller-provided array of `count` entries. On
/// success entry `i` receives the pod of `uids[i]`, or `SF_NO_POD` when it has no link; on
/// failure every entry is set to `SF_NO_POD`. With `count == 0` the call succeeds without touching
/// Redis, and both arrays may be NULL (`ex`, `ns` and `service` are still checked). A NULL array
/// with `count > 0`, or a NULL or bad uid, fails with `SF_INVALID_ARGUMENT`. Thread-safe.
///
/// # Safety
/// `ex` is NULL or a live executor; `ns` and `service` are NULL or NUL-terminated; `uids` is NULL
/// or holds `count` pointers, each NULL or NUL-terminated; `out_pods` is NULL or has room for
/// `count` entries; `err` is NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_batch_get_linked_pods(
    ex: *const sf_executor,
    ns: *const c_char,
    service: *const c_char,
    uids: *const *const c_char,
    count: usize,
    out_pods: *mut i32,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let out = unsafe { OutArray::new(out_pods, count, SF_NO_POD) }.required("out_pods")?;
        let ex = unsafe { executor(ex) }?;
        let (ns, service) = unsafe { (text(ns, "ns")?, text(service, "service")?) };
        let uids = unsafe { texts(uids, count, "uids") }?;
        let pods = ex.batch_get_linked_pods(ns, service, &uids)?;
        out.set(pods.into_iter().map(or_no_pod))
    })
}

/// Removes the link of `uid` to `service`, in one atomic script: the uid's persistent-link entry
/// goes, and the link is deleted (`keep_seconds` -1 or 0) or kept as a temporary link that
/// expires in `keep_seconds` seconds (so a user who comes back soon returns to the same pod).
///
/// On success `*out_removed` says whether a link existed; on failure it is false. `keep_seconds`
/// below -1 fails with `SF_INVALID_ARGUMENT`. Thread-safe.
///
/// # Safety
/// `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `out_removed` is
/// NULL or writable; `err` is NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_remove_linked_pod(
    ex: *const sf_executor,
    ns: *const c_char,
    uid: *const c_char,
    service: *const c_char,
    keep_seconds: i32,
    out_removed: *mut bool,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out_removed, false) }.required("out_removed")?;
        let ex = unsafe { executor(ex) }?;
        let (ns, uid, service) = unsafe { link_args(ns, uid, service) }?;
        let grace = Grace::from_keep_seconds(keep_seconds)?;
        out.set(ex.remove_linked_pod(ns, uid, service, grace)?);
        Ok(())
    })
}

/// As `sf_remove_linked_pod`, but only when the link currently points to `pod`; otherwise
/// nothing changes and `*out_removed` is false. On failure `*out_removed` is false. A negative
/// `pod` fails with `SF_INVALID_ARGUMENT`. Thread-safe.
///
/// # Safety
/// `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `out_removed` is
/// NULL or writable; `err` is NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_remove_linked_pod_with_id(
    ex: *const sf_executor,
    ns: *const c_char,
    uid: *const c_char,
    service: *const c_char,
    keep_seconds: i32,
    pod: i32,
    out_removed: *mut bool,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out_removed, false) }.required("out_removed")?;
        let ex = unsafe { executor(ex) }?;
        let (ns, uid, service) = unsafe { link_args(ns, uid, service) }?;
        let grace = Grace::from_keep_seconds(keep_seconds)?;
        out.set(ex.remove_linked_pod_with_id(ns, uid, service, grace, pod)?);
        Ok(())
    })
}

/// Extends the temporary link of `uid` to `service` only while it points at `pod`, in one
/// atomic script: a temporary link to `pod` then expires `persist_seconds` from now; a
/// persistent link to `pod` is left as it is; a link to another pod, or no link, is left as it
/// is. For a gateway keeping an active session's link alive without overwriting a pod another
/// gateway set meanwhile (which calling `sf_set_linked_pod` again could do). An addition of 0.3.
///
/// On success `*out_touched` says whether the link points at `pod` (true for a temporary link,
/// now extended, and for a persistent one); on failure it is false. `persist_seconds`:
/// `1..=2147483647`, the link's new TTL (anything else, `-1` included, fails with
/// `SF_INVALID_ARGUMENT`); the other arguments as for `sf_set_linked_pod`. A stored link that is
/// not a pod ordinal fails with `SF_UNEXPECTED_REPLY`. Thread-safe.
///
/// # Safety
/// `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `out_touched` is
/// NULL or writable; `err` is NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_touch_linked_pod(
    ex: *const sf_executor,
    ns: *const c_char,
    uid: *const c_char,
    service: *const c_char,
    pod: i32,
    persist_seconds: i32,
    out_touched: *mut bool,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out_touched, false) }.required("out_touched")?;
        let ex = unsafe { executor(ex) }?;
        let (ns, uid, service) = unsafe { link_args(ns, uid, service) }?;
        let seconds = checked_touch_seconds(persist_seconds.into())?;
        out.set(ex.touch_linked_pod(ns, uid, service, pod, seconds)?);
        Ok(())
    })
}

/// Reads the persistent links of `uid`: service -> pod.
///
/// On success `*out` receives a new `sf_service_links` (with 0 entries when the uid has none)
/// that the caller owns and frees with `sf_service_links_free`. On failure `*out` is set to
/// NULL. A stored pod that is not a pod ordinal, or a service name that is not UTF-8 or holds a
/// NUL byte, fails with `SF_UNEXPECTED_REPLY`. Thread-safe.
///
/// # Safety
/// `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `out` is NULL or
/// writable; `err` is NULL or points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_get_link_services(
    ex: *const sf_executor,
    ns: *const c_char,
    uid: *const c_char,
    out: *mut *mut sf_service_links,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out, std::ptr::null_mut()) }.required("out")?;
        let ex = unsafe { executor(ex) }?;
        let (ns, uid) = unsafe { (text(ns, "ns")?, text(uid, "uid")?) };
        let entries = ex
            .get_link_services(ns, uid)?
            .into_iter()
            .map(|(service, pod)| {
                let service: CString = c_string(service, || "a service name".to_string())?;
                Ok((service, pod))
            })
            .collect::<Result<Vec<_>>>()?;
        out.set(Box::into_raw(Box::new(sf_service_links { entries })));
        Ok(())
    })
}

/// Returns the existing link of `uid` for `service`; without one, links `uid` to the candidate
/// with the lowest load (ties: the lowest pod ordinal) as `sf_set_linked_pod_if_absent` does,
/// atomically, and returns that pod.
///
/// `candidate_pods` and `candidate_loads`: two caller arrays of `candidate_count` entries, pod
/// `candidate_pods[i]` having load `candidate_loads[i]` (any figure where lower is better). With
/// `candidate_count == 0` both may be NULL: the existing link is returned, or `SF_NO_POD` and
/// nothing is written. On success `*out_pod` receives the pod; on failure it is set to
/// `SF_NO_POD`. A NULL array with `candidate_count > 0` or a negative candidate pod fails with
/// `SF_INVALID_ARGUMENT`; `persist_seconds` as for `sf_set_linked_pod`. Thread-safe.
///
/// # Safety
/// `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; the candidate arrays
/// are NULL or hold `candidate_count` entries; `out_pod` is NULL or writable; `err` is NULL or
/// points to a writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_compute_linked_pod(
    ex: *const sf_executor,
    ns: *const c_char,
    uid: *const c_char,
    service: *const c_char,
    candidate_pods: *const i32,
    candidate_loads: *const i64,
    candidate_count: usize,
    persist_seconds: i32,
    out_pod: *mut i32,
    err: *mut sf_error,
) -> sf_status {
    call(err, || {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out_pod, SF_NO_POD) }.required("out_pod")?;
        let ex = unsafe { executor(ex) }?;
        let (ns, uid, service) = unsafe { link_args(ns, uid, service) }?;
        let pods = unsafe { slice(candidate_pods, candidate_count, "candidate_pods") }?;
        let loads = unsafe { slice(candidate_loads, candidate_count, "candidate_loads") }?;
        let candidates: Vec<Candidate> = pods
            .iter()
            .zip(loads)
            .map(|(&pod, &load)| Candidate::new(pod, load))
            .collect();
        let persistence = Persistence::from_seconds(persist_seconds)?;
        out.set(or_no_pod(ex.compute_linked_pod(
            ns,
            uid,
            service,
            persistence,
            &candidates,
        )?));
        Ok(())
    })
}

/// Reads the persistent links of `uid`, as `sf_get_link_services` does, into one packed result
/// instead of one allocation per entry: an extra of 0.2.
///
/// On success `*out` describes `count` entries sorted by service name (bytewise), each with the
/// pod as `key` and the service name as text (see `sf_packed`; 0 entries when the uid has none).
/// Buffer, `sf_packed_free` and failures as for `sf_get_service_state_packed`. Fails with
/// `SF_INVALID_ARGUMENT` for a NULL `ex`, `ns`, `uid` or `out`, a NULL `buffer` with
/// `capacity > 0`, or a bad name, and with `SF_UNEXPECTED_REPLY` when a stored pod is not a pod
/// ordinal or a service name is not UTF-8 or holds a NUL byte. Thread-safe.
///
/// # Safety
/// `ex` is NULL or a live executor; the strings are NULL or NUL-terminated; `buffer` is NULL or
/// writable for `capacity` bytes; `out` is NULL or writable; `err` is NULL or points to a
/// writable `sf_error`.
#[no_mangle]
pub unsafe extern "C" fn sf_get_link_services_packed(
    ex: *const sf_executor,
    ns: *const c_char,
    uid: *const c_char,
    buffer: *mut u8,
    capacity: usize,
    out: *mut sf_packed,
    err: *mut sf_error,
) -> sf_status {
    // SAFETY: per this function's contract.
    unsafe {
        packed_call(err, buffer, capacity, out, |packed| {
            let ex = executor(ex)?;
            let (ns, uid) = (text(ns, "ns")?, text(uid, "uid")?);
            ex.get_link_services_packed(ns, uid, packed)
        })
    }
}
