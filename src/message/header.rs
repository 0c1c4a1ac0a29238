//! The Matter message header (sent in clear, authenticated as the CCM AAD) and the protocol header
//! (the first bytes of the possibly encrypted message payload). Matter 1.3 §4.4 "Message Frame
//! Format":
//!
//! ```text
//! message header  | flags u8 | session id u16 | security flags u8 | counter u32
//!                 | [source node id u64] | [destination node id u64 / group id u16]
//!                 | [message extensions: length u16, bytes]
//! protocol header | exchange flags u8 | opcode u8 | exchange id u16 | [protocol vendor id u16]
//!                 | protocol id u16 | [acked message counter u32]
//!                 | [secured extensions: length u16, bytes]
//! application payload, then (secured sessions) the 16-byte MIC
//! ```
//! All integers are little-endian. Extensions are skipped on receipt and never sent.

use core::fmt;

use super::protocol::{InteractionModelOpcode, ProtocolId, SecureChannelOpcode};
use super::MessageError;
use crate::error::Reader;

/// Message header version this implementation speaks (Matter 1.3 §4.4.1.1: version 0).
pub const MESSAGE_VERSION: u8 = 0;

/// Session type in the security flags (Matter 1.3 §4.4.1.3). Values 2 and 3 are reserved and
/// rejected on decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionType {
    /// Unicast session (PASE, CASE, or the unsecured session with id 0).
    Unicast,
    /// Group session.
    Group,
}

/// The destination field of the message header, selected by the DSIZ bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Destination {
    /// DSIZ 0: no destination field.
    #[default]
    None,
    /// DSIZ 1: a 64-bit destination node id (unicast sessions only).
    Node(u64),
    /// DSIZ 2: a 16-bit group id (group sessions only).
    Group(u16),
}

/// The unencrypted message header (matter.js `PacketHeader`).
///
/// The session type is implied by the destination: a group session always carries a group id
/// (DSIZ 2) and a unicast session never does. Decoding rejects the combinations the spec forbids,
/// so every value of this type encodes to a valid header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PacketHeader {
    /// Session id: 0 = the unsecured session, otherwise the receiver's local session id.
    pub session_id: u16,
    /// Message counter.
    pub message_counter: u32,
    /// Source node id (S flag).
    pub source_node_id: Option<u64>,
    /// Destination node id or group id (DSIZ).
    pub destination: Destination,
    /// P flag: privacy obfuscation of the header (group sessions only in practice).
    pub privacy: bool,
    /// C flag: a control message (message counter synchronisation).
    pub control: bool,
}

/// The protocol header at the start of the (decrypted) message payload (matter.js `PayloadHeader`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PayloadHeader {
    /// Exchange id.
    pub exchange_id: u16,
    /// Protocol id.
    pub protocol_id: ProtocolId,
    /// Protocol vendor id (V flag); `None` means the common vendor (0).
    pub protocol_vendor_id: Option<u16>,
    /// Opcode, interpreted per protocol (see [`PayloadHeader::opcode_name`]).
    pub opcode: u8,
    /// I flag: sent by the exchange initiator.
    pub initiator: bool,
    /// R flag: the sender wants an MRP acknowledgement.
    pub needs_ack: bool,
    /// A flag + acked message counter: this message acknowledges that counter.
    pub acked_counter: Option<u32>,
}

/// A decoded message frame whose payload is still as received (encrypted for secure sessions):
/// matter.js `Packet`. Borrows from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The parsed message header.
    pub header: PacketHeader,
    /// The message header exactly as received, message extensions included: the CCM AAD.
    pub raw_header: &'a [u8],
    /// Message extension bytes (MX flag), not interpreted.
    pub message_extensions: Option<&'a [u8]>,
    /// Everything after the message header: protocol header + application payload (+ MIC).
    pub payload: &'a [u8],
}

/// A complete message: message header, protocol header and application payload (matter.js
/// `Message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message header.
    pub packet_header: PacketHeader,
    /// The protocol header.
    pub payload_header: PayloadHeader,
    /// The application payload (e.g. a TLV structure), without the protocol header.
    pub payload: Vec<u8>,
}

impl PacketHeader {
    /// A header for the unsecured session (session id 0, unicast) with the given counter.
    pub const fn unsecured(message_counter: u32) -> Self {
        Self {
            session_id: 0,
            message_counter,
            source_node_id: None,
            destination: Destination::None,
            privacy: false,
            control: false,
        }
    }

    /// Decodes a message header from the start of `buf`. Returns the header, the total header
    /// length (message extensions included) and the extension bytes, if any.
    ///
    /// # Errors
    /// [`MessageError`] for a truncated header, a version other than 0, a reserved DSIZ or session
    /// type, or a destination that does not fit the session type.
    pub fn decode(buf: &[u8]) -> Result<(Self, usize, Option<&[u8]>), MessageError> {
        let mut r = Reader::new(buf, "message header");
        let flags = r.u8()?;
        let version = (flags & field::VERSION_MASK) >> field::VERSION_SHIFT;
        if version != MESSAGE_VERSION {
            return Err(MessageError::UnsupportedVersion(version));
        }
        let session_id = r.u16_le()?;
        let security = r.u8()?;
        let message_counter = r.u32_le()?;
        let session_type = match security & field::SESSION_TYPE_MASK {
            0 => SessionType::Unicast,
            1 => SessionType::Group,
            t => return Err(MessageError::ReservedSessionType(t)),
        };
        let source_node_id = if flags & field::FLAG_S != 0 {
            Some(r.u64_le()?)
        } else {
            None
        };
        // Matter 1.3 §4.4.1.2: node ids go with unicast, group ids with group sessions; a group
        // message always names its group. The CHIP SDK rejects the same combinations.
        let destination = match (flags & field::DSIZ_MASK, session_type) {
            (0, SessionType::Unicast) => Destination::None,
            (1, SessionType::Unicast) => Destination::Node(r.u64_le()?),
            (2, SessionType::Group) => Destination::Group(r.u16_le()?),
            (3, _) => return Err(MessageError::ReservedDestinationSize),
            (dsiz, session_type) => {
                return Err(MessageError::DestinationMismatch { dsiz, session_type })
            }
        };
        let message_extensions = if security & field::FLAG_MX != 0 {
            let len = r.u16_le()?;
            Some(r.take(usize::from(len))?)
        } else {
            None
        };
        let header_len = buf.len() - r.remaining();
        let header = Self {
            session_id,
            message_counter,
            source_node_id,
            destination,
            privacy: security & field::FLAG_P != 0,
            control: security & field::FLAG_C != 0,
        };
        Ok((header, header_len, message_extensions))
    }

    /// Appends the encoded header to `out`. Reserved bits are sent as zero; message extensions
    /// are never sent.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut flags = MESSAGE_VERSION << field::VERSION_SHIFT;
        if self.source_node_id.is_some() {
            flags |= field::FLAG_S;
        }
        flags |= match self.destination {
            Destination::None => 0,
            Destination::Node(_) => 1,
            Destination::Group(_) => 2,
        };
        out.push(flags);
        out.extend_from_slice(&self.session_id.to_le_bytes());
        out.push(self.security_flags());
        out.extend_from_slice(&self.message_counter.to_le_bytes());
        if let Some(id) = self.source_node_id {
            out.extend_from_slice(&id.to_le_bytes());
        }
        match self.destination {
            Destination::None => {}
            Destination::Node(id) => out.extend_from_slice(&id.to_le_bytes()),
            Destination::Group(id) => out.extend_from_slice(&id.to_le_bytes()),
        }
    }

    /// The session type implied by the destination.
    pub const fn session_type(&self) -> SessionType {
        match self.destination {
            Destination::Group(_) => SessionType::Group,
            _ => SessionType::Unicast,
        }
    }

    /// Whether this is the unsecured session (unicast, session id 0).
    pub const fn is_unsecured(&self) -> bool {
        self.session_id == 0 && matches!(self.session_type(), SessionType::Unicast)
    }

    /// The security flags byte this header encodes to (the first byte of the CCM nonce).
    pub const fn security_flags(&self) -> u8 {
        let mut f = match self.session_type() {
            SessionType::Unicast => 0,
            SessionType::Group => 1,
        };
        if self.privacy {
            f |= field::FLAG_P;
        }
        if self.control {
            f |= field::FLAG_C;
        }
        f
    }

    /// The length [`encode`](Self::encode) produces.
    pub const fn encoded_len(&self) -> usize {
        let mut n = field::FIXED_LEN;
        if self.source_node_id.is_some() {
            n += 8;
        }
        n + match self.destination {
            Destination::None => 0,
            Destination::Node(_) => 8,
            Destination::Group(_) => 2,
        }
    }
}

impl PayloadHeader {
    /// A protocol header with the given exchange, protocol and opcode, and no flags.
    pub const fn new(exchange_id: u16, protocol_id: ProtocolId, opcode: u8) -> Self {
        Self {
            exchange_id,
            protocol_id,
            protocol_vendor_id: None,
            opcode,
            initiator: false,
            needs_ack: false,
            acked_counter: None,
        }
    }

    /// Decodes a protocol header from the start of `buf`; returns it and the application
    /// payload that follows. Secured extensions (SX) are skipped.
    ///
    /// # Errors
    /// [`MessageError::Decode`] when the header or the extension length runs past `buf`.
    pub fn decode(buf: &[u8]) -> Result<(Self, &[u8]), MessageError> {
        let mut r = Reader::new(buf, "protocol header");
        let flags = r.u8()?;
        let opcode = r.u8()?;
        let exchange_id = r.u16_le()?;
        let protocol_vendor_id = if flags & field::EX_V != 0 {
            Some(r.u16_le()?)
        } else {
            None
        };
        let protocol_id = ProtocolId(r.u16_le()?);
        let acked_counter = if flags & field::EX_A != 0 {
            Some(r.u32_le()?)
        } else {
            None
        };
        if flags & field::EX_SX != 0 {
            let len = r.u16_le()?;
            r.take(usize::from(len))?;
        }
        let header = Self {
            exchange_id,
            protocol_id,
            protocol_vendor_id,
            opcode,
            initiator: flags & field::EX_I != 0,
            needs_ack: flags & field::EX_R != 0,
            acked_counter,
        };
        Ok((header, r.rest()))
    }

    /// Appends the encoded header to `out`. Secured extensions are never sent.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.exchange_flags());
        out.push(self.opcode);
        out.extend_from_slice(&self.exchange_id.to_le_bytes());
        if let Some(v) = self.protocol_vendor_id {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.protocol_id.0.to_le_bytes());
        if let Some(c) = self.acked_counter {
            out.extend_from_slice(&c.to_le_bytes());
        }
    }

    /// The exchange flags byte this header encodes to.
    pub const fn exchange_flags(&self) -> u8 {
        let mut f = 0;
        if self.initiator {
            f |= field::EX_I;
        }
        if self.acked_counter.is_some() {
            f |= field::EX_A;
        }
        if self.needs_ack {
            f |= field::EX_R;
        }
        if self.protocol_vendor_id.is_some() {
            f |= field::EX_V;
        }
        f
    }

    /// The length [`encode`](Self::encode) produces.
    pub const fn encoded_len(&self) -> usize {
        let mut n = field::PAYLOAD_FIXED_LEN;
        if self.protocol_vendor_id.is_some() {
            n += 2;
        }
        if self.acked_counter.is_some() {
            n += 4;
        }
        n
    }

    /// Whether this header carries `opcode` of the common-vendor `protocol`.
    pub fn is(&self, protocol: ProtocolId, opcode: u8) -> bool {
        self.protocol_vendor_id.unwrap_or(0) == 0
            && self.protocol_id == protocol
            && self.opcode == opcode
    }

    /// The secure channel opcode, if this is a secure channel message.
    pub fn secure_channel_opcode(&self) -> Option<SecureChannelOpcode> {
        (self.protocol_vendor_id.unwrap_or(0) == 0
            && self.protocol_id == ProtocolId::SECURE_CHANNEL)
            .then_some(SecureChannelOpcode(self.opcode))
    }

    /// The Interaction Model opcode, if this is an Interaction Model message.
    pub fn interaction_model_opcode(&self) -> Option<InteractionModelOpcode> {
        (self.protocol_vendor_id.unwrap_or(0) == 0
            && self.protocol_id == ProtocolId::INTERACTION_MODEL)
            .then_some(InteractionModelOpcode(self.opcode))
    }

    /// The opcode's name for the protocols this crate knows, for logs.
    pub fn opcode_name(&self) -> Option<&'static str> {
        self.secure_channel_opcode()
            .and_then(SecureChannelOpcode::name)
            .or_else(|| {
                self.interaction_model_opcode()
                    .and_then(InteractionModelOpcode::name)
            })
    }

    /// Whether this is an MRP standalone acknowledgement.
    pub fn is_standalone_ack(&self) -> bool {
        self.is(
            ProtocolId::SECURE_CHANNEL,
            SecureChannelOpcode::STANDALONE_ACK.0,
        )
    }
}

impl fmt::Debug for PayloadHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Opcode(u8, Option<&'static str>);
        impl fmt::Debug for Opcode {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.1 {
                    Some(n) => f.write_str(n),
                    None => write!(f, "{:#04x}", self.0),
                }
            }
        }
        f.debug_struct("PayloadHeader")
            .field("exchange_id", &self.exchange_id)
            .field("protocol_id", &self.protocol_id)
            .field("protocol_vendor_id", &self.protocol_vendor_id)
            .field("opcode", &Opcode(self.opcode, self.opcode_name()))
            .field("initiator", &self.initiator)
            .field("needs_ack", &self.needs_ack)
            .field("acked_counter", &self.acked_counter)
            .finish()
    }
}

impl<'a> Packet<'a> {
    /// Splits a datagram into message header and (still encrypted) payload.
    ///
    /// # Errors
    /// See [`PacketHeader::decode`].
    pub fn decode(datagram: &'a [u8]) -> Result<Self, MessageError> {
        let (header, header_len, message_extensions) = PacketHeader::decode(datagram)?;
        let (raw_header, payload) = datagram.split_at(header_len);
        Ok(Self {
            header,
            raw_header,
            message_extensions,
            payload,
        })
    }
}

impl Message {
    /// Decodes a message of the unsecured session, whose payload is in clear.
    ///
    /// # Errors
    /// [`MessageError::Decode`] when the protocol header is truncated.
    pub fn decode_plain(packet: &Packet<'_>) -> Result<Self, MessageError> {
        Self::from_plaintext(packet.header, packet.payload)
    }

    /// Builds a message from a message header and its decrypted payload.
    ///
    /// # Errors
    /// [`MessageError::Decode`] when the protocol header is truncated.
    pub fn from_plaintext(
        packet_header: PacketHeader,
        plaintext: &[u8],
    ) -> Result<Self, MessageError> {
        let (payload_header, payload) = PayloadHeader::decode(plaintext)?;
        Ok(Self {
            packet_header,
            payload_header,
            payload: payload.to_vec(),
        })
    }

    /// Appends message header, protocol header and payload, unencrypted (the unsecured session).
    pub fn encode_plain(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        self.packet_header.encode(out);
        self.encode_payload(out);
    }

    /// Appends the protocol header and the application payload: the plaintext a secure session
    /// encrypts.
    pub fn encode_payload(&self, out: &mut Vec<u8>) {
        self.payload_header.encode(out);
        out.extend_from_slice(&self.payload);
    }

    /// The unencrypted encoded length (without a MIC).
    pub fn encoded_len(&self) -> usize {
        self.packet_header.encoded_len() + self.payload_header.encoded_len() + self.payload.len()
    }
}

/// Bit masks and sizes of the fixed fields (Matter 1.3 §4.4.1, §4.4.3).
mod field {
    pub(super) const VERSION_MASK: u8 = 0xF0;
    pub(super) const VERSION_SHIFT: u8 = 4;
    pub(super) const FLAG_S: u8 = 0x04;
    pub(super) const DSIZ_MASK: u8 = 0x03;

    pub(super) const FLAG_P: u8 = 0x80;
    pub(super) const FLAG_C: u8 = 0x40;
    pub(super) const FLAG_MX: u8 = 0x20;
    pub(super) const SESSION_TYPE_MASK: u8 = 0x03;

    pub(super) const EX_I: u8 = 0x01;
    pub(super) const EX_A: u8 = 0x02;
    pub(super) const EX_R: u8 = 0x04;
    pub(super) const EX_SX: u8 = 0x08;
    pub(super) const EX_V: u8 = 0x10;

    /// flags, session id, security flags, counter.
    pub(super) const FIXED_LEN: usize = 8;
    /// exchange flags, opcode, exchange id, protocol id.
    pub(super) const PAYLOAD_FIXED_LEN: usize = 6;
}

#[cfg(test)]
mod tests {
    use hex_literal::hex;
    use proptest::prelude::*;

    use super::*;
    use crate::error::DecodeError;

    // CHIP SDK src/transport/tests/TestSessionManagerDispatch.cpp, "secure pase message (short
    // payload)": the plaintext frame. Session 0x0bb8, counter 12345, exchange flags I|R, opcode
    // 0x64, exchange 0x0eee, protocol 0x7d20, payload 11 22 33 44 55.
    const CHIP_PASE_PLAIN: [u8; 19] = hex!("00b80b0039300000 0564ee0e207d 1122334455");
    // Same file, "secure group message (no privacy)": S flag, DSIZ 2, group session type.
    const CHIP_GROUP_PLAIN: [u8; 24] = hex!("067ddb0178563412 0100000000000000 0200 0164ee0e207d");

    #[test]
    fn chip_pase_frame_decodes_to_known_fields() {
        let p = Packet::decode(&CHIP_PASE_PLAIN).unwrap();
        assert_eq!(
            p.header,
            PacketHeader {
                session_id: 0x0bb8,
                message_counter: 12345,
                ..PacketHeader::unsecured(0)
            }
        );
        assert_eq!(p.raw_header, &CHIP_PASE_PLAIN[..8]);
        let m = Message::decode_plain(&p).unwrap();
        assert_eq!(
            m.payload_header,
            PayloadHeader {
                initiator: true,
                needs_ack: true,
                ..PayloadHeader::new(0x0eee, ProtocolId(0x7d20), 0x64)
            }
        );
        assert_eq!(m.payload, hex!("1122334455"));
        let mut out = Vec::new();
        m.encode_plain(&mut out);
        assert_eq!(out, CHIP_PASE_PLAIN);
    }

    #[test]
    fn chip_group_frame_decodes_to_known_fields() {
        let p = Packet::decode(&CHIP_GROUP_PLAIN).unwrap();
        assert_eq!(p.header.session_id, 0xdb7d);
        assert_eq!(p.header.session_type(), SessionType::Group);
        assert_eq!(p.header.message_counter, 0x1234_5678);
        assert_eq!(p.header.source_node_id, Some(1));
        assert_eq!(p.header.destination, Destination::Group(2));
        assert_eq!(p.header.security_flags(), 0x01);
        assert_eq!(p.raw_header.len(), 18);
        let m = Message::decode_plain(&p).unwrap();
        assert_eq!(m.payload_header.exchange_id, 0x0eee);
        assert!(m.payload_header.initiator && !m.payload_header.needs_ack);
        assert!(m.payload.is_empty());
        let mut out = Vec::new();
        m.encode_plain(&mut out);
        assert_eq!(out, CHIP_GROUP_PLAIN);
    }

    /// Built by hand from the Matter 1.3 §4.4 layout: every optional field present.
    #[test]
    fn golden_all_optional_fields() {
        let m = Message {
            packet_header: PacketHeader {
                session_id: 0x1234,
                message_counter: 0x0102_0304,
                source_node_id: Some(0x1122_3344_5566_7788),
                destination: Destination::Node(0x8877_6655_4433_2211),
                privacy: false,
                control: true,
            },
            payload_header: PayloadHeader {
                exchange_id: 0xBEEF,
                protocol_id: ProtocolId::INTERACTION_MODEL,
                protocol_vendor_id: Some(0xFFF1),
                opcode: InteractionModelOpcode::INVOKE_REQUEST.0,
                initiator: true,
                needs_ack: true,
                acked_counter: Some(0xA1B2_C3D4),
            },
            payload: vec![0x15, 0x18],
        };
        let expected = hex!(
            "05 3412 40 04030201 8877665544332211 1122334455667788"
            "17 08 efbe f1ff 0100 d4c3b2a1 1518"
        );
        let mut out = Vec::new();
        m.encode_plain(&mut out);
        assert_eq!(out, expected);
        assert_eq!(m.encoded_len(), expected.len());
        let p = Packet::decode(&expected).unwrap();
        assert_eq!(p.raw_header.len(), m.packet_header.encoded_len());
        assert_eq!(Message::decode_plain(&p).unwrap(), m);
        // A vendor-specific protocol is not the common Interaction Model.
        assert_eq!(m.payload_header.interaction_model_opcode(), None);
        let common = PayloadHeader {
            protocol_vendor_id: None,
            ..m.payload_header
        };
        assert_eq!(
            common.interaction_model_opcode(),
            Some(InteractionModelOpcode::INVOKE_REQUEST)
        );
        assert_eq!(common.opcode_name(), Some("InvokeRequest"));
        assert_eq!(m.payload_header.opcode_name(), None);
    }

    #[test]
    fn golden_unsecured_pbkdf_param_request_header() {
        let m = Message {
            packet_header: PacketHeader {
                source_node_id: Some(0x0102_0304_0506_0708),
                ..PacketHeader::unsecured(0x0A0B_0C0D)
            },
            payload_header: PayloadHeader {
                initiator: true,
                needs_ack: true,
                ..PayloadHeader::new(
                    0x0001,
                    ProtocolId::SECURE_CHANNEL,
                    SecureChannelOpcode::PBKDF_PARAM_REQUEST.0,
                )
            },
            payload: vec![],
        };
        let mut out = Vec::new();
        m.encode_plain(&mut out);
        assert_eq!(
            out,
            hex!("04 0000 00 0d0c0b0a 0807060504030201 05 20 0100 0000")
        );
        assert!(m.packet_header.is_unsecured());
        assert_eq!(
            format!("{:?}", m.payload_header.opcode_name()),
            "Some(\"PBKDFParamRequest\")"
        );
        assert!(format!("{:?}", m.payload_header).contains("PBKDFParamRequest"));
    }

    #[test]
    fn extensions_are_skipped_but_kept_in_the_raw_header() {
        // MX set with 3 extension bytes, then the protocol header with SX (2 bytes) set.
        let frame = hex!("00 0100 20 05000000 0300 aabbcc 08 10 0200 0000 0200 eeff 99");
        let p = Packet::decode(&frame).unwrap();
        assert_eq!(p.raw_header, &frame[..13]);
        assert_eq!(p.message_extensions, Some(&hex!("aabbcc")[..]));
        let m = Message::decode_plain(&p).unwrap();
        assert!(m.payload_header.is_standalone_ack());
        assert_eq!(m.payload_header.acked_counter, None);
        assert_eq!(m.payload, [0x99]);
    }

    #[test]
    fn malformed_inputs_are_rejected() {
        use MessageError as E;
        let t = |needed| {
            Err(E::Decode(DecodeError::Truncated {
                what: "message header",
                needed,
            }))
        };
        let cases: &[(&str, &[u8], Result<(), MessageError>)] = &[
            ("empty", &[], t(1)),
            ("fixed part cut", &hex!("00 0000 00 000000"), t(1)),
            (
                "source node cut",
                &hex!("04 0000 00 00000000 01020304"),
                t(4),
            ),
            ("dest node cut", &hex!("01 0000 00 00000000 0102"), t(6)),
            ("group id cut", &hex!("02 0000 01 00000000 01"), t(1)),
            (
                "version 1",
                &hex!("10 0000 00 00000000"),
                Err(E::UnsupportedVersion(1)),
            ),
            (
                "version 15",
                &hex!("f0 0000 00 00000000"),
                Err(E::UnsupportedVersion(15)),
            ),
            (
                "DSIZ 3",
                &hex!("03 0000 00 00000000 0000000000000000"),
                Err(E::ReservedDestinationSize),
            ),
            (
                "session type 2",
                &hex!("00 0000 02 00000000"),
                Err(E::ReservedSessionType(2)),
            ),
            (
                "session type 3",
                &hex!("00 0000 03 00000000"),
                Err(E::ReservedSessionType(3)),
            ),
            (
                "group id on unicast",
                &hex!("02 0000 00 00000000 0100"),
                Err(E::DestinationMismatch {
                    dsiz: 2,
                    session_type: SessionType::Unicast,
                }),
            ),
            (
                "node id on group",
                &hex!("01 0000 01 00000000 0100000000000000"),
                Err(E::DestinationMismatch {
                    dsiz: 1,
                    session_type: SessionType::Group,
                }),
            ),
            (
                "group without group id",
                &hex!("00 0000 01 00000000"),
                Err(E::DestinationMismatch {
                    dsiz: 0,
                    session_type: SessionType::Group,
                }),
            ),
            (
                "extension length cut",
                &hex!("00 0000 20 00000000 01"),
                t(1),
            ),
            (
                "extension past end",
                &hex!("00 0000 20 00000000 0500 0102"),
                t(3),
            ),
        ];
        for (name, input, expected) in cases {
            let got = Packet::decode(input).map(|_| ());
            assert_eq!(&got, expected, "case {name}");
        }

        let pt = |needed| {
            Err(E::Decode(DecodeError::Truncated {
                what: "protocol header",
                needed,
            }))
        };
        let payload_cases: &[(&str, &[u8], Result<(), MessageError>)] = &[
            ("empty", &[], pt(1)),
            ("no protocol id", &hex!("00 10 0100"), pt(2)),
            (
                "vendor id eats protocol id",
                &hex!("10 10 0100 0000"),
                pt(2),
            ),
            ("ack counter cut", &hex!("02 10 0100 0000 010203"), pt(1)),
            ("SX length cut", &hex!("08 10 0100 0000 01"), pt(1)),
            ("SX past end", &hex!("08 10 0100 0000 0400 0102"), pt(2)),
        ];
        for (name, input, expected) in payload_cases {
            let got = PayloadHeader::decode(input).map(|_| ());
            assert_eq!(&got, expected, "payload case {name}");
        }
    }

    #[test]
    fn reserved_bits_are_ignored_on_receipt() {
        // Message flags bit 3 and security flags bits 2..4 are reserved (Matter 1.3 §4.4.1):
        // ignored on receipt, sent as zero.
        let p = Packet::decode(&hex!("08 0100 1c 01000000 00 10 0000 0000")).unwrap();
        let mut out = Vec::new();
        p.header.encode(&mut out);
        assert_eq!(out, hex!("00 0100 00 01000000"));
        // The raw header (the AAD) keeps the bytes as received.
        assert_eq!(p.raw_header, hex!("08 0100 1c 01000000"));
    }

    fn arb_packet_header() -> impl Strategy<Value = PacketHeader> {
        (
            any::<u16>(),
            any::<u32>(),
            proptest::option::of(any::<u64>()),
            prop_oneof![
                Just(Destination::None),
                any::<u64>().prop_map(Destination::Node),
                any::<u16>().prop_map(Destination::Group),
            ],
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(session_id, message_counter, source_node_id, destination, privacy, control)| {
                    PacketHeader {
                        session_id,
                        message_counter,
                        source_node_id,
                        destination,
                        privacy,
                        control,
                    }
                },
            )
    }

    fn arb_payload_header() -> impl Strategy<Value = PayloadHeader> {
        (
            any::<u16>(),
            any::<u16>(),
            proptest::option::of(any::<u16>()),
            any::<u8>(),
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(any::<u32>()),
        )
            .prop_map(|(x, p, v, op, i, r, a)| PayloadHeader {
                exchange_id: x,
                protocol_id: ProtocolId(p),
                protocol_vendor_id: v,
                opcode: op,
                initiator: i,
                needs_ack: r,
                acked_counter: a,
            })
    }

    proptest! {
        #[test]
        fn message_round_trips(
            ph in arb_packet_header(),
            pl in arb_payload_header(),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let m = Message { packet_header: ph, payload_header: pl, payload };
            let mut out = Vec::new();
            m.encode_plain(&mut out);
            prop_assert_eq!(out.len(), m.encoded_len());
            let p = Packet::decode(&out).unwrap();
            prop_assert_eq!(p.raw_header.len(), ph.encoded_len());
            prop_assert_eq!(p.header, ph);
            prop_assert_eq!(Message::decode_plain(&p).unwrap(), m);
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_reencode_exactly(
            bytes in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            if let Ok(p) = Packet::decode(&bytes) {
                prop_assert_eq!(p.raw_header.len() + p.payload.len(), bytes.len());
                // Without reserved bits or extensions the header re-encodes byte for byte.
                let clean = bytes[0] & 0x08 == 0 && bytes[3] & 0x3c == 0;
                if clean {
                    let mut out = Vec::new();
                    p.header.encode(&mut out);
                    prop_assert_eq!(&out[..], p.raw_header);
                }
            }
            if let Ok((h, rest)) = PayloadHeader::decode(&bytes) {
                if bytes[0] & 0xe8 == 0 {
                    let mut out = Vec::new();
                    h.encode(&mut out);
                    prop_assert_eq!(out.len() + rest.len(), bytes.len());
                    prop_assert_eq!(&out[..], &bytes[..out.len()]);
                }
            }
        }
    }
}
