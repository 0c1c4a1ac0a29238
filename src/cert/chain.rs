//! Operational certificate chain validation for AddTrustedRootCertificate / AddNOC / UpdateNOC
//! (Matter 1.3 §6.5.11, §6.5.12 "Certificate path validation", §11.18.6.8–9), and the
//! compressed fabric identifier (§4.3.2.2).
//!
//! The chain is NOC -> optional ICAC -> RCAC, each given in Matter TLV form. Every signature is
//! checked over the DER TBSCertificate the TLV converts to. Validity periods are checked only
//! when the caller knows the time (`now`): a device being commissioned often does not.

use hkdf::Hkdf;
use sha2::Sha256;
use tracing::debug;

use super::matter::{key_purpose, key_usage, CertKind, DnAttribute, MatterCert, PublicKeyBytes};
use super::CertError;

/// The largest operational node id (Matter 1.3 §2.5.5.1, Table "Node Identifier Allocations").
pub const MAX_OPERATIONAL_NODE_ID: u64 = 0xFFFF_FFEF_FFFF_FFFF;

/// One certificate of a validated chain, in both forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedCert {
    /// The decoded certificate.
    pub cert: MatterCert,
    /// Its Matter TLV encoding, as received.
    pub tlv: Vec<u8>,
    /// Its X.509 DER encoding.
    pub der: Vec<u8>,
}

/// The result of [`validate_chain`]: what AddNOC needs to create the fabric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedChain {
    /// The fabric id (from the NOC subject).
    pub fabric_id: u64,
    /// The node id (from the NOC subject).
    pub node_id: u64,
    /// The NOC's CASE Authenticated Tags, in certificate order.
    pub cats: Vec<u32>,
    /// The root public key.
    pub root_public_key: PublicKeyBytes,
    /// The NOC public key (must match the operational key the device generated for CSRRequest).
    pub noc_public_key: PublicKeyBytes,
    /// The root certificate.
    pub rcac: ValidatedCert,
    /// The intermediate certificate, if any.
    pub icac: Option<ValidatedCert>,
    /// The node operational certificate.
    pub noc: ValidatedCert,
}

impl ValidatedChain {
    /// The compressed fabric identifier of this chain's fabric (Matter 1.3 §4.3.2.2).
    pub fn compressed_fabric_id(&self) -> [u8; 8] {
        compressed_fabric_id(&self.root_public_key, self.fabric_id)
    }
}

/// Validates a root certificate alone (AddTrustedRootCertificate): well-formed, a CA,
/// keyCertSign, self-issued with AKID == SKID, self-signed, and within validity if `now` is
/// given (Matter epoch seconds).
pub fn validate_rcac(tlv: &[u8], now: Option<u32>) -> Result<ValidatedCert, CertError> {
    let rcac = decode(tlv)?;
    check_rcac(&rcac.cert, now)?;
    rcac.cert.verify_signature(&rcac.cert.public_key)?;
    debug!("cert: root certificate validated");
    Ok(rcac)
}

/// Validates NOC -> optional ICAC -> RCAC (all Matter TLV) for AddNOC/UpdateNOC.
///
/// `now` is the current time in Matter epoch seconds, if known; validity periods are checked
/// only then.
pub fn validate_chain(
    noc_tlv: &[u8],
    icac_tlv: Option<&[u8]>,
    rcac_tlv: &[u8],
    now: Option<u32>,
) -> Result<ValidatedChain, CertError> {
    let rcac = validate_rcac(rcac_tlv, now)?;
    let icac = icac_tlv.map(decode).transpose()?;
    let noc = decode(noc_tlv)?;

    // RFC 5280 §4.2.1.9: pathLenConstraint counts the CA certificates that may follow.
    if let (Some(_), Some((_, Some(0)))) = (&icac, rcac.cert.basic_constraints()) {
        return Err(CertError::PathLength);
    }

    let parent = match &icac {
        Some(icac) => {
            let c = &icac.cert;
            if c.kind() != Some(CertKind::Icac) || c.subject.rcac_id().is_some() {
                return Err(CertError::InvalidSubject("ICAC subject"));
            }
            check_ca(c, now)?;
            check_issued_by(c, &rcac.cert)?;
            debug!("cert: ICAC validated against the root");
            &icac.cert
        }
        None => &rcac.cert,
    };

    let c = &noc.cert;
    let (node_id, fabric_id) = check_noc_subject(c)?;
    match c.basic_constraints() {
        Some((false, _)) => {}
        _ => return Err(CertError::NotEndEntity),
    }
    if c.key_usage()
        .is_none_or(|k| k & key_usage::DIGITAL_SIGNATURE == 0)
    {
        return Err(CertError::KeyUsage);
    }
    let eku = c.extended_key_usage().unwrap_or_default();
    if !eku.contains(&key_purpose::SERVER_AUTH) || !eku.contains(&key_purpose::CLIENT_AUTH) {
        return Err(CertError::ExtendedKeyUsage);
    }
    check_validity(c, now)?;
    check_issued_by(c, parent)?;

    // Matter 1.3 §6.5.6.1: every fabric id present in the chain is the NOC's.
    for ca in core::iter::once(&rcac.cert).chain(icac.as_ref().map(|i| &i.cert)) {
        if ca.subject.fabric_id().is_some_and(|f| f != fabric_id) {
            return Err(CertError::FabricMismatch);
        }
    }
    debug!(fabric_id, node_id, "cert: NOC chain validated");
    Ok(ValidatedChain {
        fabric_id,
        node_id,
        cats: c.subject.cats(),
        root_public_key: rcac.cert.public_key,
        noc_public_key: c.public_key,
        rcac,
        icac,
        noc,
    })
}

/// The compressed fabric identifier: HKDF-SHA256 with the root public key without its 0x04
/// prefix as the secret, the fabric id (big-endian) as salt and "CompressedFabric" as info,
/// 8 bytes (Matter 1.3 §4.3.2.2). Used in operational DNS-SD names and for CASE.
pub fn compressed_fabric_id(root_public_key: &PublicKeyBytes, fabric_id: u64) -> [u8; 8] {
    let salt = fabric_id.to_be_bytes();
    let hk = Hkdf::<Sha256>::new(Some(&salt), &root_public_key[1..]);
    let mut out = [0u8; 8];
    // 8 bytes is far below HKDF-SHA256's 255 * 32 byte limit, so expand cannot fail.
    let _ = hk.expand(b"CompressedFabric", &mut out);
    out
}

fn decode(tlv: &[u8]) -> Result<ValidatedCert, CertError> {
    let cert = MatterCert::from_tlv(tlv)?;
    if cert.has_critical_future_extension() {
        return Err(CertError::Unsupported(
            "critical extension of an unknown type",
        ));
    }
    let der = cert.to_der()?;
    Ok(ValidatedCert {
        cert,
        tlv: tlv.to_vec(),
        der,
    })
}

fn check_rcac(c: &MatterCert, now: Option<u32>) -> Result<(), CertError> {
    if c.kind() != Some(CertKind::Rcac) || c.subject.rcac_id().is_none() {
        return Err(CertError::InvalidSubject("RCAC subject"));
    }
    if c.subject.icac_id().is_some() || c.subject.node_id().is_some() {
        return Err(CertError::InvalidSubject("RCAC subject"));
    }
    check_ca(c, now)?;
    if c.issuer != c.subject {
        return Err(CertError::NotSelfSigned);
    }
    match (c.subject_key_id(), c.authority_key_id()) {
        (Some(s), Some(a)) if s == a => {}
        (Some(_), None) => {}
        _ => return Err(CertError::NotSelfSigned),
    }
    Ok(())
}

fn check_ca(c: &MatterCert, now: Option<u32>) -> Result<(), CertError> {
    match c.basic_constraints() {
        Some((true, _)) => {}
        _ => return Err(CertError::NotCa),
    }
    if c.key_usage()
        .is_none_or(|k| k & key_usage::KEY_CERT_SIGN == 0)
    {
        return Err(CertError::KeyUsage);
    }
    if c.subject_key_id().is_none() {
        return Err(CertError::Malformed("CA without subject key id"));
    }
    if c.subject.node_id().is_some() || !c.subject.cats().is_empty() {
        return Err(CertError::InvalidSubject("CA subject has node attributes"));
    }
    check_validity(c, now)
}

fn check_noc_subject(c: &MatterCert) -> Result<(u64, u64), CertError> {
    let mut node = None;
    let mut fabric = None;
    let mut cat_ids = Vec::new();
    for a in &c.subject.0 {
        match a {
            DnAttribute::NodeId(n) => node = Some(*n),
            DnAttribute::FabricId(f) => fabric = Some(*f),
            DnAttribute::NocCat(cat) => {
                // Matter 1.3 §6.6.2.1.2: version 0 is invalid; identifiers must be distinct.
                if cat & 0xFFFF == 0 || cat_ids.contains(&(cat >> 16)) {
                    return Err(CertError::InvalidSubject("CASE Authenticated Tag"));
                }
                cat_ids.push(cat >> 16);
            }
            DnAttribute::RcacId(_) | DnAttribute::IcacId(_) | DnAttribute::FirmwareSigningId(_) => {
                return Err(CertError::InvalidSubject("NOC subject has CA attributes"))
            }
            _ => {}
        }
    }
    let node = node.ok_or(CertError::InvalidSubject("NOC without node id"))?;
    if node == 0 || node > MAX_OPERATIONAL_NODE_ID {
        return Err(CertError::InvalidSubject("node id not operational"));
    }
    let fabric = fabric.ok_or(CertError::InvalidSubject("NOC without fabric id"))?;
    if fabric == 0 {
        return Err(CertError::InvalidSubject("fabric id 0"));
    }
    Ok((node, fabric))
}

fn check_issued_by(c: &MatterCert, parent: &MatterCert) -> Result<(), CertError> {
    if c.issuer != parent.subject {
        return Err(CertError::IssuerMismatch);
    }
    match (c.authority_key_id(), parent.subject_key_id()) {
        (Some(a), Some(s)) if a == s => {}
        _ => return Err(CertError::KeyIdMismatch),
    }
    c.verify_signature(&parent.public_key)
}

fn check_validity(c: &MatterCert, now: Option<u32>) -> Result<(), CertError> {
    let Some(now) = now else { return Ok(()) };
    if now < c.not_before {
        return Err(CertError::NotYetValid);
    }
    if c.not_after != 0 && now > c.not_after {
        return Err(CertError::Expired);
    }
    Ok(())
}
