//! P-256 keys as attestation uses them: a signing key (the DAC key, a PAI key, a CD signing
//! key) that zeroizes itself, and a public key. Signatures are ECDSA with SHA-256 (Matter 1.3
//! §3.5.3), deterministic per RFC 6979 so that signing needs no random input.

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use super::{AttestationError, SIGNATURE_LEN};
use crate::rng::Rng;

/// Attempts at drawing a valid scalar before giving up. A uniform 256-bit draw is out of range
/// with probability about 2^-32, so more than one retry means the random source is broken.
const KEYGEN_ATTEMPTS: usize = 8;

/// A P-256 private key used for attestation signatures. Zeroized on drop (the RustCrypto
/// `SigningKey` is `ZeroizeOnDrop`); its `Debug` shows only the public key.
#[derive(Clone)]
pub struct AttestationKey(SigningKey);

impl AttestationKey {
    /// Generates a fresh key from `rng`.
    ///
    /// # Errors
    /// [`AttestationError::KeyGeneration`] if `rng` keeps yielding out-of-range scalars.
    pub fn generate(rng: &mut dyn Rng) -> Result<Self, AttestationError> {
        for _ in 0..KEYGEN_ATTEMPTS {
            let mut bytes = Zeroizing::new([0u8; 32]);
            rng.fill(bytes.as_mut());
            if let Ok(k) = SigningKey::from_slice(bytes.as_ref()) {
                return Ok(Self(k));
            }
        }
        Err(AttestationError::KeyGeneration)
    }

    /// A key from its 32-byte big-endian scalar.
    ///
    /// # Errors
    /// [`AttestationError::Invalid`] if the scalar is zero or not below the group order.
    pub fn from_scalar(bytes: &[u8]) -> Result<Self, AttestationError> {
        SigningKey::from_slice(bytes)
            .map(Self)
            .map_err(|_| AttestationError::Invalid("P-256 private key scalar"))
    }

    /// The 32-byte big-endian scalar (for persistence; zeroized when dropped).
    pub fn to_scalar(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        let bytes = Zeroizing::new(self.0.to_bytes());
        out.copy_from_slice(bytes.as_slice());
        out
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(*self.0.verifying_key())
    }

    /// ECDSA-SHA256 over `msg`, as raw `r || s`.
    pub fn sign(&self, msg: &[u8]) -> [u8; SIGNATURE_LEN] {
        let sig: Signature = self.0.sign(msg);
        let mut out = [0u8; SIGNATURE_LEN];
        out.copy_from_slice(&sig.to_bytes());
        out
    }

    /// The RustCrypto signing key (for the certificate builder).
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.0
    }

    /// ECDSA-SHA256 over `msg`, DER-encoded (`Ecdsa-Sig-Value`, as X.509 and CMS carry it).
    pub fn sign_der(&self, msg: &[u8]) -> Vec<u8> {
        let sig: Signature = self.0.sign(msg);
        sig.to_der().as_bytes().to_vec()
    }
}

// The inner RustCrypto key zeroizes its scalar on drop.
impl zeroize::ZeroizeOnDrop for AttestationKey {}

impl std::fmt::Debug for AttestationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttestationKey")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

/// A P-256 public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// A key from its SEC1 encoding (65-byte uncompressed `04 || x || y`, or compressed).
    ///
    /// # Errors
    /// [`AttestationError::Invalid`] if the bytes are not a point on P-256.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, AttestationError> {
        VerifyingKey::from_sec1_bytes(bytes)
            .map(Self)
            .map_err(|_| AttestationError::Invalid("P-256 public key"))
    }

    /// The 65-byte uncompressed SEC1 encoding, as Matter certificates carry it.
    pub fn to_uncompressed(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        let p = self.0.to_sec1_point(false);
        out.copy_from_slice(p.as_bytes());
        out
    }

    /// Verifies a raw `r || s` ECDSA-SHA256 signature over `msg`; `what` names it in the error.
    ///
    /// # Errors
    /// [`AttestationError::BadSignature`].
    pub fn verify(
        &self,
        msg: &[u8],
        sig: &[u8],
        what: &'static str,
    ) -> Result<(), AttestationError> {
        let sig = Signature::from_slice(sig).map_err(|_| AttestationError::BadSignature(what))?;
        self.0
            .verify(msg, &sig)
            .map_err(|_| AttestationError::BadSignature(what))
    }

    /// Verifies a DER-encoded ECDSA-SHA256 signature over `msg`.
    ///
    /// # Errors
    /// [`AttestationError::BadSignature`].
    pub fn verify_der(
        &self,
        msg: &[u8],
        sig: &[u8],
        what: &'static str,
    ) -> Result<(), AttestationError> {
        let sig = Signature::from_der(sig).map_err(|_| AttestationError::BadSignature(what))?;
        self.0
            .verify(msg, &sig)
            .map_err(|_| AttestationError::BadSignature(what))
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.to_uncompressed();
        write!(f, "PublicKey(")?;
        for x in b.get(..9).unwrap_or_default() {
            write!(f, "{x:02x}")?;
        }
        write!(f, "..)")
    }
}
