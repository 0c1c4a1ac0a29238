//! Strict decoding of a secure-channel message against its TLV schema, shared by the PASE and
//! CASE codecs (Matter 1.3 §4.14.1.2 and §4.14.2.3 have the same rules): the payload is one
//! anonymous structure; known members (context tags 1..=N) come at most once and, for
//! `[tag-order]` schemas, in increasing order; unknown members are skipped (newer revisions add
//! them, and the CHIP SDK skips them too). Every failure is a [`SchemaError`] naming the message
//! and the field; nothing here panics on input.

use thiserror::Error;

use super::{Container, ElementType, FromTlv, Tag, TlvError, TlvReader, Value};

/// A message that does not match its schema.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The payload is not one well-formed TLV structure.
    #[error("{msg}: malformed TLV: {source}")]
    Tlv {
        /// The message being decoded.
        msg: &'static str,
        /// What the TLV reader found.
        source: TlvError,
    },
    /// A required member is absent.
    #[error("{msg}: missing field {tag}")]
    MissingField {
        /// The message being decoded.
        msg: &'static str,
        /// Its context tag.
        tag: u8,
    },
    /// A member has the wrong type, width or length (or comes without the member it pairs with).
    #[error("{msg}: invalid field {tag}")]
    InvalidField {
        /// The message being decoded.
        msg: &'static str,
        /// Its context tag.
        tag: u8,
    },
    /// A known member repeated or out of tag order.
    #[error("{msg}: field {tag} repeated or out of order")]
    FieldOrder {
        /// The message being decoded.
        msg: &'static str,
        /// Its context tag.
        tag: u8,
    },
}

/// The payload's anonymous top-level structure, its members with context tags 1..=N collected by
/// tag, in tag order.
///
/// # Errors
/// [`SchemaError::Tlv`] when the payload is not one anonymous structure,
/// [`SchemaError::FieldOrder`] for a repeated or out-of-order member.
pub fn members<'a, const N: usize>(
    msg: &'static str,
    payload: &'a [u8],
) -> Result<[Option<Value<'a>>; N], SchemaError> {
    let tlv = |source| SchemaError::Tlv { msg, source };
    let top = TlvReader::new(payload).read_element().map_err(tlv)?;
    if top.tag != Tag::Anonymous {
        return Err(tlv(TlvError::ApiMisuse(
            "top-level structure must be anonymous",
        )));
    }
    let Value::Struct(c) = top.value else {
        return Err(tlv(TlvError::WrongType {
            expected: ElementType::Structure,
            found: top.value.element_type(),
        }));
    };
    container_members(msg, &c, true)
}

/// As [`members`], for a nested structure; `ordered: false` accepts the known members in any
/// order (still at most once), for structures that are not `[tag-order]`.
///
/// # Errors
/// As [`members`].
pub fn container_members<'a, const N: usize>(
    msg: &'static str,
    c: &Container<'a>,
    ordered: bool,
) -> Result<[Option<Value<'a>>; N], SchemaError> {
    let mut out: [Option<Value<'a>>; N] = [None; N];
    let mut last = 0u8;
    for m in c.iter() {
        let m = m.map_err(|source| SchemaError::Tlv { msg, source })?;
        let Tag::Context(tag) = m.tag else {
            continue; // not a schema member
        };
        let Some(slot) = usize::from(tag).checked_sub(1).and_then(|i| out.get_mut(i)) else {
            continue; // unknown member, from a newer revision
        };
        if slot.is_some() || (ordered && tag <= last) {
            return Err(SchemaError::FieldOrder { msg, tag });
        }
        *slot = Some(m.value);
        last = tag;
    }
    Ok(out)
}

/// A required member.
///
/// # Errors
/// [`SchemaError::MissingField`] when it is absent.
pub fn required<'a>(
    msg: &'static str,
    tag: u8,
    v: Option<Value<'a>>,
) -> Result<Value<'a>, SchemaError> {
    v.ok_or(SchemaError::MissingField { msg, tag })
}

/// An integer (or other [`FromTlv`]) member.
///
/// # Errors
/// [`SchemaError::InvalidField`] for another type or an out-of-range width.
pub fn int<'a, T: FromTlv<'a>>(msg: &'static str, tag: u8, v: Value<'a>) -> Result<T, SchemaError> {
    T::from_value(v).map_err(|_| SchemaError::InvalidField { msg, tag })
}

/// An octet-string member.
///
/// # Errors
/// [`SchemaError::InvalidField`] for another type.
pub fn octets<'a>(msg: &'static str, tag: u8, v: Value<'a>) -> Result<&'a [u8], SchemaError> {
    match v {
        Value::Octets(b) => Ok(b),
        _ => Err(SchemaError::InvalidField { msg, tag }),
    }
}

/// An octet-string member of exactly `L` bytes.
///
/// # Errors
/// [`SchemaError::InvalidField`] for another type or length.
pub fn fixed<const L: usize>(
    msg: &'static str,
    tag: u8,
    v: Value<'_>,
) -> Result<[u8; L], SchemaError> {
    octets(msg, tag, v)?
        .try_into()
        .map_err(|_| SchemaError::InvalidField { msg, tag })
}

/// A structure member.
///
/// # Errors
/// [`SchemaError::InvalidField`] for another type.
pub fn structure<'a>(
    msg: &'static str,
    tag: u8,
    v: Value<'a>,
) -> Result<Container<'a>, SchemaError> {
    match v {
        Value::Struct(c) => Ok(c),
        _ => Err(SchemaError::InvalidField { msg, tag }),
    }
}
