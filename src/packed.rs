//! Multi-entry results packed into one buffer, so that a read of N entries costs no allocation
//! per entry: the buffer behind [`Executor::get_service_state_packed`],
//! [`Executor::get_workload_states_packed`] and [`Executor::get_link_services_packed`], and the
//! layout the C API's `*_packed` functions hand out.
//!
//! Each entry, one after the other with no padding (integers in the machine's byte order):
//!
//! | bytes      | field                                                                       |
//! |------------|-----------------------------------------------------------------------------|
//! | 4          | `key`, an `i32`: the pod ordinal, or the input index for workload states     |
//! | 4          | `length`, an `i32`: the text's length in bytes; `-1` for an absent text      |
//! | `length`   | the text, UTF-8 without NUL bytes (nothing when absent)                      |
//! | 1          | a NUL byte, so a C caller can use the text as a C string (none when absent)  |
//!
//! [`Executor::get_service_state_packed`]: crate::Executor::get_service_state_packed
//! [`Executor::get_workload_states_packed`]: crate::Executor::get_workload_states_packed
//! [`Executor::get_link_services_packed`]: crate::Executor::get_link_services_packed

use crate::error::{Error, Result};

/// Bytes before an entry's text: the key and the length.
const HEAD: usize = 8;

/// A reusable buffer of packed (key, text) entries; see the [module](self) for the layout.
/// Reading into the same `Packed` again reuses its memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Packed {
    bytes: Vec<u8>,
    count: usize,
}

impl Packed {
    /// An empty buffer.
    pub fn new() -> Packed {
        Packed::default()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The packed entries, in the layout of the [module](self).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The entries as (key, text) pairs, `None` for an absent text.
    pub fn entries(&self) -> Entries<'_> {
        Entries {
            bytes: &self.bytes,
            offset: 0,
        }
    }

    /// The bytes it can hold without reallocating.
    pub(crate) fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// Removes every entry, keeping the memory.
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.count = 0;
    }

    /// Room for `entries` more entries whose texts total `text_bytes`.
    pub(crate) fn reserve(&mut self, entries: usize, text_bytes: usize) {
        self.bytes.reserve(entries * (HEAD + 1) + text_bytes);
    }

    /// Appends an entry. A text holding a NUL byte cannot be packed (a C caller reads it up to its
    /// NUL): an `UnexpectedReply` naming `what`, as the C functions that return C strings report.
    pub(crate) fn push(
        &mut self,
        key: i32,
        text: Option<&str>,
        what: impl FnOnce() -> String,
    ) -> Result<()> {
        let length = match text {
            None => -1,
            Some(text) if text.as_bytes().contains(&0) => {
                return Err(Error::unexpected(format!(
                    "{} contains a NUL byte, which a C string cannot hold",
                    what()
                )))
            }
            Some(text) => i32::try_from(text.len())
                .map_err(|_| Error::unexpected(format!("{} is longer than 2 GiB", what())))?,
        };
        let mut head = [0; HEAD];
        head[..4].copy_from_slice(&key.to_ne_bytes());
        head[4..].copy_from_slice(&length.to_ne_bytes());
        self.bytes
            .reserve(HEAD + text.map_or(0, |text| text.len() + 1));
        self.bytes.extend_from_slice(&head);
        if let Some(text) = text {
            self.bytes.extend_from_slice(text.as_bytes());
            self.bytes.push(0);
        }
        self.count += 1;
        Ok(())
    }
}

/// The entries of a [`Packed`], in order.
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for Entries<'a> {
    type Item = (i32, Option<&'a str>);

    fn next(&mut self) -> Option<Self::Item> {
        let (key, text, next) = entry_at(self.bytes, self.offset)?;
        self.offset = next;
        // Written from &str by `push`, so the bytes are UTF-8; a failure here is unreachable
        // and ends the iteration rather than panicking.
        match text {
            None => Some((key, None)),
            Some(bytes) => std::str::from_utf8(bytes).ok().map(|t| (key, Some(t))),
        }
    }
}

/// The entry at `offset` of packed `bytes`: its key, its text's bytes (without the NUL) and the
/// offset of the next entry. `None` at the end or when the bytes there are not a whole entry
/// (bytes from a caller may be anything: every bound is checked).
pub(crate) fn entry_at(bytes: &[u8], offset: usize) -> Option<(i32, Option<&[u8]>, usize)> {
    let head = bytes.get(offset..offset.checked_add(HEAD)?)?;
    let key = i32::from_ne_bytes(head[..4].try_into().ok()?);
    let length = i32::from_ne_bytes(head[4..].try_into().ok()?);
    let start = offset + HEAD;
    if length == -1 {
        return Some((key, None, start));
    }
    let length = usize::try_from(length).ok()?;
    let end = start.checked_add(length)?;
    match bytes.get(end) {
        Some(0) => Some((key, Some(&bytes[start..end]), end + 1)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_with_absent_empty_and_multibyte_texts() {
        let mut packed = Packed::new();
        let texts = [Some("Running"), None, Some(""), Some("🚀Up 中文")];
        for (i, text) in texts.iter().enumerate() {
            packed.push(i as i32 * 7 - 1, *text, String::new).unwrap();
        }
        assert_eq!(packed.len(), 4);
        let read: Vec<_> = packed.entries().collect();
        assert_eq!(
            read,
            vec![
                (-1, Some("Running")),
                (6, None),
                (13, Some("")),
                (20, Some("🚀Up 中文"))
            ]
        );
        let size = (8 + 7 + 1) + 8 + (8 + 1) + (8 + "🚀Up 中文".len() + 1);
        assert_eq!(packed.as_bytes().len(), size);
        packed.clear();
        assert!(packed.is_empty() && packed.entries().next().is_none());
    }

    #[test]
    fn a_nul_byte_is_refused_and_leaves_the_buffer_as_it_was() {
        let mut packed = Packed::new();
        packed.push(1, Some("a"), String::new).unwrap();
        let before = packed.clone();
        let err = packed
            .push(2, Some("a\0b"), || "state of pod 2".into())
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::UnexpectedReply);
        assert!(
            err.message().contains("state of pod 2"),
            "{}",
            err.message()
        );
        assert_eq!(packed, before);
    }

    #[test]
    fn truncated_or_garbled_bytes_end_the_entries_without_panicking() {
        let mut packed = Packed::new();
        packed.push(3, Some("abc"), String::new).unwrap();
        packed.push(4, Some("de"), String::new).unwrap();
        let bytes = packed.as_bytes();
        for cut in 0..bytes.len() {
            let mut offset = 0;
            let mut seen = 0;
            while let Some((_, _, next)) = entry_at(&bytes[..cut], offset) {
                assert!(next > offset && next <= cut);
                offset = next;
                seen += 1;
            }
            assert!(seen < 2);
        }
        let mut garbled = bytes.to_vec();
        garbled[4..8].copy_from_slice(&i32::MAX.to_ne_bytes());
        assert!(entry_at(&garbled, 0).is_none());
        garbled[4..8].copy_from_slice(&(-5i32).to_ne_bytes());
        assert!(entry_at(&garbled, 0).is_none());
        assert!(entry_at(bytes, usize::MAX - 3).is_none());
    }
}
