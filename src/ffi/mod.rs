//! The C API (`include/stateful_executor.h`, contract in `docs/c-api.md`).
//!
//! This layer only translates: C strings into checked `&str`, pointers into references, integers
//! into the core's types, and the core's [`Error`] into an `sf_status` plus an `sf_error`. Every
//! rule about names, numbers and Redis lives in the core, so C callers get exactly the behaviour
//! of the Rust API.
//!
//! Every export runs inside a panic boundary ([`call`] and [`quiet`]): a panic never unwinds into
//! C, it becomes `SF_INTERNAL` (or the documented neutral value of a function without a status).

#![allow(non_camel_case_types)]

use std::any::Any;
use std::ffi::{c_char, CStr, CString};
use std::panic::{self, AssertUnwindSafe};

use crate::error::{Error, ErrorKind, Result};

// The order of these modules is the order of the functions in the header.
pub mod status;

pub mod config;

pub mod executor;

pub mod logging;

pub mod states;

pub mod links;

pub mod results;

pub mod batch;
pub mod packed;

use status::{sf_error, sf_status};

/// Runs `body` inside a panic boundary and reports its outcome: the status it returns, and the
/// same code plus a message in `err` when `err` is not NULL (`SF_OK` and an empty message on
/// success).
pub(crate) fn call(err: *mut sf_error, body: impl FnOnce() -> Result<()>) -> sf_status {
    let reported = panic::catch_unwind(AssertUnwindSafe(|| {
        let outcome = match panic::catch_unwind(AssertUnwindSafe(body)) {
            Ok(outcome) => outcome,
            Err(payload) => Err(panic_error(payload)),
        };
        // SAFETY: every export documents that a non-NULL `err` points to a writable sf_error.
        unsafe { status::report(err, outcome.as_ref().err()) }
    }));
    reported.unwrap_or(status::SF_INTERNAL)
}

/// Runs `body` (an accessor or a free, which have no status to return) inside a panic boundary;
/// a panic gives `fallback`.
pub(crate) fn quiet<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            forget_payload(payload);
            fallback
        }
    }
}

fn panic_error(payload: Box<dyn Any + Send>) -> Error {
    let detail = if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-string panic payload".to_string()
    };
    forget_payload(payload);
    Error::new(
        ErrorKind::Internal,
        format!("internal error (a bug in stateful-executor, please report it): panic: {detail}"),
    )
}

/// Drops a panic payload without letting a panicking destructor escape.
fn forget_payload(payload: Box<dyn Any + Send>) {
    if let Err(again) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}

/// A required C string argument as `&str`: NULL and invalid UTF-8 are invalid arguments.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    // SAFETY: forwarded from the caller.
    unsafe { text_named(ptr, || name.to_string()) }
}

/// As [`text`], naming the argument only when it is rejected (no allocation on success).
///
/// # Safety
/// As [`text`].
unsafe fn text_named<'a>(ptr: *const c_char, name: impl FnOnce() -> String) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(Error::invalid(format!("{} is NULL", name())));
    }
    // SAFETY: non-NULL, and the caller guarantees NUL termination and lifetime.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes.to_str().map_err(|e| {
        Error::invalid(format!(
            "{} is not valid UTF-8 (invalid byte at offset {})",
            name(),
            e.valid_up_to()
        ))
    })
}

/// A caller's array of `count` elements; `count == 0` gives an empty slice whatever `ptr` is.
///
/// # Safety
/// When `count > 0` and `ptr` is not NULL, `ptr` points to `count` initialized elements that
/// outlive `'a`.
pub(crate) unsafe fn slice<'a, T>(ptr: *const T, count: usize, name: &str) -> Result<&'a [T]> {
    if count == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Error::invalid(format!(
            "{name} is NULL but count is {count}"
        )));
    }
    check_count::<T>(count, name)?;
    // SAFETY: non-NULL, size checked, validity guaranteed by the caller.
    Ok(unsafe { std::slice::from_raw_parts(ptr, count) })
}

/// An array of `count` C strings, each required.
///
/// # Safety
/// As [`slice`], and each element as [`text`].
pub(crate) unsafe fn texts<'a>(
    ptr: *const *const c_char,
    count: usize,
    name: &str,
) -> Result<Vec<&'a str>> {
    // SAFETY: forwarded from the caller.
    let items = unsafe { slice(ptr, count, name)? };
    items
        .iter()
        .enumerate()
        // SAFETY: forwarded from the caller.
        .map(|(i, &item)| unsafe { text_named(item, || format!("{name}[{i}]")) })
        .collect()
}

/// Rejects a count whose array could not exist (more than `isize::MAX` bytes).
fn check_count<T>(count: usize, name: &str) -> Result<()> {
    let fits = count
        .checked_mul(std::mem::size_of::<T>().max(1))
        .is_some_and(|bytes| bytes <= isize::MAX as usize);
    if fits {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{name}: count {count} is too large"
        )))
    }
}

/// A required output parameter. Created with the value it holds on failure, which is written at
/// once (when the pointer is not NULL), so that every early return leaves it defined.
pub(crate) struct Out<T> {
    ptr: *mut T,
}

impl<T> Out<T> {
    /// Writes `on_failure` through `ptr` when it is not NULL.
    ///
    /// # Safety
    /// `ptr` is NULL or valid for writing a `T`.
    pub(crate) unsafe fn new(ptr: *mut T, on_failure: T) -> Out<T> {
        if !ptr.is_null() {
            // SAFETY: non-NULL and writable per the caller; no read of the old value.
            unsafe { ptr.write(on_failure) };
        }
        Out { ptr }
    }

    /// Fails with an invalid argument when the pointer is NULL.
    pub(crate) fn required(self, name: &str) -> Result<Out<T>> {
        if self.ptr.is_null() {
            Err(Error::invalid(format!("{name} is NULL")))
        } else {
            Ok(self)
        }
    }

    /// Stores the result.
    pub(crate) fn set(&self, value: T) {
        if !self.ptr.is_null() {
            // SAFETY: checked by `required`, writable per `new`'s contract.
            unsafe { self.ptr.write(value) };
        }
    }
}

/// A caller's output array of `count` elements, filled with its failure value at once.
pub(crate) struct OutArray<T> {
    ptr: *mut T,
    count: usize,
}

impl<T: Copy> OutArray<T> {
    /// Fills the array with `on_failure` when it is not NULL and `count` is sane.
    ///
    /// # Safety
    /// When `count > 0` and `ptr` is not NULL, `ptr` is valid for writing `count` elements.
    pub(crate) unsafe fn new(ptr: *mut T, count: usize, on_failure: T) -> OutArray<T> {
        let out = OutArray { ptr, count };
        if out.usable() {
            for i in 0..count {
                // SAFETY: in bounds of the caller's array.
                unsafe { ptr.add(i).write(on_failure) };
            }
        }
        out
    }

    fn usable(&self) -> bool {
        self.count > 0 && !self.ptr.is_null() && check_count::<T>(self.count, "").is_ok()
    }

    /// Fails with an invalid argument when `count > 0` and the array is NULL or too large.
    pub(crate) fn required(self, name: &str) -> Result<OutArray<T>> {
        if self.count > 0 && self.ptr.is_null() {
            return Err(Error::invalid(format!(
                "{name} is NULL but count is {}",
                self.count
            )));
        }
        check_count::<T>(self.count, name)?;
        Ok(self)
    }

    /// Stores the results; `values` has exactly `count` elements.
    pub(crate) fn set(&self, values: impl ExactSizeIterator<Item = T>) -> Result<()> {
        if values.len() != self.count {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("{} results for {} entries", values.len(), self.count),
            ));
        }
        if self.usable() {
            for (i, value) in values.enumerate() {
                // SAFETY: i < count, in bounds of the caller's array.
                unsafe { self.ptr.add(i).write(value) };
            }
        }
        Ok(())
    }
}

/// A Rust string as a C string; one with a NUL byte inside cannot be returned to C.
pub(crate) fn c_string(value: String, what: impl FnOnce() -> String) -> Result<CString> {
    CString::new(value).map_err(|_| {
        Error::unexpected(format!(
            "{} contains a NUL byte, which a C string cannot hold",
            what()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::status;
    use super::*;

    #[test]
    fn a_panic_becomes_sf_internal_with_a_message() {
        let mut err = status::sf_error::blank();
        let status = call(&mut err, || panic!("boom {}", 42));
        assert_eq!(status, status::SF_INTERNAL);
        assert_eq!(err.code, status::SF_INTERNAL);
        let message = unsafe { CStr::from_ptr(err.message.as_ptr()) };
        assert!(message.to_str().unwrap().contains("panic: boom 42"));
        assert_eq!(
            call(std::ptr::null_mut(), || panic!("x")),
            status::SF_INTERNAL
        );
        assert_eq!(quiet(7, || panic!("y")), 7);
    }

    #[test]
    fn null_and_bad_utf8_arguments_are_invalid() {
        let err = unsafe { text(std::ptr::null(), "ns") }.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert_eq!(err.message(), "ns is NULL");
        let bad = c"ab\xffc";
        let err = unsafe { text(bad.as_ptr(), "uid") }.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.message().contains("offset 2"), "{}", err.message());
        let none: &[i32] = unsafe { slice(std::ptr::null(), 0, "pods") }.unwrap();
        assert!(none.is_empty());
        assert!(unsafe { slice::<i32>(std::ptr::null(), 1, "pods") }.is_err());
        assert!(unsafe { slice::<u64>(std::ptr::dangling(), usize::MAX / 4, "pods") }.is_err());
    }
}
