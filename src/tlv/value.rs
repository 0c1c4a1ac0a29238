//! An owned TLV tree, for tests, property tests and places where a value must outlive its input.

use super::reader::{Element, TlvReader, Value};
use super::writer::TlvWriter;
use super::{Tag, TlvError};

/// An owned TLV value; containers hold `(tag, value)` members in order.
///
/// Equality compares floats by their bits, so a tree with NaNs still equals its own round trip.
#[derive(Clone, Debug)]
pub enum TlvValue {
    /// Signed integer.
    Int(i64),
    /// Unsigned integer.
    UInt(u64),
    /// Boolean.
    Bool(bool),
    /// Single-precision float.
    Float(f32),
    /// Double-precision float.
    Double(f64),
    /// UTF-8 string.
    Utf8(String),
    /// Octet string.
    Octets(Vec<u8>),
    /// Null.
    Null,
    /// Structure.
    Struct(Vec<(Tag, TlvValue)>),
    /// Array.
    Array(Vec<(Tag, TlvValue)>),
    /// List.
    List(Vec<(Tag, TlvValue)>),
}

impl TlvValue {
    /// Decodes exactly one element (trailing bytes are an error).
    ///
    /// # Errors
    /// Any [`TlvError`] the reader reports.
    pub fn decode(bytes: &[u8]) -> Result<(Tag, Self), TlvError> {
        let e = TlvReader::new(bytes).read_element()?;
        Ok((e.tag, Self::from_value(&e.value)?))
    }

    /// Copies a borrowed value into an owned tree. Recursion is bounded by the reader's depth
    /// limit, which the borrowed value has already passed.
    ///
    /// # Errors
    /// A malformed member inside a container (e.g. invalid UTF-8).
    pub fn from_value(v: &Value<'_>) -> Result<Self, TlvError> {
        Ok(match *v {
            Value::Int(x) => Self::Int(x),
            Value::UInt(x) => Self::UInt(x),
            Value::Bool(x) => Self::Bool(x),
            Value::Float(x) => Self::Float(x),
            Value::Double(x) => Self::Double(x),
            Value::Utf8(x) => Self::Utf8(x.to_owned()),
            Value::Octets(x) => Self::Octets(x.to_vec()),
            Value::Null => Self::Null,
            Value::Struct(c) => Self::Struct(members(c.iter())?),
            Value::Array(c) => Self::Array(members(c.iter())?),
            Value::List(c) => Self::List(members(c.iter())?),
        })
    }

    /// Encodes under `tag` into `w`.
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] when the writer's limit is reached.
    pub fn encode(&self, tag: Tag, w: &mut TlvWriter<'_>) -> Result<(), TlvError> {
        match self {
            Self::Int(x) => w.int(tag, *x),
            Self::UInt(x) => w.uint(tag, *x),
            Self::Bool(x) => w.bool(tag, *x),
            Self::Float(x) => w.f32(tag, *x),
            Self::Double(x) => w.f64(tag, *x),
            Self::Utf8(x) => w.utf8(tag, x),
            Self::Octets(x) => w.octets(tag, x),
            Self::Null => w.null(tag),
            Self::Struct(m) | Self::Array(m) | Self::List(m) => {
                match self {
                    Self::Struct(_) => w.start_struct(tag)?,
                    Self::Array(_) => w.start_array(tag)?,
                    _ => w.start_list(tag)?,
                }
                for (t, v) in m {
                    v.encode(*t, w)?;
                }
                w.end_container()
            }
        }
    }

    /// Encodes under `tag` into a new buffer.
    pub fn to_bytes(&self, tag: Tag) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut w = TlvWriter::new(&mut buf);
        // Without a limit the writer fails only on unbalanced containers, which `encode` never
        // produces; an error here would be our bug, so it is dropped rather than panicking.
        let _ = self.encode(tag, &mut w);
        buf
    }
}

fn members<'a>(
    it: impl Iterator<Item = Result<Element<'a>, TlvError>>,
) -> Result<Vec<(Tag, TlvValue)>, TlvError> {
    it.map(|m| {
        let m = m?;
        Ok((m.tag, TlvValue::from_value(&m.value)?))
    })
    .collect()
}

impl PartialEq for TlvValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Int(a), Self::Int(b)) => a == b,
            (Self::UInt(a), Self::UInt(b)) => a == b,
            (Self::Bool(a), Self::Bool(b)) => a == b,
            (Self::Float(a), Self::Float(b)) => a.to_bits() == b.to_bits(),
            (Self::Double(a), Self::Double(b)) => a.to_bits() == b.to_bits(),
            (Self::Utf8(a), Self::Utf8(b)) => a == b,
            (Self::Octets(a), Self::Octets(b)) => a == b,
            (Self::Null, Self::Null) => true,
            (Self::Struct(a), Self::Struct(b))
            | (Self::Array(a), Self::Array(b))
            | (Self::List(a), Self::List(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for TlvValue {}
