//! Errors shared by the codecs. Each layer has its own `thiserror` enum next to its code
//! (`tlv::TlvError`, `message::MessageError`, `btp::BtpError`, `pase::PaseError`, ...); this module
//! holds what they share.

use thiserror::Error;

/// Bytes that could not be decoded. `what` names the structure being read, for logs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the structure did.
    #[error("truncated {what}: needed {needed} more bytes")]
    Truncated { what: &'static str, needed: usize },
    /// Bytes were left over after the structure.
    #[error("{count} trailing bytes after {what}")]
    TrailingData { what: &'static str, count: usize },
    /// A field held a value the format does not allow.
    #[error("invalid {what}")]
    Invalid { what: &'static str },
    /// A version or format this implementation does not speak.
    #[error("unsupported {what}: {value}")]
    Unsupported { what: &'static str, value: u64 },
}

/// A bounds-checked cursor over a byte slice, for fixed-layout little-endian formats.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`; `what` names the structure in errors.
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, what }
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated {
                what: self.what,
                needed: n - self.buf.len(),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Takes the next `N` bytes as an array.
    pub fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Reads a `u8`.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take_array::<1>()?[0])
    }

    /// Reads a little-endian `u16`.
    pub fn u16_le(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.take_array()?))
    }

    /// Reads a little-endian `u32`.
    pub fn u32_le(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take_array()?))
    }

    /// Reads a little-endian `u64`.
    pub fn u64_le(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take_array()?))
    }

    /// The unread bytes, consuming them.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Fails with [`DecodeError::TrailingData`] unless the input is used up.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingData {
                what: self.what,
                count: self.buf.len(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_checks_bounds() {
        let mut r = Reader::new(&[1, 2, 3], "test");
        assert_eq!(r.u16_le(), Ok(0x0201));
        assert_eq!(
            r.u16_le(),
            Err(DecodeError::Truncated {
                what: "test",
                needed: 1
            })
        );
        assert_eq!(r.u8(), Ok(3));
        assert!(r.finish().is_ok());
    }
}
