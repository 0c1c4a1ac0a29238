//! The QR code payload: `MT:` followed by Base38 of an 88-bit little-endian bit field and an
//! optional TLV extension (Matter 1.3 §5.1.3 "QR Code", Table 38 "Packed Binary Data Structure").
//!
//! Bit layout, least significant first: version 3, vendor id 16, product id 16, commissioning flow 2,
//! discovery capabilities 8, discriminator 12, passcode 27, padding 4 (zero). Bytes 11.. are the TLV
//! extension (an anonymous TLV structure, Matter 1.3 §5.1.5 "TLV Content"): kept as raw bytes so
//! that any extension round-trips, and read on demand with [`SetupPayload::optional_data`].

use super::manual::ManualCode;
use super::{base38, Discriminator, Passcode, SetupPayloadError};
use crate::tlv::{Container, TlvError, TlvReader, Value};

/// Context tag of the serial number in the TLV extension (Matter 1.3 §5.1.5; the CHIP SDK's
/// `kSerialNumberTag`).
pub const SERIAL_NUMBER_TAG: u8 = 0x00;

/// The text in front of the Base38 data.
pub const QR_PREFIX: &str = "MT:";

/// Bytes of the fixed fields.
const FIXED_LEN: usize = 11;

/// (offset, width) of each field in the packed bit field.
mod field {
    pub(super) const VERSION: (u32, u32) = (0, 3);
    pub(super) const VENDOR_ID: (u32, u32) = (3, 16);
    pub(super) const PRODUCT_ID: (u32, u32) = (19, 16);
    pub(super) const FLOW: (u32, u32) = (35, 2);
    pub(super) const DISCOVERY: (u32, u32) = (37, 8);
    pub(super) const DISCRIMINATOR: (u32, u32) = (45, 12);
    pub(super) const PASSCODE: (u32, u32) = (57, 27);
    pub(super) const PADDING: (u32, u32) = (84, 4);
}

/// How a commissioner should proceed (Matter 1.3 §5.1.1.4 "Commissioning Flow").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CommissioningFlow {
    /// The device is commissionable as soon as it is powered.
    #[default]
    Standard = 0,
    /// The user must act on the device (e.g. press a button) first.
    UserActionRequired = 1,
    /// The vendor's instructions must be followed (looked up through DCL by vendor/product id).
    Custom = 2,
}

impl CommissioningFlow {
    /// The 2-bit wire value.
    pub fn to_bits(self) -> u8 {
        self as u8
    }

    /// Decodes the 2-bit wire value.
    ///
    /// # Errors
    /// [`SetupPayloadError::ReservedCommissioningFlow`] for 3 (and anything wider).
    pub fn from_bits(bits: u8) -> Result<Self, SetupPayloadError> {
        match bits {
            0 => Ok(Self::Standard),
            1 => Ok(Self::UserActionRequired),
            2 => Ok(Self::Custom),
            other => Err(SetupPayloadError::ReservedCommissioningFlow(other)),
        }
    }
}

/// The discovery capabilities bit map: which transports a commissioner may find the device on
/// (Matter 1.3 §5.1.1.3 "Discovery Capabilities Bitmask"). Unknown bits survive a round trip.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DiscoveryCapabilities(pub u8);

impl DiscoveryCapabilities {
    /// Bit 0: the device hosts a Wi-Fi soft access point.
    pub const SOFT_AP: Self = Self(0x01);
    /// Bit 1: the device advertises over Bluetooth LE.
    pub const BLE: Self = Self(0x02);
    /// Bit 2: the device is already on the IP network (DNS-SD commissionable node).
    pub const ON_NETWORK: Self = Self(0x04);

    /// The raw bits.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for DiscoveryCapabilities {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl core::fmt::Debug for DiscoveryCapabilities {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let names = [
            (Self::SOFT_AP, "SOFT_AP"),
            (Self::BLE, "BLE"),
            (Self::ON_NETWORK, "ON_NETWORK"),
        ];
        write!(f, "DiscoveryCapabilities(")?;
        let mut rest = self.0;
        let mut first = true;
        for (flag, name) in names {
            if self.contains(flag) {
                write!(f, "{}{name}", if first { "" } else { " | " })?;
                rest &= !flag.0;
                first = false;
            }
        }
        if rest != 0 || first {
            write!(f, "{}{rest:#04x}", if first { "" } else { " | " })?;
        }
        write!(f, ")")
    }
}

/// Everything an onboarding payload says about the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupPayload {
    /// Payload format version (3 bits). Only 0 is defined; a decoder keeps what it read.
    pub version: u8,
    /// Vendor id (0xFFF1..=0xFFF4 are test vendors).
    pub vendor_id: u16,
    /// Product id.
    pub product_id: u16,
    /// How the commissioner proceeds.
    pub commissioning_flow: CommissioningFlow,
    /// Transports the device can be found on.
    pub discovery: DiscoveryCapabilities,
    /// The 12-bit discriminator.
    pub discriminator: Discriminator,
    /// The setup passcode.
    pub passcode: Passcode,
    /// The TLV extension after the fixed fields (optional data such as a serial number), raw.
    pub tlv_extension: Vec<u8>,
}

impl SetupPayload {
    /// A version-0 payload with the standard commissioning flow and no extension.
    pub fn new(
        vendor_id: u16,
        product_id: u16,
        discriminator: Discriminator,
        passcode: Passcode,
        discovery: DiscoveryCapabilities,
    ) -> Self {
        Self {
            version: 0,
            vendor_id,
            product_id,
            commissioning_flow: CommissioningFlow::Standard,
            discovery,
            discriminator,
            passcode,
            tlv_extension: Vec::new(),
        }
    }

    /// The QR code text, `MT:` + Base38.
    ///
    /// A version above 7 cannot be packed; its bits are masked off. Use [`Self::try_qr_code`] to
    /// catch that.
    pub fn qr_code(&self) -> String {
        let mut bytes = self.packed_fields().to_le_bytes()[..FIXED_LEN].to_vec();
        bytes.extend_from_slice(&self.tlv_extension);
        format!("{QR_PREFIX}{}", base38::encode(&bytes))
    }

    /// [`Self::qr_code`], refusing payloads whose version does not fit its field.
    ///
    /// # Errors
    /// [`SetupPayloadError::UnsupportedVersion`] for a version above 7.
    pub fn try_qr_code(&self) -> Result<String, SetupPayloadError> {
        if self.version > 7 {
            return Err(SetupPayloadError::UnsupportedVersion(self.version));
        }
        Ok(self.qr_code())
    }

    /// The manual pairing code for this payload: the 21-digit form (with vendor and product id)
    /// when the commissioning flow is not [`CommissioningFlow::Standard`], the 11-digit form
    /// otherwise, as the CHIP SDK's generator does.
    pub fn manual_code(&self) -> ManualCode {
        ManualCode::from_payload(self)
    }

    /// The TLV extension as a structure, or `None` when the payload has none. Members are found by
    /// context tag: [`SERIAL_NUMBER_TAG`], and 0x80..=0xFF for vendor data.
    ///
    /// # Errors
    /// A [`TlvError`] when the extension is not one well-formed anonymous structure.
    pub fn optional_data(&self) -> Result<Option<Container<'_>>, TlvError> {
        if self.tlv_extension.is_empty() {
            return Ok(None);
        }
        TlvReader::new(&self.tlv_extension).read_struct().map(Some)
    }

    /// The serial number from the TLV extension, if present. The spec allows a UTF-8 string or an
    /// unsigned integer; an integer is returned in decimal.
    ///
    /// # Errors
    /// As [`Self::optional_data`], and [`TlvError::WrongType`] for a serial number of another type.
    pub fn serial_number(&self) -> Result<Option<String>, TlvError> {
        let Some(data) = self.optional_data()? else {
            return Ok(None);
        };
        match data.find(SERIAL_NUMBER_TAG)?.map(|e| e.value) {
            None => Ok(None),
            Some(Value::Utf8(s)) => Ok(Some(s.to_owned())),
            Some(Value::UInt(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(TlvError::WrongType {
                expected: crate::tlv::ElementType::Utf8String,
                found: other.element_type(),
            }),
        }
    }

    /// Parses one QR code payload (`MT:` + Base38).
    ///
    /// Unknown discovery bits and a non-zero version are kept, as a commissioner must accept them
    /// (CHIP SDK `ValidationMode::kConsume`); a non-zero padding is ignored.
    ///
    /// # Errors
    /// [`SetupPayloadError::MissingPrefix`], the Base38 errors,
    /// [`SetupPayloadError::Concatenated`] when the text holds several payloads,
    /// [`SetupPayloadError::QrTooShort`], [`SetupPayloadError::ReservedCommissioningFlow`], and
    /// the passcode errors when the payload carries an invalid passcode.
    pub fn parse_qr_code(text: &str) -> Result<Self, SetupPayloadError> {
        let data = text
            .strip_prefix(QR_PREFIX)
            .ok_or(SetupPayloadError::MissingPrefix)?;
        if data.contains('*') {
            return Err(SetupPayloadError::Concatenated);
        }
        Self::parse_base38(data)
    }

    /// Parses a QR code text that may hold several payloads, `MT:` + Base38 (`*` + Base38)*, as
    /// printed on a package holding several devices.
    ///
    /// # Errors
    /// As [`Self::parse_qr_code`], for the first payload that fails.
    pub fn parse_qr_codes(text: &str) -> Result<Vec<Self>, SetupPayloadError> {
        let data = text
            .strip_prefix(QR_PREFIX)
            .ok_or(SetupPayloadError::MissingPrefix)?;
        data.split('*').map(Self::parse_base38).collect()
    }

    fn parse_base38(data: &str) -> Result<Self, SetupPayloadError> {
        let bytes = base38::decode(data)?;
        let (fixed, extension) = bytes
            .split_at_checked(FIXED_LEN)
            .ok_or(SetupPayloadError::QrTooShort(bytes.len()))?;
        let mut word = [0u8; 16];
        word[..FIXED_LEN].copy_from_slice(fixed);
        let bits = u128::from_le_bytes(word);
        // Each `get` result is masked to the field's width, so the narrowing casts are exact.
        let get = |(offset, width): (u32, u32)| (bits >> offset) & ((1u128 << width) - 1);
        Ok(Self {
            version: get(field::VERSION) as u8,
            vendor_id: get(field::VENDOR_ID) as u16,
            product_id: get(field::PRODUCT_ID) as u16,
            commissioning_flow: CommissioningFlow::from_bits(get(field::FLOW) as u8)?,
            discovery: DiscoveryCapabilities(get(field::DISCOVERY) as u8),
            discriminator: Discriminator::new(get(field::DISCRIMINATOR) as u16)?,
            passcode: Passcode::new(get(field::PASSCODE) as u32)?,
            tlv_extension: extension.to_vec(),
        })
    }

    fn packed_fields(&self) -> u128 {
        let put =
            |value: u128, (offset, width): (u32, u32)| (value & ((1u128 << width) - 1)) << offset;
        put(self.version.into(), field::VERSION)
            | put(self.vendor_id.into(), field::VENDOR_ID)
            | put(self.product_id.into(), field::PRODUCT_ID)
            | put(self.commissioning_flow.to_bits().into(), field::FLOW)
            | put(self.discovery.bits().into(), field::DISCOVERY)
            | put(self.discriminator.value().into(), field::DISCRIMINATOR)
            | put(self.passcode.value().into(), field::PASSCODE)
            | put(0, field::PADDING)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_extension(build: impl FnOnce(&mut crate::tlv::TlvWriter<'_>)) -> SetupPayload {
        let mut ext = Vec::new();
        let mut w = crate::tlv::TlvWriter::new(&mut ext);
        build(&mut w);
        let mut p = SetupPayload::new(
            12,
            1,
            Discriminator(128),
            Passcode(2048),
            DiscoveryCapabilities::SOFT_AP,
        );
        p.tlv_extension = ext;
        // Through text and back, as a scanner would see it.
        SetupPayload::parse_qr_code(&p.qr_code()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn serial_number_in_the_extension() {
        use crate::tlv::Tag;
        // The CHIP SDK's TestHelpers.h serial numbers: "123456789" as a string and as a uint32.
        let text = with_extension(|w| {
            let _ = w.start_struct(Tag::Anonymous);
            let _ = w.utf8(Tag::Context(SERIAL_NUMBER_TAG), "123456789");
            let _ = w.utf8(Tag::Context(0x82), "myData");
            let _ = w.end_container();
        });
        assert_eq!(text.serial_number(), Ok(Some("123456789".to_owned())));
        let data = text.optional_data().ok().flatten();
        assert_eq!(
            data.and_then(|d| d.opt_utf8(0x82).ok().flatten()),
            Some("myData")
        );
        let number = with_extension(|w| {
            let _ = w.start_struct(Tag::Anonymous);
            let _ = w.u32(Tag::Context(SERIAL_NUMBER_TAG), 123_456_789);
            let _ = w.end_container();
        });
        assert_eq!(number.serial_number(), Ok(Some("123456789".to_owned())));
        let wrong = with_extension(|w| {
            let _ = w.start_struct(Tag::Anonymous);
            let _ = w.bool(Tag::Context(SERIAL_NUMBER_TAG), true);
            let _ = w.end_container();
        });
        assert!(matches!(
            wrong.serial_number(),
            Err(TlvError::WrongType { .. })
        ));
        let none = with_extension(|_| {});
        assert_eq!(none.serial_number(), Ok(None));
        let mut broken = none.clone();
        broken.tlv_extension = vec![0x15, 0x2C];
        assert!(broken.optional_data().is_err());
    }

    #[test]
    fn flow_bits() {
        for flow in [
            CommissioningFlow::Standard,
            CommissioningFlow::UserActionRequired,
            CommissioningFlow::Custom,
        ] {
            assert_eq!(CommissioningFlow::from_bits(flow.to_bits()), Ok(flow));
        }
        assert_eq!(
            CommissioningFlow::from_bits(3),
            Err(SetupPayloadError::ReservedCommissioningFlow(3))
        );
    }

    #[test]
    fn discovery_debug_names_known_bits_and_shows_the_rest() {
        let both = DiscoveryCapabilities::BLE | DiscoveryCapabilities::ON_NETWORK;
        assert_eq!(
            format!("{both:?}"),
            "DiscoveryCapabilities(BLE | ON_NETWORK)"
        );
        assert_eq!(
            format!("{:?}", DiscoveryCapabilities(0x82)),
            "DiscoveryCapabilities(BLE | 0x80)"
        );
        assert_eq!(
            format!("{:?}", DiscoveryCapabilities(0)),
            "DiscoveryCapabilities(0x00)"
        );
        assert!(both.contains(DiscoveryCapabilities::BLE));
        assert!(!both.contains(DiscoveryCapabilities::SOFT_AP));
    }
}
