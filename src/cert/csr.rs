//! PKCS#10 certificate signing requests (RFC 2986) for the operational key, as CSRRequest
//! returns them inside NOCSR elements (Matter 1.3 §11.18.5.6, §6.4.6.1), and their
//! commissioner-side verification.
//!
//! The request is what the CHIP SDK generates: subject `O=CSR` (a UTF8String; the commissioner
//! ignores the subject), the P-256 SubjectPublicKeyInfo, an empty attribute set, and an
//! ecdsa-with-SHA256 signature by the operational key over the CertificationRequestInfo.

use p256::ecdsa::SigningKey;
use tracing::debug;

use super::der::{tag, DerReader, DerWriter};
use super::matter::PublicKeyBytes;
use super::x509::{self, oid};
use super::CertError;

/// A verified CSR: its public key and the CertificationRequestInfo it signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCsr {
    /// The requested (operational) public key, uncompressed.
    pub public_key: PublicKeyBytes,
    /// The subject Name, whole encoding (informative only).
    pub subject: Vec<u8>,
}

/// Builds a DER CertificationRequest for `key`'s public key, signed by `key`.
pub fn build_csr(key: &SigningKey) -> Result<Vec<u8>, CertError> {
    let public_key = x509::public_key_bytes(key.verifying_key());
    let info = request_info(&public_key)?;
    let sig = x509::sign_p256(key, &info);
    let mut w = DerWriter::new();
    w.sequence(|w| {
        w.raw(&info);
        w.sequence(|w| w.oid(oid::ECDSA_WITH_SHA256));
        w.bit_string_with(|w| x509::write_ecdsa_sig(w, &sig));
    });
    debug!("cert: CSR built for the operational key");
    Ok(w.finish()?)
}

/// The DER CertificationRequestInfo for `public_key` (what the CSR signature covers).
pub fn request_info(public_key: &PublicKeyBytes) -> Result<Vec<u8>, CertError> {
    let mut w = DerWriter::new();
    w.sequence(|w| {
        w.integer_u64(0); // version v1
        w.sequence(|w| {
            w.set(|w| {
                w.sequence(|w| {
                    w.oid(oid::ORGANIZATION_NAME);
                    w.utf8_string("CSR");
                })
            })
        });
        x509::write_spki(w, public_key);
        // attributes [0] IMPLICIT SET OF Attribute: empty.
        w.context(0, |_| {});
    });
    Ok(w.finish()?)
}

/// Parses a DER CSR strictly and verifies its self-signature (Matter 1.3 §11.18.6.8 step
/// "verify the CSR signature" on the commissioner side; also used by our tests).
pub fn verify_csr(der: &[u8]) -> Result<VerifiedCsr, CertError> {
    let mut top = DerReader::new(der);
    let mut req = top.sequence()?;
    top.finish()?;
    let info = req.read_tlv(tag::SEQUENCE)?;
    let mut alg = req.sequence()?;
    if alg.oid()? != oid::ECDSA_WITH_SHA256 {
        return Err(CertError::Unsupported("CSR signature algorithm"));
    }
    alg.finish()?;
    let sig = x509::parse_ecdsa_sig(req.bit_string_octets()?)?;
    req.finish()?;

    let mut i = DerReader::new(info.content);
    if i.integer_u64()? != 0 {
        return Err(CertError::Unsupported("CSR version"));
    }
    let subject = i.read_tlv(tag::SEQUENCE)?.raw;
    let spki = i.read_tlv(tag::SEQUENCE)?.raw;
    let public_key = x509::parse_spki(spki)?;
    // Attributes (RFC 2986 §4.1): each SEQUENCE { type OID, values SET }; their content is not
    // used (the CHIP SDK sends none), but they must be well-formed.
    let mut attrs = i.context(0)?;
    while !attrs.is_empty() {
        let mut a = attrs.sequence()?;
        a.oid()?;
        a.set()?;
        a.finish()?;
    }
    i.finish()?;
    x509::verify_p256(&public_key, info.raw, &sig)?;
    Ok(VerifiedCsr {
        public_key,
        subject: subject.to_vec(),
    })
}
