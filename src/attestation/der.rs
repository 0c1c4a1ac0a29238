//! The small DER subset attestation needs: a strict reader (definite, minimal lengths;
//! single-byte tags) and builders for the X.509 and CMS structures we emit (ITU-T X.690 §8,
//! §10 "DER"). Kept private to this module; `crate::cert` owns the general certificate codec.

use super::AttestationError;

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const SET: u8 = 0x31;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const OID: u8 = 0x06;
pub(crate) const BOOLEAN: u8 = 0x01;
pub(crate) const UTF8_STRING: u8 = 0x0c;
pub(crate) const UTC_TIME: u8 = 0x17;
pub(crate) const GENERALIZED_TIME: u8 = 0x18;

/// One element: tag, value bytes, and the whole encoding (tag + length + value).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Der<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    pub raw: &'a [u8],
}

/// A cursor over consecutive DER elements.
#[derive(Debug, Clone)]
pub(crate) struct DerReader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> DerReader<'a> {
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, what }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn peek_tag(&self) -> Option<u8> {
        self.buf.first().copied()
    }

    fn err(&self) -> AttestationError {
        AttestationError::Der(self.what)
    }

    /// The next element, whatever its tag.
    pub fn read(&mut self) -> Result<Der<'a>, AttestationError> {
        let b = self.buf;
        let (&tag, rest) = b.split_first().ok_or_else(|| self.err())?;
        // Multi-byte (high-tag-number) tags never occur in the structures we read.
        if tag & 0x1f == 0x1f {
            return Err(self.err());
        }
        let (&l0, rest) = rest.split_first().ok_or_else(|| self.err())?;
        let (len, rest) = if l0 < 0x80 {
            (usize::from(l0), rest)
        } else {
            let n = usize::from(l0 & 0x7f);
            // 0x80 is BER's indefinite length; DER forbids it. Four length bytes is far more
            // than any attestation structure (and than RESP_MAX) needs.
            if n == 0 || n > 4 || rest.len() < n {
                return Err(self.err());
            }
            let (lb, rest) = rest.split_at(n);
            // DER: minimal length encoding (no leading zero byte, long form only from 128).
            if lb.first() == Some(&0) {
                return Err(self.err());
            }
            let len = lb.iter().fold(0usize, |a, &x| (a << 8) | usize::from(x));
            if len < 0x80 {
                return Err(self.err());
            }
            (len, rest)
        };
        if rest.len() < len {
            return Err(self.err());
        }
        let (value, tail) = rest.split_at(len);
        let header = b.len() - rest.len();
        let raw = b.get(..header + len).ok_or_else(|| self.err())?;
        self.buf = tail;
        Ok(Der { tag, value, raw })
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

    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<(), AttestationError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(self.err())
        }
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

/// The value of a non-negative INTEGER without its sign-padding zero, checking minimal form.
pub(crate) fn unsigned_integer<'a>(
    v: &'a [u8],
    what: &'static str,
) -> Result<&'a [u8], AttestationError> {
    match v {
        [] => Err(AttestationError::Der(what)),
        [first, ..] if first & 0x80 != 0 => Err(AttestationError::Der(what)),
        [0, second, ..] if second & 0x80 == 0 => Err(AttestationError::Der(what)),
        [0, rest @ ..] if !rest.is_empty() => Ok(rest),
        _ => Ok(v),
    }
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

// ---- Writing ----

/// `tag || length || content`.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        // Fits in the short form; the cast cannot truncate.
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let lb = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | lb.len() as u8);
        out.extend_from_slice(lb);
    }
    out.extend_from_slice(content);
    out
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
    let skip = magnitude.iter().take_while(|&&b| b == 0).count();
    let m = magnitude.get(skip..).unwrap_or_default();
    let mut c = Vec::with_capacity(m.len() + 1);
    if m.first().is_none_or(|&b| b & 0x80 != 0) {
        c.push(0);
    }
    c.extend_from_slice(m);
    tlv(INTEGER, &c)
}

/// A BIT STRING with no unused bits.
pub(crate) fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut c = Vec::with_capacity(bytes.len() + 1);
    c.push(0);
    c.extend_from_slice(bytes);
    tlv(BIT_STRING, &c)
}

/// An OBJECT IDENTIFIER from its encoded content bytes.
pub(crate) fn oid(content: &[u8]) -> Vec<u8> {
    tlv(OID, content)
}

/// Formats `unix` seconds as X.509 Time: UTCTime through 2049, GeneralizedTime from 2050
/// (RFC 5280 §4.1.2.5).
pub(crate) fn time(unix: u64) -> Vec<u8> {
    let (y, mo, d, h, mi, s) = civil_from_unix(unix);
    if (1950..2050).contains(&y) {
        let t = format!("{:02}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z", y % 100);
        tlv(UTC_TIME, t.as_bytes())
    } else {
        let t = format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z");
        tlv(GENERALIZED_TIME, t.as_bytes())
    }
}

/// Parses an X.509 UTCTime or GeneralizedTime (the `YYMMDDHHMMSSZ` / `YYYYMMDDHHMMSSZ`
/// forms RFC 5280 requires) to Unix seconds.
pub(crate) fn parse_time(d: &Der<'_>, what: &'static str) -> Result<u64, AttestationError> {
    let err = || AttestationError::Der(what);
    let s = std::str::from_utf8(d.value).map_err(|_| err())?;
    let digits = s.strip_suffix('Z').ok_or_else(err)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let (year, rest) = match (d.tag, digits.len()) {
        (UTC_TIME, 12) => {
            let yy: u64 = digits
                .get(..2)
                .ok_or_else(err)?
                .parse()
                .map_err(|_| err())?;
            (
                if yy >= 50 { 1900 + yy } else { 2000 + yy },
                digits.get(2..).ok_or_else(err)?,
            )
        }
        (GENERALIZED_TIME, 14) => (
            digits
                .get(..4)
                .ok_or_else(err)?
                .parse()
                .map_err(|_| err())?,
            digits.get(4..).ok_or_else(err)?,
        ),
        _ => return Err(err()),
    };
    let field = |i: usize| -> Result<u64, AttestationError> {
        rest.get(i..i + 2)
            .ok_or_else(err)?
            .parse()
            .map_err(|_| err())
    };
    let (mo, day, h, mi, sec) = (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&mo)
        || !(1..=31).contains(&day)
        || h > 23
        || mi > 59
        || sec > 59
        || year < 1970
    {
        return Err(err());
    }
    Ok(unix_from_civil(year, mo, day) * 86_400 + h * 3600 + mi * 60 + sec)
}

/// Days-from-civil (proleptic Gregorian), for years from 1970.
fn unix_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

fn civil_from_unix(t: u64) -> (u64, u64, u64, u64, u64, u64) {
    let days = t / 86_400;
    let secs = t % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d, secs / 3600, (secs % 3600) / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_round_trips_and_picks_the_rfc5280_form() {
        // 2021-06-28 14:23:43 UTC, the CHIP test PAA's notBefore (UTCTime 210628142343Z).
        let t = 1_624_890_223;
        let enc = time(t);
        assert_eq!(enc, tlv(UTC_TIME, b"210628142343Z"));
        let d = single(&enc, UTC_TIME, "t").unwrap();
        assert_eq!(parse_time(&d, "t").unwrap(), t);
        // 9999-12-31 23:59:59, the "no well-defined expiration" value (RFC 5280 §4.1.2.5).
        let end = tlv(GENERALIZED_TIME, b"99991231235959Z");
        let v = parse_time(&single(&end, GENERALIZED_TIME, "t").unwrap(), "t").unwrap();
        assert_eq!(time(v), end);
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
        assert!(unsigned_integer(&[0, 0x7f], "i").is_err());
        assert!(unsigned_integer(&[0x80], "i").is_err());
        assert_eq!(unsigned_integer(&[0, 0x80], "i").unwrap(), &[0x80]);
    }
}
