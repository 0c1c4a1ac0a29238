//! The Matter TLV certificate (Matter 1.3 §6.5.2 "Matter certificate" and §6.5.6–§6.5.11): the
//! data model, its TLV decoder and encoder.
//!
//! The TLV form is a compressed X.509 v3 certificate: the same fields, in the same order, with
//! fixed algorithms (ecdsa-with-SHA256, id-ecPublicKey on prime256v1) and Matter integers where
//! X.509 has strings. Conversion to and from DER lives in [`super::x509`]; the signature is
//! always over the DER TBSCertificate.
//!
//! Decoding is strict: fields must appear in the specified order with the specified types,
//! each extension at most once, basic constraints present, and lengths as the spec fixes them.
//! Order-sensitive parts (DN attributes, extensions, extended key usages) keep their order so
//! that both conversions are byte-exact.

use crate::tlv::{Element, Tag, TlvReader, TlvWriter, Value};

use super::der::{self, DerReader};
use super::CertError;

/// `signature-algorithm` value for ecdsa-with-SHA256 (Matter 1.3 §6.5.5).
pub const SIG_ALGO_ECDSA_SHA256: u8 = 1;
/// `public-key-algorithm` value for id-ecPublicKey (§6.5.7).
pub const PUBKEY_ALGO_EC: u8 = 1;
/// `elliptic-curve-identifier` value for prime256v1 (§6.5.7).
pub const CURVE_PRIME256V1: u8 = 1;

/// The largest serial number the spec allows, in octets (§6.5.4; RFC 5280 §4.1.2.2).
pub const MAX_SERIAL_LEN: usize = 20;

/// An uncompressed SEC1 P-256 public key: 0x04 || X || Y.
pub type PublicKeyBytes = [u8; 65];

/// A decoded Matter certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatterCert {
    /// Serial number, 1..=20 octets, as the DER INTEGER's content (sign octet included).
    pub serial: Vec<u8>,
    /// Issuer distinguished name.
    pub issuer: DistinguishedName,
    /// notBefore, Matter epoch seconds.
    pub not_before: u32,
    /// notAfter, Matter epoch seconds; 0 means "no well-defined expiration" (§6.5.6.2).
    pub not_after: u32,
    /// Subject distinguished name.
    pub subject: DistinguishedName,
    /// The subject's P-256 public key, uncompressed.
    pub public_key: PublicKeyBytes,
    /// The extensions, in certificate order.
    pub extensions: Vec<Extension>,
    /// ECDSA signature r || s (each 32 bytes, big-endian) over the DER TBSCertificate.
    pub signature: [u8; 64],
}

/// A distinguished name: its attributes in certificate order, one per RDN (§6.5.6.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DistinguishedName(pub Vec<DnAttribute>);

/// One attribute of a distinguished name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DnAttribute {
    /// matter-node-id, 1.3.6.1.4.1.37244.1.1.
    NodeId(u64),
    /// matter-firmware-signing-id, 1.3.6.1.4.1.37244.1.2.
    FirmwareSigningId(u64),
    /// matter-icac-id, 1.3.6.1.4.1.37244.1.3.
    IcacId(u64),
    /// matter-rcac-id, 1.3.6.1.4.1.37244.1.4.
    RcacId(u64),
    /// matter-fabric-id, 1.3.6.1.4.1.37244.1.5.
    FabricId(u64),
    /// matter-noc-cat, 1.3.6.1.4.1.37244.1.6 (CASE Authenticated Tag: id << 16 | version).
    NocCat(u32),
    /// A standard X.520 attribute with a string value.
    Text {
        /// Which attribute.
        kind: TextAttr,
        /// The value.
        value: String,
        /// PrintableString in DER (TLV tag + 0x80) instead of UTF8String (IA5String for
        /// domain-component, which has no printable variant).
        printable: bool,
    },
}

/// The standard attributes Matter certificates may carry (§6.5.6.1, TLV tags 1..=16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TextAttr {
    /// commonName 2.5.4.3.
    CommonName,
    /// surname 2.5.4.4.
    Surname,
    /// serialNumber 2.5.4.5.
    SerialNumber,
    /// countryName 2.5.4.6.
    CountryName,
    /// localityName 2.5.4.7.
    LocalityName,
    /// stateOrProvinceName 2.5.4.8.
    StateOrProvinceName,
    /// organizationName 2.5.4.10.
    OrganizationName,
    /// organizationalUnitName 2.5.4.11.
    OrganizationalUnitName,
    /// title 2.5.4.12.
    Title,
    /// name 2.5.4.41.
    Name,
    /// givenName 2.5.4.42.
    GivenName,
    /// initials 2.5.4.43.
    Initials,
    /// generationQualifier 2.5.4.44.
    GenerationQualifier,
    /// dnQualifier 2.5.4.46.
    DnQualifier,
    /// pseudonym 2.5.4.65.
    Pseudonym,
    /// domainComponent 0.9.2342.19200300.100.1.25 (IA5String).
    DomainComponent,
}

impl TextAttr {
    const ALL: [TextAttr; 16] = [
        Self::CommonName,
        Self::Surname,
        Self::SerialNumber,
        Self::CountryName,
        Self::LocalityName,
        Self::StateOrProvinceName,
        Self::OrganizationName,
        Self::OrganizationalUnitName,
        Self::Title,
        Self::Name,
        Self::GivenName,
        Self::Initials,
        Self::GenerationQualifier,
        Self::DnQualifier,
        Self::Pseudonym,
        Self::DomainComponent,
    ];

    /// The TLV tag (1..=16) of the UTF-8 form.
    pub fn tlv_tag(self) -> u8 {
        // Position in ALL + 1, by construction.
        Self::ALL.iter().position(|&a| a == self).unwrap_or(0) as u8 + 1
    }

    /// From a TLV tag 1..=16.
    pub fn from_tlv_tag(tag: u8) -> Option<Self> {
        Self::ALL.get(usize::from(tag).checked_sub(1)?).copied()
    }

    /// The attribute type's OID content bytes.
    pub fn oid(self) -> &'static [u8] {
        match self {
            Self::CommonName => &[0x55, 0x04, 0x03],
            Self::Surname => &[0x55, 0x04, 0x04],
            Self::SerialNumber => &[0x55, 0x04, 0x05],
            Self::CountryName => &[0x55, 0x04, 0x06],
            Self::LocalityName => &[0x55, 0x04, 0x07],
            Self::StateOrProvinceName => &[0x55, 0x04, 0x08],
            Self::OrganizationName => &[0x55, 0x04, 0x0A],
            Self::OrganizationalUnitName => &[0x55, 0x04, 0x0B],
            Self::Title => &[0x55, 0x04, 0x0C],
            Self::Name => &[0x55, 0x04, 0x29],
            Self::GivenName => &[0x55, 0x04, 0x2A],
            Self::Initials => &[0x55, 0x04, 0x2B],
            Self::GenerationQualifier => &[0x55, 0x04, 0x2C],
            Self::DnQualifier => &[0x55, 0x04, 0x2E],
            Self::Pseudonym => &[0x55, 0x04, 0x41],
            Self::DomainComponent => &[0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x19],
        }
    }

    /// From an attribute type OID.
    pub fn from_oid(oid: &[u8]) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.oid() == oid)
    }
}

/// One certificate extension (§6.5.11).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Extension {
    /// basicConstraints (critical).
    BasicConstraints {
        /// cA.
        is_ca: bool,
        /// pathLenConstraint (only with `is_ca`).
        path_len: Option<u8>,
    },
    /// keyUsage (critical), bit `i` = X.509 named bit `i` ([`key_usage`] constants).
    KeyUsage(u16),
    /// extKeyUsage (critical), in certificate order ([`key_purpose`] constants).
    ExtendedKeyUsage(Vec<u8>),
    /// subjectKeyIdentifier (20 octets).
    SubjectKeyId([u8; 20]),
    /// authorityKeyIdentifier's keyIdentifier (20 octets).
    AuthorityKeyId([u8; 20]),
    /// Any other extension, kept as its DER `Extension` SEQUENCE.
    Future(Vec<u8>),
}

/// Key usage bits (X.509 named-bit numbers as a bitmap; Matter 1.3 §6.5.11.2).
pub mod key_usage {
    /// digitalSignature.
    pub const DIGITAL_SIGNATURE: u16 = 0x0001;
    /// nonRepudiation.
    pub const NON_REPUDIATION: u16 = 0x0002;
    /// keyEncipherment.
    pub const KEY_ENCIPHERMENT: u16 = 0x0004;
    /// dataEncipherment.
    pub const DATA_ENCIPHERMENT: u16 = 0x0008;
    /// keyAgreement.
    pub const KEY_AGREEMENT: u16 = 0x0010;
    /// keyCertSign.
    pub const KEY_CERT_SIGN: u16 = 0x0020;
    /// cRLSign.
    pub const CRL_SIGN: u16 = 0x0040;
    /// encipherOnly.
    pub const ENCIPHER_ONLY: u16 = 0x0080;
    /// decipherOnly.
    pub const DECIPHER_ONLY: u16 = 0x0100;
    /// All defined bits.
    pub const ALL: u16 = 0x01FF;
}

/// Extended key usage purposes (Matter 1.3 §6.5.11.3) and their OIDs 1.3.6.1.5.5.7.3.x.
pub mod key_purpose {
    /// id-kp-serverAuth (.1).
    pub const SERVER_AUTH: u8 = 1;
    /// id-kp-clientAuth (.2).
    pub const CLIENT_AUTH: u8 = 2;
    /// id-kp-codeSigning (.3).
    pub const CODE_SIGNING: u8 = 3;
    /// id-kp-emailProtection (.4).
    pub const EMAIL_PROTECTION: u8 = 4;
    /// id-kp-timeStamping (.8).
    pub const TIME_STAMPING: u8 = 5;
    /// id-kp-OCSPSigning (.9).
    pub const OCSP_SIGNING: u8 = 6;

    /// The last arc of the purpose's OID 1.3.6.1.5.5.7.3.x.
    pub fn oid_arc(p: u8) -> Option<u8> {
        match p {
            1..=4 => Some(p),
            5 => Some(8),
            6 => Some(9),
            _ => None,
        }
    }

    /// The purpose for OID arc 1.3.6.1.5.5.7.3.`arc`.
    pub fn from_oid_arc(arc: u8) -> Option<u8> {
        match arc {
            1..=4 => Some(arc),
            8 => Some(5),
            9 => Some(6),
            _ => None,
        }
    }
}

/// What a certificate is, from its subject (§6.5.6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertKind {
    /// Root CA (subject has matter-rcac-id).
    Rcac,
    /// Intermediate CA (subject has matter-icac-id).
    Icac,
    /// Node operational certificate (subject has matter-node-id).
    Noc,
    /// Firmware signing certificate (subject has matter-firmware-signing-id).
    FirmwareSigning,
}

// TLV context tags of the certificate structure (§6.5.2).
const TAG_SERIAL: u8 = 1;
const TAG_SIG_ALGO: u8 = 2;
const TAG_ISSUER: u8 = 3;
const TAG_NOT_BEFORE: u8 = 4;
const TAG_NOT_AFTER: u8 = 5;
const TAG_SUBJECT: u8 = 6;
const TAG_PUBKEY_ALGO: u8 = 7;
const TAG_CURVE: u8 = 8;
const TAG_PUBKEY: u8 = 9;
const TAG_EXTENSIONS: u8 = 10;
const TAG_SIGNATURE: u8 = 11;

// Extension tags inside `extensions` (§6.5.11).
const EXT_BASIC_CONSTRAINTS: u8 = 1;
const EXT_KEY_USAGE: u8 = 2;
const EXT_EXT_KEY_USAGE: u8 = 3;
const EXT_SKID: u8 = 4;
const EXT_AKID: u8 = 5;
const EXT_FUTURE: u8 = 6;

// DN tags for the Matter-specific attributes.
const DN_NODE_ID: u8 = 17;
const DN_FW_SIGNING_ID: u8 = 18;
const DN_ICAC_ID: u8 = 19;
const DN_RCAC_ID: u8 = 20;
const DN_FABRIC_ID: u8 = 21;
const DN_NOC_CAT: u8 = 22;
const DN_PRINTABLE: u8 = 0x80;

impl MatterCert {
    /// Decodes a Matter TLV certificate (exactly one anonymous structure).
    pub fn from_tlv(tlv: &[u8]) -> Result<Self, CertError> {
        let top = TlvReader::new(tlv).read_element()?;
        if top.tag != Tag::Anonymous {
            return Err(CertError::Malformed(
                "certificate structure must be anonymous",
            ));
        }
        let Value::Struct(s) = top.value else {
            return Err(CertError::Malformed("certificate is not a structure"));
        };
        let mut it = s.iter();
        let mut next = |tag: u8, what: &'static str| -> Result<Value<'_>, CertError> {
            match it.next() {
                Some(Ok(Element {
                    tag: Tag::Context(t),
                    value,
                })) if t == tag => Ok(value),
                Some(Err(e)) => Err(e.into()),
                _ => Err(CertError::Malformed(what)),
            }
        };
        let serial = octets(next(TAG_SERIAL, "serial-num")?, "serial-num")?;
        if serial.is_empty() || serial.len() > MAX_SERIAL_LEN {
            return Err(CertError::Malformed("serial-num length"));
        }
        if uint(next(TAG_SIG_ALGO, "sig-algo")?, "sig-algo")? != u64::from(SIG_ALGO_ECDSA_SHA256) {
            return Err(CertError::Unsupported("signature algorithm"));
        }
        let issuer = decode_dn(next(TAG_ISSUER, "issuer")?)?;
        let not_before = u32_of(next(TAG_NOT_BEFORE, "not-before")?, "not-before")?;
        let not_after = u32_of(next(TAG_NOT_AFTER, "not-after")?, "not-after")?;
        let subject = decode_dn(next(TAG_SUBJECT, "subject")?)?;
        if uint(next(TAG_PUBKEY_ALGO, "pub-key-algo")?, "pub-key-algo")?
            != u64::from(PUBKEY_ALGO_EC)
        {
            return Err(CertError::Unsupported("public key algorithm"));
        }
        if uint(next(TAG_CURVE, "ec-curve-id")?, "ec-curve-id")? != u64::from(CURVE_PRIME256V1) {
            return Err(CertError::Unsupported("elliptic curve"));
        }
        let pk = octets(next(TAG_PUBKEY, "ec-pub-key")?, "ec-pub-key")?;
        let public_key: PublicKeyBytes = pk
            .try_into()
            .map_err(|_| CertError::Malformed("ec-pub-key length"))?;
        if public_key[0] != 0x04 {
            return Err(CertError::Malformed("ec-pub-key not uncompressed"));
        }
        let extensions = decode_extensions(next(TAG_EXTENSIONS, "extensions")?)?;
        let sig = octets(next(TAG_SIGNATURE, "signature")?, "signature")?;
        let signature: [u8; 64] = sig
            .try_into()
            .map_err(|_| CertError::Malformed("signature length"))?;
        match it.next() {
            None => {}
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(_)) => return Err(CertError::Malformed("element after signature")),
        }
        let cert = MatterCert {
            serial: serial.to_vec(),
            issuer,
            not_before,
            not_after,
            subject,
            public_key,
            extensions,
            signature,
        };
        cert.check_structure()?;
        Ok(cert)
    }

    /// Encodes the certificate in Matter TLV (integers in their smallest width, as the CHIP
    /// SDK writes them).
    pub fn to_tlv(&self) -> Result<Vec<u8>, CertError> {
        self.check_structure()?;
        let mut buf = Vec::with_capacity(400);
        let mut w = TlvWriter::new(&mut buf);
        let c = Tag::Context;
        w.start_struct(Tag::Anonymous)?;
        w.octets(c(TAG_SERIAL), &self.serial)?;
        w.u8(c(TAG_SIG_ALGO), SIG_ALGO_ECDSA_SHA256)?;
        encode_dn(&mut w, TAG_ISSUER, &self.issuer)?;
        w.u32(c(TAG_NOT_BEFORE), self.not_before)?;
        w.u32(c(TAG_NOT_AFTER), self.not_after)?;
        encode_dn(&mut w, TAG_SUBJECT, &self.subject)?;
        w.u8(c(TAG_PUBKEY_ALGO), PUBKEY_ALGO_EC)?;
        w.u8(c(TAG_CURVE), CURVE_PRIME256V1)?;
        w.octets(c(TAG_PUBKEY), &self.public_key)?;
        w.start_list(c(TAG_EXTENSIONS))?;
        for e in &self.extensions {
            match e {
                Extension::BasicConstraints { is_ca, path_len } => {
                    w.start_struct(c(EXT_BASIC_CONSTRAINTS))?;
                    w.bool(c(1), *is_ca)?;
                    if let Some(p) = path_len {
                        w.u8(c(2), *p)?;
                    }
                    w.end_container()?;
                }
                Extension::KeyUsage(k) => w.u16(c(EXT_KEY_USAGE), *k)?,
                Extension::ExtendedKeyUsage(ps) => {
                    w.start_array(c(EXT_EXT_KEY_USAGE))?;
                    for p in ps {
                        w.u8(Tag::Anonymous, *p)?;
                    }
                    w.end_container()?;
                }
                Extension::SubjectKeyId(k) => w.octets(c(EXT_SKID), k)?,
                Extension::AuthorityKeyId(k) => w.octets(c(EXT_AKID), k)?,
                Extension::Future(der) => w.octets(c(EXT_FUTURE), der)?,
            }
        }
        w.end_container()?;
        w.octets(c(TAG_SIGNATURE), &self.signature)?;
        w.end_container()?;
        w.finish()?;
        Ok(buf)
    }

    /// The basic constraints `(is_ca, path_len)` (always present in a valid certificate).
    pub fn basic_constraints(&self) -> Option<(bool, Option<u8>)> {
        self.extensions.iter().find_map(|e| match e {
            Extension::BasicConstraints { is_ca, path_len } => Some((*is_ca, *path_len)),
            _ => None,
        })
    }

    /// The key usage bitmap, if the extension is present.
    pub fn key_usage(&self) -> Option<u16> {
        self.extensions.iter().find_map(|e| match e {
            Extension::KeyUsage(k) => Some(*k),
            _ => None,
        })
    }

    /// The extended key usage purposes, if the extension is present.
    pub fn extended_key_usage(&self) -> Option<&[u8]> {
        self.extensions.iter().find_map(|e| match e {
            Extension::ExtendedKeyUsage(p) => Some(p.as_slice()),
            _ => None,
        })
    }

    /// The subject key identifier, if present.
    pub fn subject_key_id(&self) -> Option<&[u8; 20]> {
        self.extensions.iter().find_map(|e| match e {
            Extension::SubjectKeyId(k) => Some(k),
            _ => None,
        })
    }

    /// The authority key identifier, if present.
    pub fn authority_key_id(&self) -> Option<&[u8; 20]> {
        self.extensions.iter().find_map(|e| match e {
            Extension::AuthorityKeyId(k) => Some(k),
            _ => None,
        })
    }

    /// Whether a future extension is marked critical (RFC 5280 §4.2: a relying party must
    /// reject a certificate with a critical extension it does not recognise).
    pub fn has_critical_future_extension(&self) -> bool {
        self.extensions.iter().any(|e| match e {
            Extension::Future(der) => {
                let mut r = DerReader::new(der);
                r.sequence()
                    .and_then(|mut e| {
                        e.oid()?;
                        Ok(e.peek_tag() == Some(der::tag::BOOLEAN) && e.boolean()?)
                    })
                    // Unparseable cannot happen after check_structure; treat as critical.
                    .unwrap_or(true)
            }
            _ => false,
        })
    }

    /// What kind of certificate the subject says this is, if it is one of the Matter kinds.
    pub fn kind(&self) -> Option<CertKind> {
        self.subject.0.iter().find_map(|a| match a {
            DnAttribute::RcacId(_) => Some(CertKind::Rcac),
            DnAttribute::IcacId(_) => Some(CertKind::Icac),
            DnAttribute::NodeId(_) => Some(CertKind::Noc),
            DnAttribute::FirmwareSigningId(_) => Some(CertKind::FirmwareSigning),
            _ => None,
        })
    }

    // Rules that hold for every Matter certificate whichever form it came from.
    pub(crate) fn check_structure(&self) -> Result<(), CertError> {
        if self.serial.is_empty() || self.serial.len() > MAX_SERIAL_LEN {
            return Err(CertError::Malformed("serial-num length"));
        }
        // §6.5.4: the octets are a DER INTEGER's content, so positive and minimal.
        let mut int = vec![der::tag::INTEGER, self.serial.len() as u8];
        int.extend_from_slice(&self.serial);
        DerReader::new(&int)
            .integer_unsigned()
            .map_err(|_| CertError::Malformed("serial-num not a positive minimal integer"))?;
        let mut seen = [false; 6];
        for e in &self.extensions {
            let i = match e {
                Extension::BasicConstraints { is_ca, path_len } => {
                    if path_len.is_some() && !is_ca {
                        return Err(CertError::Malformed("path length on a non-CA"));
                    }
                    0
                }
                Extension::KeyUsage(k) => {
                    if *k == 0 || k & !key_usage::ALL != 0 {
                        return Err(CertError::Malformed("key-usage bits"));
                    }
                    1
                }
                Extension::ExtendedKeyUsage(ps) => {
                    if ps.is_empty() || ps.iter().any(|&p| key_purpose::oid_arc(p).is_none()) {
                        return Err(CertError::Malformed("extended-key-usage purposes"));
                    }
                    2
                }
                Extension::SubjectKeyId(_) => 3,
                Extension::AuthorityKeyId(_) => 4,
                // Several future extensions are allowed, each one DER `Extension` of a type
                // that has no dedicated Matter tag.
                Extension::Future(der) => {
                    check_future_extension(der)?;
                    continue;
                }
            };
            if std::mem::replace(&mut seen[i], true) {
                return Err(CertError::Malformed("duplicate extension"));
            }
        }
        if !seen[0] {
            return Err(CertError::Malformed("basic-constraints missing"));
        }
        self.issuer.check()?;
        self.subject.check()?;
        Ok(())
    }
}

impl DistinguishedName {
    /// The matter-fabric-id attribute, if present.
    pub fn fabric_id(&self) -> Option<u64> {
        self.0.iter().find_map(|a| match a {
            DnAttribute::FabricId(v) => Some(*v),
            _ => None,
        })
    }

    /// The matter-node-id attribute, if present.
    pub fn node_id(&self) -> Option<u64> {
        self.0.iter().find_map(|a| match a {
            DnAttribute::NodeId(v) => Some(*v),
            _ => None,
        })
    }

    /// The matter-rcac-id attribute, if present.
    pub fn rcac_id(&self) -> Option<u64> {
        self.0.iter().find_map(|a| match a {
            DnAttribute::RcacId(v) => Some(*v),
            _ => None,
        })
    }

    /// The matter-icac-id attribute, if present.
    pub fn icac_id(&self) -> Option<u64> {
        self.0.iter().find_map(|a| match a {
            DnAttribute::IcacId(v) => Some(*v),
            _ => None,
        })
    }

    /// The matter-noc-cat attributes, in order.
    pub fn cats(&self) -> Vec<u32> {
        self.0
            .iter()
            .filter_map(|a| match a {
                DnAttribute::NocCat(v) => Some(*v),
                _ => None,
            })
            .collect()
    }

    // Matter attributes appear at most once each (CATs up to three, §6.5.6.1).
    fn check(&self) -> Result<(), CertError> {
        let mut counts = [0u8; 6];
        for a in &self.0 {
            let i = match a {
                DnAttribute::NodeId(_) => 0,
                DnAttribute::FirmwareSigningId(_) => 1,
                DnAttribute::IcacId(_) => 2,
                DnAttribute::RcacId(_) => 3,
                DnAttribute::FabricId(_) => 4,
                DnAttribute::NocCat(_) => 5,
                DnAttribute::Text {
                    kind, printable, ..
                } => {
                    if *printable && *kind == TextAttr::DomainComponent {
                        return Err(CertError::Malformed("printable domain-component"));
                    }
                    continue;
                }
            };
            counts[i] = counts[i].saturating_add(1);
        }
        if counts[..5].iter().any(|&c| c > 1) || counts[5] > 3 {
            return Err(CertError::Malformed("repeated Matter DN attribute"));
        }
        if self.0.is_empty() {
            return Err(CertError::Malformed("empty distinguished name"));
        }
        Ok(())
    }
}

fn octets<'a>(v: Value<'a>, what: &'static str) -> Result<&'a [u8], CertError> {
    match v {
        Value::Octets(b) => Ok(b),
        _ => Err(CertError::Malformed(what)),
    }
}

fn uint(v: Value<'_>, what: &'static str) -> Result<u64, CertError> {
    match v {
        Value::UInt(x) => Ok(x),
        _ => Err(CertError::Malformed(what)),
    }
}

fn u32_of(v: Value<'_>, what: &'static str) -> Result<u32, CertError> {
    u32::try_from(uint(v, what)?).map_err(|_| CertError::Malformed(what))
}

fn decode_dn(v: Value<'_>) -> Result<DistinguishedName, CertError> {
    let Value::List(list) = v else {
        return Err(CertError::Malformed("distinguished name is not a list"));
    };
    let mut out = Vec::new();
    for e in list.iter() {
        let e = e?;
        let Tag::Context(t) = e.tag else {
            return Err(CertError::Malformed("DN attribute tag"));
        };
        let a = match t {
            DN_NODE_ID => DnAttribute::NodeId(uint(e.value, "matter-node-id")?),
            DN_FW_SIGNING_ID => {
                DnAttribute::FirmwareSigningId(uint(e.value, "matter-firmware-signing-id")?)
            }
            DN_ICAC_ID => DnAttribute::IcacId(uint(e.value, "matter-icac-id")?),
            DN_RCAC_ID => DnAttribute::RcacId(uint(e.value, "matter-rcac-id")?),
            DN_FABRIC_ID => DnAttribute::FabricId(uint(e.value, "matter-fabric-id")?),
            DN_NOC_CAT => DnAttribute::NocCat(u32_of(e.value, "matter-noc-cat")?),
            _ => {
                let printable = t & DN_PRINTABLE != 0;
                let kind = TextAttr::from_tlv_tag(t & !DN_PRINTABLE)
                    .ok_or(CertError::Malformed("unknown DN attribute tag"))?;
                let Value::Utf8(s) = e.value else {
                    return Err(CertError::Malformed("DN string attribute type"));
                };
                if printable && !s.bytes().all(is_printable) {
                    return Err(CertError::Malformed("PrintableString characters"));
                }
                if kind == TextAttr::DomainComponent && !s.is_ascii() {
                    return Err(CertError::Malformed("IA5String characters"));
                }
                DnAttribute::Text {
                    kind,
                    value: s.to_owned(),
                    printable,
                }
            }
        };
        out.push(a);
    }
    Ok(DistinguishedName(out))
}

fn encode_dn(w: &mut TlvWriter<'_>, tag: u8, dn: &DistinguishedName) -> Result<(), CertError> {
    w.start_list(Tag::Context(tag))?;
    for a in &dn.0 {
        match a {
            DnAttribute::NodeId(v) => w.u64(Tag::Context(DN_NODE_ID), *v)?,
            DnAttribute::FirmwareSigningId(v) => w.u64(Tag::Context(DN_FW_SIGNING_ID), *v)?,
            DnAttribute::IcacId(v) => w.u64(Tag::Context(DN_ICAC_ID), *v)?,
            DnAttribute::RcacId(v) => w.u64(Tag::Context(DN_RCAC_ID), *v)?,
            DnAttribute::FabricId(v) => w.u64(Tag::Context(DN_FABRIC_ID), *v)?,
            DnAttribute::NocCat(v) => w.u32(Tag::Context(DN_NOC_CAT), *v)?,
            DnAttribute::Text {
                kind,
                value,
                printable,
            } => {
                let t = kind.tlv_tag() | if *printable { DN_PRINTABLE } else { 0 };
                w.utf8(Tag::Context(t), value)?;
            }
        }
    }
    w.end_container()?;
    Ok(())
}

fn decode_extensions(v: Value<'_>) -> Result<Vec<Extension>, CertError> {
    let Value::List(list) = v else {
        return Err(CertError::Malformed("extensions is not a list"));
    };
    let mut out = Vec::new();
    for e in list.iter() {
        let e = e?;
        let ext = match e.tag {
            Tag::Context(EXT_BASIC_CONSTRAINTS) => {
                let Value::Struct(s) = e.value else {
                    return Err(CertError::Malformed("basic-constraints type"));
                };
                let mut it = s.iter();
                let is_ca = match it.next() {
                    Some(Ok(Element {
                        tag: Tag::Context(1),
                        value: Value::Bool(b),
                    })) => b,
                    Some(Err(err)) => return Err(err.into()),
                    _ => return Err(CertError::Malformed("basic-constraints is-ca")),
                };
                let path_len = match it.next() {
                    None => None,
                    Some(Ok(Element {
                        tag: Tag::Context(2),
                        value: Value::UInt(p),
                    })) => Some(
                        u8::try_from(p).map_err(|_| CertError::Malformed("path-len-constraint"))?,
                    ),
                    Some(Err(err)) => return Err(err.into()),
                    _ => return Err(CertError::Malformed("basic-constraints member")),
                };
                if path_len.is_some() && it.next().is_some() {
                    return Err(CertError::Malformed("basic-constraints member"));
                }
                Extension::BasicConstraints { is_ca, path_len }
            }
            Tag::Context(EXT_KEY_USAGE) => Extension::KeyUsage(
                u16::try_from(uint(e.value, "key-usage")?)
                    .map_err(|_| CertError::Malformed("key-usage"))?,
            ),
            Tag::Context(EXT_EXT_KEY_USAGE) => {
                let Value::Array(a) = e.value else {
                    return Err(CertError::Malformed("extended-key-usage type"));
                };
                let mut ps = Vec::new();
                for p in a.iter() {
                    let p = uint(p?.value, "key-purpose-id")?;
                    ps.push(u8::try_from(p).map_err(|_| CertError::Malformed("key-purpose-id"))?);
                }
                Extension::ExtendedKeyUsage(ps)
            }
            Tag::Context(EXT_SKID) => Extension::SubjectKeyId(
                octets(e.value, "subject-key-id")?
                    .try_into()
                    .map_err(|_| CertError::Malformed("subject-key-id length"))?,
            ),
            Tag::Context(EXT_AKID) => Extension::AuthorityKeyId(
                octets(e.value, "authority-key-id")?
                    .try_into()
                    .map_err(|_| CertError::Malformed("authority-key-id length"))?,
            ),
            Tag::Context(EXT_FUTURE) => {
                Extension::Future(octets(e.value, "future-extension")?.to_vec())
            }
            _ => return Err(CertError::Malformed("unknown extension tag")),
        };
        out.push(ext);
    }
    Ok(out)
}

fn check_future_extension(der: &[u8]) -> Result<(), CertError> {
    let bad = CertError::Malformed("future-extension is not one DER Extension");
    let mut r = DerReader::new(der);
    let mut e = r.sequence().map_err(|_| bad.clone())?;
    r.finish().map_err(|_| bad.clone())?;
    let oid = e.oid().map_err(|_| bad.clone())?;
    if KNOWN_EXTENSION_OIDS.contains(&oid) {
        return Err(CertError::Malformed(
            "future-extension with a known extension type",
        ));
    }
    if e.peek_tag() == Some(der::tag::BOOLEAN) && !e.boolean().map_err(|_| bad.clone())? {
        // DER never encodes the DEFAULT FALSE.
        return Err(bad);
    }
    e.octet_string().map_err(|_| bad.clone())?;
    e.finish().map_err(|_| bad)
}

// basicConstraints, keyUsage, extKeyUsage, subjectKeyIdentifier, authorityKeyIdentifier.
const KNOWN_EXTENSION_OIDS: [&[u8]; 5] = [
    &[0x55, 0x1D, 0x13],
    &[0x55, 0x1D, 0x0F],
    &[0x55, 0x1D, 0x25],
    &[0x55, 0x1D, 0x0E],
    &[0x55, 0x1D, 0x23],
];

pub(crate) fn is_printable(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b)
}
