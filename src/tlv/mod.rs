//! Matter TLV (Tag-Length-Value), the encoding of every PASE, CASE and Interaction Model payload
//! (Matter 1.3 Appendix A, "Tag-length-value (TLV) Encoding Format").
//!
//! This module owns the wire format only: a zero-copy pull reader ([`TlvReader`], [`Container`]),
//! an appending writer ([`TlvWriter`]) and an owned tree ([`TlvValue`]) for tests and round trips.
//!
//! # Reading
//! ```
//! use matter_ble::tlv::{TlvReader, TlvError};
//! # fn main() -> Result<(), TlvError> {
//! # let bytes = [0x15, 0x30, 0x01, 0x02, 0xAA, 0xBB, 0x25, 0x02, 0x34, 0x12, 0x18];
//! // One anonymous structure, nothing after it (trailing bytes are an error).
//! let s = TlvReader::new(&bytes).read_struct()?;
//! let rnd: &[u8] = s.octets(1)?;            // required: `TlvError::MissingField { tag: 1 }`
//! let sid: u16 = s.u16(2)?;                 // wider than u16 or signed: a typed error
//! let opt: Option<bool> = s.opt_bool(4)?;   // absent -> None; present but not a bool -> error
//! let any: Option<u32> = s.opt::<u32>(5)?;  // the generic forms: `get::<T>`, `opt::<T>`
//! assert_eq!((rnd, sid, opt, any), (&[0xAA, 0xBB][..], 0x1234, None, None));
//! # Ok(()) }
//! ```
//! - [`TlvReader::next`] walks elements one by one; a container comes back as a [`Container`]
//!   holding its (already bounds-checked) body, so ignoring it skips the whole container.
//! - [`Container::iter`] walks a container's members; [`Container::get`] / [`Container::opt`] and
//!   the named helpers (`u8`..`u64`, `i8`..`i64`, `bool`, `f32`, `f64`, `octets`, `utf8`,
//!   `structure`, `array`, `list`, each with an `opt_` form, plus `nullable`) look a member up by
//!   context tag. Unknown members are skipped, as the spec requires for forward compatibility.
//! - Every length is checked against the remaining input, nesting is limited to
//!   [`DEFAULT_MAX_DEPTH`] (configurable), reserved element types and misplaced end-of-container
//!   markers are rejected. Bad input gives a [`TlvError`], never a panic.
//!
//! # Writing
//! ```
//! use matter_ble::tlv::{Tag, TlvWriter, TlvError};
//! # fn main() -> Result<(), TlvError> {
//! let mut buf = Vec::new();
//! let mut w = TlvWriter::new(&mut buf);
//! w.start_struct(Tag::Anonymous)?;
//! w.octets(Tag::Context(1), &[0xAA, 0xBB])?;
//! w.u16(Tag::Context(2), 0x1234)?;   // written as the smallest width that fits, like the CHIP SDK
//! w.end_container()?;
//! w.finish()?;                        // fails if a container is still open
//! assert_eq!(buf, [0x15, 0x30, 0x01, 0x02, 0xAA, 0xBB, 0x25, 0x02, 0x34, 0x12, 0x18]);
//! # Ok(()) }
//! ```
//! Integers (signed and unsigned) and string lengths use the smallest encoding that holds the
//! value, as the CHIP SDK's `TLVWriter::Put` does; profile tags use the 2-byte (6-byte for fully
//! qualified) form when the tag number fits in 16 bits. A writer may be given a size limit
//! ([`TlvWriter::with_limit`]) and offers [`TlvWriter::checkpoint`] / [`TlvWriter::rollback`], which
//! is how the Interaction Model fills a report up to the transport's payload size.

mod reader;
pub mod schema;
mod value;
mod writer;

#[cfg(test)]
mod tests;

use core::fmt;

use thiserror::Error;

pub use reader::{Container, Element, FromTlv, Members, TlvReader, Value};
pub use value::TlvValue;
pub use writer::{Checkpoint, TlvWriter};

/// The nesting depth a reader accepts by default: containers inside containers, counting the
/// outermost as 1. Interaction Model reports nest about 7 deep before the attribute data itself.
pub const DEFAULT_MAX_DEPTH: u8 = 32;

/// A TLV tag (Matter 1.3 §A.2, "Tags"; control bits in §A.7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tag {
    /// No tag: top-level elements and members of arrays and lists.
    Anonymous,
    /// Context-specific tag: the member number inside a structure or list.
    Context(u8),
    /// A tag of the Matter common profile (2-byte form if the number fits in 16 bits).
    CommonProfile(u32),
    /// A profile tag whose profile is implied by the context (2- or 4-byte form).
    ImplicitProfile(u32),
    /// A fully qualified profile tag: vendor id, profile number and tag number.
    FullyQualified {
        /// Vendor id half of the profile id.
        vendor_id: u16,
        /// Profile number half of the profile id.
        profile: u16,
        /// Tag number (6-byte form if it fits in 16 bits, else the 8-byte form).
        tag: u32,
    },
}

impl Tag {
    /// The context tag number, if this is a context-specific tag.
    pub fn context(self) -> Option<u8> {
        match self {
            Self::Context(n) => Some(n),
            _ => None,
        }
    }
}

/// The type of an element as the spec names it (§A.7.1), without its width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ElementType {
    /// Signed integer (1, 2, 4 or 8 bytes).
    SignedInt,
    /// Unsigned integer (1, 2, 4 or 8 bytes).
    UnsignedInt,
    /// Boolean.
    Bool,
    /// Single-precision float.
    Float,
    /// Double-precision float.
    Double,
    /// UTF-8 string.
    Utf8String,
    /// Octet string.
    OctetString,
    /// Null.
    Null,
    /// Structure (members carry unique non-anonymous tags).
    Structure,
    /// Array (ordered, anonymous members).
    Array,
    /// List (ordered, members may be tagged).
    List,
}

impl fmt::Display for ElementType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::SignedInt => "signed integer",
            Self::UnsignedInt => "unsigned integer",
            Self::Bool => "boolean",
            Self::Float => "float",
            Self::Double => "double",
            Self::Utf8String => "UTF-8 string",
            Self::OctetString => "octet string",
            Self::Null => "null",
            Self::Structure => "structure",
            Self::Array => "array",
            Self::List => "list",
        };
        f.write_str(s)
    }
}

/// An error reading or writing TLV.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TlvError {
    /// The input ended inside an element (its head, value or length-prefixed data).
    #[error("TLV truncated: {needed} more bytes needed")]
    Truncated {
        /// Bytes missing.
        needed: usize,
    },
    /// A container had no end-of-container marker before the input ended.
    #[error("TLV container not terminated")]
    UnterminatedContainer,
    /// Bytes followed the single top-level element that was asked for.
    #[error("{count} trailing bytes after the TLV element")]
    TrailingData {
        /// Number of bytes left over.
        count: usize,
    },
    /// The element type field held a reserved value (0x19..=0x1F).
    #[error("reserved TLV element type 0x{0:02x}")]
    ReservedElementType(u8),
    /// An end-of-container marker outside any container, or one carrying a tag.
    #[error("misplaced TLV end-of-container")]
    InvalidEndOfContainer,
    /// Containers nested deeper than the reader's limit.
    #[error("TLV nested deeper than {max}")]
    TooDeep {
        /// The limit.
        max: u8,
    },
    /// A length that does not fit this machine's address space.
    #[error("TLV length {0} too large")]
    LengthTooLarge(u64),
    /// A UTF-8 string element that is not valid UTF-8.
    #[error("TLV UTF-8 string is not valid UTF-8")]
    InvalidUtf8,
    /// The element has another type than the one asked for.
    #[error("expected TLV {expected}, found {found}")]
    WrongType {
        /// The type the caller asked for.
        expected: ElementType,
        /// The type on the wire.
        found: ElementType,
    },
    /// An integer that does not fit the type asked for.
    #[error("TLV integer out of range for {target}")]
    IntegerOutOfRange {
        /// The Rust type asked for.
        target: &'static str,
    },
    /// An octet string of another length than the fixed-size array asked for.
    #[error("TLV octet string of {found} bytes where {expected} are required")]
    WrongLength {
        /// The length required.
        expected: usize,
        /// The length on the wire.
        found: usize,
    },
    /// A required structure member is absent.
    #[error("missing field {tag}")]
    MissingField {
        /// Context tag of the member.
        tag: u8,
    },
    /// The reader was asked for one element and the input held none.
    #[error("no TLV element")]
    Empty,
    /// A writer with a size limit ran out of room; the partial element was removed.
    #[error("TLV writer limit reached")]
    BufferFull,
    /// Writer misuse: `end_container` with no open container, or `finish` with one still open.
    #[error("TLV writer misuse: {0}")]
    ApiMisuse(&'static str),
}

/// Element type field values (Matter 1.3 §A.7.1, "Element Type Field").
pub(crate) mod etype {
    pub(crate) const INT8: u8 = 0x00;
    pub(crate) const UINT8: u8 = 0x04;
    pub(crate) const FALSE: u8 = 0x08;
    pub(crate) const TRUE: u8 = 0x09;
    pub(crate) const FLOAT: u8 = 0x0A;
    pub(crate) const DOUBLE: u8 = 0x0B;
    pub(crate) const UTF8_1: u8 = 0x0C;
    pub(crate) const OCTETS_1: u8 = 0x10;
    pub(crate) const NULL: u8 = 0x14;
    pub(crate) const STRUCT: u8 = 0x15;
    pub(crate) const ARRAY: u8 = 0x16;
    pub(crate) const LIST: u8 = 0x17;
    pub(crate) const END: u8 = 0x18;
}

/// Tag control field values, bits 7..5 of the control byte (Matter 1.3 §A.7.2).
pub(crate) mod tagctl {
    pub(crate) const ANONYMOUS: u8 = 0;
    pub(crate) const CONTEXT: u8 = 1;
    pub(crate) const COMMON_2: u8 = 2;
    pub(crate) const COMMON_4: u8 = 3;
    pub(crate) const IMPLICIT_2: u8 = 4;
    pub(crate) const IMPLICIT_4: u8 = 5;
    pub(crate) const FULL_6: u8 = 6;
    pub(crate) const FULL_8: u8 = 7;
}
