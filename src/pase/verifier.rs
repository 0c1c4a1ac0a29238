//! What the commissionee needs to answer PASE: the SPAKE2+ verifier `(w0, L)` plus the PBKDF2
//! parameters (iterations, salt) it announces in PBKDFParamResponse, and the passcode rules
//! (Matter 1.3 §5.1.7 "Setup Passcode" and §3.9 "PBKDF").
//!
//! The verifier is computed once, when the commissioning window opens (PBKDF2 is the slow step), or
//! taken ready-made from `--verifier` so the passcode never has to be on the device.

use thiserror::Error;

use crate::setup_payload::Passcode;

use super::spake2p::{self, Spake2pError, Verifier};

/// The largest valid setup passcode (one definition: [`Passcode::MAX`]).
pub const MAX_PASSCODE: u32 = Passcode::MAX;

/// Why a verifier could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VerifierError {
    /// The passcode is out of range or on the spec's list of trivial passcodes.
    #[error("invalid setup passcode (must be 1..=99999998 and not a trivial sequence)")]
    InvalidPasscode,
    /// Iterations, salt or serialized verifier bytes out of range.
    #[error(transparent)]
    Spake2p(#[from] Spake2pError),
}

/// Checks a setup passcode against Matter's rules (1..=99999998, not 11111111, 12345678, ...).
///
/// # Errors
/// [`VerifierError::InvalidPasscode`].
pub fn check_passcode(passcode: u32) -> Result<(), VerifierError> {
    Passcode::new(passcode)
        .map(drop)
        .map_err(|_| VerifierError::InvalidPasscode)
}

/// The PASE verifier and its PBKDF2 parameters: everything the responder needs.
pub struct PaseVerifier {
    spake: Verifier,
    iterations: u32,
    salt: Vec<u8>,
}

impl PaseVerifier {
    /// Derives the verifier from a passcode (runs PBKDF2: milliseconds per 1000 iterations).
    ///
    /// # Errors
    /// [`VerifierError::InvalidPasscode`], or [`VerifierError::Spake2p`] for iterations outside
    /// 1000..=100000 or a salt outside 16..=32 bytes.
    pub fn from_passcode(
        passcode: u32,
        salt: &[u8],
        iterations: u32,
    ) -> Result<Self, VerifierError> {
        check_passcode(passcode)?;
        let spake = Verifier::from_passcode(passcode, salt, iterations)?;
        Ok(Self {
            spake,
            iterations,
            salt: salt.to_vec(),
        })
    }

    /// Builds the verifier from its serialized form `w0 (32) || L (65)` (`--verifier`), with the
    /// PBKDF2 parameters it was made with (a commissioner that lacks them derives `w0, w1` from the
    /// passcode with exactly these).
    ///
    /// # Errors
    /// [`VerifierError::Spake2p`] for bad verifier bytes or out-of-range parameters.
    pub fn from_serialized(
        verifier: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<Self, VerifierError> {
        spake2p::check_pbkdf_parameters(iterations, salt)?;
        let spake = Verifier::from_bytes(verifier)?;
        Ok(Self {
            spake,
            iterations,
            salt: salt.to_vec(),
        })
    }

    /// The PBKDF2 iteration count announced to commissioners.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// The PBKDF2 salt announced to commissioners.
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// The SPAKE2+ verifier `(w0, L)`.
    pub fn spake2p(&self) -> &Verifier {
        &self.spake
    }
}

impl core::fmt::Debug for PaseVerifier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PaseVerifier")
            .field("iterations", &self.iterations)
            .field("salt_len", &self.salt.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passcode_rules() {
        for ok in [1, 20_202_021, MAX_PASSCODE, 12_345_679] {
            assert!(check_passcode(ok).is_ok(), "{ok}");
        }
        for bad in [
            0,
            11_111_111,
            99_999_999,
            12_345_678,
            87_654_321,
            100_000_000,
            u32::MAX,
        ] {
            assert!(check_passcode(bad).is_err(), "{bad}");
        }
        assert_eq!(
            PaseVerifier::from_passcode(11_111_111, b"SPAKE2P Key Salt", 1000).unwrap_err(),
            VerifierError::InvalidPasscode
        );
    }

    #[test]
    fn serialized_and_derived_verifiers_agree() {
        let salt = b"SPAKE2P Key Salt";
        let a = PaseVerifier::from_passcode(20_202_021, salt, 1000).expect("valid");
        let b =
            PaseVerifier::from_serialized(&a.spake2p().to_bytes()[..], salt, 1000).expect("valid");
        assert_eq!(a.spake2p().to_bytes()[..], b.spake2p().to_bytes()[..]);
        assert_eq!((b.iterations(), b.salt()), (1000, &salt[..]));
        assert!(
            PaseVerifier::from_serialized(&a.spake2p().to_bytes()[..], &salt[..8], 1000).is_err()
        );
        // Debug output carries nothing secret.
        assert!(!format!("{a:?}").contains("w0"));
    }
}
