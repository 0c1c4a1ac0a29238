//! Device attestation (Matter 1.3 §6): the device's attestation credentials and what it signs
//! with them during commissioning.
//!
//! - [`elements`]: AttestationElements and NOCSRElements (§11.18.4.7, §11.18.4.9, §6.4) and
//!   their signature with the DAC key over `elements || attestation challenge`.
//! - [`cd`]: the Certification Declaration (§6.3.1): its TLV content and the CMS SignedData
//!   envelope it travels in, signing and verifying.
//! - [`dac`]: issuing a per-device DAC under a PAI (§6.2.2 profile) and checking a DAC
//!   against that profile and its PAI.
//! - [`credentials`]: [`DeviceCredentials`] (DAC, PAI, DAC key, CD), loaded from PEM/DER
//!   file contents or persisted with `to_bytes`/`from_bytes`.
//! - [`dev`]: the CSA / CHIP SDK published test attestation chain for vendor 0xFFF1 that
//!   commissioners accept in their development/test mode.
//!
//! Everything here is sans-IO: bytes, an [`crate::rng::Rng`] and the current time as inputs.

pub mod cd;
pub mod credentials;
pub mod dac;
mod der;
pub mod dev;
pub mod elements;
mod key;
mod pem;
mod x509;

pub use cd::{CdSigner, CertificationDeclaration, CertificationType};
pub use credentials::{CredentialFile, CredentialsError, DeviceCredentials};
pub use dac::{issue_dac, verify_dac, verify_pai, DacInfo, DacRequest};
pub use elements::{
    sign_attestation, sign_nocsr, verify_attestation, verify_nocsr, AttestationElements,
    NocsrElements, VendorReserved,
};
pub use key::{AttestationKey, PublicKey};

use thiserror::Error;

/// Length of the attestation challenge a secure session yields (Matter 1.3 §4.8.1 / §6.4).
pub const ATTESTATION_CHALLENGE_LEN: usize = 16;
/// Length of the AttestationNonce and CSRNonce (Matter 1.3 §11.18.6.1, §11.18.6.5).
pub const NONCE_LEN: usize = 32;
/// Length of a raw P-256 ECDSA signature, `r || s` (Matter 1.3 §3.5.3).
pub const SIGNATURE_LEN: usize = 64;
/// Largest AttestationElements and NOCSRElements (Matter 1.3 §11.18.4.7 / §11.18.4.9: the
/// response fields are `octstr max 900`; the spec's RESP_MAX).
pub const MAX_ELEMENTS_LEN: usize = 900;

/// An attestation structure that could not be built, parsed or verified.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AttestationError {
    /// A TLV structure was malformed or had a field of the wrong type.
    #[error("malformed {what}: {source}")]
    Tlv {
        /// The structure being read.
        what: &'static str,
        /// The TLV-level error.
        source: crate::tlv::TlvError,
    },
    /// A DER structure (certificate, CMS, key) was malformed.
    #[error("malformed DER in {0}")]
    Der(&'static str),
    /// A field held a value the spec does not allow.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// The encoded elements are larger than the spec allows.
    #[error("{what} is {len} bytes, more than the {max} the spec allows")]
    TooLarge {
        /// The structure.
        what: &'static str,
        /// Its encoded length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A nonce or challenge had the wrong length.
    #[error("{what} must be {expected} bytes, got {got}")]
    BadLength {
        /// The field.
        what: &'static str,
        /// Required length.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// A signature did not verify.
    #[error("signature of {0} does not verify")]
    BadSignature(&'static str),
    /// A certificate does not follow the profile the spec gives for its kind.
    #[error("{cert} does not follow the Matter profile: {reason}")]
    Profile {
        /// Which certificate (DAC, PAI, CD signer).
        cert: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The CD's signer is not among the trusted CD signing keys.
    #[error("CD signed by an unknown key (subject key id {0})")]
    UnknownCdSigner(String),
    /// Key generation kept drawing invalid scalars (a broken random source).
    #[error("the random source produced no valid P-256 key")]
    KeyGeneration,
}

#[cfg(test)]
mod tests;

impl AttestationError {
    fn tlv(what: &'static str) -> impl Fn(crate::tlv::TlvError) -> Self {
        move |source| Self::Tlv { what, source }
    }
}
