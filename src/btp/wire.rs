//! BTP wire formats: the handshake request and response, and the header of every other segment
//! (Matter 1.4 §4.19.3 "BTP packet format" and §4.19.4 "BTP session establishment").
//!
//! Everything here is a pure codec: no state, no time. The engine decides what a well-formed but
//! unexpected frame means.
//!
//! Layouts (all multi-byte fields little-endian):
//! ```text
//! handshake request  (9 B, C1):  65 6C  v1v0 v3v2 v5v4 v7v6  mtu:u16  window:u8
//! handshake response (6 B, C2):  65 6C  version:u8  fragment_size:u16  window:u8
//! data segment:                  flags  [ack:u8 if A]  seq:u8  [msg_len:u16 if B]  payload
//! standalone ack:                08     ack:u8  seq:u8
//! ```
//! `65` is the flag byte H|M|E|B and `6C` the handshake management opcode.

use core::fmt;

use crate::error::{DecodeError, Reader};

use super::error::Violation;

/// The BTP header flag byte: a newtype over the wire value so unknown bits survive and `Debug`
/// names the known ones (Matter 1.4 §4.19.3.1 "Header flags").
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HeaderFlags(pub u8);

impl HeaderFlags {
    /// B: first segment of an SDU; a 16-bit SDU length follows the sequence number.
    pub const BEGINNING: Self = Self(0x01);
    /// C: a later segment of an SDU. The CHIP SDK keeps C set on the last segment too (`0x06`).
    pub const CONTINUING: Self = Self(0x02);
    /// E: last segment of an SDU.
    pub const ENDING: Self = Self(0x04);
    /// A: an acknowledgement number follows the flag byte.
    pub const ACK: Self = Self(0x08);
    /// M: a management opcode follows the flag byte (only the handshake uses one).
    pub const MANAGEMENT: Self = Self(0x20);
    /// H: handshake request or response.
    pub const HANDSHAKE: Self = Self(0x40);

    /// Bits the spec reserves. They are sent as zero and ignored on receipt; `0x10` is the CHIP
    /// SDK's test-only "command message" bit.
    pub const RESERVED: Self = Self(0x90);

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set in `self`.
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// `self` with the bits of `other` added.
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether the segment carries SDU payload (any of B, C, E), as opposed to a standalone ack.
    pub const fn carries_data(self) -> bool {
        self.intersects(Self(
            Self::BEGINNING.0 | Self::CONTINUING.0 | Self::ENDING.0,
        ))
    }
}

impl fmt::Debug for HeaderFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(HeaderFlags, &str); 6] = [
            (HeaderFlags::HANDSHAKE, "H"),
            (HeaderFlags::MANAGEMENT, "M"),
            (HeaderFlags::ACK, "A"),
            (HeaderFlags::ENDING, "E"),
            (HeaderFlags::CONTINUING, "C"),
            (HeaderFlags::BEGINNING, "B"),
        ];
        write!(f, "{:#04x}(", self.0)?;
        let mut first = true;
        for (flag, name) in NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        f.write_str(")")
    }
}

/// The flag byte of both handshake frames: H | M | E | B.
pub const HANDSHAKE_FLAGS: u8 = 0x65;
/// The management opcode of the handshake.
pub const HANDSHAKE_OPCODE: u8 = 0x6C;
/// The only BTP version this implementation speaks (the CHIP SDK's
/// `kBleTransportProtocolVersion_V4`, "BTP as defined by CHIP v1.0").
pub const BTP_VERSION: u8 = 4;
/// Length of a handshake request.
pub const HANDSHAKE_REQUEST_LEN: usize = 9;
/// Length of a handshake response.
pub const HANDSHAKE_RESPONSE_LEN: usize = 6;
/// Largest segment BTP allows: a 247-byte ATT MTU minus the 3-byte ATT header.
pub const MAX_FRAGMENT_SIZE: u16 = 244;
/// Segment size when no side knows the ATT MTU: the 23-byte BLE minimum minus 3.
pub const DEFAULT_FRAGMENT_SIZE: u16 = 20;
/// Smallest ATT MTU Bluetooth allows (Core spec Vol 3 Part F §3.2.8).
pub const MIN_ATT_MTU: u16 = 23;
/// ATT opcode + handle in front of every write and indication value.
pub const ATT_HEADER_LEN: u16 = 3;
/// Largest header of a segment: flags, ack, seq, 16-bit length.
pub const MAX_HEADER_LEN: usize = 5;

/// The eight 4-bit version slots of a handshake request, as the 4 wire bytes.
///
/// Slot order, verified against the CHIP SDK (`BleLayer.cpp`,
/// `SetSupportedProtocolVersion` / `GetHighestSupportedProtocolVersion`): slot 0 is the **low**
/// nibble of the first byte, slot 1 its high nibble, slot 2 the low nibble of the second byte, and so
/// on. A zero slot ends the list. matter.js encodes this way too but decodes the high nibble first,
/// and rs-matter masks each slot with `0xff` instead of `0x0f` (and reads only 7 slots), so neither
/// is an oracle for this field.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SupportedVersions(pub [u8; 4]);

impl SupportedVersions {
    /// A list holding `versions` in order (at most 8; each truncated to 4 bits).
    pub fn from_list(versions: &[u8]) -> Self {
        let mut bytes = [0u8; 4];
        for (i, v) in versions.iter().take(8).enumerate() {
            let nibble = v & 0x0f;
            // `i / 2 < 4` because of `take(8)`.
            if let Some(b) = bytes.get_mut(i / 2) {
                *b |= if i % 2 == 0 { nibble } else { nibble << 4 };
            }
        }
        Self(bytes)
    }

    /// The versions in slot order, up to (not including) the first zero slot.
    pub fn iter(self) -> impl Iterator<Item = u8> {
        (0..8usize)
            .map(move |i| {
                let byte = self.0.get(i / 2).copied().unwrap_or(0);
                if i % 2 == 0 {
                    byte & 0x0f
                } else {
                    byte >> 4
                }
            })
            .take_while(|&v| v != 0)
    }

    /// The highest listed version in `min..=max`, as the CHIP SDK picks it.
    pub fn highest_in(self, min: u8, max: u8) -> Option<u8> {
        self.iter().filter(|v| (min..=max).contains(v)).max()
    }
}

impl fmt::Debug for SupportedVersions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The capabilities request a central writes to C1 to open a BTP session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeRequest {
    /// Versions the central speaks.
    pub versions: SupportedVersions,
    /// The ATT MTU the central observed; 0 = unknown (the CHIP SDK's Linux central sends 0).
    pub att_mtu: u16,
    /// The central's receive window, in segments.
    pub window: u8,
}

impl HandshakeRequest {
    /// Parses exactly [`HANDSHAKE_REQUEST_LEN`] bytes.
    ///
    /// # Errors
    /// [`DecodeError`] if the frame is short, long, or does not start with `65 6C`.
    pub fn parse(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf, "BTP handshake request");
        check_magic(&mut r)?;
        let versions = SupportedVersions(r.take_array()?);
        let att_mtu = r.u16_le()?;
        let window = r.u8()?;
        r.finish()?;
        Ok(Self {
            versions,
            att_mtu,
            window,
        })
    }

    /// Appends the 9 wire bytes to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[HANDSHAKE_FLAGS, HANDSHAKE_OPCODE]);
        out.extend_from_slice(&self.versions.0);
        out.extend_from_slice(&self.att_mtu.to_le_bytes());
        out.push(self.window);
    }
}

/// The capabilities response a peripheral indicates on C2 once the central has subscribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeResponse {
    /// The selected version (low 4 bits on the wire; the high 4 are reserved). 0 = none in common.
    pub version: u8,
    /// The segment size both sides use, ATT header excluded.
    pub fragment_size: u16,
    /// The receive window both sides use, in segments.
    pub window: u8,
}

impl HandshakeResponse {
    /// Parses exactly [`HANDSHAKE_RESPONSE_LEN`] bytes. The reserved high nibble of the version
    /// byte is ignored, as the CHIP SDK's header documents it.
    ///
    /// # Errors
    /// [`DecodeError`] if the frame is short, long, or does not start with `65 6C`.
    pub fn parse(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf, "BTP handshake response");
        check_magic(&mut r)?;
        let version = r.u8()? & 0x0f;
        let fragment_size = r.u16_le()?;
        let window = r.u8()?;
        r.finish()?;
        Ok(Self {
            version,
            fragment_size,
            window,
        })
    }

    /// Appends the 6 wire bytes to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[HANDSHAKE_FLAGS, HANDSHAKE_OPCODE, self.version & 0x0f]);
        out.extend_from_slice(&self.fragment_size.to_le_bytes());
        out.push(self.window);
    }
}

fn check_magic(r: &mut Reader<'_>) -> Result<(), DecodeError> {
    let [flags, opcode] = r.take_array::<2>()?;
    if flags != HANDSHAKE_FLAGS {
        return Err(DecodeError::Invalid {
            what: "BTP handshake flags (expected 0x65)",
        });
    }
    if opcode != HANDSHAKE_OPCODE {
        return Err(DecodeError::Invalid {
            what: "BTP handshake opcode (expected 0x6c)",
        });
    }
    Ok(())
}

/// The parsed header of a data segment or standalone ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// The flag byte as received (reserved bits included).
    pub flags: HeaderFlags,
    /// The acknowledged sequence number, if the A flag is set.
    pub ack: Option<u8>,
    /// This segment's sequence number.
    pub seq: u8,
    /// The SDU length, present exactly when the B flag is set.
    pub msg_len: Option<u16>,
}

impl SegmentHeader {
    /// A header with the flags implied by its fields (A from `ack`, B from `msg_len`) added to
    /// `flags`.
    pub fn new(flags: HeaderFlags, ack: Option<u8>, seq: u8, msg_len: Option<u16>) -> Self {
        let mut flags = flags;
        if ack.is_some() {
            flags = flags.with(HeaderFlags::ACK);
        }
        if msg_len.is_some() {
            flags = flags.with(HeaderFlags::BEGINNING);
        }
        Self {
            flags,
            ack,
            seq,
            msg_len,
        }
    }

    /// Parses a segment and returns its header and payload.
    ///
    /// Rejected here: a handshake or management frame (the engine handles the handshake before it
    /// calls this), B together with C, a truncated header, and bytes after a standalone ack. The
    /// CHIP SDK ignores such trailing bytes; no sender produces them, so we refuse them.
    ///
    /// # Errors
    /// The [`Violation`] that names the defect.
    pub fn parse(buf: &[u8]) -> Result<(Self, &[u8]), Violation> {
        let mut r = Reader::new(buf, "BTP segment header");
        let flags = HeaderFlags(r.u8().map_err(Violation::Truncated)?);
        if flags.contains(HeaderFlags::HANDSHAKE) {
            return Err(Violation::UnexpectedHandshake);
        }
        if flags.contains(HeaderFlags::MANAGEMENT) {
            return Err(Violation::UnexpectedManagement { flags: flags.0 });
        }
        if flags.contains(HeaderFlags::BEGINNING) && flags.contains(HeaderFlags::CONTINUING) {
            return Err(Violation::ConflictingFlags { flags: flags.0 });
        }
        let ack = if flags.contains(HeaderFlags::ACK) {
            Some(r.u8().map_err(Violation::Truncated)?)
        } else {
            None
        };
        let seq = r.u8().map_err(Violation::Truncated)?;
        let msg_len = if flags.contains(HeaderFlags::BEGINNING) {
            Some(r.u16_le().map_err(Violation::Truncated)?)
        } else {
            None
        };
        let payload = r.rest();
        if !flags.carries_data() && !payload.is_empty() {
            return Err(Violation::TrailingBytes {
                count: payload.len(),
            });
        }
        Ok((
            Self {
                flags,
                ack,
                seq,
                msg_len,
            },
            payload,
        ))
    }

    /// Appends the header bytes to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.flags.0);
        if let Some(ack) = self.ack {
            out.push(ack);
        }
        out.push(self.seq);
        if let Some(len) = self.msg_len {
            out.extend_from_slice(&len.to_le_bytes());
        }
    }

    /// How many bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        header_len(self.ack.is_some(), self.msg_len.is_some())
    }
}

/// Header length of a segment with or without an ack and a length field.
pub const fn header_len(ack: bool, beginning: bool) -> usize {
    1 + ack as usize + 1 + if beginning { 2 } else { 0 }
}

/// The fragment size a peripheral selects (Matter 1.4 §4.19.4.2): the ATT MTU minus the 3-byte ATT
/// header, at most 244, and 20 when nobody knows the MTU.
///
/// `request_mtu` is the central's observation (0 = unknown; the CHIP SDK's Linux central sends 0),
/// `gatt_mtu` the one our GATT layer reports. The CHIP SDK takes the central's value whenever it is
/// non-zero; we take the smaller of the two when both are known, which never exceeds what either
/// side can carry. An MTU below Bluetooth's minimum of 23 cannot be real and is raised to 23.
pub fn select_fragment_size(request_mtu: u16, gatt_mtu: Option<u16>) -> u16 {
    let known = match (request_mtu, gatt_mtu.filter(|&m| m != 0)) {
        (0, None) => return DEFAULT_FRAGMENT_SIZE,
        (0, Some(g)) => g,
        (r, None) => r,
        (r, Some(g)) => r.min(g),
    };
    (known.max(MIN_ATT_MTU) - ATT_HEADER_LEN).min(MAX_FRAGMENT_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_slots_are_low_nibble_first() {
        // The CHIP SDK central lists its versions highest first: with only V4, byte 0 is 0x04.
        assert_eq!(SupportedVersions::from_list(&[4]).0, [0x04, 0, 0, 0]);
        let v = SupportedVersions::from_list(&[4, 3, 2, 1, 5, 6, 7, 8]);
        assert_eq!(v.0, [0x34, 0x12, 0x65, 0x87]);
        assert_eq!(v.iter().collect::<Vec<_>>(), [4, 3, 2, 1, 5, 6, 7, 8]);
        // A zero slot ends the list even if later slots are set.
        assert_eq!(
            SupportedVersions([0x30, 0x04, 0, 0]).iter().count(),
            0,
            "slot 0 is the low nibble, which is zero here"
        );
        assert_eq!(SupportedVersions([0x43, 0, 0, 0]).highest_in(4, 4), Some(4));
        assert_eq!(SupportedVersions([0x53, 0, 0, 0]).highest_in(4, 4), None);
    }

    #[test]
    fn fragment_size_selection() {
        assert_eq!(select_fragment_size(0, None), 20);
        assert_eq!(select_fragment_size(0, Some(0)), 20);
        assert_eq!(select_fragment_size(0, Some(247)), 244);
        assert_eq!(select_fragment_size(0, Some(512)), 244);
        assert_eq!(select_fragment_size(185, None), 182);
        assert_eq!(select_fragment_size(185, Some(100)), 97);
        assert_eq!(select_fragment_size(5, None), 20);
    }

    #[test]
    fn flags_debug_names_bits() {
        assert_eq!(format!("{:?}", HeaderFlags(0x65)), "0x65(H|M|E|B)");
        assert_eq!(format!("{:?}", HeaderFlags(0x0e)), "0x0e(A|E|C)");
    }
}
