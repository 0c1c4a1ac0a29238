//! The onboarding payload a commissioner scans or types to find and authenticate this device
//! (Matter 1.3 §5.1 "Onboarding Payload"): the `MT:` QR code payload and the 11- or 21-digit manual
//! pairing code, with the validated values they carry ([`Passcode`], [`Discriminator`]).
//!
//! Sans-IO and free of rendering: turning the QR text into modules on a terminal is the binary's job.
//!
//! ```
//! use matter_ble::setup_payload::{Discriminator, Passcode, SetupPayload, DiscoveryCapabilities};
//! let payload = SetupPayload::new(
//!     0xFFF1,
//!     0x8001,
//!     Discriminator::new(3840).unwrap(),
//!     Passcode::new(20202021).unwrap(),
//!     DiscoveryCapabilities::BLE,
//! );
//! assert_eq!(payload.qr_code(), "MT:-24J042C00KA0648G00");
//! assert_eq!(payload.manual_code().to_string(), "34970112332");
//! ```

pub mod base38;
mod manual;
mod qr;
pub mod verhoeff;

use core::fmt;

use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::rng::Rng;

pub use manual::ManualCode;
pub use qr::{CommissioningFlow, DiscoveryCapabilities, SetupPayload, QR_PREFIX};

/// Why an onboarding payload or one of its values was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SetupPayloadError {
    /// The passcode is outside 1..=99999998 (Matter 1.3 §5.1.7.1 "Invalid Passcodes").
    #[error("passcode {0} is out of range: it must be between 1 and 99999998")]
    PasscodeOutOfRange(u32),
    /// The passcode is one of the trivial values the spec forbids.
    #[error(
        "passcode {0:08} is not allowed: Matter forbids 00000000, 11111111, 22222222, ..., \
         99999999, 12345678 and 87654321"
    )]
    PasscodeForbidden(u32),
    /// The discriminator does not fit its 12 bits.
    #[error("discriminator {0} is out of range: it must be between 0 and 4095 (12 bits)")]
    DiscriminatorOutOfRange(u32),
    /// The QR payload does not start with `MT:`.
    #[error("a QR code payload must start with \"MT:\"")]
    MissingPrefix,
    /// A character that is not in the Base38 alphabet.
    #[error("character {character:?} at position {position} is not in the Base38 alphabet")]
    Base38Character {
        /// The offending character.
        character: char,
        /// Its byte offset in the Base38 text (after `MT:`).
        position: usize,
    },
    /// A Base38 text whose length leaves a 1- or 3-character tail.
    #[error("Base38 text of {0} characters cannot be decoded (a final chunk has 2, 4 or 5)")]
    Base38Length(usize),
    /// A Base38 chunk whose value does not fit its byte count.
    #[error("Base38 chunk at position {position} encodes a value too large for its length")]
    Base38Overflow {
        /// Byte offset of the chunk in the Base38 text.
        position: usize,
    },
    /// The QR payload holds fewer than the 11 bytes of the fixed fields.
    #[error("QR code payload holds {0} bytes; the fixed fields need 11")]
    QrTooShort(usize),
    /// The QR text holds several payloads separated by `*`; use
    /// [`SetupPayload::parse_qr_codes`].
    #[error("QR code text holds several payloads separated by '*'")]
    Concatenated,
    /// A version other than 0 where the encoder must write one (3 bits; only 0 is defined).
    #[error("unsupported onboarding payload version {0}")]
    UnsupportedVersion(u8),
    /// The reserved commissioning flow value 3.
    #[error("commissioning flow {0} is reserved")]
    ReservedCommissioningFlow(u8),
    /// The manual code is neither 11 nor 21 digits long.
    #[error("a manual pairing code has 11 or 21 digits, not {0}")]
    ManualCodeLength(usize),
    /// The manual code holds something other than a decimal digit (after removing `-` and spaces).
    #[error("a manual pairing code holds only digits; found {0:?}")]
    ManualCodeCharacter(char),
    /// The Verhoeff check digit does not match: a typo.
    #[error("manual pairing code check digit is wrong (a digit was mistyped)")]
    ManualCodeCheckDigit,
    /// The first digit announces a length (or a version) the code does not have.
    #[error("manual pairing code's first digit {first} does not match its length of {len} digits")]
    ManualCodeLengthMismatch {
        /// The first digit.
        first: u8,
        /// The number of digits.
        len: usize,
    },
    /// A chunk of the manual code holds a value larger than its bits allow.
    #[error("manual pairing code holds an out-of-range value")]
    ManualCodeValue,
}

/// The setup passcode (the SPAKE2+ password), validated: 1..=99999998 and not a trivial value.
///
/// Its value is a secret: `Debug` does not show it, and it is wiped on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Passcode(u32);

impl Passcode {
    /// The largest valid passcode.
    pub const MAX: u32 = 99_999_998;

    /// The passcodes the spec forbids on top of the range check (Matter 1.3 §5.1.7.1).
    pub const FORBIDDEN: [u32; 12] = [
        0, 11_111_111, 22_222_222, 33_333_333, 44_444_444, 55_555_555, 66_666_666, 77_777_777,
        88_888_888, 99_999_999, 12_345_678, 87_654_321,
    ];

    /// Validates `value`.
    ///
    /// # Errors
    /// [`SetupPayloadError::PasscodeForbidden`] for the listed trivial values (including 0 and
    /// 99999999), [`SetupPayloadError::PasscodeOutOfRange`] for anything else above
    /// [`Self::MAX`].
    pub fn new(value: u32) -> Result<Self, SetupPayloadError> {
        if Self::FORBIDDEN.contains(&value) {
            Err(SetupPayloadError::PasscodeForbidden(value))
        } else if value > Self::MAX {
            Err(SetupPayloadError::PasscodeOutOfRange(value))
        } else {
            Ok(Self(value))
        }
    }

    /// A uniformly random valid passcode.
    pub fn random(rng: &mut dyn Rng) -> Self {
        loop {
            // Rejection sampling on 27 bits (2^27 > MAX) keeps the distribution uniform.
            let candidate = rng.next_u32() & 0x07FF_FFFF;
            if let Ok(p) = Self::new(candidate) {
                return p;
            }
        }
    }

    /// The numeric value, for the PBKDF2 input and the payload encoders.
    pub fn value(&self) -> u32 {
        self.0
    }
}

impl fmt::Debug for Passcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passcode(<redacted>)")
    }
}

/// The 12-bit discriminator that lets a commissioner tell commissionable devices apart
/// (Matter 1.3 §5.1.1.5). The BLE advertisement and the QR code carry all 12 bits; the manual code
/// carries only the upper 4 ([`Discriminator::short`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Discriminator(u16);

impl Discriminator {
    /// The largest discriminator.
    pub const MAX: u16 = 0x0FFF;

    /// Validates `value`.
    ///
    /// # Errors
    /// [`SetupPayloadError::DiscriminatorOutOfRange`] above 4095.
    pub fn new(value: u16) -> Result<Self, SetupPayloadError> {
        if value > Self::MAX {
            Err(SetupPayloadError::DiscriminatorOutOfRange(u32::from(value)))
        } else {
            Ok(Self(value))
        }
    }

    /// A uniformly random discriminator.
    pub fn random(rng: &mut dyn Rng) -> Self {
        // Masking 32 random bits to 12 is uniform.
        Self((rng.next_u32() & u32::from(Self::MAX)) as u16)
    }

    /// All 12 bits.
    pub fn value(self) -> u16 {
        self.0
    }

    /// The upper 4 bits, as the manual pairing code carries them.
    pub fn short(self) -> u8 {
        (self.0 >> 8) as u8
    }
}

impl fmt::Display for Discriminator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::TestRng;

    #[test]
    fn passcode_limits() {
        assert_eq!(Passcode::new(1).map(|p| p.value()), Ok(1));
        assert_eq!(Passcode::new(99_999_998).map(|p| p.value()), Ok(99_999_998));
        assert_eq!(Passcode::new(20_202_021).map(|p| p.value()), Ok(20_202_021));
        for bad in Passcode::FORBIDDEN {
            assert_eq!(
                Passcode::new(bad),
                Err(SetupPayloadError::PasscodeForbidden(bad))
            );
        }
        assert_eq!(
            Passcode::new(100_000_000),
            Err(SetupPayloadError::PasscodeOutOfRange(100_000_000))
        );
        assert_eq!(
            Passcode::new(u32::MAX),
            Err(SetupPayloadError::PasscodeOutOfRange(u32::MAX))
        );
        // Close to the forbidden values but fine.
        for ok in [11_111_112, 12_345_679, 87_654_320, 2_222_222] {
            assert!(Passcode::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn passcode_debug_is_redacted() {
        let p = Passcode::new(20_202_021).unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{p:?}").contains("20202021"));
    }

    #[test]
    fn discriminator_limits() {
        assert_eq!(Discriminator::new(4095).map(Discriminator::value), Ok(4095));
        assert_eq!(
            Discriminator::new(4096),
            Err(SetupPayloadError::DiscriminatorOutOfRange(4096))
        );
        assert_eq!(Discriminator::new(3840).map(Discriminator::short), Ok(15));
        assert_eq!(
            Discriminator::new(0x0A1F).map(Discriminator::short),
            Ok(0x0A)
        );
    }

    #[test]
    fn random_values_are_valid_and_vary() {
        let mut rng = TestRng::new(1);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let p = Passcode::random(&mut rng);
            assert!(Passcode::new(p.value()).is_ok());
            seen.insert(p.value());
            assert!(Discriminator::random(&mut rng).value() <= 4095);
        }
        assert!(seen.len() > 190);
    }
}
