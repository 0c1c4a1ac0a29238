//! A small, strict DER (ITU-T X.690 §10) writer and reader: exactly what X.509 certificates,
//! PKCS#10 requests and Matter's certificate conversion need, and nothing more.
//!
//! * [`DerWriter`] appends definite-length encodings; constructed values (SEQUENCE, SET,
//!   context tags, an OCTET STRING or BIT STRING wrapping DER) take a closure that writes their
//!   contents, and the length is filled in afterwards. Errors (for example a non-printable
//!   character in a PrintableString) are sticky and come out of [`DerWriter::finish`].
//! * [`DerReader`] is a bounds-checked cursor that accepts only DER: single-byte tags (tag
//!   numbers < 31), minimal definite lengths, minimal INTEGERs, BOOLEAN as 0x00/0xFF, BIT STRINGs
//!   with zero padding bits, and the two X.509 time formats in their RFC 5280 §4.1.2.5 profile.
//!   It never panics, whatever the input.
//!
//! Times are [`DateTime`] values (UTC civil time) with conversions to Unix and Matter epoch
//! seconds (the Matter epoch is 2000-01-01T00:00:00Z, Matter 1.3 §3.5.2 / §6.5.6.2).

use thiserror::Error;

/// Universal tag numbers with the constructed bit applied where DER requires it.
pub mod tag {
    /// BOOLEAN.
    pub const BOOLEAN: u8 = 0x01;
    /// INTEGER.
    pub const INTEGER: u8 = 0x02;
    /// BIT STRING.
    pub const BIT_STRING: u8 = 0x03;
    /// OCTET STRING.
    pub const OCTET_STRING: u8 = 0x04;
    /// NULL.
    pub const NULL: u8 = 0x05;
    /// OBJECT IDENTIFIER.
    pub const OID: u8 = 0x06;
    /// UTF8String.
    pub const UTF8_STRING: u8 = 0x0C;
    /// PrintableString.
    pub const PRINTABLE_STRING: u8 = 0x13;
    /// IA5String.
    pub const IA5_STRING: u8 = 0x16;
    /// UTCTime.
    pub const UTC_TIME: u8 = 0x17;
    /// GeneralizedTime.
    pub const GENERALIZED_TIME: u8 = 0x18;
    /// SEQUENCE / SEQUENCE OF (constructed).
    pub const SEQUENCE: u8 = 0x30;
    /// SET / SET OF (constructed).
    pub const SET: u8 = 0x31;
    /// Context-specific, constructed `[n]` is `CONTEXT_CONSTRUCTED | n`.
    pub const CONTEXT_CONSTRUCTED: u8 = 0xA0;
    /// Context-specific, primitive `[n]` is `CONTEXT_PRIMITIVE | n`.
    pub const CONTEXT_PRIMITIVE: u8 = 0x80;
}

/// Why DER could not be written or read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DerError {
    /// The input ended inside a tag, length or value.
    #[error("DER truncated")]
    Truncated,
    /// A different tag was found than the structure requires.
    #[error("DER: expected tag {expected:#04x}, found {found:#04x}")]
    UnexpectedTag { expected: u8, found: u8 },
    /// A high-tag-number form (tag number >= 31), which nothing we read uses.
    #[error("DER: multi-byte tag not supported")]
    UnsupportedTag,
    /// Indefinite, non-minimal or over-long (> 4 bytes) length.
    #[error("DER: non-canonical length")]
    BadLength,
    /// An INTEGER that is empty, not minimally encoded, negative where unsigned is required,
    /// or too large for the target type.
    #[error("DER: invalid integer")]
    BadInteger,
    /// A BOOLEAN whose content is not exactly 0x00 or 0xFF.
    #[error("DER: invalid boolean")]
    BadBoolean,
    /// A BIT STRING with more than 7 unused bits or non-zero padding bits.
    #[error("DER: invalid bit string")]
    BadBitString,
    /// An OBJECT IDENTIFIER that is empty or has a non-minimal / unterminated arc.
    #[error("DER: invalid object identifier")]
    BadOid,
    /// A string whose bytes are not valid for its type (UTF-8, PrintableString, IA5String).
    #[error("DER: invalid string")]
    BadString,
    /// A UTCTime / GeneralizedTime not in the RFC 5280 profile, or an impossible date.
    #[error("DER: invalid time")]
    BadTime,
    /// A NULL with content.
    #[error("DER: invalid null")]
    BadNull,
    /// Bytes left over after a complete structure.
    #[error("DER: {0} trailing bytes")]
    TrailingData(usize),
    /// A value longer than DER lengths we write (4 GiB).
    #[error("DER: value too long")]
    TooLong,
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

/// Appends DER encodings to a buffer. See the module doc.
///
/// ```
/// use matter_ble::cert::der::DerWriter;
/// let mut w = DerWriter::new();
/// w.sequence(|w| {
///     w.integer_u64(2);
///     w.boolean(true);
/// });
/// assert_eq!(w.finish().unwrap(), [0x30, 0x06, 0x02, 0x01, 0x02, 0x01, 0x01, 0xFF]);
/// ```
#[derive(Debug, Default, Clone)]
pub struct DerWriter {
    buf: Vec<u8>,
    error: Option<DerError>,
}

impl DerWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bytes written, or the first error any write hit.
    pub fn finish(self) -> Result<Vec<u8>, DerError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.buf),
        }
    }

    /// Appends one complete TLV: `tag`, the DER length of `content`, `content`.
    pub fn tlv(&mut self, tag: u8, content: &[u8]) {
        self.buf.push(tag);
        if let Err(e) = push_length(&mut self.buf, content.len()) {
            self.fail(e);
            return;
        }
        self.buf.extend_from_slice(content);
    }

    /// Appends already-encoded DER verbatim (for example a SubjectPublicKeyInfo or a name taken
    /// from another certificate). The caller vouches that it is DER.
    pub fn raw(&mut self, der: &[u8]) {
        self.buf.extend_from_slice(der);
    }

    /// Appends a value with tag `tag` whose contents `f` writes.
    pub fn constructed(&mut self, tag: u8, f: impl FnOnce(&mut Self)) {
        self.buf.push(tag);
        let len_at = self.buf.len();
        f(self);
        let content_len = self.buf.len() - len_at;
        let mut len = Vec::with_capacity(5);
        if let Err(e) = push_length(&mut len, content_len) {
            self.fail(e);
            return;
        }
        // Insert the length in front of the contents (certificates are small: the move is cheap).
        self.buf.splice(len_at..len_at, len);
    }

    /// SEQUENCE { f }.
    pub fn sequence(&mut self, f: impl FnOnce(&mut Self)) {
        self.constructed(tag::SEQUENCE, f);
    }

    /// SET { f }. DER requires SET OF elements sorted; callers write at most one element
    /// per SET (as X.509 RDNs do) or write them in sorted order.
    pub fn set(&mut self, f: impl FnOnce(&mut Self)) {
        self.constructed(tag::SET, f);
    }

    /// Context-specific constructed `[n] { f }` (EXPLICIT tagging, or IMPLICIT over a
    /// constructed type). `n` must be < 31.
    pub fn context(&mut self, n: u8, f: impl FnOnce(&mut Self)) {
        if n >= 31 {
            self.fail(DerError::UnsupportedTag);
            return;
        }
        self.constructed(tag::CONTEXT_CONSTRUCTED | n, f);
    }

    /// Context-specific primitive `[n]` with `content` (IMPLICIT over a primitive type, e.g.
    /// AuthorityKeyIdentifier's keyIdentifier `[0]`). `n` must be < 31.
    pub fn context_primitive(&mut self, n: u8, content: &[u8]) {
        if n >= 31 {
            self.fail(DerError::UnsupportedTag);
            return;
        }
        self.tlv(tag::CONTEXT_PRIMITIVE | n, content);
    }

    /// INTEGER from an unsigned big-endian magnitude: leading zero bytes are dropped and one
    /// 0x00 is prepended when the top bit would otherwise make it negative (X.690 §8.3.2).
    /// An empty slice encodes 0.
    pub fn integer_unsigned(&mut self, be: &[u8]) {
        let first_nonzero = be.iter().position(|&b| b != 0).unwrap_or(be.len());
        let mag = &be[first_nonzero..];
        self.buf.push(tag::INTEGER);
        match mag.first() {
            None => self.buf.extend_from_slice(&[0x01, 0x00]),
            Some(&top) => {
                let pad = top & 0x80 != 0;
                if let Err(e) = push_length(&mut self.buf, mag.len() + usize::from(pad)) {
                    self.fail(e);
                    return;
                }
                if pad {
                    self.buf.push(0x00);
                }
                self.buf.extend_from_slice(mag);
            }
        }
    }

    /// INTEGER from a `u64`.
    pub fn integer_u64(&mut self, v: u64) {
        self.integer_unsigned(&v.to_be_bytes());
    }

    /// OBJECT IDENTIFIER from its encoded content bytes (see the `oid` constants and
    /// [`encode_oid`]).
    pub fn oid(&mut self, content: &[u8]) {
        self.tlv(tag::OID, content);
    }

    /// BIT STRING with `unused` padding bits (0..=7) at the end of `bytes`. The padding bits
    /// must be zero and `unused` must be 0 when `bytes` is empty.
    pub fn bit_string(&mut self, unused: u8, bytes: &[u8]) {
        let pad_ok = match bytes.last() {
            None => unused == 0,
            Some(&last) => unused < 8 && last & ((1u16 << unused) - 1) as u8 == 0,
        };
        if !pad_ok {
            self.fail(DerError::BadBitString);
            return;
        }
        self.buf.push(tag::BIT_STRING);
        if let Err(e) = push_length(&mut self.buf, bytes.len() + 1) {
            self.fail(e);
            return;
        }
        self.buf.push(unused);
        self.buf.extend_from_slice(bytes);
    }

    /// BIT STRING whose contents (after the 0 unused-bits octet) `f` writes, e.g. a DER
    /// signature wrapped in a BIT STRING.
    pub fn bit_string_with(&mut self, f: impl FnOnce(&mut Self)) {
        self.constructed(tag::BIT_STRING, |w| {
            w.buf.push(0);
            f(w);
        });
    }

    /// BIT STRING for a NamedBitList (X.690 §11.2.2): bit `i` of `bits` (LSB = 0) is named bit
    /// `i`; trailing zero bits are removed, as DER requires. KeyUsage is written this way.
    pub fn named_bits(&mut self, bits: u32) {
        if bits == 0 {
            self.bit_string(0, &[]);
            return;
        }
        let highest = 31 - bits.leading_zeros() as usize; // highest named bit set
        let nbytes = highest / 8 + 1;
        let mut out = [0u8; 4];
        for i in 0..=highest {
            if bits & (1 << i) != 0 {
                out[i / 8] |= 0x80 >> (i % 8);
            }
        }
        let unused = (7 - highest % 8) as u8;
        self.bit_string(unused, &out[..nbytes]);
    }

    /// OCTET STRING.
    pub fn octet_string(&mut self, bytes: &[u8]) {
        self.tlv(tag::OCTET_STRING, bytes);
    }

    /// OCTET STRING whose contents `f` writes (an X.509 extension's extnValue).
    pub fn octet_string_with(&mut self, f: impl FnOnce(&mut Self)) {
        self.constructed(tag::OCTET_STRING, f);
    }

    /// UTF8String.
    pub fn utf8_string(&mut self, s: &str) {
        self.tlv(tag::UTF8_STRING, s.as_bytes());
    }

    /// PrintableString; fails (sticky) if `s` has a character outside X.680 §41.4's set.
    pub fn printable_string(&mut self, s: &str) {
        if !s.bytes().all(is_printable) {
            self.fail(DerError::BadString);
            return;
        }
        self.tlv(tag::PRINTABLE_STRING, s.as_bytes());
    }

    /// UTCTime `YYMMDDHHMMSSZ`; fails (sticky) outside 1950..=2049 (RFC 5280 §4.1.2.5.1).
    pub fn utc_time(&mut self, t: &DateTime) {
        match t.utc_time_string() {
            Some(s) => self.tlv(tag::UTC_TIME, s.as_bytes()),
            None => self.fail(DerError::BadTime),
        }
    }

    /// GeneralizedTime `YYYYMMDDHHMMSSZ` (RFC 5280 §4.1.2.5.2).
    pub fn generalized_time(&mut self, t: &DateTime) {
        match t.generalized_time_string() {
            Some(s) => self.tlv(tag::GENERALIZED_TIME, s.as_bytes()),
            None => self.fail(DerError::BadTime),
        }
    }

    /// An X.509 `Time`: UTCTime for years 1950 through 2049, GeneralizedTime otherwise
    /// (RFC 5280 §4.1.2.5).
    pub fn time(&mut self, t: &DateTime) {
        if (1950..=2049).contains(&t.year) {
            self.utc_time(t);
        } else {
            self.generalized_time(t);
        }
    }

    /// BOOLEAN (DER: TRUE is 0xFF).
    pub fn boolean(&mut self, v: bool) {
        self.tlv(tag::BOOLEAN, &[if v { 0xFF } else { 0x00 }]);
    }

    /// NULL.
    pub fn null(&mut self) {
        self.tlv(tag::NULL, &[]);
    }

    fn fail(&mut self, e: DerError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }
}

fn push_length(buf: &mut Vec<u8>, len: usize) -> Result<(), DerError> {
    let len = u32::try_from(len).map_err(|_| DerError::TooLong)?;
    if len < 0x80 {
        buf.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = (len.leading_zeros() / 8) as usize;
        buf.push(0x80 | (4 - skip) as u8);
        buf.extend_from_slice(&bytes[skip..]);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

/// One decoded tag-length-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The (single) identifier octet.
    pub tag: u8,
    /// The value bytes.
    pub content: &'a [u8],
    /// The whole encoding: identifier, length and content (for signatures over a TBS).
    pub raw: &'a [u8],
}

/// A strict, bounds-checked DER cursor. See the module doc for what it rejects.
#[derive(Debug, Clone)]
pub struct DerReader<'a> {
    buf: &'a [u8],
}

impl<'a> DerReader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// Whether all bytes have been read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The unread bytes (without consuming them).
    pub fn remaining(&self) -> &'a [u8] {
        self.buf
    }

    /// Ok if everything was read, [`DerError::TrailingData`] otherwise.
    pub fn finish(&self) -> Result<(), DerError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DerError::TrailingData(self.buf.len()))
        }
    }

    /// The next tag, without consuming anything; `None` at the end.
    pub fn peek_tag(&self) -> Option<u8> {
        self.buf.first().copied()
    }

    /// Reads the next TLV, whatever its tag.
    pub fn read_any(&mut self) -> Result<Tlv<'a>, DerError> {
        let buf = self.buf;
        let (&tag, rest) = buf.split_first().ok_or(DerError::Truncated)?;
        if tag & 0x1F == 0x1F {
            return Err(DerError::UnsupportedTag);
        }
        let (&l0, mut rest) = rest.split_first().ok_or(DerError::Truncated)?;
        let len = if l0 < 0x80 {
            usize::from(l0)
        } else {
            let n = usize::from(l0 & 0x7F);
            // 0x80 is indefinite (BER only); more than 4 length octets is more than we allow.
            if n == 0 || n > 4 {
                return Err(DerError::BadLength);
            }
            let (lb, r) = split(rest, n)?;
            rest = r;
            if lb.first() == Some(&0) {
                return Err(DerError::BadLength);
            }
            let v = lb
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            if v < 0x80 {
                return Err(DerError::BadLength);
            }
            v
        };
        let (content, rest) = split(rest, len)?;
        let header_len = buf.len() - content.len() - rest.len();
        let raw = &buf[..header_len + content.len()];
        self.buf = rest;
        Ok(Tlv { tag, content, raw })
    }

    /// Reads the next TLV, which must have tag `tag`; returns its content.
    pub fn read(&mut self, tag: u8) -> Result<&'a [u8], DerError> {
        Ok(self.read_tlv(tag)?.content)
    }

    /// Reads the next TLV, which must have tag `tag`.
    pub fn read_tlv(&mut self, tag: u8) -> Result<Tlv<'a>, DerError> {
        let found = self.peek_tag().ok_or(DerError::Truncated)?;
        if found != tag {
            return Err(DerError::UnexpectedTag {
                expected: tag,
                found,
            });
        }
        self.read_any()
    }

    /// Reads the next TLV if it has tag `tag`; `None` (consuming nothing) otherwise.
    pub fn read_optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, DerError> {
        if self.peek_tag() == Some(tag) {
            self.read_any().map(Some)
        } else {
            Ok(None)
        }
    }

    /// SEQUENCE: a reader over its contents.
    pub fn sequence(&mut self) -> Result<DerReader<'a>, DerError> {
        self.read(tag::SEQUENCE).map(DerReader::new)
    }

    /// SET: a reader over its contents.
    pub fn set(&mut self) -> Result<DerReader<'a>, DerError> {
        self.read(tag::SET).map(DerReader::new)
    }

    /// Context-specific constructed `[n]`: a reader over its contents.
    pub fn context(&mut self, n: u8) -> Result<DerReader<'a>, DerError> {
        self.read(tag::CONTEXT_CONSTRUCTED | n).map(DerReader::new)
    }

    /// A non-negative INTEGER's minimal big-endian magnitude (the DER sign octet removed; zero
    /// is returned as `[0]`). Rejects non-minimal and negative encodings.
    pub fn integer_unsigned(&mut self) -> Result<&'a [u8], DerError> {
        let c = self.read(tag::INTEGER)?;
        check_integer(c)?;
        match c {
            [first, ..] if first & 0x80 != 0 => Err(DerError::BadInteger),
            [0, rest @ ..] if !rest.is_empty() => Ok(rest),
            _ => Ok(c),
        }
    }

    /// A non-negative INTEGER that fits a `u64`.
    pub fn integer_u64(&mut self) -> Result<u64, DerError> {
        let mag = self.integer_unsigned()?;
        if mag.len() > 8 {
            return Err(DerError::BadInteger);
        }
        Ok(mag.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// An OBJECT IDENTIFIER's content bytes, checked well-formed.
    pub fn oid(&mut self) -> Result<&'a [u8], DerError> {
        let c = self.read(tag::OID)?;
        check_oid(c)?;
        Ok(c)
    }

    /// A BIT STRING: `(unused_bits, bytes)`, padding checked zero.
    pub fn bit_string(&mut self) -> Result<(u8, &'a [u8]), DerError> {
        let c = self.read(tag::BIT_STRING)?;
        let (&unused, bytes) = c.split_first().ok_or(DerError::BadBitString)?;
        let ok = match bytes.last() {
            None => unused == 0,
            Some(&last) => unused < 8 && last & ((1u16 << unused) - 1) as u8 == 0,
        };
        if !ok {
            return Err(DerError::BadBitString);
        }
        Ok((unused, bytes))
    }

    /// A BIT STRING with no unused bits (keys, signatures): its bytes.
    pub fn bit_string_octets(&mut self) -> Result<&'a [u8], DerError> {
        match self.bit_string()? {
            (0, b) => Ok(b),
            _ => Err(DerError::BadBitString),
        }
    }

    /// A NamedBitList BIT STRING (KeyUsage) as bits (bit `i` = named bit `i`, LSB = 0); DER's
    /// "no trailing zero bits" rule is enforced. At most 32 named bits.
    pub fn named_bits(&mut self) -> Result<u32, DerError> {
        let (unused, bytes) = self.bit_string()?;
        if bytes.len() > 4 {
            return Err(DerError::BadBitString);
        }
        if let Some(&last) = bytes.last() {
            // The last used bit must be 1, otherwise the encoding was not minimal.
            if last & (1 << unused) == 0 {
                return Err(DerError::BadBitString);
            }
        }
        let mut bits = 0u32;
        for (i, &b) in bytes.iter().enumerate() {
            for j in 0..8 {
                if b & (0x80 >> j) != 0 {
                    bits |= 1 << (i * 8 + j);
                }
            }
        }
        Ok(bits)
    }

    /// An OCTET STRING's bytes.
    pub fn octet_string(&mut self) -> Result<&'a [u8], DerError> {
        self.read(tag::OCTET_STRING)
    }

    /// A BOOLEAN (only 0x00 and 0xFF are DER).
    pub fn boolean(&mut self) -> Result<bool, DerError> {
        match self.read(tag::BOOLEAN)? {
            [0x00] => Ok(false),
            [0xFF] => Ok(true),
            _ => Err(DerError::BadBoolean),
        }
    }

    /// A NULL.
    pub fn null(&mut self) -> Result<(), DerError> {
        if self.read(tag::NULL)?.is_empty() {
            Ok(())
        } else {
            Err(DerError::BadNull)
        }
    }

    /// A UTF8String.
    pub fn utf8_string(&mut self) -> Result<&'a str, DerError> {
        core::str::from_utf8(self.read(tag::UTF8_STRING)?).map_err(|_| DerError::BadString)
    }

    /// A PrintableString (character set checked).
    pub fn printable_string(&mut self) -> Result<&'a str, DerError> {
        let c = self.read(tag::PRINTABLE_STRING)?;
        if !c.iter().copied().all(is_printable) {
            return Err(DerError::BadString);
        }
        core::str::from_utf8(c).map_err(|_| DerError::BadString)
    }

    /// An X.509 `Time`: UTCTime or GeneralizedTime, RFC 5280 §4.1.2.5 profile (seconds, `Z`,
    /// no fractions). A GeneralizedTime whose year is in 1950..=2049 is accepted, since
    /// certificates in the wild (and Matter's no-expiry value) use it.
    pub fn time(&mut self) -> Result<DateTime, DerError> {
        match self.peek_tag() {
            Some(tag::UTC_TIME) => DateTime::parse_utc_time(self.read(tag::UTC_TIME)?),
            Some(tag::GENERALIZED_TIME) => {
                DateTime::parse_generalized_time(self.read(tag::GENERALIZED_TIME)?)
            }
            Some(found) => Err(DerError::UnexpectedTag {
                expected: tag::UTC_TIME,
                found,
            }),
            None => Err(DerError::Truncated),
        }
    }
}

fn split(b: &[u8], n: usize) -> Result<(&[u8], &[u8]), DerError> {
    if b.len() < n {
        Err(DerError::Truncated)
    } else {
        Ok(b.split_at(n))
    }
}

fn check_integer(c: &[u8]) -> Result<(), DerError> {
    match c {
        [] => Err(DerError::BadInteger),
        // X.690 §8.3.2: the first nine bits must not be all zeros or all ones.
        [0x00, b, ..] if b & 0x80 == 0 => Err(DerError::BadInteger),
        [0xFF, b, ..] if b & 0x80 != 0 => Err(DerError::BadInteger),
        _ => Ok(()),
    }
}

fn check_oid(c: &[u8]) -> Result<(), DerError> {
    let Some(&last) = c.last() else {
        return Err(DerError::BadOid);
    };
    if last & 0x80 != 0 {
        return Err(DerError::BadOid);
    }
    // Every arc is minimal: a 0x80 byte cannot start an arc.
    let mut at_start = true;
    for &b in c {
        if at_start && b == 0x80 {
            return Err(DerError::BadOid);
        }
        at_start = b & 0x80 == 0;
    }
    Ok(())
}

/// X.680 §41.4 PrintableString characters.
fn is_printable(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b)
}

/// Encodes an OBJECT IDENTIFIER's content bytes from its arcs (at least two; the first 0..=2,
/// the second < 40 unless the first is 2).
pub fn encode_oid(arcs: &[u64]) -> Result<Vec<u8>, DerError> {
    let (&a, rest) = arcs.split_first().ok_or(DerError::BadOid)?;
    let (&b, rest) = rest.split_first().ok_or(DerError::BadOid)?;
    if a > 2 || (a < 2 && b >= 40) {
        return Err(DerError::BadOid);
    }
    let first = (a * 40).checked_add(b).ok_or(DerError::BadOid)?;
    let mut out = Vec::new();
    for arc in core::iter::once(first).chain(rest.iter().copied()) {
        let mut tmp = [0u8; 10];
        let mut n = 0;
        let mut v = arc;
        loop {
            tmp[n] = (v & 0x7F) as u8;
            n += 1;
            v >>= 7;
            if v == 0 {
                break;
            }
        }
        for i in (0..n).rev() {
            out.push(tmp[i] | if i == 0 { 0 } else { 0x80 });
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

/// Seconds from the Unix epoch to the Matter epoch, 2000-01-01T00:00:00Z (Matter 1.3 §3.5.2).
pub const MATTER_EPOCH_UNIX_SECONDS: i64 = 946_684_800;

/// A UTC civil date and time with one-second resolution, as X.509 carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    /// Year, 0..=9999.
    pub year: u16,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of the month, 1..=31 (checked against the month).
    pub day: u8,
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=59 (X.509 has no leap seconds).
    pub second: u8,
}

impl DateTime {
    /// Matter's "no well-defined expiration" notAfter, 9999-12-31T23:59:59Z (RFC 5280
    /// §4.1.2.5; Matter 1.3 §6.5.6.2: encoded as 0 in the TLV form).
    pub const NO_EXPIRY: DateTime = DateTime {
        year: 9999,
        month: 12,
        day: 31,
        hour: 23,
        minute: 59,
        second: 59,
    };

    /// A checked date-time.
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
    ) -> Result<Self, DerError> {
        let t = DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        };
        if year > 9999
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(DerError::BadTime);
        }
        Ok(t)
    }

    /// From seconds since the Unix epoch (years 0..=9999).
    pub fn from_unix_seconds(secs: i64) -> Result<Self, DerError> {
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let year = u16::try_from(y)
            .ok()
            .filter(|&y| y <= 9999)
            .ok_or(DerError::BadTime)?;
        // Bounded by construction: sod < 86400, m in 1..=12, d in 1..=31.
        DateTime::new(
            year,
            m as u8,
            d as u8,
            (sod / 3600) as u8,
            (sod % 3600 / 60) as u8,
            (sod % 60) as u8,
        )
    }

    /// Seconds since the Unix epoch.
    pub fn to_unix_seconds(&self) -> i64 {
        days_from_civil(
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        ) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// From seconds since the Matter epoch (2000-01-01T00:00:00Z).
    pub fn from_matter_seconds(secs: u32) -> Self {
        // In range by construction: 2000 + 136 years.
        Self::from_unix_seconds(i64::from(secs) + MATTER_EPOCH_UNIX_SECONDS)
            .unwrap_or(Self::NO_EXPIRY)
    }

    /// Seconds since the Matter epoch, if the time is within what a `u32` holds after 2000.
    pub fn to_matter_seconds(&self) -> Option<u32> {
        u32::try_from(self.to_unix_seconds() - MATTER_EPOCH_UNIX_SECONDS).ok()
    }

    fn utc_time_string(&self) -> Option<String> {
        if !(1950..=2049).contains(&self.year) {
            return None;
        }
        Some(format!(
            "{:02}{:02}{:02}{:02}{:02}{:02}Z",
            self.year % 100,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second
        ))
    }

    fn generalized_time_string(&self) -> Option<String> {
        if self.year > 9999 {
            return None;
        }
        Some(format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        ))
    }

    /// Parses UTCTime content `YYMMDDHHMMSSZ` (RFC 5280: YY >= 50 is 19YY, else 20YY).
    pub fn parse_utc_time(c: &[u8]) -> Result<Self, DerError> {
        let [d @ .., b'Z'] = c else {
            return Err(DerError::BadTime);
        };
        if d.len() != 12 {
            return Err(DerError::BadTime);
        }
        let yy = digits(&d[0..2])?;
        let year = if yy >= 50 { 1900 + yy } else { 2000 + yy };
        Self::from_digits(year, &d[2..])
    }

    /// Parses GeneralizedTime content `YYYYMMDDHHMMSSZ`.
    pub fn parse_generalized_time(c: &[u8]) -> Result<Self, DerError> {
        let [d @ .., b'Z'] = c else {
            return Err(DerError::BadTime);
        };
        if d.len() != 14 {
            return Err(DerError::BadTime);
        }
        Self::from_digits(digits(&d[0..4])?, &d[4..])
    }

    // `d` is exactly 10 digits MMDDHHMMSS (callers check the length).
    fn from_digits(year: u16, d: &[u8]) -> Result<Self, DerError> {
        let f = |i: usize| -> Result<u8, DerError> {
            let s = d.get(i..i + 2).ok_or(DerError::BadTime)?;
            Ok(digits(s)? as u8)
        };
        DateTime::new(year, f(0)?, f(2)?, f(4)?, f(6)?, f(8)?)
    }
}

fn digits(s: &[u8]) -> Result<u16, DerError> {
    s.iter().try_fold(0u16, |acc, &b| {
        if b.is_ascii_digit() {
            Ok(acc * 10 + u16::from(b - b'0'))
        } else {
            Err(DerError::BadTime)
        }
    })
}

fn is_leap(y: u16) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u16, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

// Days since 1970-01-01 from a proleptic Gregorian date (H. Hinnant's well-known algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests;
