//! X.509 DER for Matter certificates: the Matter TLV -> DER conversion (byte-exact with the
//! CHIP SDK's, Matter 1.3 §6.5.2 and the certificate field mapping of §6.5.4–§6.5.11), the
//! DER -> TLV conversion for certificates expressible in Matter form, a generic X.509 parser
//! ([`X509Cert`]), ECDSA P-256 signing/verification helpers, and a builder for other X.509
//! certificates such as a device attestation certificate ([`X509Builder`]).
//!
//! DER -> TLV is checked by re-encoding: a certificate converts only if converting the result
//! back reproduces the input bytes exactly, which is what a Matter peer will do before checking
//! the signature.

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};

use super::der::{self, tag, DateTime, DerReader, DerWriter};
use super::matter::{
    is_printable, key_purpose, DistinguishedName, DnAttribute, Extension, MatterCert,
    PublicKeyBytes, TextAttr,
};
use super::CertError;

/// OID content bytes used in Matter certificates.
pub mod oid {
    /// ecdsa-with-SHA256, 1.2.840.10045.4.3.2.
    pub const ECDSA_WITH_SHA256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02];
    /// id-ecPublicKey, 1.2.840.10045.2.1.
    pub const EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
    /// prime256v1, 1.2.840.10045.3.1.7.
    pub const PRIME256V1: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    /// basicConstraints, 2.5.29.19.
    pub const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1D, 0x13];
    /// keyUsage, 2.5.29.15.
    pub const KEY_USAGE: &[u8] = &[0x55, 0x1D, 0x0F];
    /// extKeyUsage, 2.5.29.37.
    pub const EXT_KEY_USAGE: &[u8] = &[0x55, 0x1D, 0x25];
    /// subjectKeyIdentifier, 2.5.29.14.
    pub const SUBJECT_KEY_ID: &[u8] = &[0x55, 0x1D, 0x0E];
    /// authorityKeyIdentifier, 2.5.29.35.
    pub const AUTHORITY_KEY_ID: &[u8] = &[0x55, 0x1D, 0x23];
    /// id-kp, 1.3.6.1.5.5.7.3 (append the purpose arc).
    pub const KEY_PURPOSE_PREFIX: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03];
    /// The Matter operational DN attribute arc 1.3.6.1.4.1.37244.1 (append 1..=6).
    pub const MATTER_OP_PREFIX: &[u8] = &[0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0xA2, 0x7C, 0x01];
    /// Matter DAC/PAI/PAA vendor id attribute, 1.3.6.1.4.1.37244.2.1 (Matter 1.3 §6.2.2.2).
    pub const MATTER_VENDOR_ID: &[u8] =
        &[0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0xA2, 0x7C, 0x02, 0x01];
    /// Matter DAC/PAI product id attribute, 1.3.6.1.4.1.37244.2.2.
    pub const MATTER_PRODUCT_ID: &[u8] =
        &[0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0xA2, 0x7C, 0x02, 0x02];
    /// commonName, 2.5.4.3.
    pub const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
    /// organizationName, 2.5.4.10.
    pub const ORGANIZATION_NAME: &[u8] = &[0x55, 0x04, 0x0A];
}

// ---------------------------------------------------------------------------------------------
// Matter -> DER
// ---------------------------------------------------------------------------------------------

impl MatterCert {
    /// The DER TBSCertificate, the bytes the signature covers.
    pub fn to_der_tbs(&self) -> Result<Vec<u8>, CertError> {
        self.check_structure()?;
        let mut w = DerWriter::new();
        write_tbs(&mut w, self);
        Ok(w.finish()?)
    }

    /// The complete X.509 DER certificate.
    pub fn to_der(&self) -> Result<Vec<u8>, CertError> {
        let tbs = self.to_der_tbs()?;
        Ok(wrap_signed(&tbs, &self.signature))
    }

    /// Decodes TLV and converts to DER in one step.
    pub fn tlv_to_der(tlv: &[u8]) -> Result<Vec<u8>, CertError> {
        MatterCert::from_tlv(tlv)?.to_der()
    }

    /// Signs the certificate: computes the signature over the DER TBS with `key` and stores it.
    pub fn sign(&mut self, key: &SigningKey) -> Result<(), CertError> {
        let tbs = self.to_der_tbs()?;
        self.signature = sign_p256(key, &tbs);
        Ok(())
    }

    /// Verifies this certificate's signature against `issuer_public_key`.
    pub fn verify_signature(&self, issuer_public_key: &PublicKeyBytes) -> Result<(), CertError> {
        let tbs = self.to_der_tbs()?;
        verify_p256(issuer_public_key, &tbs, &self.signature)
    }
}

fn write_tbs(w: &mut DerWriter, c: &MatterCert) {
    w.sequence(|w| {
        // version [0] EXPLICIT v3(2)
        w.context(0, |w| w.integer_u64(2));
        // The TLV serial is the DER INTEGER's content, copied as the CHIP SDK does.
        w.tlv(tag::INTEGER, &c.serial);
        w.sequence(|w| w.oid(oid::ECDSA_WITH_SHA256));
        write_dn(w, &c.issuer);
        w.sequence(|w| {
            w.time(&DateTime::from_matter_seconds(c.not_before));
            if c.not_after == 0 {
                w.generalized_time(&DateTime::NO_EXPIRY);
            } else {
                w.time(&DateTime::from_matter_seconds(c.not_after));
            }
        });
        write_dn(w, &c.subject);
        write_spki(w, &c.public_key);
        w.context(3, |w| {
            w.sequence(|w| {
                for e in &c.extensions {
                    write_extension(w, e);
                }
            })
        });
    });
}

/// Writes a P-256 SubjectPublicKeyInfo.
pub fn write_spki(w: &mut DerWriter, public_key: &PublicKeyBytes) {
    w.sequence(|w| {
        w.sequence(|w| {
            w.oid(oid::EC_PUBLIC_KEY);
            w.oid(oid::PRIME256V1);
        });
        w.bit_string(0, public_key);
    });
}

fn write_dn(w: &mut DerWriter, dn: &DistinguishedName) {
    w.sequence(|w| {
        for a in &dn.0 {
            w.set(|w| {
                w.sequence(|w| match a {
                    DnAttribute::Text {
                        kind,
                        value,
                        printable,
                    } => {
                        w.oid(kind.oid());
                        if *kind == TextAttr::DomainComponent {
                            w.tlv(tag::IA5_STRING, value.as_bytes());
                        } else if *printable {
                            w.printable_string(value);
                        } else {
                            w.utf8_string(value);
                        }
                    }
                    other => {
                        let (arc, value, digits) = matter_attr(other);
                        let mut o = oid::MATTER_OP_PREFIX.to_vec();
                        o.push(arc);
                        w.oid(&o);
                        // Matter 1.3 §6.5.6.1: 16 (CAT: 8) uppercase hex digits, UTF8String.
                        w.utf8_string(&format!("{value:0digits$X}"));
                    }
                })
            });
        }
    });
}

// (OID arc, value, hex digits) of a Matter-specific DN attribute.
fn matter_attr(a: &DnAttribute) -> (u8, u64, usize) {
    match a {
        DnAttribute::NodeId(v) => (1, *v, 16),
        DnAttribute::FirmwareSigningId(v) => (2, *v, 16),
        DnAttribute::IcacId(v) => (3, *v, 16),
        DnAttribute::RcacId(v) => (4, *v, 16),
        DnAttribute::FabricId(v) => (5, *v, 16),
        DnAttribute::NocCat(v) => (6, u64::from(*v), 8),
        // Text attributes are handled by the caller.
        DnAttribute::Text { .. } => (0, 0, 0),
    }
}

fn write_extension(w: &mut DerWriter, e: &Extension) {
    if let Extension::Future(der) = e {
        w.raw(der);
        return;
    }
    w.sequence(|w| match e {
        Extension::BasicConstraints { is_ca, path_len } => {
            w.oid(oid::BASIC_CONSTRAINTS);
            w.boolean(true);
            w.octet_string_with(|w| {
                w.sequence(|w| {
                    // DER omits cA when it is FALSE (the DEFAULT).
                    if *is_ca {
                        w.boolean(true);
                    }
                    if let Some(p) = path_len {
                        w.integer_u64(u64::from(*p));
                    }
                })
            });
        }
        Extension::KeyUsage(k) => {
            w.oid(oid::KEY_USAGE);
            w.boolean(true);
            w.octet_string_with(|w| w.named_bits(u32::from(*k)));
        }
        Extension::ExtendedKeyUsage(ps) => {
            w.oid(oid::EXT_KEY_USAGE);
            w.boolean(true);
            w.octet_string_with(|w| {
                w.sequence(|w| {
                    for p in ps {
                        let mut o = oid::KEY_PURPOSE_PREFIX.to_vec();
                        // Checked by check_structure.
                        o.push(key_purpose::oid_arc(*p).unwrap_or(0));
                        w.oid(&o);
                    }
                })
            });
        }
        Extension::SubjectKeyId(k) => {
            w.oid(oid::SUBJECT_KEY_ID);
            w.octet_string_with(|w| w.octet_string(k));
        }
        Extension::AuthorityKeyId(k) => {
            w.oid(oid::AUTHORITY_KEY_ID);
            w.octet_string_with(|w| w.sequence(|w| w.context_primitive(0, k)));
        }
        Extension::Future(_) => {}
    });
}

/// Wraps a TBS into a signed X.509 Certificate with an ecdsa-with-SHA256 r||s signature.
pub fn wrap_signed(tbs: &[u8], signature: &[u8; 64]) -> Vec<u8> {
    let mut w = DerWriter::new();
    w.sequence(|w| {
        w.raw(tbs);
        w.sequence(|w| w.oid(oid::ECDSA_WITH_SHA256));
        w.bit_string_with(|w| write_ecdsa_sig(w, signature));
    });
    // Only sticky writer errors are impossible lengths, which a certificate cannot reach.
    w.finish().unwrap_or_default()
}

/// Writes an ECDSA-Sig-Value SEQUENCE { r INTEGER, s INTEGER } from r||s.
pub fn write_ecdsa_sig(w: &mut DerWriter, signature: &[u8; 64]) {
    let (r, s) = signature.split_at(32);
    w.sequence(|w| {
        w.integer_unsigned(r);
        w.integer_unsigned(s);
    });
}

/// Parses an ECDSA-Sig-Value DER SEQUENCE into r||s.
pub fn parse_ecdsa_sig(der_sig: &[u8]) -> Result<[u8; 64], CertError> {
    let mut r = DerReader::new(der_sig);
    let mut seq = r.sequence()?;
    r.finish()?;
    let mut out = [0u8; 64];
    for half in out.chunks_mut(32) {
        let v = seq.integer_unsigned()?;
        if v.len() > 32 {
            return Err(CertError::Malformed("ECDSA signature integer too long"));
        }
        half[32 - v.len()..].copy_from_slice(v);
    }
    seq.finish()?;
    Ok(out)
}

/// ECDSA P-256 / SHA-256 signature over `msg`, as r||s.
pub fn sign_p256(key: &SigningKey, msg: &[u8]) -> [u8; 64] {
    let sig: Signature = key.sign(msg);
    sig.to_bytes().into()
}

/// Verifies an ECDSA P-256 / SHA-256 r||s signature over `msg`.
pub fn verify_p256(
    public_key: &PublicKeyBytes,
    msg: &[u8],
    signature: &[u8; 64],
) -> Result<(), CertError> {
    let vk = VerifyingKey::from_sec1_bytes(public_key).map_err(|_| CertError::BadPublicKey)?;
    let sig = Signature::from_slice(signature).map_err(|_| CertError::BadSignature)?;
    vk.verify(msg, &sig).map_err(|_| CertError::BadSignature)
}

/// The uncompressed SEC1 bytes of a verifying key.
pub fn public_key_bytes(vk: &VerifyingKey) -> PublicKeyBytes {
    let p = vk.to_sec1_point(false);
    let mut out = [0u8; 65];
    // An uncompressed P-256 point is always 65 bytes.
    if p.as_bytes().len() == 65 {
        out.copy_from_slice(p.as_bytes());
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Generic X.509 parsing
// ---------------------------------------------------------------------------------------------

/// A parsed X.509 v3 certificate with ecdsa-with-SHA256 and a P-256 key: the fields as slices
/// of the input, checked strictly DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X509Cert<'a> {
    /// The whole certificate.
    pub der: &'a [u8],
    /// The TBSCertificate encoding (what the signature covers).
    pub tbs: &'a [u8],
    /// serialNumber INTEGER content (minimal, non-negative, sign octet included).
    pub serial: &'a [u8],
    /// The issuer Name, whole encoding.
    pub issuer: &'a [u8],
    /// notBefore.
    pub not_before: DateTime,
    /// notAfter.
    pub not_after: DateTime,
    /// The subject Name, whole encoding.
    pub subject: &'a [u8],
    /// The SubjectPublicKeyInfo, whole encoding.
    pub spki: &'a [u8],
    /// The P-256 public key.
    pub public_key: PublicKeyBytes,
    /// Extensions as `(oid, critical, extnValue contents, whole Extension encoding)`.
    pub extensions: Vec<RawExtension<'a>>,
    /// Signature r||s.
    pub signature: [u8; 64],
}

/// One attribute of a Name: `(attribute type OID content, string tag, value bytes)`.
pub type NameAttribute<'a> = (&'a [u8], u8, &'a [u8]);

/// One extension of an [`X509Cert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawExtension<'a> {
    /// extnID content bytes.
    pub oid: &'a [u8],
    /// critical (FALSE when absent).
    pub critical: bool,
    /// The extnValue OCTET STRING's contents (DER of the extension's value).
    pub value: &'a [u8],
    /// The whole `Extension` SEQUENCE.
    pub raw: &'a [u8],
}

impl<'a> X509Cert<'a> {
    /// Parses `der` strictly.
    pub fn parse(der: &'a [u8]) -> Result<Self, CertError> {
        let mut top = DerReader::new(der);
        let mut cert = top.sequence()?;
        top.finish()?;
        let tbs_tlv = cert.read_tlv(tag::SEQUENCE)?;
        let mut alg = cert.sequence()?;
        expect_oid(&mut alg, oid::ECDSA_WITH_SHA256, "signature algorithm")?;
        alg.finish()?;
        let sig_der = cert.bit_string_octets()?;
        cert.finish()?;
        let signature = parse_ecdsa_sig(sig_der)?;

        let mut t = DerReader::new(tbs_tlv.content);
        let mut ver = t.context(0)?;
        if ver.integer_u64()? != 2 {
            return Err(CertError::Unsupported("certificate version"));
        }
        ver.finish()?;
        // Kept as the INTEGER's content with any sign octet, which is what the TLV form holds.
        let serial_tlv = t.read_tlv(tag::INTEGER)?;
        DerReader::new(serial_tlv.raw).integer_unsigned()?;
        let serial = serial_tlv.content;
        let mut alg = t.sequence()?;
        expect_oid(&mut alg, oid::ECDSA_WITH_SHA256, "signature algorithm")?;
        alg.finish()?;
        let issuer = t.read_tlv(tag::SEQUENCE)?.raw;
        let mut validity = t.sequence()?;
        let not_before = validity.time()?;
        let not_after = validity.time()?;
        validity.finish()?;
        let subject = t.read_tlv(tag::SEQUENCE)?.raw;
        let spki_tlv = t.read_tlv(tag::SEQUENCE)?;
        let public_key = parse_spki(spki_tlv.raw)?;
        let mut extensions = Vec::new();
        if let Some(ext) = t.read_optional(tag::CONTEXT_CONSTRUCTED | 3)? {
            let mut outer = DerReader::new(ext.content);
            let mut list = outer.sequence()?;
            outer.finish()?;
            while !list.is_empty() {
                let e = list.read_tlv(tag::SEQUENCE)?;
                let mut er = DerReader::new(e.content);
                let oid = er.oid()?;
                let critical = match er.read_optional(tag::BOOLEAN)? {
                    // DER: a DEFAULT FALSE value is never encoded.
                    Some(b) if b.content == [0xFF] => true,
                    Some(_) => return Err(CertError::Malformed("extension critical flag")),
                    None => false,
                };
                let value = er.octet_string()?;
                er.finish()?;
                extensions.push(RawExtension {
                    oid,
                    critical,
                    value,
                    raw: e.raw,
                });
            }
        }
        t.finish()?;
        Ok(X509Cert {
            der,
            tbs: tbs_tlv.raw,
            serial,
            issuer,
            not_before,
            not_after,
            subject,
            spki: spki_tlv.raw,
            public_key,
            extensions,
            signature,
        })
    }

    /// The extension with `oid`, if present.
    pub fn extension(&self, oid: &[u8]) -> Option<&RawExtension<'a>> {
        self.extensions.iter().find(|e| e.oid == oid)
    }

    /// Verifies the signature with the issuer's public key.
    pub fn verify_signature(&self, issuer_public_key: &PublicKeyBytes) -> Result<(), CertError> {
        verify_p256(issuer_public_key, self.tbs, &self.signature)
    }

    /// The attributes of a Name (issuer or subject) as `(oid, string tag, value bytes)`, one
    /// per RDN; multi-valued RDNs are rejected.
    pub fn name_attributes(name: &'a [u8]) -> Result<Vec<NameAttribute<'a>>, CertError> {
        let mut r = DerReader::new(name);
        let mut seq = r.sequence()?;
        r.finish()?;
        let mut out = Vec::new();
        while !seq.is_empty() {
            let mut set = seq.set()?;
            let mut atv = set.sequence()?;
            if !set.is_empty() {
                return Err(CertError::Unsupported("multi-valued RDN"));
            }
            let oid = atv.oid()?;
            let v = atv.read_any()?;
            atv.finish()?;
            out.push((oid, v.tag, v.content));
        }
        Ok(out)
    }
}

/// Parses a P-256 SubjectPublicKeyInfo (whole encoding) into the uncompressed key.
pub fn parse_spki(spki: &[u8]) -> Result<PublicKeyBytes, CertError> {
    let mut r = DerReader::new(spki);
    let mut s = r.sequence()?;
    r.finish()?;
    let mut alg = s.sequence()?;
    expect_oid(&mut alg, oid::EC_PUBLIC_KEY, "public key algorithm")?;
    expect_oid(&mut alg, oid::PRIME256V1, "elliptic curve")?;
    alg.finish()?;
    let key = s.bit_string_octets()?;
    s.finish()?;
    let key: PublicKeyBytes = key
        .try_into()
        .map_err(|_| CertError::Unsupported("compressed or malformed public key"))?;
    if key[0] != 0x04 {
        return Err(CertError::Unsupported("compressed or malformed public key"));
    }
    Ok(key)
}

fn expect_oid(r: &mut DerReader<'_>, want: &[u8], what: &'static str) -> Result<(), CertError> {
    if r.oid()? == want {
        Ok(())
    } else {
        Err(CertError::Unsupported(what))
    }
}

// ---------------------------------------------------------------------------------------------
// DER -> Matter
// ---------------------------------------------------------------------------------------------

impl MatterCert {
    /// Converts an X.509 DER certificate to Matter form. Fails with
    /// [`CertError::Unsupported`] when the certificate has no exact Matter equivalent.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let x = X509Cert::parse(der)?;
        let to_matter_time = |t: &DateTime| {
            t.to_matter_seconds().ok_or(CertError::Unsupported(
                "time outside the Matter epoch range",
            ))
        };
        let not_after = if x.not_after == DateTime::NO_EXPIRY {
            0
        } else {
            to_matter_time(&x.not_after)?
        };
        let mut extensions = Vec::new();
        for e in &x.extensions {
            extensions.push(convert_extension(e)?);
        }
        let cert = MatterCert {
            serial: x.serial.to_vec(),
            issuer: convert_dn(x.issuer)?,
            not_before: to_matter_time(&x.not_before)?,
            not_after,
            subject: convert_dn(x.subject)?,
            public_key: x.public_key,
            extensions,
            signature: x.signature,
        };
        // Byte-exactness: the Matter form must convert back to exactly these bytes, since
        // that is what a peer reconstructs before verifying the signature.
        if cert.to_der()? != der {
            return Err(CertError::Unsupported(
                "DER encoding not reproducible from Matter form",
            ));
        }
        Ok(cert)
    }

    /// Converts DER to Matter TLV in one step.
    pub fn der_to_tlv(der: &[u8]) -> Result<Vec<u8>, CertError> {
        MatterCert::from_der(der)?.to_tlv()
    }
}

fn convert_dn(name: &[u8]) -> Result<DistinguishedName, CertError> {
    let mut out = Vec::new();
    for (o, t, v) in X509Cert::name_attributes(name)? {
        if let Some(arc) = o.strip_prefix(oid::MATTER_OP_PREFIX) {
            let (digits, make): (usize, fn(u64) -> Option<DnAttribute>) = match arc {
                [1] => (16, |v| Some(DnAttribute::NodeId(v))),
                [2] => (16, |v| Some(DnAttribute::FirmwareSigningId(v))),
                [3] => (16, |v| Some(DnAttribute::IcacId(v))),
                [4] => (16, |v| Some(DnAttribute::RcacId(v))),
                [5] => (16, |v| Some(DnAttribute::FabricId(v))),
                [6] => (8, |v| u32::try_from(v).ok().map(DnAttribute::NocCat)),
                _ => return Err(CertError::Unsupported("unknown Matter DN attribute")),
            };
            if t != tag::UTF8_STRING || v.len() != digits {
                return Err(CertError::Unsupported("Matter DN attribute encoding"));
            }
            let value =
                parse_upper_hex(v).ok_or(CertError::Unsupported("Matter DN attribute encoding"))?;
            out.push(make(value).ok_or(CertError::Unsupported("Matter DN attribute encoding"))?);
            continue;
        }
        let kind = TextAttr::from_oid(o).ok_or(CertError::Unsupported("DN attribute type"))?;
        let s = core::str::from_utf8(v).map_err(|_| CertError::Der(der::DerError::BadString))?;
        let printable = match (kind, t) {
            (TextAttr::DomainComponent, tag::IA5_STRING) if s.is_ascii() => false,
            (TextAttr::DomainComponent, _) => {
                return Err(CertError::Unsupported("domain-component string type"))
            }
            (_, tag::UTF8_STRING) => false,
            (_, tag::PRINTABLE_STRING) if s.bytes().all(is_printable) => true,
            _ => return Err(CertError::Unsupported("DN string type")),
        };
        out.push(DnAttribute::Text {
            kind,
            value: s.to_owned(),
            printable,
        });
    }
    Ok(DistinguishedName(out))
}

fn parse_upper_hex(v: &[u8]) -> Option<u64> {
    v.iter().try_fold(0u64, |acc, &b| {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        Some(acc << 4 | u64::from(d))
    })
}

fn convert_extension(e: &RawExtension<'_>) -> Result<Extension, CertError> {
    let mut r = DerReader::new(e.value);
    let ext = match e.oid {
        oid::BASIC_CONSTRAINTS => {
            let mut s = r.sequence()?;
            let is_ca = match s.read_optional(tag::BOOLEAN)? {
                Some(b) if b.content == [0xFF] => true,
                Some(_) => return Err(CertError::Malformed("basicConstraints cA")),
                None => false,
            };
            let path_len = if s.is_empty() {
                None
            } else {
                Some(
                    u8::try_from(s.integer_u64()?)
                        .map_err(|_| CertError::Unsupported("path length too large"))?,
                )
            };
            s.finish()?;
            Extension::BasicConstraints { is_ca, path_len }
        }
        oid::KEY_USAGE => Extension::KeyUsage(
            u16::try_from(r.named_bits()?).map_err(|_| CertError::Malformed("keyUsage bits"))?,
        ),
        oid::EXT_KEY_USAGE => {
            let mut s = r.sequence()?;
            let mut ps = Vec::new();
            while !s.is_empty() {
                let o = s.oid()?;
                let p = match o.strip_prefix(oid::KEY_PURPOSE_PREFIX) {
                    Some([arc]) => key_purpose::from_oid_arc(*arc),
                    _ => None,
                };
                ps.push(p.ok_or(CertError::Unsupported("extended key usage purpose"))?);
            }
            Extension::ExtendedKeyUsage(ps)
        }
        oid::SUBJECT_KEY_ID => Extension::SubjectKeyId(
            r.octet_string()?
                .try_into()
                .map_err(|_| CertError::Unsupported("subject key id length"))?,
        ),
        oid::AUTHORITY_KEY_ID => {
            let mut s = r.sequence()?;
            let k = s.read(tag::CONTEXT_PRIMITIVE)?;
            s.finish()?;
            Extension::AuthorityKeyId(
                k.try_into()
                    .map_err(|_| CertError::Unsupported("authority key id form"))?,
            )
        }
        _ => return Ok(Extension::Future(e.raw.to_vec())),
    };
    r.finish()?;
    Ok(ext)
}

// ---------------------------------------------------------------------------------------------
// Builder for other X.509 certificates (device attestation)
// ---------------------------------------------------------------------------------------------

/// A string value of a Name attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameValue {
    /// UTF8String.
    Utf8(String),
    /// PrintableString.
    Printable(String),
}

/// An X.509 Name for [`X509Builder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Name {
    /// Attributes in order, one per RDN: `(attribute type OID content bytes, value)`.
    /// For a DAC, e.g. `[(oid::COMMON_NAME, Utf8("Matter Dev DAC")), (oid::MATTER_VENDOR_ID,
    /// Utf8("FFF1")), (oid::MATTER_PRODUCT_ID, Utf8("8000"))]` (Matter 1.3 §6.2.2.2: VID and
    /// PID as 4 uppercase hex digits).
    Attributes(Vec<(Vec<u8>, NameValue)>),
    /// An already-encoded Name, e.g. the PAI's subject ([`X509Cert::subject`]) as a DAC's
    /// issuer, so that it matches byte for byte.
    Der(Vec<u8>),
}

/// An extension for [`X509Builder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuilderExtension {
    /// extnID content bytes.
    pub oid: Vec<u8>,
    /// critical.
    pub critical: bool,
    /// DER of the extension's value (placed in extnValue's OCTET STRING).
    pub value: Vec<u8>,
}

impl BuilderExtension {
    /// basicConstraints (critical).
    pub fn basic_constraints(is_ca: bool, path_len: Option<u8>) -> Self {
        let mut w = DerWriter::new();
        w.sequence(|w| {
            if is_ca {
                w.boolean(true);
            }
            if let Some(p) = path_len {
                w.integer_u64(u64::from(p));
            }
        });
        Self::new(oid::BASIC_CONSTRAINTS, true, w)
    }

    /// keyUsage (critical) from [`super::matter::key_usage`] bits.
    pub fn key_usage(bits: u16) -> Self {
        let mut w = DerWriter::new();
        w.named_bits(u32::from(bits));
        Self::new(oid::KEY_USAGE, true, w)
    }

    /// subjectKeyIdentifier (non-critical).
    pub fn subject_key_id(id: &[u8]) -> Self {
        let mut w = DerWriter::new();
        w.octet_string(id);
        Self::new(oid::SUBJECT_KEY_ID, false, w)
    }

    /// authorityKeyIdentifier with keyIdentifier only (non-critical).
    pub fn authority_key_id(id: &[u8]) -> Self {
        let mut w = DerWriter::new();
        w.sequence(|w| w.context_primitive(0, id));
        Self::new(oid::AUTHORITY_KEY_ID, false, w)
    }

    fn new(oid: &[u8], critical: bool, w: DerWriter) -> Self {
        Self {
            oid: oid.to_vec(),
            critical,
            // These writers only hold fixed, small, valid values.
            value: w.finish().unwrap_or_default(),
        }
    }
}

/// Builds and signs an X.509 v3 certificate with an ecdsa-with-SHA256 signature over a P-256
/// subject key. Used for device attestation certificates; Matter operational certificates use
/// [`MatterCert`] instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X509Builder {
    /// Serial number as an unsigned big-endian magnitude (1..=20 octets once encoded).
    pub serial: Vec<u8>,
    /// Issuer name.
    pub issuer: Name,
    /// notBefore.
    pub not_before: DateTime,
    /// notAfter ([`DateTime::NO_EXPIRY`] for none).
    pub not_after: DateTime,
    /// Subject name.
    pub subject: Name,
    /// The subject's P-256 public key, uncompressed.
    pub public_key: PublicKeyBytes,
    /// Extensions in order.
    pub extensions: Vec<BuilderExtension>,
}

impl X509Builder {
    /// The DER TBSCertificate.
    pub fn tbs(&self) -> Result<Vec<u8>, CertError> {
        let mut w = DerWriter::new();
        w.sequence(|w| {
            w.context(0, |w| w.integer_u64(2));
            w.integer_unsigned(&self.serial);
            w.sequence(|w| w.oid(oid::ECDSA_WITH_SHA256));
            write_name(w, &self.issuer);
            w.sequence(|w| {
                w.time(&self.not_before);
                w.time(&self.not_after);
            });
            write_name(w, &self.subject);
            write_spki(w, &self.public_key);
            if !self.extensions.is_empty() {
                w.context(3, |w| {
                    w.sequence(|w| {
                        for e in &self.extensions {
                            w.sequence(|w| {
                                w.oid(&e.oid);
                                if e.critical {
                                    w.boolean(true);
                                }
                                w.octet_string(&e.value);
                            });
                        }
                    })
                });
            }
        });
        let tbs = w.finish()?;
        // The serial must fit RFC 5280's 20 octets.
        let parsed = DerReader::new(&tbs).sequence().and_then(|mut t| {
            t.context(0)?;
            t.read(tag::INTEGER).map(<[u8]>::len)
        })?;
        if parsed > 20 {
            return Err(CertError::Malformed("serial number longer than 20 octets"));
        }
        Ok(tbs)
    }

    /// Builds and signs the certificate with the issuer's key; returns the DER.
    pub fn sign(&self, issuer_key: &SigningKey) -> Result<Vec<u8>, CertError> {
        let tbs = self.tbs()?;
        let sig = sign_p256(issuer_key, &tbs);
        Ok(wrap_signed(&tbs, &sig))
    }
}

fn write_name(w: &mut DerWriter, name: &Name) {
    match name {
        Name::Der(d) => w.raw(d),
        Name::Attributes(attrs) => w.sequence(|w| {
            for (o, v) in attrs {
                w.set(|w| {
                    w.sequence(|w| {
                        w.oid(o);
                        match v {
                            NameValue::Utf8(s) => w.utf8_string(s),
                            NameValue::Printable(s) => w.printable_string(s),
                        }
                    })
                });
            }
        }),
    }
}
