//! The manual pairing code (Matter 1.3 §5.1.4 "Manual Pairing Code"): 11 decimal digits, or 21 with
//! the vendor and product id, the last one a Verhoeff check digit.
//!
//! | digits | content |
//! |---|---|
//! | 1 | bit 2: vendor/product id present; bits 0-1: discriminator bits 11-10 (bit 3, version, is 0) |
//! | 5 | bits 15-14: discriminator bits 9-8; bits 13-0: passcode bits 13-0 |
//! | 4 | passcode bits 26-14 |
//! | 5 + 5 | vendor id, product id (21-digit form only) |
//! | 1 | Verhoeff check digit |

use core::fmt;

use super::{verhoeff, CommissioningFlow, Passcode, SetupPayload, SetupPayloadError};

/// A manual pairing code's content. Only the upper 4 bits of the discriminator fit in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualCode {
    /// Discriminator bits 11-8.
    pub short_discriminator: u8,
    /// The setup passcode.
    pub passcode: Passcode,
    /// Vendor and product id: `Some` makes the 21-digit form.
    pub vendor_product: Option<(u16, u16)>,
}

impl ManualCode {
    /// The code for `payload`: with vendor and product id when its flow is not standard.
    pub fn from_payload(payload: &SetupPayload) -> Self {
        Self {
            short_discriminator: payload.discriminator.short(),
            passcode: payload.passcode.clone(),
            vendor_product: (payload.commissioning_flow != CommissioningFlow::Standard)
                .then_some((payload.vendor_id, payload.product_id)),
        }
    }

    /// The digits without the check digit.
    fn body(&self) -> String {
        let disc = u32::from(self.short_discriminator & 0x0F);
        let pass = self.passcode.value();
        let first = (u32::from(self.vendor_product.is_some()) << 2) | (disc >> 2);
        let second = ((disc & 0x03) << 14) | (pass & 0x3FFF);
        let third = pass >> 14;
        let mut body = format!("{first}{second:05}{third:04}");
        if let Some((vid, pid)) = self.vendor_product {
            body.push_str(&format!("{vid:05}{pid:05}"));
        }
        body
    }

    /// Parses a manual code. Dashes and spaces (as in `3497-011-2332`) are ignored.
    ///
    /// # Errors
    /// [`SetupPayloadError::ManualCodeCharacter`], [`SetupPayloadError::ManualCodeLength`],
    /// [`SetupPayloadError::ManualCodeCheckDigit`],
    /// [`SetupPayloadError::ManualCodeLengthMismatch`] (first digit and length disagree, or the
    /// version bit is set), [`SetupPayloadError::ManualCodeValue`], and the passcode errors.
    pub fn parse(text: &str) -> Result<Self, SetupPayloadError> {
        let digits: String = text.chars().filter(|c| *c != '-' && *c != ' ').collect();
        if let Some(bad) = digits.chars().find(|c| !c.is_ascii_digit()) {
            return Err(SetupPayloadError::ManualCodeCharacter(bad));
        }
        let len = digits.len();
        if len != 11 && len != 21 {
            return Err(SetupPayloadError::ManualCodeLength(len));
        }
        if !verhoeff::is_valid(&digits) {
            return Err(SetupPayloadError::ManualCodeCheckDigit);
        }
        // All ASCII digits, so every slice below is on a char boundary and parses.
        let num = |range: core::ops::Range<usize>| -> Result<u32, SetupPayloadError> {
            digits
                .get(range)
                .and_then(|s| s.parse().ok())
                .ok_or(SetupPayloadError::ManualCodeValue)
        };
        let first = num(0..1)?;
        let long = first & 0x04 != 0;
        if first > 7 || long != (len == 21) {
            return Err(SetupPayloadError::ManualCodeLengthMismatch {
                first: first as u8,
                len,
            });
        }
        let second = num(1..6)?;
        let third = num(6..10)?;
        if second > 0xFFFF || third > 0x1FFF {
            return Err(SetupPayloadError::ManualCodeValue);
        }
        let vendor_product = if long {
            let vid =
                u16::try_from(num(10..15)?).map_err(|_| SetupPayloadError::ManualCodeValue)?;
            let pid =
                u16::try_from(num(15..20)?).map_err(|_| SetupPayloadError::ManualCodeValue)?;
            Some((vid, pid))
        } else {
            None
        };
        Ok(Self {
            short_discriminator: (((first & 0x03) << 2) | (second >> 14)) as u8,
            passcode: Passcode::new((third << 14) | (second & 0x3FFF))?,
            vendor_product,
        })
    }

    /// The code with dashes in the usual groups (`3497-011-2332`, or `7454-920-7530-0001-00001-3`
    /// for the long form): easier to read aloud, and [`Self::parse`] accepts it.
    pub fn grouped(&self) -> String {
        let s = self.to_string();
        let cuts: &[usize] = if self.vendor_product.is_some() {
            &[4, 7, 11, 15, 20]
        } else {
            &[4, 7]
        };
        let mut out = String::with_capacity(s.len() + cuts.len());
        for (i, c) in s.chars().enumerate() {
            if cuts.contains(&i) {
                out.push('-');
            }
            out.push(c);
        }
        out
    }
}

impl fmt::Display for ManualCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = self.body();
        // The body is made of decimal digits only, so there always is a check digit.
        let check = verhoeff::check_digit(&body).unwrap_or(0);
        write!(f, "{body}{check}")
    }
}
