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
