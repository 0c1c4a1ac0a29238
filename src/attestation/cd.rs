//! The Certification Declaration (Matter 1.3 §6.3.1): its TLV content and the CMS
//! SignedData (RFC 5652) envelope it is carried in.
//!
//! The envelope is the one the spec and the CHIP SDK use: SignedData version 3, one digest
//! algorithm (SHA-256, parameters absent), encapsulated content of type id-data holding the
//! TLV, no certificates, and one SignerInfo (version 3) that names its signer by
//! subjectKeyIdentifier, with no signed attributes, signing the TLV content itself with
//! ecdsa-with-SHA256 (DER signature in the OCTET STRING).

use tracing::debug;

use super::der::{self, DerReader};
use super::key::{AttestationKey, PublicKey};
use super::x509::{oid, Certificate, KEY_ID_LEN};
use super::AttestationError;
use crate::tlv::{Tag, TlvReader, TlvWriter, Value};

/// The only CD format_version there is (Matter 1.3 §6.3.1).
pub const FORMAT_VERSION: u16 = 1;
/// certificate_id is exactly this long (Matter 1.3 §6.3.1).
pub const CERTIFICATE_ID_LEN: usize = 19;
/// product_id_array holds 1 to 100 product ids.
pub const MAX_PRODUCT_IDS: usize = 100;
/// authorized_paa_list holds 1 to 10 key ids.
pub const MAX_AUTHORIZED_PAAS: usize = 10;

const TAG_FORMAT_VERSION: u8 = 0;
const TAG_VENDOR_ID: u8 = 1;
const TAG_PRODUCT_IDS: u8 = 2;
const TAG_DEVICE_TYPE: u8 = 3;
const TAG_CERTIFICATE_ID: u8 = 4;
const TAG_SECURITY_LEVEL: u8 = 5;
const TAG_SECURITY_INFO: u8 = 6;
const TAG_VERSION_NUMBER: u8 = 7;
const TAG_CERTIFICATION_TYPE: u8 = 8;
const TAG_DAC_ORIGIN_VID: u8 = 9;
const TAG_DAC_ORIGIN_PID: u8 = 10;
const TAG_AUTHORIZED_PAAS: u8 = 11;

/// certification_type (Matter 1.3 §6.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificationType {
    /// 0: development and test. Commissioners accept it only in their test mode.
    DevelopmentAndTest,
    /// 1: provisional.
    Provisional,
    /// 2: official.
    Official,
}

impl CertificationType {
    fn to_u8(self) -> u8 {
        match self {
            Self::DevelopmentAndTest => 0,
            Self::Provisional => 1,
            Self::Official => 2,
        }
    }

    fn from_u8(v: u8) -> Result<Self, AttestationError> {
        match v {
            0 => Ok(Self::DevelopmentAndTest),
            1 => Ok(Self::Provisional),
            2 => Ok(Self::Official),
            _ => Err(AttestationError::Invalid("CD certification_type")),
        }
    }
}

/// The content of a Certification Declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificationDeclaration {
    /// format_version (1).
    pub format_version: u16,
    /// vendor_id.
    pub vendor_id: u16,
    /// product_id_array (1..=100 ids).
    pub product_ids: Vec<u16>,
    /// device_type_id.
    pub device_type_id: u32,
    /// certificate_id (19 characters).
    pub certificate_id: String,
    /// security_level.
    pub security_level: u8,
    /// security_information.
    pub security_information: u16,
    /// version_number.
    pub version_number: u16,
    /// certification_type.
    pub certification_type: CertificationType,
    /// dac_origin_vendor_id / dac_origin_product_id: present together or not at all; set
    /// when the DAC chain belongs to another vendor than `vendor_id`.
    pub dac_origin: Option<(u16, u16)>,
    /// authorized_paa_list: subject key ids of the PAAs allowed to root the DAC chain.
    pub authorized_paa_list: Option<Vec<[u8; KEY_ID_LEN]>>,
}

/// A trusted CD signing key, named by its subject key identifier as SignerInfos name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdSigner {
    /// The certificate's subjectKeyIdentifier.
    pub subject_key_id: [u8; KEY_ID_LEN],
    /// The certificate's public key.
    pub public_key: PublicKey,
}

impl CdSigner {
    /// The signer described by a CD signing certificate (DER).
    ///
    /// # Errors
    /// A malformed certificate, or one without a 20-byte SKID.
    pub fn from_certificate(cert_der: &[u8]) -> Result<Self, AttestationError> {
        let c = Certificate::parse(cert_der, "CD signing certificate")?;
        let skid = c
            .subject_key_id("CD signing certificate")?
            .and_then(|s| <[u8; KEY_ID_LEN]>::try_from(s).ok())
            .ok_or(AttestationError::Profile {
                cert: "CD signing certificate",
                reason: "subject key identifier missing or not 20 bytes",
            })?;
        Ok(Self {
            subject_key_id: skid,
            public_key: c.public_key,
        })
    }
}

impl CertificationDeclaration {
    /// A development/test CD for one product, as a device running with development credentials
    /// presents: format 1, security level/information 0, version 1, no DAC origin.
    pub fn development(vendor_id: u16, product_id: u16, device_type_id: u32) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            vendor_id,
            product_ids: vec![product_id],
            device_type_id,
            // The CHIP SDK's test CDs use this placeholder id; any 19 characters do.
            certificate_id: "ZIG20142ZB330003-24".to_owned(),
            security_level: 0,
            security_information: 0,
            version_number: 1,
            certification_type: CertificationType::DevelopmentAndTest,
            dac_origin: None,
            authorized_paa_list: None,
        }
    }

    /// The TLV encoding of the content.
    ///
    /// # Errors
    /// [`AttestationError::Invalid`] for a field outside the spec's constraints.
    pub fn encode_tlv(&self) -> Result<Vec<u8>, AttestationError> {
        self.validate()?;
        let mut buf = Vec::new();
        let mut w = TlvWriter::new(&mut buf);
        (|| {
            w.start_struct(Tag::Anonymous)?;
            w.u16(Tag::Context(TAG_FORMAT_VERSION), self.format_version)?;
            w.u16(Tag::Context(TAG_VENDOR_ID), self.vendor_id)?;
            w.start_array(Tag::Context(TAG_PRODUCT_IDS))?;
            for &p in &self.product_ids {
                w.u16(Tag::Anonymous, p)?;
            }
            w.end_container()?;
            w.u32(Tag::Context(TAG_DEVICE_TYPE), self.device_type_id)?;
            w.utf8(Tag::Context(TAG_CERTIFICATE_ID), &self.certificate_id)?;
            w.u8(Tag::Context(TAG_SECURITY_LEVEL), self.security_level)?;
            w.u16(Tag::Context(TAG_SECURITY_INFO), self.security_information)?;
            w.u16(Tag::Context(TAG_VERSION_NUMBER), self.version_number)?;
            w.u8(
                Tag::Context(TAG_CERTIFICATION_TYPE),
                self.certification_type.to_u8(),
            )?;
            if let Some((vid, pid)) = self.dac_origin {
                w.u16(Tag::Context(TAG_DAC_ORIGIN_VID), vid)?;
                w.u16(Tag::Context(TAG_DAC_ORIGIN_PID), pid)?;
            }
            if let Some(list) = &self.authorized_paa_list {
                w.start_array(Tag::Context(TAG_AUTHORIZED_PAAS))?;
                for id in list {
                    w.octets(Tag::Anonymous, id)?;
                }
                w.end_container()?;
            }
            w.end_container()?;
            w.finish().map(|_| ())
        })()
        .map_err(AttestationError::tlv("certification-elements"))?;
        Ok(buf)
    }

    /// Parses the TLV content.
    ///
    /// # Errors
    /// [`AttestationError::Tlv`] or [`AttestationError::Invalid`].
    pub fn decode_tlv(bytes: &[u8]) -> Result<Self, AttestationError> {
        let tlv = AttestationError::tlv("certification-elements");
        let s = TlvReader::new(bytes).read_struct().map_err(&tlv)?;
        let mut product_ids = Vec::new();
        for m in s.array(TAG_PRODUCT_IDS).map_err(&tlv)?.iter() {
            let m = m.map_err(&tlv)?;
            product_ids.push(m.value.decode::<u16>().map_err(&tlv)?);
        }
        let dac_origin = match (
            s.opt_u16(TAG_DAC_ORIGIN_VID).map_err(&tlv)?,
            s.opt_u16(TAG_DAC_ORIGIN_PID).map_err(&tlv)?,
        ) {
            (Some(v), Some(p)) => Some((v, p)),
            (None, None) => None,
            _ => {
                return Err(AttestationError::Invalid(
                    "CD dac_origin (vendor and product id must come together)",
                ))
            }
        };
        let authorized_paa_list =
            match s.opt_array(TAG_AUTHORIZED_PAAS).map_err(&tlv)? {
                None => None,
                Some(a) => {
                    let mut list = Vec::new();
                    for m in a.iter() {
                        let m = m.map_err(&tlv)?;
                        let Value::Octets(b) = m.value else {
                            return Err(AttestationError::Invalid("CD authorized_paa_list entry"));
                        };
                        list.push(<[u8; KEY_ID_LEN]>::try_from(b).map_err(|_| {
                            AttestationError::Invalid("CD authorized_paa_list entry")
                        })?);
                    }
                    Some(list)
                }
            };
        let cd = Self {
            format_version: s.u16(TAG_FORMAT_VERSION).map_err(&tlv)?,
            vendor_id: s.u16(TAG_VENDOR_ID).map_err(&tlv)?,
            product_ids,
            device_type_id: s.u32(TAG_DEVICE_TYPE).map_err(&tlv)?,
            certificate_id: s.utf8(TAG_CERTIFICATE_ID).map_err(&tlv)?.to_owned(),
            security_level: s.u8(TAG_SECURITY_LEVEL).map_err(&tlv)?,
            security_information: s.u16(TAG_SECURITY_INFO).map_err(&tlv)?,
            version_number: s.u16(TAG_VERSION_NUMBER).map_err(&tlv)?,
            certification_type: CertificationType::from_u8(
                s.u8(TAG_CERTIFICATION_TYPE).map_err(&tlv)?,
            )?,
            dac_origin,
            authorized_paa_list,
        };
        cd.validate()?;
        Ok(cd)
    }

    /// Encodes the content and wraps it in CMS SignedData signed by `key`, naming the signer by
    /// `signer_key_id` (the signing certificate's SKID).
    ///
    /// # Errors
    /// As [`CertificationDeclaration::encode_tlv`].
    pub fn sign(
        &self,
        key: &AttestationKey,
        signer_key_id: &[u8; KEY_ID_LEN],
    ) -> Result<Vec<u8>, AttestationError> {
        let content = self.encode_tlv()?;
        let cms = build_cms(&content, signer_key_id, &key.sign_der(&content));
        debug!(
            vendor_id = self.vendor_id,
            len = cms.len(),
            "certification declaration signed"
        );
        Ok(cms)
    }

    /// Verifies a CMS-wrapped CD against the trusted signers and returns its content.
    ///
    /// # Errors
    /// [`AttestationError::Der`] for a malformed envelope, [`AttestationError::UnknownCdSigner`],
    /// [`AttestationError::BadSignature`], or a content error.
    pub fn verify(cms: &[u8], trusted: &[CdSigner]) -> Result<Self, AttestationError> {
        let env = parse_cms(cms)?;
        let signer = trusted
            .iter()
            .find(|s| s.subject_key_id.as_slice() == env.signer_key_id)
            .ok_or_else(|| AttestationError::UnknownCdSigner(hex(env.signer_key_id)))?;
        signer
            .public_key
            .verify_der(env.content, env.signature, "certification declaration")?;
        let cd = Self::decode_tlv(env.content)?;
        debug!(
            vendor_id = cd.vendor_id,
            "certification declaration verified"
        );
        Ok(cd)
    }

    /// Parses a CMS-wrapped CD's envelope and content without checking its signature (for a
    /// device loading its own CD, which it cannot verify without the CSA's CD signing keys).
    ///
    /// # Errors
    /// [`AttestationError::Der`] for a malformed envelope, or a content error.
    pub fn decode_unverified(cms: &[u8]) -> Result<Self, AttestationError> {
        Self::decode_tlv(parse_cms(cms)?.content)
    }

    /// The subject key id naming the CD's signer.
    ///
    /// # Errors
    /// [`AttestationError::Der`] for a malformed envelope.
    pub fn signer_key_id(cms: &[u8]) -> Result<Vec<u8>, AttestationError> {
        Ok(parse_cms(cms)?.signer_key_id.to_vec())
    }

    fn validate(&self) -> Result<(), AttestationError> {
        if self.format_version != FORMAT_VERSION {
            return Err(AttestationError::Invalid("CD format_version"));
        }
        if self.product_ids.is_empty() || self.product_ids.len() > MAX_PRODUCT_IDS {
            return Err(AttestationError::Invalid(
                "CD product_id_array (1 to 100 ids)",
            ));
        }
        if self.certificate_id.len() != CERTIFICATE_ID_LEN {
            return Err(AttestationError::Invalid(
                "CD certificate_id (19 characters)",
            ));
        }
        if let Some(l) = &self.authorized_paa_list {
            if l.is_empty() || l.len() > MAX_AUTHORIZED_PAAS {
                return Err(AttestationError::Invalid(
                    "CD authorized_paa_list (1 to 10 entries)",
                ));
            }
        }
        Ok(())
    }
}

/// The CMS SignedData envelope around `content` with a DER ECDSA `signature` by the key named
/// `signer_key_id`.
pub(crate) fn build_cms(content: &[u8], signer_key_id: &[u8], signature: &[u8]) -> Vec<u8> {
    let digest_alg = der::seq(&[&der::oid(oid::SHA256)]);
    let sig_alg = der::seq(&[&der::oid(oid::ECDSA_WITH_SHA256)]);
    let signer_info = der::seq(&[
        &der::uint(&[3]),
        &der::tlv(0x80, signer_key_id),
        &digest_alg,
        &sig_alg,
        &der::tlv(der::OCTET_STRING, signature),
    ]);
    let signed_data = der::seq(&[
        &der::uint(&[3]),
        &der::cons(der::SET, &[&digest_alg]),
        &der::seq(&[
            &der::oid(oid::DATA),
            &der::tlv(0xa0, &der::tlv(der::OCTET_STRING, content)),
        ]),
        &der::cons(der::SET, &[&signer_info]),
    ]);
    der::seq(&[&der::oid(oid::SIGNED_DATA), &der::tlv(0xa0, &signed_data)])
}

/// The parts of a CD envelope a verifier needs.
pub(crate) struct CmsParts<'a> {
    pub content: &'a [u8],
    pub signer_key_id: &'a [u8],
    pub signature: &'a [u8],
}

pub(crate) fn parse_cms(cms: &[u8]) -> Result<CmsParts<'_>, AttestationError> {
    const W: &str = "CD CMS envelope";
    let bad = || AttestationError::Der(W);
    let digest_alg = der::seq(&[&der::oid(oid::SHA256)]);
    let sig_alg = der::seq(&[&der::oid(oid::ECDSA_WITH_SHA256)]);

    let mut ci = DerReader::new(der::single(cms, der::SEQUENCE, W)?.value, W);
    if ci.expect(der::OID)? != oid::SIGNED_DATA {
        return Err(bad());
    }
    let explicit = ci.expect(0xa0)?;
    ci.finish()?;
    let mut sd = DerReader::new(der::single(explicit, der::SEQUENCE, W)?.value, W);
    if sd.expect(der::INTEGER)? != [3] {
        return Err(bad());
    }
    let mut algs = sd.nested(der::SET)?;
    if algs.expect_der(der::SEQUENCE)?.raw != digest_alg.as_slice() {
        return Err(bad());
    }
    algs.finish()?;
    let mut eci = sd.nested(der::SEQUENCE)?;
    if eci.expect(der::OID)? != oid::DATA {
        return Err(bad());
    }
    let content = der::single(eci.expect(0xa0)?, der::OCTET_STRING, W)?.value;
    eci.finish()?;
    // Optional certificates [0] and crls [1]: the spec's CDs carry none, but they are legal CMS.
    let _ = sd.optional(0xa0)?;
    let _ = sd.optional(0xa1)?;
    let mut infos = sd.nested(der::SET)?;
    sd.finish()?;
    let mut si = infos.nested(der::SEQUENCE)?;
    // Exactly one signer.
    infos.finish()?;
    if si.expect(der::INTEGER)? != [3] {
        return Err(bad());
    }
    let signer_key_id = si.expect(0x80)?;
    if si.expect_der(der::SEQUENCE)?.raw != digest_alg.as_slice() {
        return Err(bad());
    }
    // Signed attributes [0] would change what is signed; Matter CDs have none.
    if si.peek_tag() == Some(0xa0) {
        return Err(bad());
    }
    if si.expect_der(der::SEQUENCE)?.raw != sig_alg.as_slice() {
        return Err(bad());
    }
    let signature = si.expect(der::OCTET_STRING)?;
    si.finish()?;
    Ok(CmsParts {
        content,
        signer_key_id,
        signature,
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}
