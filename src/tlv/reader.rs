//! The zero-copy TLV reader: element heads, container bodies, typed member look-ups.
//!
//! A container's body is found by scanning to its matching end-of-container when the container is
//! met, so a [`Container`] always holds a complete, bounds-checked byte range and skipping it costs
//! nothing more. The scan checks heads, lengths and nesting, not UTF-8 (that is checked when the
//! string itself is read), so a container's bytes are scanned once per nesting level above them.

use super::{etype, tagctl, ElementType, Tag, TlvError, DEFAULT_MAX_DEPTH};

/// A reader over a byte slice holding a sequence of top-level TLV elements.
///
/// Use [`TlvReader::read_struct`] / [`TlvReader::read_element`] for a payload that is exactly one
/// element, or [`TlvReader::next`] to walk several.
#[derive(Clone, Debug)]
pub struct TlvReader<'a> {
    members: Members<'a>,
}

impl<'a> TlvReader<'a> {
    /// A reader over `bytes` with the [`DEFAULT_MAX_DEPTH`] nesting limit.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self::with_max_depth(bytes, DEFAULT_MAX_DEPTH)
    }

    /// A reader over `bytes` that rejects containers nested deeper than `max_depth`.
    pub fn with_max_depth(bytes: &'a [u8], max_depth: u8) -> Self {
        Self {
            members: Members {
                rest: bytes,
                depth: 0,
                max_depth,
                failed: false,
            },
        }
    }

    /// The next top-level element, or `None` at the end of the input.
    ///
    /// # Errors
    /// Any malformation of the element, including inside a container it starts.
    #[allow(clippy::should_implement_trait)] // fallible, so not `Iterator::next`
    pub fn next(&mut self) -> Result<Option<Element<'a>>, TlvError> {
        self.members.next().transpose()
    }

    /// Exactly one element: fails on empty input and on trailing bytes.
    ///
    /// # Errors
    /// [`TlvError::Empty`], [`TlvError::TrailingData`], or any malformation.
    pub fn read_element(mut self) -> Result<Element<'a>, TlvError> {
        let e = self.next()?.ok_or(TlvError::Empty)?;
        match self.members.rest.len() {
            0 => Ok(e),
            count => Err(TlvError::TrailingData { count }),
        }
    }

    /// Exactly one element, which must be a structure (the shape of every Matter message).
    ///
    /// # Errors
    /// As [`TlvReader::read_element`], plus [`TlvError::WrongType`].
    pub fn read_struct(self) -> Result<Container<'a>, TlvError> {
        as_kind(self.read_element()?.value, ElementType::Structure)
    }

    /// The bytes not yet read.
    pub fn remaining(&self) -> &'a [u8] {
        self.members.rest
    }
}

/// One element: its tag and its value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Element<'a> {
    /// The element's tag.
    pub tag: Tag,
    /// The element's value (borrowing from the input).
    pub value: Value<'a>,
}

/// A decoded value. Strings and containers borrow from the input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// Signed integer of any width.
    Int(i64),
    /// Unsigned integer of any width.
    UInt(u64),
    /// Boolean.
    Bool(bool),
    /// Single-precision float.
    Float(f32),
    /// Double-precision float.
    Double(f64),
    /// UTF-8 string (validated).
    Utf8(&'a str),
    /// Octet string.
    Octets(&'a [u8]),
    /// Null.
    Null,
    /// Structure.
    Struct(Container<'a>),
    /// Array.
    Array(Container<'a>),
    /// List.
    List(Container<'a>),
}

impl<'a> Value<'a> {
    /// The element type, without width.
    pub fn element_type(&self) -> ElementType {
        match self {
            Self::Int(_) => ElementType::SignedInt,
            Self::UInt(_) => ElementType::UnsignedInt,
            Self::Bool(_) => ElementType::Bool,
            Self::Float(_) => ElementType::Float,
            Self::Double(_) => ElementType::Double,
            Self::Utf8(_) => ElementType::Utf8String,
            Self::Octets(_) => ElementType::OctetString,
            Self::Null => ElementType::Null,
            Self::Struct(_) => ElementType::Structure,
            Self::Array(_) => ElementType::Array,
            Self::List(_) => ElementType::List,
        }
    }

    /// Converts to `T`.
    ///
    /// # Errors
    /// [`TlvError::WrongType`] or [`TlvError::IntegerOutOfRange`].
    pub fn decode<T: FromTlv<'a>>(self) -> Result<T, TlvError> {
        T::from_value(self)
    }

    /// The container, if this is a structure, array or list.
    pub fn container(self) -> Option<Container<'a>> {
        match self {
            Self::Struct(c) | Self::Array(c) | Self::List(c) => Some(c),
            _ => None,
        }
    }
}

/// A structure, array or list: its kind and its complete, bounds-checked body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Container<'a> {
    kind: ElementType,
    body: &'a [u8],
    depth: u8,
    max_depth: u8,
}

impl<'a> Container<'a> {
    /// Structure, Array or List.
    pub fn kind(&self) -> ElementType {
        self.kind
    }

    /// The encoded members (between the container's head and its end-of-container).
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// True if the container has no members.
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    /// Iterates the members in order. After the first error the iterator ends.
    pub fn iter(&self) -> Members<'a> {
        Members {
            rest: self.body,
            depth: self.depth,
            max_depth: self.max_depth,
            failed: false,
        }
    }

    /// The first member with context tag `tag`, if any.
    ///
    /// # Errors
    /// A malformed member met before it.
    pub fn find(&self, tag: u8) -> Result<Option<Element<'a>>, TlvError> {
        // Members that do not match are measured, not decoded.
        let buf = self.body;
        let mut pos = 0;
        while let Some(&ctl) = buf.get(pos) {
            if ctl >> 5 == tagctl::CONTEXT && buf.get(pos + 1) == Some(&tag) {
                let mut m = Members {
                    rest: buf.get(pos..).unwrap_or_default(),
                    depth: self.depth,
                    max_depth: self.max_depth,
                    failed: false,
                };
                return m.next().transpose();
            }
            pos = skip_element(buf, pos, self.depth, self.max_depth)?;
        }
        Ok(None)
    }

    /// The required member with context tag `tag`, as `T`.
    ///
    /// # Errors
    /// [`TlvError::MissingField`], [`TlvError::WrongType`], [`TlvError::IntegerOutOfRange`] or a
    /// malformation.
    pub fn get<T: FromTlv<'a>>(&self, tag: u8) -> Result<T, TlvError> {
        self.find(tag)?
            .ok_or(TlvError::MissingField { tag })
            .and_then(|e| T::from_value(e.value))
    }

    /// The optional member with context tag `tag`, as `T`; `None` if absent.
    ///
    /// # Errors
    /// As [`Container::get`], except that absence is not an error.
    pub fn opt<T: FromTlv<'a>>(&self, tag: u8) -> Result<Option<T>, TlvError> {
        self.find(tag)?.map(|e| T::from_value(e.value)).transpose()
    }

    /// A required, nullable member: `None` if it is null.
    ///
    /// # Errors
    /// As [`Container::get`].
    pub fn nullable<T: FromTlv<'a>>(&self, tag: u8) -> Result<Option<T>, TlvError> {
        match self.find(tag)? {
            None => Err(TlvError::MissingField { tag }),
            Some(Element {
                value: Value::Null, ..
            }) => Ok(None),
            Some(e) => T::from_value(e.value).map(Some),
        }
    }

    /// An optional, nullable member: outer `None` if absent, inner `None` if null.
    ///
    /// # Errors
    /// As [`Container::opt`].
    pub fn opt_nullable<T: FromTlv<'a>>(&self, tag: u8) -> Result<Option<Option<T>>, TlvError> {
        match self.find(tag)? {
            None => Ok(None),
            Some(Element {
                value: Value::Null, ..
            }) => Ok(Some(None)),
            Some(e) => T::from_value(e.value).map(|v| Some(Some(v))),
        }
    }

    /// The required structure member with context tag `tag`.
    ///
    /// # Errors
    /// As [`Container::get`]; [`TlvError::WrongType`] if it is not a structure.
    pub fn structure(&self, tag: u8) -> Result<Container<'a>, TlvError> {
        self.kind_at(tag, ElementType::Structure)?
            .ok_or(TlvError::MissingField { tag })
    }

    /// The optional structure member with context tag `tag`.
    ///
    /// # Errors
    /// As [`Container::structure`], except that absence is not an error.
    pub fn opt_structure(&self, tag: u8) -> Result<Option<Container<'a>>, TlvError> {
        self.kind_at(tag, ElementType::Structure)
    }

    /// The required array member with context tag `tag`.
    ///
    /// # Errors
    /// As [`Container::get`]; [`TlvError::WrongType`] if it is not an array.
    pub fn array(&self, tag: u8) -> Result<Container<'a>, TlvError> {
        self.kind_at(tag, ElementType::Array)?
            .ok_or(TlvError::MissingField { tag })
    }

    /// The optional array member with context tag `tag`.
    ///
    /// # Errors
    /// As [`Container::array`], except that absence is not an error.
    pub fn opt_array(&self, tag: u8) -> Result<Option<Container<'a>>, TlvError> {
        self.kind_at(tag, ElementType::Array)
    }

    /// The required list member with context tag `tag`.
    ///
    /// # Errors
    /// As [`Container::get`]; [`TlvError::WrongType`] if it is not a list.
    pub fn list(&self, tag: u8) -> Result<Container<'a>, TlvError> {
        self.kind_at(tag, ElementType::List)?
            .ok_or(TlvError::MissingField { tag })
    }

    /// The optional list member with context tag `tag`.
    ///
    /// # Errors
    /// As [`Container::list`], except that absence is not an error.
    pub fn opt_list(&self, tag: u8) -> Result<Option<Container<'a>>, TlvError> {
        self.kind_at(tag, ElementType::List)
    }

    fn kind_at(&self, tag: u8, kind: ElementType) -> Result<Option<Container<'a>>, TlvError> {
        self.find(tag)?.map(|e| as_kind(e.value, kind)).transpose()
    }
}

macro_rules! member_helpers {
    ($($name:ident, $opt:ident, $t:ty;)*) => {
        impl<'a> Container<'a> {
            $(
                #[doc = concat!("The required member with context tag `tag`, as `", stringify!($t), "`.")]
                ///
                /// # Errors
                /// As [`Container::get`].
                pub fn $name(&self, tag: u8) -> Result<$t, TlvError> {
                    self.get::<$t>(tag)
                }

                #[doc = concat!("The optional member with context tag `tag`, as `", stringify!($t), "`.")]
                ///
                /// # Errors
                /// As [`Container::opt`].
                pub fn $opt(&self, tag: u8) -> Result<Option<$t>, TlvError> {
                    self.opt::<$t>(tag)
                }
            )*
        }
    };
}

member_helpers! {
    u8, opt_u8, u8;
    u16, opt_u16, u16;
    u32, opt_u32, u32;
    u64, opt_u64, u64;
    i8, opt_i8, i8;
    i16, opt_i16, i16;
    i32, opt_i32, i32;
    i64, opt_i64, i64;
    bool, opt_bool, bool;
    f32, opt_f32, f32;
    f64, opt_f64, f64;
    octets, opt_octets, &'a [u8];
    utf8, opt_utf8, &'a str;
}

/// An iterator over the members of a container (or the top-level elements of a reader).
#[derive(Clone, Debug)]
pub struct Members<'a> {
    rest: &'a [u8],
    /// Depth of the container being iterated (0 at top level).
    depth: u8,
    max_depth: u8,
    failed: bool,
}

impl<'a> Iterator for Members<'a> {
    type Item = Result<Element<'a>, TlvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let r = self.read_one();
        if r.is_err() {
            self.failed = true;
        }
        Some(r)
    }
}

impl<'a> Members<'a> {
    fn read_one(&mut self) -> Result<Element<'a>, TlvError> {
        match parse_head(&mut self.rest)? {
            // A container body never holds its own end marker (the scan stops before it), so an end
            // here is one outside any container.
            Head::End => Err(TlvError::InvalidEndOfContainer),
            Head::Scalar(tag, value) => Ok(Element { tag, value }),
            Head::Start(tag, kind) => {
                let depth = self.depth.saturating_add(1);
                if depth > self.max_depth {
                    return Err(TlvError::TooDeep {
                        max: self.max_depth,
                    });
                }
                let body = scan_body(&mut self.rest, depth, self.max_depth)?;
                let c = Container {
                    kind,
                    body,
                    depth,
                    max_depth: self.max_depth,
                };
                let value = match kind {
                    ElementType::Structure => Value::Struct(c),
                    ElementType::Array => Value::Array(c),
                    _ => Value::List(c),
                };
                Ok(Element { tag, value })
            }
        }
    }
}

/// Conversion of a [`Value`] into a Rust type, used by [`Container::get`] and friends.
pub trait FromTlv<'a>: Sized {
    /// Converts `v`.
    ///
    /// # Errors
    /// [`TlvError::WrongType`] or [`TlvError::IntegerOutOfRange`].
    fn from_value(v: Value<'a>) -> Result<Self, TlvError>;
}

macro_rules! from_tlv_int {
    ($variant:ident, $et:ident, $($t:ty),*) => {$(
        impl<'a> FromTlv<'a> for $t {
            fn from_value(v: Value<'a>) -> Result<Self, TlvError> {
                match v {
                    // Signed and unsigned are distinct types on the wire; like the CHIP SDK's
                    // reader we do not convert between them.
                    Value::$variant(x) => <$t>::try_from(x).map_err(|_| TlvError::IntegerOutOfRange {
                        target: stringify!($t),
                    }),
                    other => Err(wrong(ElementType::$et, &other)),
                }
            }
        }
    )*};
}

from_tlv_int!(UInt, UnsignedInt, u8, u16, u32, u64);
from_tlv_int!(Int, SignedInt, i8, i16, i32, i64);

impl<'a> FromTlv<'a> for bool {
    fn from_value(v: Value<'a>) -> Result<Self, TlvError> {
        match v {
            Value::Bool(b) => Ok(b),
            other => Err(wrong(ElementType::Bool, &other)),
        }
    }
}

impl<'a> FromTlv<'a> for f32 {
    fn from_value(v: Value<'a>) -> Result<Self, TlvError> {
        match v {
            Value::Float(f) => Ok(f),
            other => Err(wrong(ElementType::Float, &other)),
        }
    }
}

impl<'a> FromTlv<'a> for f64 {
    fn from_value(v: Value<'a>) -> Result<Self, TlvError> {
        match v {
            Value::Double(f) => Ok(f),
            // Widening is exact; the CHIP SDK's reader accepts both widths for a double too.
            Value::Float(f) => Ok(f64::from(f)),
            other => Err(wrong(ElementType::Double, &other)),
        }
    }
}

impl<'a> FromTlv<'a> for &'a str {
    fn from_value(v: Value<'a>) -> Result<Self, TlvError> {
        match v {
            Value::Utf8(s) => Ok(s),
            other => Err(wrong(ElementType::Utf8String, &other)),
        }
    }
}

impl<'a> FromTlv<'a> for &'a [u8] {
    fn from_value(v: Value<'a>) -> Result<Self, TlvError> {
        match v {
            Value::Octets(s) => Ok(s),
            other => Err(wrong(ElementType::OctetString, &other)),
        }
    }
}

impl<'a, const N: usize> FromTlv<'a> for [u8; N] {
    fn from_value(v: Value<'a>) -> Result<Self, TlvError> {
        let s = <&[u8]>::from_value(v)?;
        <[u8; N]>::try_from(s).map_err(|_| TlvError::WrongLength {
            expected: N,
            found: s.len(),
        })
    }
}

impl<'a> FromTlv<'a> for Container<'a> {
    fn from_value(v: Value<'a>) -> Result<Self, TlvError> {
        v.container()
            .ok_or_else(|| wrong(ElementType::Structure, &v))
    }
}

impl<'a> FromTlv<'a> for Value<'a> {
    fn from_value(v: Value<'a>) -> Result<Self, TlvError> {
        Ok(v)
    }
}

fn wrong(expected: ElementType, found: &Value<'_>) -> TlvError {
    TlvError::WrongType {
        expected,
        found: found.element_type(),
    }
}

fn as_kind(v: Value<'_>, kind: ElementType) -> Result<Container<'_>, TlvError> {
    match v.container() {
        Some(c) if c.kind == kind => Ok(c),
        _ => Err(wrong(kind, &v)),
    }
}

/// What one control byte and its tag/value introduce.
enum Head<'a> {
    Scalar(Tag, Value<'a>),
    Start(Tag, ElementType),
    End,
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], TlvError> {
    if rest.len() < n {
        return Err(TlvError::Truncated {
            needed: n - rest.len(),
        });
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

/// Reads an `n`-byte little-endian unsigned integer, n in {1, 2, 4, 8}.
fn le(rest: &mut &[u8], n: usize) -> Result<u64, TlvError> {
    let b = take(rest, n)?;
    Ok(match *b {
        [x] => u64::from(x),
        [x, y] => u64::from(u16::from_le_bytes([x, y])),
        [x, y, z, w] => u64::from(u32::from_le_bytes([x, y, z, w])),
        _ => {
            let mut a = [0u8; 8];
            for (d, s) in a.iter_mut().zip(b) {
                *d = *s;
            }
            u64::from_le_bytes(a)
        }
    })
}

/// Parses one element head and, for scalars, its value.
fn parse_head<'a>(rest: &mut &'a [u8]) -> Result<Head<'a>, TlvError> {
    let ctl = le(rest, 1)? as u8;
    let tag_ctl = ctl >> 5;
    let et = ctl & 0x1F;
    if et == etype::END {
        // Matter 1.3 §A.7.2: the end-of-container element carries no tag.
        if tag_ctl != tagctl::ANONYMOUS {
            return Err(TlvError::InvalidEndOfContainer);
        }
        return Ok(Head::End);
    }
    if et > etype::END {
        return Err(TlvError::ReservedElementType(et));
    }
    let tag = match tag_ctl {
        tagctl::ANONYMOUS => Tag::Anonymous,
        tagctl::CONTEXT => Tag::Context(le(rest, 1)? as u8),
        tagctl::COMMON_2 => Tag::CommonProfile(le(rest, 2)? as u32),
        tagctl::COMMON_4 => Tag::CommonProfile(le(rest, 4)? as u32),
        tagctl::IMPLICIT_2 => Tag::ImplicitProfile(le(rest, 2)? as u32),
        tagctl::IMPLICIT_4 => Tag::ImplicitProfile(le(rest, 4)? as u32),
        // FULL_6 or FULL_8: the field has 3 bits, so nothing else is left.
        _ => {
            let vendor_id = le(rest, 2)? as u16;
            let profile = le(rest, 2)? as u16;
            let n = if tag_ctl == tagctl::FULL_6 { 2 } else { 4 };
            Tag::FullyQualified {
                vendor_id,
                profile,
                tag: le(rest, n)? as u32,
            }
        }
    };
    let width = 1usize << (et & 0x03);
    let value = match et {
        0x00..=0x03 => {
            let raw = le(rest, width)?;
            // Sign-extend from `width` bytes.
            let shift = 64 - 8 * width as u32;
            Value::Int(((raw << shift) as i64) >> shift)
        }
        0x04..=0x07 => Value::UInt(le(rest, width)?),
        etype::FALSE => Value::Bool(false),
        etype::TRUE => Value::Bool(true),
        etype::FLOAT => Value::Float(f32::from_bits(le(rest, 4)? as u32)),
        etype::DOUBLE => Value::Double(f64::from_bits(le(rest, 8)?)),
        0x0C..=0x13 => {
            let len = le(rest, width)?;
            let len = usize::try_from(len).map_err(|_| TlvError::LengthTooLarge(len))?;
            let data = take(rest, len)?;
            if et >= etype::OCTETS_1 {
                Value::Octets(data)
            } else {
                Value::Utf8(core::str::from_utf8(data).map_err(|_| TlvError::InvalidUtf8)?)
            }
        }
        etype::NULL => Value::Null,
        etype::STRUCT => return Ok(Head::Start(tag, ElementType::Structure)),
        etype::ARRAY => return Ok(Head::Start(tag, ElementType::Array)),
        _ => return Ok(Head::Start(tag, ElementType::List)),
    };
    Ok(Head::Scalar(tag, value))
}

/// Size of the tag field for each tag control value (Matter 1.3 §A.7.2).
const TAG_LEN: [usize; 8] = [0, 1, 2, 4, 2, 4, 6, 8];

/// What [`measure`] found at a position.
enum Step {
    /// An end-of-container marker.
    End,
    /// A container head ending just before the position given.
    Start(usize),
    /// A complete scalar element ending just before the position given.
    Scalar(usize),
}

/// Measures the element head at `pos` without decoding its value (Matter 1.3 §A.7).
#[inline]
fn measure(buf: &[u8], pos: usize) -> Result<Step, TlvError> {
    let Some(&ctl) = buf.get(pos) else {
        return Err(TlvError::UnterminatedContainer);
    };
    let et = ctl & 0x1F;
    if et == etype::END {
        if ctl >> 5 != tagctl::ANONYMOUS {
            return Err(TlvError::InvalidEndOfContainer);
        }
        return Ok(Step::End);
    }
    // `ctl >> 5` is at most 7, so the index is in bounds.
    let mut end = pos + 1 + TAG_LEN[usize::from(ctl >> 5)];
    let start = match et {
        0x00..=0x07 => {
            end += 1 << (et & 0x03);
            false
        }
        etype::FALSE | etype::TRUE | etype::NULL => false,
        etype::FLOAT => {
            end += 4;
            false
        }
        etype::DOUBLE => {
            end += 8;
            false
        }
        0x0C..=0x13 => {
            let width = 1usize << (et & 0x03);
            let mut field = buf.get(end..).unwrap_or_default();
            let len = le(&mut field, width)?;
            end = usize::try_from(len)
                .ok()
                .and_then(|l| end.checked_add(width)?.checked_add(l))
                .ok_or(TlvError::LengthTooLarge(len))?;
            false
        }
        etype::STRUCT | etype::ARRAY | etype::LIST => true,
        _ => return Err(TlvError::ReservedElementType(et)),
    };
    if end > buf.len() {
        return Err(TlvError::Truncated {
            needed: end - buf.len(),
        });
    }
    Ok(if start {
        Step::Start(end)
    } else {
        Step::Scalar(end)
    })
}

/// Walks elements from `pos` inside a container of depth `depth`, checking the depth limit.
/// With `one` false it stops at the end marker closing that container and returns its position;
/// with `one` true it stops after one whole element and returns the position after it.
fn walk(
    buf: &[u8],
    mut pos: usize,
    depth: u8,
    max_depth: u8,
    one: bool,
) -> Result<usize, TlvError> {
    let mut open = 0usize;
    loop {
        match measure(buf, pos)? {
            Step::End => {
                if open == 0 {
                    // An end marker where an element was expected ends no element.
                    return if one {
                        Err(TlvError::InvalidEndOfContainer)
                    } else {
                        Ok(pos)
                    };
                }
                open -= 1;
                pos += 1;
                if open == 0 && one {
                    return Ok(pos);
                }
            }
            Step::Start(end) => {
                open += 1;
                if usize::from(depth) + open > usize::from(max_depth) {
                    return Err(TlvError::TooDeep { max: max_depth });
                }
                pos = end;
            }
            Step::Scalar(end) => {
                pos = end;
                if open == 0 && one {
                    return Ok(pos);
                }
            }
        }
    }
}

/// Scans from just after a container head to its matching end-of-container, returning the body
/// and leaving `rest` after the end marker. `depth` is the container's own depth.
fn scan_body<'a>(rest: &mut &'a [u8], depth: u8, max_depth: u8) -> Result<&'a [u8], TlvError> {
    let buf = *rest;
    let end = walk(buf, 0, depth, max_depth, false)?;
    let body = buf.get(..end).ok_or(TlvError::UnterminatedContainer)?;
    *rest = buf.get(end + 1..).unwrap_or_default();
    Ok(body)
}

/// The position after the whole element (container included) at `pos`, inside a container of
/// depth `depth`.
fn skip_element(buf: &[u8], pos: usize, depth: u8, max_depth: u8) -> Result<usize, TlvError> {
    walk(buf, pos, depth, max_depth, true)
}
