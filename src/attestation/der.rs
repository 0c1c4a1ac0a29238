//! Attestation's view of DER: a reader that names the structure being read in its errors,
//! and byte-returning builders, both thin wrappers over the crate's strict DER codec
//! [`crate::cert::der`] (ITU-T X.690 DER: definite minimal lengths, minimal integers, RFC 5280
//! times).

use crate::cert::der::{self as codec, DateTime, DerWriter};

use super::AttestationError;

pub(crate) use codec::tag::{
    BIT_STRING, BOOLEAN, GENERALIZED_TIME, INTEGER, OCTET_STRING, OID, SEQUENCE, SET, UTC_TIME,
    UTF8_STRING,
};

/// One element: tag, value bytes, and the whole encoding (tag + length + value).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Der<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    pub raw: &'a [u8],
}

/// A cursor over consecutive DER elements; `what` names the structure in errors.
#[derive(Debug, Clone)]
pub(crate) struct DerReader<'a> {
    inner: codec::DerReader<'a>,
    what: &'static str,
}

impl<'a> DerReader<'a> {
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self {
            inner: codec::DerReader::new(buf),
            what,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    pub fn peek_tag(&self) -> Option<u8> {
        self.inner.peek_tag()
    }

    fn err(&self) -> AttestationError {
        AttestationError::Der(self.what)
    }

    /// The next element, whatever its tag.
    pub fn read(&mut self) -> Result<Der<'a>, AttestationError> {
        let t = self.inner.read_any().map_err(|_| self.err())?;
        Ok(Der {
            tag: t.tag,
            value: t.content,
            raw: t.raw,
        })
    }

    /// The next element, which must have tag `tag`; returns its value.
    pub fn expect(&mut self, tag: u8) -> Result<&'a [u8], AttestationError> {
        self.expect_der(tag).map(|d| d.value)
    }

    /// The next element, which must have tag `tag`.
    pub fn expect_der(&mut self, tag: u8) -> Result<Der<'a>, AttestationError> {
        let d = self.read()?;
        if d.tag != tag {
            return Err(self.err());
        }
        Ok(d)
    }

    /// The next element if it has tag `tag`.
    pub fn optional(&mut self, tag: u8) -> Result<Option<Der<'a>>, AttestationError> {
        if self.peek_tag() == Some(tag) {
            self.read().map(Some)
        } else {
            Ok(None)
        }
    }

    /// A reader over the value of the next element, which must have tag `tag`.
    pub fn nested(&mut self, tag: u8) -> Result<DerReader<'a>, AttestationError> {
        let what = self.what;
        Ok(DerReader::new(self.expect(tag)?, what))
    }

    /// A non-negative INTEGER's magnitude (without a sign-padding zero), minimal form checked.
    pub fn unsigned_integer(&mut self) -> Result<&'a [u8], AttestationError> {
        self.inner
            .integer_unsigned()
            .map_err(|_| AttestationError::Der(self.what))
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<(), AttestationError> {
        self.inner.finish().map_err(|_| self.err())
    }
}

/// A whole input that must be exactly one element with tag `tag`.
pub(crate) fn single<'a>(
    buf: &'a [u8],
    tag: u8,
    what: &'static str,
) -> Result<Der<'a>, AttestationError> {
    let mut r = DerReader::new(buf, what);
    let d = r.expect_der(tag)?;
    r.finish()?;
    Ok(d)
}

/// The bytes of a BIT STRING with no unused bits.
pub(crate) fn bit_string_bytes<'a>(
    v: &'a [u8],
    what: &'static str,
) -> Result<&'a [u8], AttestationError> {
    match v.split_first() {
        Some((0, rest)) => Ok(rest),
        _ => Err(AttestationError::Der(what)),
    }
}

/// Parses an X.509 UTCTime or GeneralizedTime to Unix seconds (from 1970).
pub(crate) fn parse_time(d: &Der<'_>, what: &'static str) -> Result<u64, AttestationError> {
    let t = match d.tag {
        UTC_TIME => DateTime::parse_utc_time(d.value),
        GENERALIZED_TIME => DateTime::parse_generalized_time(d.value),
        _ => return Err(AttestationError::Der(what)),
    }
    .map_err(|_| AttestationError::Der(what))?;
    u64::try_from(t.to_unix_seconds()).map_err(|_| AttestationError::Der(what))
}

// ---- Writing ----

fn written(f: impl FnOnce(&mut DerWriter)) -> Vec<u8> {
    let mut w = DerWriter::new();
    f(&mut w);
    // The writer fails only on values over 4 GiB or on invalid times; every caller here
    // passes a few hundred bytes and times produced by `time` below, so this is empty only
    // on a bug, which the round-trip tests would catch.
    w.finish().unwrap_or_default()
}

/// `tag || length || content`.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    written(|w| w.tlv(tag, content))
}

/// A constructed element whose content is the concatenation of `parts`.
pub(crate) fn cons(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

/// SEQUENCE of `parts`.
pub(crate) fn seq(parts: &[&[u8]]) -> Vec<u8> {
    cons(SEQUENCE, parts)
}

/// A non-negative INTEGER from big-endian magnitude bytes.
pub(crate) fn uint(magnitude: &[u8]) -> Vec<u8> {
    written(|w| w.integer_unsigned(magnitude))
}

/// An OBJECT IDENTIFIER from its encoded content bytes.
pub(crate) fn oid(content: &[u8]) -> Vec<u8> {
    written(|w| w.oid(content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_to_unix_seconds() {
        // 2021-06-28 14:23:43 UTC, the CHIP test PAA's notBefore (UTCTime 210628142343Z).
        let utc = tlv(UTC_TIME, b"210628142343Z");
        assert_eq!(
            parse_time(&single(&utc, UTC_TIME, "t").unwrap(), "t").unwrap(),
            1_624_890_223
        );
        // 9999-12-31 23:59:59, the "no well-defined expiration" value (RFC 5280 §4.1.2.5).
        let end = tlv(GENERALIZED_TIME, b"99991231235959Z");
        let v = parse_time(&single(&end, GENERALIZED_TIME, "t").unwrap(), "t").unwrap();
        assert_eq!(v, super::super::dac::NO_EXPIRY);
        for bad in [
            &b"210628142343"[..],
            b"2106281423Z",
            b"211328142343Z",
            b"21062814234aZ",
        ] {
            let d = tlv(UTC_TIME, bad);
            assert!(
                parse_time(&single(&d, UTC_TIME, "t").unwrap(), "t").is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn reader_rejects_non_der_lengths() {
        for bad in [
            &[0x30, 0x80, 0x00, 0x00][..],      // indefinite
            &[0x30, 0x81, 0x05, 1, 2, 3, 4, 5], // long form for a short length
            &[0x30, 0x82, 0x00, 0x81],          // leading zero length byte
            &[0x30, 0x05, 1, 2],                // truncated
            &[0x1f, 0x01, 0x00],                // high tag number
            &[0x30],                            // no length
        ] {
            assert!(DerReader::new(bad, "x").read().is_err(), "{bad:02x?}");
        }
        let long = tlv(OCTET_STRING, &[7u8; 300]);
        let d = single(&long, OCTET_STRING, "x").unwrap();
        assert_eq!(d.value.len(), 300);
        assert_eq!(d.raw, &long[..]);
    }

    #[test]
    fn integers_are_minimal() {
        assert_eq!(uint(&[0, 0, 0x80]), vec![0x02, 0x02, 0x00, 0x80]);
        assert_eq!(uint(&[0x7f]), vec![0x02, 0x01, 0x7f]);
        assert_eq!(uint(&[]), vec![0x02, 0x01, 0x00]);
        let mag = |b: &[u8]| {
            DerReader::new(b, "i")
                .unsigned_integer()
                .map(<[u8]>::to_vec)
        };
        assert!(mag(&[0x02, 0x02, 0x00, 0x7f]).is_err());
        assert!(mag(&[0x02, 0x01, 0x80]).is_err());
        assert_eq!(mag(&[0x02, 0x02, 0x00, 0x80]).unwrap(), [0x80]);
    }
}
