//! Matter operational certificates (Matter 1.3 §6.5): the DER encoding they correspond to, the
//! Matter TLV form, the conversion between them, chain validation for AddNOC, PKCS#10 CSRs and
//! an X.509 builder for attestation certificates. Sans-IO: time is an optional input.
//!
//! * [`der`]: strict DER writer and reader (ITU-T X.690), X.509 times, the Matter epoch.
//! * [`matter`]: the Matter TLV certificate ([`MatterCert`]), decode and encode.
//! * [`x509`]: Matter <-> X.509 DER conversion (byte-exact), a generic X.509 parser
//!   ([`x509::X509Cert`]), ECDSA P-256 helpers, and [`x509::X509Builder`] for DACs.
//! * [`chain`]: NOC -> ICAC -> RCAC validation and the compressed fabric id.
//! * [`csr`]: PKCS#10 CertificationRequest building and verification.
//!
//! # How the commissioning clusters use it
//! * AddTrustedRootCertificate: [`validate_rcac`]`(rcac_tlv, now)` and keep the TLV.
//! * CSRRequest: [`csr::build_csr`]`(&operational_key)` (a `p256::ecdsa::SigningKey`, zeroized
//!   on drop) gives the DER CSR for the NOCSR elements.
//! * AddNOC / UpdateNOC: [`validate_chain`]`(noc_tlv, icac_tlv, &rcac_tlv, now)`, then compare
//!   [`ValidatedChain::noc_public_key`] with the operational key's public key; the fabric id,
//!   node id and CATs come out of the chain, and [`ValidatedChain::compressed_fabric_id`] names
//!   the fabric. `now` is Matter epoch seconds ([`der::DateTime::to_matter_seconds`]) or `None`
//!   when the device does not know the time.
//! * Attestation: [`x509::X509Cert::parse`] reads a PAI/DAC; [`x509::X509Builder`] issues a DAC
//!   under a PAI (issuer = the PAI's subject bytes, vendor/product id attributes
//!   [`x509::oid::MATTER_VENDOR_ID`] / [`x509::oid::MATTER_PRODUCT_ID`]); [`x509::sign_p256`] /
//!   [`x509::verify_p256`] sign and verify raw messages (r||s signatures).
//!
//! ```
//! use matter_ble::cert::der::DateTime;
//! use matter_ble::cert::matter::key_usage;
//! use matter_ble::cert::x509::{self, oid, BuilderExtension, Name, NameValue, X509Builder, X509Cert};
//! # fn main() -> Result<(), matter_ble::cert::CertError> {
//! # let pai_key = p256::ecdsa::SigningKey::from_slice(&[3; 32]).unwrap();
//! # let dac_key = p256::ecdsa::SigningKey::from_slice(&[4; 32]).unwrap();
//! # let pai_subject = vec![0x30, 0x00];
//! let dac = X509Builder {
//!     serial: vec![0x01, 0x02],
//!     issuer: Name::Der(pai_subject),           // X509Cert::parse(&pai_der)?.subject.to_vec()
//!     not_before: DateTime::new(2024, 1, 1, 0, 0, 0)?,
//!     not_after: DateTime::NO_EXPIRY,
//!     subject: Name::Attributes(vec![
//!         (oid::COMMON_NAME.to_vec(), NameValue::Utf8("Matter Dev DAC".into())),
//!         (oid::MATTER_VENDOR_ID.to_vec(), NameValue::Utf8("FFF1".into())),
//!         (oid::MATTER_PRODUCT_ID.to_vec(), NameValue::Utf8("8000".into())),
//!     ]),
//!     public_key: x509::public_key_bytes(dac_key.verifying_key()),
//!     extensions: vec![
//!         BuilderExtension::basic_constraints(false, None),
//!         BuilderExtension::key_usage(key_usage::DIGITAL_SIGNATURE),
//!         BuilderExtension::subject_key_id(&[0x11; 20]),
//!         BuilderExtension::authority_key_id(&[0x22; 20]),
//!     ],
//! }
//! .sign(&pai_key)?;
//! X509Cert::parse(&dac)?.verify_signature(&x509::public_key_bytes(pai_key.verifying_key()))?;
//! # Ok(()) }
//! ```

pub mod chain;
pub mod csr;
pub mod der;
pub mod matter;
pub mod x509;

#[cfg(test)]
mod test_vectors;
#[cfg(test)]
mod tests;

use thiserror::Error;

pub use chain::{
    compressed_fabric_id, validate_chain, validate_rcac, ValidatedCert, ValidatedChain,
};
pub use matter::{CertKind, DistinguishedName, DnAttribute, Extension, MatterCert, TextAttr};

/// Why a certificate or CSR was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CertError {
    /// The TLV form could not be read.
    #[error("certificate TLV: {0}")]
    Tlv(#[from] crate::tlv::TlvError),
    /// The DER form could not be read or written.
    #[error("certificate DER: {0}")]
    Der(#[from] der::DerError),
    /// The structure breaks a rule of the Matter certificate format (the field is named).
    #[error("malformed certificate: {0}")]
    Malformed(&'static str),
    /// Valid X.509 (or TLV) that Matter does not support or cannot express exactly.
    #[error("unsupported certificate feature: {0}")]
    Unsupported(&'static str),
    /// The public key is not a valid P-256 point.
    #[error("invalid public key")]
    BadPublicKey,
    /// The signature does not verify.
    #[error("signature verification failed")]
    BadSignature,
    /// The issuer DN is not the parent's subject DN.
    #[error("issuer does not match the parent's subject")]
    IssuerMismatch,
    /// The authority key id is missing or differs from the parent's subject key id.
    #[error("authority key id does not match the parent's subject key id")]
    KeyIdMismatch,
    /// A CA certificate without basicConstraints cA = TRUE.
    #[error("not a CA certificate")]
    NotCa,
    /// A leaf certificate marked as a CA.
    #[error("NOC must not be a CA")]
    NotEndEntity,
    /// A path length constraint the chain exceeds.
    #[error("path length constraint exceeded")]
    PathLength,
    /// Key usage missing or without the bit the role needs.
    #[error("key usage does not permit this use")]
    KeyUsage,
    /// Extended key usage missing serverAuth or clientAuth.
    #[error("extended key usage must include serverAuth and clientAuth")]
    ExtendedKeyUsage,
    /// Fabric ids in the chain disagree.
    #[error("fabric id mismatch in the chain")]
    FabricMismatch,
    /// A subject without the identifiers its role needs, or with ones it must not have.
    #[error("invalid subject: {0}")]
    InvalidSubject(&'static str),
    /// The root is not self-issued and self-signed.
    #[error("root certificate is not self-signed")]
    NotSelfSigned,
    /// `now` is before notBefore.
    #[error("certificate not yet valid")]
    NotYetValid,
    /// `now` is after notAfter.
    #[error("certificate expired")]
    Expired,
}
