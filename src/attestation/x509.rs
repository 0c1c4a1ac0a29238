//! A read-only view of the X.509 v3 certificates of the attestation chain (PAA, PAI, DAC and
//! the CD signer), with the fields the Matter profiles (Matter 1.3 §6.2.2) constrain.
//! Parsing is strict DER and never panics; the general certificate codec lives in `crate::cert`.

use super::der::{self, Der, DerReader};
use super::key::PublicKey;
use super::AttestationError;

/// OID content bytes used by attestation certificates and the CD.
pub(crate) mod oid {
    /// ecdsa-with-SHA256, 1.2.840.10045.4.3.2.
    pub const ECDSA_WITH_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    /// id-ecPublicKey, 1.2.840.10045.2.1.
    pub const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    /// prime256v1 (P-256), 1.2.840.10045.3.1.7.
    pub const PRIME256V1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    /// commonName, 2.5.4.3.
    pub const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
    /// Matter vendor id attribute, 1.3.6.1.4.1.37244.2.1 (Matter 1.3 §6.1.1).
    pub const MATTER_VID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0xa2, 0x7c, 0x02, 0x01];
    /// Matter product id attribute, 1.3.6.1.4.1.37244.2.2 (Matter 1.3 §6.1.1).
    pub const MATTER_PID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0xa2, 0x7c, 0x02, 0x02];
    /// basicConstraints, 2.5.29.19.
    pub const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
    /// keyUsage, 2.5.29.15.
    pub const KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
    /// subjectKeyIdentifier, 2.5.29.14.
    pub const SUBJECT_KEY_ID: &[u8] = &[0x55, 0x1d, 0x0e];
    /// authorityKeyIdentifier, 2.5.29.35.
    pub const AUTHORITY_KEY_ID: &[u8] = &[0x55, 0x1d, 0x23];
    /// id-sha256, 2.16.840.1.101.3.4.2.1.
    pub const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
    /// id-signedData, 1.2.840.113549.1.7.2.
    pub const SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
    /// id-data, 1.2.840.113549.1.7.1.
    pub const DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
}

/// keyUsage bits (RFC 5280 §4.2.1.3), numbered from the first bit.
pub(crate) mod key_usage {
    pub const DIGITAL_SIGNATURE: u16 = 1 << 0;
    pub const KEY_CERT_SIGN: u16 = 1 << 5;
    pub const CRL_SIGN: u16 = 1 << 6;
}

/// Length of the key identifiers Matter certificates carry (Matter 1.3 §6.2.2: 160 bits).
pub(crate) const KEY_ID_LEN: usize = 20;

/// One extension.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Extension<'a> {
    pub oid: &'a [u8],
    pub critical: bool,
    pub value: &'a [u8],
}

/// The parsed certificate, borrowing from its DER.
#[derive(Debug, Clone)]
pub(crate) struct Certificate<'a> {
    pub tbs: &'a [u8],
    pub version: u8,
    pub serial: &'a [u8],
    pub tbs_signature_alg: &'a [u8],
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
    pub not_before: u64,
    pub not_after: u64,
    pub public_key: PublicKey,
    pub extensions: Vec<Extension<'a>>,
    pub signature_alg: &'a [u8],
    pub signature: &'a [u8],
}

impl<'a> Certificate<'a> {
    /// Parses a DER certificate with an ECDSA P-256 key. `what` names it in errors.
    pub fn parse(der_bytes: &'a [u8], what: &'static str) -> Result<Self, AttestationError> {
        let outer = der::single(der_bytes, der::SEQUENCE, what)?;
        let mut c = DerReader::new(outer.value, what);
        let tbs = c.expect_der(der::SEQUENCE)?;
        let signature_alg = c.expect_der(der::SEQUENCE)?.raw;
        let signature = der::bit_string_bytes(c.expect(der::BIT_STRING)?, what)?;
        c.finish()?;

        let mut t = DerReader::new(tbs.value, what);
        let version = match t.optional(0xa0)? {
            Some(v) => {
                let v = der::single(v.value, der::INTEGER, what)?;
                match v.value {
                    [n] => n.saturating_add(1),
                    _ => return Err(AttestationError::Der(what)),
                }
            }
            None => 1,
        };
        // RFC 5280 §4.1.2.2: a positive integer; kept without its sign-padding zero.
        let serial = t.unsigned_integer()?;
        let tbs_signature_alg = t.expect_der(der::SEQUENCE)?.raw;
        let issuer = t.expect_der(der::SEQUENCE)?.raw;
        let mut validity = t.nested(der::SEQUENCE)?;
        let not_before = der::parse_time(&validity.read()?, what)?;
        let not_after = der::parse_time(&validity.read()?, what)?;
        validity.finish()?;
        let subject = t.expect_der(der::SEQUENCE)?.raw;
        let public_key = parse_spki(t.expect(der::SEQUENCE)?, what)?;
        // issuerUniqueID [1] / subjectUniqueID [2] are not allowed by the Matter profiles.
        let mut extensions = Vec::new();
        if let Some(ext) = t.optional(0xa3)? {
            let mut list = DerReader::new(der::single(ext.value, der::SEQUENCE, what)?.value, what);
            while !list.is_empty() {
                let mut e = list.nested(der::SEQUENCE)?;
                let oid = e.expect(der::OID)?;
                let critical = match e.optional(der::BOOLEAN)? {
                    Some(Der { value: [0xff], .. }) => true,
                    // DER: a FALSE default is omitted, never encoded.
                    Some(_) => return Err(AttestationError::Der(what)),
                    None => false,
                };
                let value = e.expect(der::OCTET_STRING)?;
                e.finish()?;
                if extensions.iter().any(|x: &Extension<'_>| x.oid == oid) {
                    return Err(AttestationError::Der(what));
                }
                extensions.push(Extension {
                    oid,
                    critical,
                    value,
                });
            }
        }
        t.finish()?;
        Ok(Self {
            tbs: tbs.raw,
            version,
            serial,
            tbs_signature_alg,
            issuer,
            subject,
            not_before,
            not_after,
            public_key,
            extensions,
            signature_alg,
            signature,
        })
    }

    /// The extension with `oid`, if present.
    pub fn extension(&self, oid: &[u8]) -> Option<Extension<'a>> {
        self.extensions.iter().copied().find(|e| e.oid == oid)
    }

    /// basicConstraints as (critical, cA, pathLenConstraint).
    pub fn basic_constraints(
        &self,
        what: &'static str,
    ) -> Result<Option<(bool, bool, Option<u8>)>, AttestationError> {
        let Some(e) = self.extension(oid::BASIC_CONSTRAINTS) else {
            return Ok(None);
        };
        let mut s = DerReader::new(der::single(e.value, der::SEQUENCE, what)?.value, what);
        let ca = match s.optional(der::BOOLEAN)? {
            Some(Der { value: [0xff], .. }) => true,
            Some(_) => return Err(AttestationError::Der(what)),
            None => false,
        };
        let path_len = match s.optional(der::INTEGER)? {
            Some(Der { value: [n], .. }) if n & 0x80 == 0 => Some(*n),
            Some(_) => return Err(AttestationError::Der(what)),
            None => None,
        };
        s.finish()?;
        Ok(Some((e.critical, ca, path_len)))
    }

    /// keyUsage as (critical, bits) with bit i = RFC 5280 bit i.
    pub fn key_usage(&self, what: &'static str) -> Result<Option<(bool, u16)>, AttestationError> {
        let Some(e) = self.extension(oid::KEY_USAGE) else {
            return Ok(None);
        };
        let v = der::single(e.value, der::BIT_STRING, what)?.value;
        let (&unused, bytes) = v.split_first().ok_or(AttestationError::Der(what))?;
        if unused > 7 || bytes.len() > 2 || (bytes.is_empty() && unused != 0) {
            return Err(AttestationError::Der(what));
        }
        let mut bits = 0u16;
        for (i, b) in bytes.iter().enumerate() {
            for j in 0..8 {
                if b & (0x80 >> j) != 0 {
                    bits |= 1 << (i * 8 + j);
                }
            }
        }
        Ok(Some((e.critical, bits)))
    }

    /// The subjectKeyIdentifier.
    pub fn subject_key_id(&self, what: &'static str) -> Result<Option<&'a [u8]>, AttestationError> {
        self.extension(oid::SUBJECT_KEY_ID)
            .map(|e| der::single(e.value, der::OCTET_STRING, what).map(|d| d.value))
            .transpose()
    }

    /// The keyIdentifier of authorityKeyIdentifier.
    pub fn authority_key_id(
        &self,
        what: &'static str,
    ) -> Result<Option<&'a [u8]>, AttestationError> {
        let Some(e) = self.extension(oid::AUTHORITY_KEY_ID) else {
            return Ok(None);
        };
        let mut s = DerReader::new(der::single(e.value, der::SEQUENCE, what)?.value, what);
        let id = s.optional(0x80)?.map(|d| d.value);
        Ok(id)
    }

    /// The subject's (OID, value) attributes, in order.
    pub fn subject_attributes(
        &self,
        what: &'static str,
    ) -> Result<Vec<(&'a [u8], Der<'a>)>, AttestationError> {
        name_attributes(self.subject, what)
    }

    /// A Matter vendor id / product id attribute of the subject: a UTF8String of exactly four
    /// uppercase hex digits (Matter 1.3 §6.1.1, §6.2.2.2).
    pub fn matter_id(
        &self,
        attr_oid: &[u8],
        what: &'static str,
    ) -> Result<Option<u16>, AttestationError> {
        let mut found = None;
        for (o, v) in self.subject_attributes(what)? {
            if o != attr_oid {
                continue;
            }
            if found.is_some() {
                return Err(AttestationError::Profile {
                    cert: what,
                    reason: "vendor or product id attribute repeated",
                });
            }
            found = Some(parse_hex_id(&v).ok_or(AttestationError::Profile {
                cert: what,
                reason: "vendor or product id is not a UTF8String of 4 uppercase hex digits",
            })?);
        }
        Ok(found)
    }

    /// Checks that `issuer` signed this certificate (ECDSA-SHA256 over the TBS bytes).
    pub fn verify_signed_by(
        &self,
        issuer: &PublicKey,
        what: &'static str,
    ) -> Result<(), AttestationError> {
        if !is_ecdsa_sha256(self.signature_alg) || self.signature_alg != self.tbs_signature_alg {
            return Err(AttestationError::Profile {
                cert: what,
                reason: "signature algorithm is not ecdsa-with-SHA256",
            });
        }
        issuer.verify_der(self.tbs, self.signature, what)
    }
}

/// The (OID, value) attributes of a Name, one per RDN (Matter names are single-valued).
pub(crate) fn name_attributes<'a>(
    name: &'a [u8],
    what: &'static str,
) -> Result<Vec<(&'a [u8], Der<'a>)>, AttestationError> {
    let mut out = Vec::new();
    let mut rdns = DerReader::new(der::single(name, der::SEQUENCE, what)?.value, what);
    while !rdns.is_empty() {
        let mut set = rdns.nested(der::SET)?;
        while !set.is_empty() {
            let mut atv = set.nested(der::SEQUENCE)?;
            let o = atv.expect(der::OID)?;
            let v = atv.read()?;
            atv.finish()?;
            out.push((o, v));
        }
    }
    Ok(out)
}

fn parse_hex_id(v: &Der<'_>) -> Option<u16> {
    if v.tag != der::UTF8_STRING || v.value.len() != 4 {
        return None;
    }
    if !v
        .value
        .iter()
        .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b))
    {
        return None;
    }
    u16::from_str_radix(std::str::from_utf8(v.value).ok()?, 16).ok()
}

fn is_ecdsa_sha256(alg: &[u8]) -> bool {
    // AlgorithmIdentifier { ecdsa-with-SHA256 } with absent parameters (RFC 5758 §3.2).
    alg == der::seq(&[&der::oid(oid::ECDSA_WITH_SHA256)]).as_slice()
}

fn parse_spki(spki: &[u8], what: &'static str) -> Result<PublicKey, AttestationError> {
    let mut s = DerReader::new(spki, what);
    let mut alg = s.nested(der::SEQUENCE)?;
    let key = der::bit_string_bytes(s.expect(der::BIT_STRING)?, what)?;
    s.finish()?;
    let alg_oid = alg.expect(der::OID)?;
    let params = alg.read()?;
    alg.finish()?;
    if alg_oid != oid::EC_PUBLIC_KEY || params.tag != der::OID || params.value != oid::PRIME256V1 {
        return Err(AttestationError::Profile {
            cert: what,
            reason: "public key is not an EC key on P-256",
        });
    }
    if key.len() != 65 {
        return Err(AttestationError::Profile {
            cert: what,
            reason: "public key is not an uncompressed P-256 point",
        });
    }
    PublicKey::from_sec1(key)
}
