//! Packed multi-entry results (`sf_get_service_state_packed`, `sf_get_workload_states_packed`,
//! `sf_get_link_services_packed`): the core's [`Packed`] entries copied into the caller's
//! buffer, or into one block of the library's when they do not fit.

use std::cell::Cell;
use std::ffi::c_char;

use super::status::SF_NO_POD;
use super::{call, quiet, Out};
use crate::error::{Error, Result};
use crate::packed::{self, Packed};

/// A packed multi-entry result: `count` entries in `size` bytes at `data`, one after the other
/// with no padding, each `int32_t key`, `int32_t length`, then (unless `length` is -1, an absent
/// text) `length` bytes of UTF-8 and a NUL byte; integers in the machine's byte order. Read the
/// entries with `sf_packed_next` (or decode the bytes directly, as the Java binding does).
///
/// `data` points into the caller's buffer when the entries fit in it, else into a block the
/// library allocated (`allocated`, the same address). Call `sf_packed_free` once done with every
/// result, whichever it is: it frees only a block of the library's, and does nothing for a
/// zeroed `sf_packed` (what every failed call leaves). The fields are read-only for the caller.
/// May be read from several threads at once; not freed while another thread reads it.
#[repr(C)]
pub struct sf_packed {
    /// The first entry; NULL only when `size` is 0 and the caller passed no buffer.
    pub data: *const u8,
    /// The entries' total size in bytes.
    pub size: usize,
    /// The number of entries.
    pub count: usize,
    /// The block the library allocated for the entries (equal to `data`), or NULL when they are
    /// in the caller's buffer. Freed by `sf_packed_free`, never by `free`.
    pub allocated: *mut u8,
}

impl sf_packed {
    const EMPTY: sf_packed = sf_packed {
        data: std::ptr::null(),
        size: 0,
        count: 0,
        allocated: std::ptr::null_mut(),
    };
}

/// Results of more than this many bytes leave the calling thread's scratch buffer, so that one
/// large read does not stay allocated for the thread's life.
const KEEP_SCRATCH: usize = 64 * 1024;

thread_local! {
    /// The calling thread's packing buffer, taken for the length of a call and kept for the
    /// next (no allocation for the entries once it has grown to fit).
    static SCRATCH: Cell<Packed> = Cell::new(Packed::new());
}

/// The caller's buffer and the result to fill: checked, and `out` zeroed, before anything else.
pub(crate) struct PackedOut {
    buffer: *mut u8,
    capacity: usize,
    out: Out<sf_packed>,
}

impl PackedOut {
    /// # Safety
    /// `out` is NULL or writable; `buffer` is NULL or writable for `capacity` bytes.
    pub(crate) unsafe fn new(
        buffer: *mut u8,
        capacity: usize,
        out: *mut sf_packed,
    ) -> Result<PackedOut> {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out, sf_packed::EMPTY) }.required("out")?;
        if buffer.is_null() && capacity > 0 {
            return Err(Error::invalid(format!(
                "buffer is NULL but capacity is {capacity}"
            )));
        }
        Ok(PackedOut {
            buffer,
            capacity,
            out,
        })
    }

    /// Runs `read` on the calling thread's scratch buffer and hands its entries out.
    pub(crate) fn fill(self, read: impl FnOnce(&mut Packed) -> Result<()>) -> Result<()> {
        let mut scratch = SCRATCH.take();
        let outcome = read(&mut scratch).and_then(|()| self.hand_out(&scratch));
        if scratch.capacity() <= KEEP_SCRATCH {
            SCRATCH.set(scratch);
        }
        outcome
    }

    fn hand_out(self, packed: &Packed) -> Result<()> {
        let bytes = packed.as_bytes();
        let result = if bytes.len() <= self.capacity {
            if !bytes.is_empty() {
                // SAFETY: buffer is writable for capacity >= len bytes (checked non-NULL in
                // `new`, as capacity > 0); the scratch buffer never overlaps the caller's.
                unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.buffer, bytes.len()) };
            }
            sf_packed {
                data: self.buffer,
                size: bytes.len(),
                count: packed.len(),
                allocated: std::ptr::null_mut(),
            }
        } else {
            // Exactly `size` bytes, so that sf_packed_free can rebuild the box from the result.
            let block = Box::into_raw(Box::<[u8]>::from(bytes)).cast::<u8>();
            sf_packed {
                data: block,
                size: bytes.len(),
                count: packed.len(),
                allocated: block,
            }
        };
        self.out.set(result);
        Ok(())
    }
}

/// Reads the entry at `*cursor` of a packed result and moves `*cursor` past it; start with
/// `*cursor == 0`. Returns true with the entry's key in `*out_key`, its text in `*out_text` (a
/// NUL-terminated UTF-8 string inside `p`'s bytes, valid until `sf_packed_free(p)`; NULL for an
/// absent workload state) and the text's length in bytes, without the NUL, in `*out_length` (0
/// when absent). Returns false after the last entry, and when `p` or `cursor` is NULL or the
/// bytes at `*cursor` are not a whole entry (`*cursor` is left as it was); the outputs are then
/// `SF_NO_POD`, NULL and 0. Each output pointer may be NULL when that part is not wanted.
/// Thread-safe (reads `p` only).
///
/// # Safety
/// `p` is NULL or a result filled by a `*_packed` function and not freed; `cursor` and the output
/// pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sf_packed_next(
    p: *const sf_packed,
    cursor: *mut usize,
    out_key: *mut i32,
    out_text: *mut *const c_char,
    out_length: *mut usize,
) -> bool {
    quiet(false, || {
        // SAFETY: per this function's contract.
        let (key, text, length) = unsafe {
            (
                Out::new(out_key, SF_NO_POD),
                Out::new(out_text, std::ptr::null()),
                Out::new(out_length, 0),
            )
        };
        // SAFETY: per this function's contract.
        let (Some(p), Some(cursor)) = (unsafe { p.as_ref() }, unsafe { cursor.as_mut() }) else {
            return false;
        };
        let bytes: &[u8] = if p.data.is_null() || p.size == 0 {
            &[]
        } else {
            // SAFETY: a filled result's data holds size bytes until it is freed.
            unsafe { std::slice::from_raw_parts(p.data, p.size) }
        };
        let Some((entry_key, entry_text, next)) = packed::entry_at(bytes, *cursor) else {
            return false;
        };
        key.set(entry_key);
        if let Some(entry_text) = entry_text {
            text.set(entry_text.as_ptr().cast());
            length.set(entry_text.len());
        }
        *cursor = next;
        true
    })
}

/// Frees the block a `*_packed` function allocated for `p`'s entries, if it did, and zeroes
/// `*p`; a result in the caller's own buffer, a zeroed `sf_packed` and NULL are accepted and
/// need nothing (the caller's buffer stays the caller's). Freeing twice is harmless, as the
/// first call zeroes `*p`. Must not be called while another thread still reads `p`.
///
/// # Safety
/// `p` is NULL or points to an `sf_packed` that is zeroed or was filled by a `*_packed` function
/// and not modified since.
#[no_mangle]
pub unsafe extern "C" fn sf_packed_free(p: *mut sf_packed) {
    quiet((), || {
        // SAFETY: per this function's contract.
        let Some(p) = (unsafe { p.as_mut() }) else {
            return;
        };
        if !p.allocated.is_null() {
            let block = std::ptr::slice_from_raw_parts_mut(p.allocated, p.size);
            // SAFETY: made by Box::into_raw of a box of exactly `size` bytes in `hand_out`.
            drop(unsafe { Box::from_raw(block) });
        }
        *p = sf_packed::EMPTY;
    })
}

/// For `call`: a packed read's body, with its output checks done first.
///
/// # Safety
/// As [`PackedOut::new`].
pub(crate) unsafe fn packed_call(
    err: *mut super::status::sf_error,
    buffer: *mut u8,
    capacity: usize,
    out: *mut sf_packed,
    read: impl FnOnce(&mut Packed) -> Result<()>,
) -> super::status::sf_status {
    call(err, || {
        // SAFETY: forwarded from the caller.
        let out = unsafe { PackedOut::new(buffer, capacity, out) }?;
        out.fill(read)
    })
}
