//! Device Attestation Certificates: issuing one under a PAI, and checking one against the DAC
//! profile and its PAI, and a PAI against its PAA (Matter 1.3 §6.2.2: the DAC, PAI and PAA
//! certificate profiles; §6.2.3: the chain rules a commissioner applies).

use sha2::{Digest, Sha256};
use tracing::debug;

use crate::cert::der::DateTime;
use crate::cert::x509::{BuilderExtension, Name, NameValue, X509Builder};

use super::key::{AttestationKey, PublicKey};
use super::x509::{key_usage, oid, Certificate, KEY_ID_LEN};
use super::AttestationError;
use crate::rng::Rng;

/// notAfter for certificates with "no well-defined expiration date" (RFC 5280 §4.1.2.5), as
/// the CHIP SDK's test DACs and PAIs use: 9999-12-31 23:59:59 UTC.
pub const NO_EXPIRY: u64 = 253_402_300_799;

/// What a DAC is issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DacRequest {
    /// Vendor id (must match the PAI's).
    pub vendor_id: u16,
    /// Product id (must match the PAI's, if the PAI names one).
    pub product_id: u16,
    /// Subject common name; `None` gives `Matter Dev DAC 0xVVVV/0xPPPP`.
    pub common_name: Option<String>,
    /// notBefore in Unix seconds; `None` uses the PAI's notBefore, so that no commissioner
    /// clock can find the DAC "not yet valid" (the core reads no clock).
    pub not_before: Option<u64>,
    /// notAfter in Unix seconds; `None` gives [`NO_EXPIRY`].
    pub not_after: Option<u64>,
}

impl DacRequest {
    /// A request with defaults for everything but the ids.
    pub fn new(vendor_id: u16, product_id: u16) -> Self {
        Self {
            vendor_id,
            product_id,
            common_name: None,
            not_before: None,
            not_after: None,
        }
    }
}

/// What [`verify_dac`] found in a DAC that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DacInfo {
    /// The DAC's vendor id.
    pub vendor_id: u16,
    /// The DAC's product id.
    pub product_id: u16,
    /// The DAC's public key (what attestation signatures verify with).
    pub public_key: PublicKey,
    /// The PAI's vendor id.
    pub pai_vendor_id: u16,
    /// The PAI's product id, if it names one.
    pub pai_product_id: Option<u16>,
    /// DAC validity, Unix seconds.
    pub not_before: u64,
    /// DAC validity, Unix seconds.
    pub not_after: u64,
}

/// Issues a DAC for a fresh key pair drawn from `rng`, signed by `pai_key` under the PAI
/// certificate `pai_der`. Returns the DAC (DER) and its private key.
///
/// The certificate follows the DAC profile: v3, ecdsa-with-SHA256, issuer = the PAI's subject
/// (byte for byte), subject CN + Matter VID + PID (UTF8String, 4 uppercase hex digits),
/// basicConstraints CA=false (critical), keyUsage digitalSignature (critical), SKID, and AKID
/// = the PAI's SKID.
///
/// # Errors
/// [`AttestationError::Profile`] if the PAI is unusable or the ids do not match it;
/// [`AttestationError::Invalid`] if `pai_key` is not the PAI's key; key generation errors.
pub fn issue_dac(
    request: &DacRequest,
    pai_der: &[u8],
    pai_key: &AttestationKey,
    rng: &mut dyn Rng,
) -> Result<(Vec<u8>, AttestationKey), AttestationError> {
    let pai = Certificate::parse(pai_der, "PAI")?;
    let (pai_vid, pai_pid) = check_pai(&pai)?;
    check_ids(request.vendor_id, request.product_id, pai_vid, pai_pid)?;
    if pai.public_key != pai_key.public_key() {
        return Err(AttestationError::Invalid(
            "PAI private key (does not match the PAI certificate)",
        ));
    }
    let akid = pai
        .subject_key_id("PAI")?
        .ok_or(AttestationError::Profile {
            cert: "PAI",
            reason: "no subject key identifier",
        })?;

    let dac_key = AttestationKey::generate(rng)?;
    let point = dac_key.public_key().to_uncompressed();
    // Serial: 8 random bytes, positive and without a leading zero, like the CHIP SDK's.
    let mut serial = [0u8; 8];
    rng.fill(&mut serial);
    serial[0] = (serial[0] & 0x7f) | 0x01;

    let cn = request.common_name.clone().unwrap_or_else(|| {
        format!(
            "Matter Dev DAC 0x{:04X}/0x{:04X}",
            request.vendor_id, request.product_id
        )
    });
    let not_before = request.not_before.unwrap_or(pai.not_before);
    let not_after = request.not_after.unwrap_or(NO_EXPIRY);
    if not_after < not_before {
        return Err(AttestationError::Invalid(
            "DAC validity (notAfter before notBefore)",
        ));
    }

    let time = |t: u64| {
        i64::try_from(t)
            .ok()
            .and_then(|t| DateTime::from_unix_seconds(t).ok())
            .ok_or(AttestationError::Invalid(
                "DAC validity (beyond 9999-12-31)",
            ))
    };
    let utf8 = |o: &[u8], v: String| (o.to_vec(), NameValue::Utf8(v));
    let builder = X509Builder {
        serial: serial.to_vec(),
        // The PAI's subject byte for byte, so that the chain's names match exactly.
        issuer: Name::Der(pai.subject.to_vec()),
        not_before: time(not_before)?,
        not_after: time(not_after)?,
        subject: Name::Attributes(vec![
            utf8(oid::COMMON_NAME, cn),
            // §6.2.2.2: VID and PID as UTF8String of 4 uppercase hex digits.
            utf8(oid::MATTER_VID, format!("{:04X}", request.vendor_id)),
            utf8(oid::MATTER_PID, format!("{:04X}", request.product_id)),
        ]),
        public_key: point,
        extensions: vec![
            // basicConstraints: critical, cA FALSE (an empty SEQUENCE in DER).
            BuilderExtension::basic_constraints(false, None),
            // keyUsage: critical, digitalSignature only.
            BuilderExtension::key_usage(key_usage::DIGITAL_SIGNATURE),
            BuilderExtension::subject_key_id(&key_id(&point)),
            BuilderExtension::authority_key_id(akid),
        ],
    };
    let cert = builder.sign(pai_key.signing_key()).map_err(|_| {
        AttestationError::Invalid("DAC fields (the certificate builder refused them)")
    })?;
    debug!(
        vendor_id = request.vendor_id,
        product_id = request.product_id,
        len = cert.len(),
        "issued a DAC under the PAI"
    );
    Ok((cert, dac_key))
}

/// Checks a DAC against the DAC profile and against its PAI (profile, issuer name, key ids,
/// vendor/product ids, signature).
///
/// # Errors
/// [`AttestationError::Profile`], [`AttestationError::Der`] or [`AttestationError::BadSignature`].
pub fn verify_dac(dac_der: &[u8], pai_der: &[u8]) -> Result<DacInfo, AttestationError> {
    let dac = Certificate::parse(dac_der, "DAC")?;
    let pai = Certificate::parse(pai_der, "PAI")?;
    let (pai_vid, pai_pid) = check_pai(&pai)?;
    let bad = |reason| AttestationError::Profile {
        cert: "DAC",
        reason,
    };
    common_profile(&dac, "DAC")?;
    match dac.basic_constraints("DAC")? {
        Some((true, false, None)) => {}
        Some(_) => {
            return Err(bad(
                "basicConstraints is not critical with cA FALSE and no path length",
            ))
        }
        None => return Err(bad("no basicConstraints extension")),
    }
    match dac.key_usage("DAC")? {
        Some((true, bits))
            if bits & key_usage::DIGITAL_SIGNATURE != 0
                && bits & (key_usage::KEY_CERT_SIGN | key_usage::CRL_SIGN) == 0 => {}
        _ => {
            return Err(bad(
                "keyUsage is not critical digitalSignature without keyCertSign/cRLSign",
            ))
        }
    }
    let vendor_id = dac
        .matter_id(oid::MATTER_VID, "DAC")?
        .ok_or(bad("no Matter vendor id in the subject"))?;
    let product_id = dac
        .matter_id(oid::MATTER_PID, "DAC")?
        .ok_or(bad("no Matter product id in the subject"))?;
    check_ids(vendor_id, product_id, pai_vid, pai_pid)?;
    if dac.issuer != pai.subject {
        return Err(bad("issuer is not the PAI's subject"));
    }
    if dac.authority_key_id("DAC")? != pai.subject_key_id("PAI")? {
        return Err(bad("authority key id is not the PAI's subject key id"));
    }
    dac.verify_signed_by(&pai.public_key, "DAC")?;
    debug!(vendor_id, product_id, "DAC verified against its PAI");
    Ok(DacInfo {
        vendor_id,
        product_id,
        public_key: dac.public_key,
        pai_vendor_id: pai_vid,
        pai_product_id: pai_pid,
        not_before: dac.not_before,
        not_after: dac.not_after,
    })
}

/// Checks a PAI against the PAA that issued it (profile, issuer name, key ids, vendor id,
/// signature) and that the PAA is a self-signed CA. Returns the PAI's (vendor id, product id).
///
/// # Errors
/// As [`verify_dac`].
pub fn verify_pai(pai_der: &[u8], paa_der: &[u8]) -> Result<(u16, Option<u16>), AttestationError> {
    let pai = Certificate::parse(pai_der, "PAI")?;
    let paa = Certificate::parse(paa_der, "PAA")?;
    let ids = check_pai(&pai)?;
    common_profile(&paa, "PAA")?;
    ca_profile(&paa, "PAA", 1)?;
    let bad = |reason| AttestationError::Profile {
        cert: "PAI",
        reason,
    };
    if let Some(paa_vid) = paa.matter_id(oid::MATTER_VID, "PAA")? {
        if paa_vid != ids.0 {
            return Err(bad("vendor id differs from the PAA's"));
        }
    }
    if paa.matter_id(oid::MATTER_PID, "PAA")?.is_some() {
        return Err(AttestationError::Profile {
            cert: "PAA",
            reason: "names a product id",
        });
    }
    if pai.issuer != paa.subject || paa.issuer != paa.subject {
        return Err(bad("issuer is not the PAA's subject"));
    }
    if pai.authority_key_id("PAI")? != paa.subject_key_id("PAA")? {
        return Err(bad("authority key id is not the PAA's subject key id"));
    }
    paa.verify_signed_by(&paa.public_key, "PAA")?;
    pai.verify_signed_by(&paa.public_key, "PAI")?;
    Ok(ids)
}

/// The PAI profile: a CA with path length 0 that may sign certificates, with a vendor id and
/// optionally a product id. Returns them.
fn check_pai(pai: &Certificate<'_>) -> Result<(u16, Option<u16>), AttestationError> {
    common_profile(pai, "PAI")?;
    ca_profile(pai, "PAI", 0)?;
    let vid = pai
        .matter_id(oid::MATTER_VID, "PAI")?
        .ok_or(AttestationError::Profile {
            cert: "PAI",
            reason: "no Matter vendor id in the subject",
        })?;
    Ok((vid, pai.matter_id(oid::MATTER_PID, "PAI")?))
}

/// What every attestation certificate shares: X.509 v3, a serial of at most 20 octets,
/// ecdsa-with-SHA256 (checked on verification), a 20-byte SKID.
fn common_profile(c: &Certificate<'_>, what: &'static str) -> Result<(), AttestationError> {
    let bad = |reason| AttestationError::Profile { cert: what, reason };
    if c.version != 3 {
        return Err(bad("not an X.509 v3 certificate"));
    }
    if c.serial.len() > 20 {
        return Err(bad("serial number longer than 20 octets"));
    }
    match c.subject_key_id(what)? {
        Some(id) if id.len() == KEY_ID_LEN => {}
        _ => return Err(bad("subject key identifier missing or not 20 bytes")),
    }
    match c.authority_key_id(what)? {
        Some(id) if id.len() == KEY_ID_LEN => Ok(()),
        _ => Err(bad("authority key identifier missing or not 20 bytes")),
    }
}

fn ca_profile(
    c: &Certificate<'_>,
    what: &'static str,
    max_path_len: u8,
) -> Result<(), AttestationError> {
    let bad = |reason| AttestationError::Profile { cert: what, reason };
    match c.basic_constraints(what)? {
        Some((true, true, p)) if p.is_none_or(|p| p <= max_path_len) => {}
        _ => {
            return Err(bad(
                "basicConstraints is not critical with cA TRUE and a fitting path length",
            ))
        }
    }
    match c.key_usage(what)? {
        Some((true, bits)) if bits & key_usage::KEY_CERT_SIGN != 0 => Ok(()),
        _ => Err(bad("keyUsage is not critical with keyCertSign")),
    }
}

fn check_ids(
    vid: u16,
    pid: u16,
    pai_vid: u16,
    pai_pid: Option<u16>,
) -> Result<(), AttestationError> {
    if vid != pai_vid {
        return Err(AttestationError::Profile {
            cert: "DAC",
            reason: "vendor id differs from the PAI's",
        });
    }
    if pai_pid.is_some_and(|p| p != pid) {
        return Err(AttestationError::Profile {
            cert: "DAC",
            reason: "product id differs from the PAI's",
        });
    }
    Ok(())
}

/// A key identifier: the leftmost 160 bits of SHA-256 over the subjectPublicKey bits
/// (RFC 7093 §2 method 1; Matter requires 20 bytes but not how they are derived).
pub(crate) fn key_id(point: &[u8]) -> [u8; KEY_ID_LEN] {
    let h = Sha256::digest(point);
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(h.get(..KEY_ID_LEN).unwrap_or_default());
    id
}
