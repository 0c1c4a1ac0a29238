//! The StatusReport message of the secure channel protocol (Matter 1.3 §4.11.3 "Status Report",
//! Appendix D "Status Report Messages"): general code u16, protocol id u32 (vendor id in the upper
//! 16 bits), protocol code u16, then optional protocol-specific data. PASE, CASE and CloseSession
//! all use it.

use super::protocol::{wire_newtype, ProtocolId};
use super::MessageError;
use crate::error::Reader;

wire_newtype! {
    /// General status code (Matter 1.3 Appendix D.3.1 "General Status Codes").
    pub struct GeneralCode(u16);
    /// Operation completed successfully.
    SUCCESS = 0 => "SUCCESS",
    /// Generic failure; the protocol code says more.
    FAILURE = 1 => "FAILURE",
    /// Rejected because the system is in an invalid state.
    BAD_PRECONDITION = 2 => "BAD_PRECONDITION",
    /// A value was out of range.
    OUT_OF_RANGE = 3 => "OUT_OF_RANGE",
    /// A request was unrecognised or malformed.
    BAD_REQUEST = 4 => "BAD_REQUEST",
    /// An unsupported request was received.
    UNSUPPORTED = 5 => "UNSUPPORTED",
    /// A request was not expected at this time.
    UNEXPECTED = 6 => "UNEXPECTED",
    /// Insufficient resources.
    RESOURCE_EXHAUSTED = 7 => "RESOURCE_EXHAUSTED",
    /// Busy; try again later.
    BUSY = 8 => "BUSY",
    /// A timeout occurred.
    TIMEOUT = 9 => "TIMEOUT",
    /// Context-specific signal to proceed.
    CONTINUE = 10 => "CONTINUE",
    /// Aborted, often due to concurrency.
    ABORTED = 11 => "ABORTED",
    /// An invalid argument was provided.
    INVALID_ARGUMENT = 12 => "INVALID_ARGUMENT",
    /// A requested entity was not found.
    NOT_FOUND = 13 => "NOT_FOUND",
    /// The entity already exists.
    ALREADY_EXISTS = 14 => "ALREADY_EXISTS",
    /// Insufficient permissions.
    PERMISSION_DENIED = 15 => "PERMISSION_DENIED",
    /// Unrecoverable data loss or corruption.
    DATA_LOSS = 16 => "DATA_LOSS",
}

wire_newtype! {
    /// Protocol code of the secure channel protocol (Matter 1.3 §4.11.1.4 "Secure Channel
    /// Status Codes"; values as in the CHIP SDK's `protocols/secure_channel/Constants.h`).
    pub struct SecureChannelStatus(u16);
    /// Session establishment succeeded (also the placeholder for SUCCESS/CONTINUE).
    SESSION_ESTABLISHMENT_SUCCESS = 0x0000 => "SESSION_ESTABLISHMENT_SUCCESS",
    /// CASE: no shared trust roots.
    NO_SHARED_TRUST_ROOTS = 0x0001 => "NO_SHARED_TRUST_ROOTS",
    /// Invalid parameter (e.g. a PASE confirmation that does not match).
    INVALID_PARAMETER = 0x0002 => "INVALID_PARAMETER",
    /// The sender closes the session (with general code SUCCESS).
    CLOSE_SESSION = 0x0003 => "CLOSE_SESSION",
    /// The responder is busy (with general code BUSY; data = minimum wait in ms, u16).
    BUSY = 0x0004 => "BUSY",
    /// The session named in the message was not found.
    SESSION_NOT_FOUND = 0x0005 => "SESSION_NOT_FOUND",
    /// No protocol-specific code applies.
    GENERAL_FAILURE = 0xFFFF => "GENERAL_FAILURE",
}

/// A decoded StatusReport payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// General status code.
    pub general_code: GeneralCode,
    /// Vendor id of the protocol (upper half of the 32-bit protocol id; 0 = common).
    pub protocol_vendor_id: u16,
    /// The protocol the protocol code belongs to.
    pub protocol_id: ProtocolId,
    /// Protocol-specific code (for the secure channel, a [`SecureChannelStatus`]).
    pub protocol_code: u16,
    /// Protocol-specific data, possibly empty.
    pub data: Vec<u8>,
}

impl StatusReport {
    /// A secure channel status report without data.
    pub const fn secure_channel(general_code: GeneralCode, status: SecureChannelStatus) -> Self {
        Self {
            general_code,
            protocol_vendor_id: 0,
            protocol_id: ProtocolId::SECURE_CHANNEL,
            protocol_code: status.0,
            data: Vec::new(),
        }
    }

    /// The CloseSession message: general SUCCESS, secure channel, CLOSE_SESSION (Matter 1.3
    /// §4.11.1.4; the CHIP SDK sends exactly this).
    pub const fn close_session() -> Self {
        Self::secure_channel(GeneralCode::SUCCESS, SecureChannelStatus::CLOSE_SESSION)
    }

    /// Decodes a StatusReport payload; everything after the fixed 8 bytes is `data`.
    ///
    /// # Errors
    /// [`MessageError::Decode`] when fewer than 8 bytes are given.
    pub fn decode(payload: &[u8]) -> Result<Self, MessageError> {
        let mut r = Reader::new(payload, "status report");
        let general_code = GeneralCode(r.u16_le()?);
        let protocol = r.u32_le()?;
        let protocol_code = r.u16_le()?;
        Ok(Self {
            general_code,
            // The 32-bit field is vendor id << 16 | protocol id.
            protocol_vendor_id: (protocol >> 16) as u16,
            protocol_id: ProtocolId(protocol as u16),
            protocol_code,
            data: r.rest().to_vec(),
        })
    }

    /// Appends the encoded payload to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.general_code.0.to_le_bytes());
        let protocol = u32::from(self.protocol_vendor_id) << 16 | u32::from(self.protocol_id.0);
        out.extend_from_slice(&protocol.to_le_bytes());
        out.extend_from_slice(&self.protocol_code.to_le_bytes());
        out.extend_from_slice(&self.data);
    }

    /// The encoded length.
    pub fn encoded_len(&self) -> usize {
        8 + self.data.len()
    }

    /// The protocol code as a secure channel status, if the report is about the secure channel.
    pub fn secure_channel_status(&self) -> Option<SecureChannelStatus> {
        (self.protocol_vendor_id == 0 && self.protocol_id == ProtocolId::SECURE_CHANNEL)
            .then_some(SecureChannelStatus(self.protocol_code))
    }

    /// Whether this is a CloseSession message.
    pub fn is_close_session(&self) -> bool {
        self.general_code == GeneralCode::SUCCESS
            && self.secure_channel_status() == Some(SecureChannelStatus::CLOSE_SESSION)
    }
}

#[cfg(test)]
mod tests {
    use hex_literal::hex;
    use proptest::prelude::*;

    use super::*;
    use crate::error::DecodeError;

    #[test]
    fn golden_close_session() {
        let mut out = Vec::new();
        StatusReport::close_session().encode(&mut out);
        // general 0x0000, protocol 0x00000000, code 0x0003 (all LE).
        assert_eq!(out, hex!("0000 00000000 0300"));
        let r = StatusReport::decode(&out).unwrap();
        assert!(r.is_close_session());
        assert_eq!(format!("{:?}", r.general_code), "SUCCESS");
    }

    #[test]
    fn golden_busy_with_data_and_vendor_protocol() {
        // PASE busy: general BUSY (8), secure channel, code BUSY (4), data = wait 500 ms u16.
        let busy = StatusReport {
            data: 500u16.to_le_bytes().to_vec(),
            ..StatusReport::secure_channel(GeneralCode::BUSY, SecureChannelStatus::BUSY)
        };
        let mut out = Vec::new();
        busy.encode(&mut out);
        assert_eq!(out, hex!("0800 00000000 0400 f401"));
        assert_eq!(StatusReport::decode(&out).unwrap(), busy);
        assert!(!busy.is_close_session());

        let vendor = StatusReport::decode(&hex!("0100 0100f1ff ffff")).unwrap();
        assert_eq!(vendor.protocol_vendor_id, 0xFFF1);
        assert_eq!(vendor.protocol_id, ProtocolId::INTERACTION_MODEL);
        assert_eq!(vendor.protocol_code, 0xFFFF);
        assert_eq!(vendor.secure_channel_status(), None);
    }

    #[test]
    fn short_reports_are_rejected() {
        for n in 0..8 {
            let buf = [0u8; 8];
            assert!(matches!(
                StatusReport::decode(&buf[..n]),
                Err(MessageError::Decode(DecodeError::Truncated { .. }))
            ));
        }
    }

    proptest! {
        #[test]
        fn round_trips(g: u16, v: u16, p: u16, c: u16, data in proptest::collection::vec(any::<u8>(), 0..16)) {
            let r = StatusReport {
                general_code: GeneralCode(g),
                protocol_vendor_id: v,
                protocol_id: ProtocolId(p),
                protocol_code: c,
                data,
            };
            let mut out = Vec::new();
            r.encode(&mut out);
            prop_assert_eq!(out.len(), r.encoded_len());
            prop_assert_eq!(StatusReport::decode(&out).unwrap(), r);
        }
    }
}
