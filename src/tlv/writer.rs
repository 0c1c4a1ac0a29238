//! The TLV writer: appends elements to a caller-owned `Vec<u8>`, optionally up to a size limit.

use super::reader::{Element, Value};
use super::{etype, tagctl, Tag, TlvError};

/// Appends TLV elements to a `Vec<u8>`.
///
/// Every method returns `Result` so that a writer with a limit ([`TlvWriter::with_limit`]) can
/// refuse an element that does not fit: the refused element is removed again, so the buffer
/// always ends on an element boundary and the caller can close its containers and stop.
#[derive(Debug)]
pub struct TlvWriter<'b> {
    buf: &'b mut Vec<u8>,
    start: usize,
    /// Absolute maximum of `buf.len()`.
    limit: usize,
    depth: usize,
}

/// A position to return to with [`TlvWriter::rollback`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    len: usize,
    depth: usize,
}

impl<'b> TlvWriter<'b> {
    /// A writer appending to `buf` (existing contents are kept), without a size limit.
    pub fn new(buf: &'b mut Vec<u8>) -> Self {
        let start = buf.len();
        Self {
            buf,
            start,
            limit: usize::MAX,
            depth: 0,
        }
    }

    /// A writer that appends at most `max_len` bytes to `buf`.
    pub fn with_limit(buf: &'b mut Vec<u8>, max_len: usize) -> Self {
        let mut w = Self::new(buf);
        w.set_limit(Some(max_len));
        w
    }

    /// Sets (or with `None` removes) the limit on the bytes this writer appends. Lowering it
    /// below what is already written makes every further write fail.
    pub fn set_limit(&mut self, max_len: Option<usize>) {
        self.limit = max_len.map_or(usize::MAX, |m| self.start.saturating_add(m));
    }

    /// An unsigned integer in the smallest of 1, 2, 4 or 8 bytes that holds it.
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn uint(&mut self, tag: Tag, v: u64) -> Result<(), TlvError> {
        // The CHIP SDK's `TLVWriter::Put(Tag, uint64_t)` chooses the width the same way.
        let (code, width) = if v <= u64::from(u8::MAX) {
            (0, 1)
        } else if v <= u64::from(u16::MAX) {
            (1, 2)
        } else if v <= u64::from(u32::MAX) {
            (2, 4)
        } else {
            (3, 8)
        };
        self.put(|b| {
            head(b, etype::UINT8 + code, tag);
            b.extend_from_slice(&v.to_le_bytes()[..width]);
        })
    }

    /// A signed integer in the smallest of 1, 2, 4 or 8 bytes that holds it.
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn int(&mut self, tag: Tag, v: i64) -> Result<(), TlvError> {
        let (code, width) = if i8::try_from(v).is_ok() {
            (0, 1)
        } else if i16::try_from(v).is_ok() {
            (1, 2)
        } else if i32::try_from(v).is_ok() {
            (2, 4)
        } else {
            (3, 8)
        };
        self.put(|b| {
            head(b, etype::INT8 + code, tag);
            // Little-endian two's complement truncated to `width` keeps the value, as it fits.
            b.extend_from_slice(&v.to_le_bytes()[..width]);
        })
    }

    /// `u8` (smallest width).
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn u8(&mut self, tag: Tag, v: u8) -> Result<(), TlvError> {
        self.uint(tag, v.into())
    }

    /// `u16` (smallest width).
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn u16(&mut self, tag: Tag, v: u16) -> Result<(), TlvError> {
        self.uint(tag, v.into())
    }

    /// `u32` (smallest width).
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn u32(&mut self, tag: Tag, v: u32) -> Result<(), TlvError> {
        self.uint(tag, v.into())
    }

    /// `u64` (smallest width).
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn u64(&mut self, tag: Tag, v: u64) -> Result<(), TlvError> {
        self.uint(tag, v)
    }

    /// `i8` (smallest width).
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn i8(&mut self, tag: Tag, v: i8) -> Result<(), TlvError> {
        self.int(tag, v.into())
    }

    /// `i16` (smallest width).
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn i16(&mut self, tag: Tag, v: i16) -> Result<(), TlvError> {
        self.int(tag, v.into())
    }

    /// `i32` (smallest width).
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn i32(&mut self, tag: Tag, v: i32) -> Result<(), TlvError> {
        self.int(tag, v.into())
    }

    /// `i64` (smallest width).
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn i64(&mut self, tag: Tag, v: i64) -> Result<(), TlvError> {
        self.int(tag, v)
    }

    /// A boolean.
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn bool(&mut self, tag: Tag, v: bool) -> Result<(), TlvError> {
        self.put(|b| head(b, if v { etype::TRUE } else { etype::FALSE }, tag))
    }

    /// A single-precision float.
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn f32(&mut self, tag: Tag, v: f32) -> Result<(), TlvError> {
        self.put(|b| {
            head(b, etype::FLOAT, tag);
            b.extend_from_slice(&v.to_bits().to_le_bytes());
        })
    }

    /// A double-precision float.
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn f64(&mut self, tag: Tag, v: f64) -> Result<(), TlvError> {
        self.put(|b| {
            head(b, etype::DOUBLE, tag);
            b.extend_from_slice(&v.to_bits().to_le_bytes());
        })
    }

    /// A UTF-8 string, with the smallest length field that holds its length.
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn utf8(&mut self, tag: Tag, v: &str) -> Result<(), TlvError> {
        self.put(|b| string(b, etype::UTF8_1, tag, v.as_bytes()))
    }

    /// An octet string, with the smallest length field that holds its length.
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn octets(&mut self, tag: Tag, v: &[u8]) -> Result<(), TlvError> {
        self.put(|b| string(b, etype::OCTETS_1, tag, v))
    }

    /// Null.
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn null(&mut self, tag: Tag) -> Result<(), TlvError> {
        self.put(|b| head(b, etype::NULL, tag))
    }

    /// Opens a structure; close it with [`TlvWriter::end_container`].
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn start_struct(&mut self, tag: Tag) -> Result<(), TlvError> {
        self.start(etype::STRUCT, tag)
    }

    /// Opens an array; close it with [`TlvWriter::end_container`].
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn start_array(&mut self, tag: Tag) -> Result<(), TlvError> {
        self.start(etype::ARRAY, tag)
    }

    /// Opens a list; close it with [`TlvWriter::end_container`].
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn start_list(&mut self, tag: Tag) -> Result<(), TlvError> {
        self.start(etype::LIST, tag)
    }

    /// Closes the innermost open container.
    ///
    /// # Errors
    /// [`TlvError::ApiMisuse`] if none is open; [`TlvError::BufferFull`] when over the limit.
    pub fn end_container(&mut self) -> Result<(), TlvError> {
        if self.depth == 0 {
            return Err(TlvError::ApiMisuse(
                "end_container without an open container",
            ));
        }
        self.put(|b| b.push(etype::END))?;
        self.depth -= 1;
        Ok(())
    }

    /// Writes a value read by [`super::TlvReader`] under `tag`, copying containers verbatim.
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn value(&mut self, tag: Tag, v: &Value<'_>) -> Result<(), TlvError> {
        match *v {
            Value::Int(x) => self.int(tag, x),
            Value::UInt(x) => self.uint(tag, x),
            Value::Bool(x) => self.bool(tag, x),
            Value::Float(x) => self.f32(tag, x),
            Value::Double(x) => self.f64(tag, x),
            Value::Utf8(x) => self.utf8(tag, x),
            Value::Octets(x) => self.octets(tag, x),
            Value::Null => self.null(tag),
            Value::Struct(c) | Value::Array(c) | Value::List(c) => {
                let code = match v {
                    Value::Struct(_) => etype::STRUCT,
                    Value::Array(_) => etype::ARRAY,
                    _ => etype::LIST,
                };
                self.put(|b| {
                    head(b, code, tag);
                    b.extend_from_slice(c.body());
                    b.push(etype::END);
                })
            }
        }
    }

    /// Writes an element read by [`super::TlvReader`] (tag and value).
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when over the limit.
    pub fn element(&mut self, e: &Element<'_>) -> Result<(), TlvError> {
        self.value(e.tag, &e.value)
    }

    /// Checks that every container is closed and returns the number of bytes written.
    ///
    /// # Errors
    /// [`TlvError::ApiMisuse`] if a container is still open.
    pub fn finish(self) -> Result<usize, TlvError> {
        if self.depth != 0 {
            return Err(TlvError::ApiMisuse("finish with an open container"));
        }
        Ok(self.written())
    }

    /// The current position, to return to with [`TlvWriter::rollback`].
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            len: self.buf.len(),
            depth: self.depth,
        }
    }

    /// Removes everything written since `cp` (including containers opened since).
    pub fn rollback(&mut self, cp: Checkpoint) {
        self.buf.truncate(cp.len.max(self.start));
        self.depth = cp.depth;
    }

    /// Bytes written by this writer so far.
    pub fn written(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The limit on the bytes this writer appends, if any (as given to [`TlvWriter::set_limit`]).
    pub fn limit(&self) -> Option<usize> {
        (self.limit != usize::MAX).then(|| self.limit - self.start)
    }

    /// Bytes that may still be written before the limit (`usize::MAX`-ish without one).
    pub fn remaining(&self) -> usize {
        self.limit.saturating_sub(self.buf.len())
    }

    /// Number of containers currently open.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The bytes written by this writer so far.
    pub fn bytes(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    fn start(&mut self, code: u8, tag: Tag) -> Result<(), TlvError> {
        self.put(|b| head(b, code, tag))?;
        self.depth += 1;
        Ok(())
    }

    /// Runs `f`, undoing it if it took the buffer past the limit.
    fn put(&mut self, f: impl FnOnce(&mut Vec<u8>)) -> Result<(), TlvError> {
        let mark = self.buf.len();
        f(self.buf);
        if self.buf.len() > self.limit {
            self.buf.truncate(mark);
            return Err(TlvError::BufferFull);
        }
        Ok(())
    }
}

/// Control byte and tag (Matter 1.3 §A.7.2, §A.8).
fn head(b: &mut Vec<u8>, code: u8, tag: Tag) {
    match tag {
        Tag::Anonymous => b.push((tagctl::ANONYMOUS << 5) | code),
        Tag::Context(n) => b.extend_from_slice(&[(tagctl::CONTEXT << 5) | code, n]),
        Tag::CommonProfile(n) => profile_tag(b, code, tagctl::COMMON_2, tagctl::COMMON_4, n),
        Tag::ImplicitProfile(n) => profile_tag(b, code, tagctl::IMPLICIT_2, tagctl::IMPLICIT_4, n),
        Tag::FullyQualified {
            vendor_id,
            profile,
            tag,
        } => {
            let short = u16::try_from(tag).ok();
            let ctl = if short.is_some() {
                tagctl::FULL_6
            } else {
                tagctl::FULL_8
            };
            b.push((ctl << 5) | code);
            b.extend_from_slice(&vendor_id.to_le_bytes());
            b.extend_from_slice(&profile.to_le_bytes());
            match short {
                Some(s) => b.extend_from_slice(&s.to_le_bytes()),
                None => b.extend_from_slice(&tag.to_le_bytes()),
            }
        }
    }
}

fn profile_tag(b: &mut Vec<u8>, code: u8, ctl2: u8, ctl4: u8, n: u32) {
    match u16::try_from(n) {
        Ok(s) => {
            b.push((ctl2 << 5) | code);
            b.extend_from_slice(&s.to_le_bytes());
        }
        Err(_) => {
            b.push((ctl4 << 5) | code);
            b.extend_from_slice(&n.to_le_bytes());
        }
    }
}

/// A length-prefixed string; `base` is the 1-byte-length code of its type.
fn string(b: &mut Vec<u8>, base: u8, tag: Tag, data: &[u8]) {
    let len = data.len() as u64;
    let (code, width) = if len <= u64::from(u8::MAX) {
        (0, 1)
    } else if len <= u64::from(u16::MAX) {
        (1, 2)
    } else if len <= u64::from(u32::MAX) {
        (2, 4)
    } else {
        (3, 8)
    };
    head(b, base + code, tag);
    b.extend_from_slice(&len.to_le_bytes()[..width]);
    b.extend_from_slice(data);
}
