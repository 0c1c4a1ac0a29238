//! Protocol ids and per-protocol opcodes (Matter 1.3 §4.4.3 "Protocol Header Field Descriptions",
//! Appendix "Protocol IDs"; secure channel opcodes §4.11.1, Interaction Model opcodes §10.2.1).
//!
//! Each is a newtype over the wire integer with named constants, so an unknown value survives a
//! decode/encode round trip and `Debug` prints the name when one is known, hex otherwise.

/// Defines a newtype over a wire integer with named constants and a name-printing `Debug`.
macro_rules! wire_newtype {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident($int:ty);
        $( $(#[$cmeta:meta])* $cname:ident = $value:literal => $display:literal, )*
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis struct $name(pub $int);

        impl $name {
            $( $(#[$cmeta])* pub const $cname: Self = Self($value); )*

            /// The value as sent on the wire.
            pub const fn value(self) -> $int {
                self.0
            }

            /// The name of a known value, `None` for values this crate has no name for.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $value => Some($display), )*
                    _ => None,
                }
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, concat!(stringify!($name), "({:#x})"), self.0),
                }
            }
        }

        impl From<$int> for $name {
            fn from(v: $int) -> Self {
                Self(v)
            }
        }

        impl From<$name> for $int {
            fn from(v: $name) -> Self {
                v.0
            }
        }
    };
}
pub(crate) use wire_newtype;

wire_newtype! {
    /// A Matter protocol id (the 16-bit protocol part; the vendor id travels separately).
    pub struct ProtocolId(u16);
    /// Secure channel: acks, PASE, CASE, status reports, message counter sync.
    SECURE_CHANNEL = 0x0000 => "SecureChannel",
    /// Interaction Model: reads, writes, invokes, subscriptions.
    INTERACTION_MODEL = 0x0001 => "InteractionModel",
    /// Bulk data exchange.
    BDX = 0x0002 => "BDX",
    /// User directed commissioning.
    USER_DIRECTED_COMMISSIONING = 0x0003 => "UserDirectedCommissioning",
    /// Reserved for tests.
    FOR_TESTING = 0x0004 => "ForTesting",
}

wire_newtype! {
    /// Opcodes of the secure channel protocol (Matter 1.3 §4.11.1, table "Secure Channel Protocol
    /// Opcodes").
    pub struct SecureChannelOpcode(u8);
    /// Message counter synchronisation request (group sessions).
    MSG_COUNTER_SYNC_REQ = 0x00 => "MsgCounterSyncReq",
    /// Message counter synchronisation response.
    MSG_COUNTER_SYNC_RSP = 0x01 => "MsgCounterSyncRsp",
    /// MRP standalone acknowledgement.
    STANDALONE_ACK = 0x10 => "StandaloneAck",
    /// PASE: PBKDF parameter request (initiator).
    PBKDF_PARAM_REQUEST = 0x20 => "PBKDFParamRequest",
    /// PASE: PBKDF parameter response (responder).
    PBKDF_PARAM_RESPONSE = 0x21 => "PBKDFParamResponse",
    /// PASE: pA.
    PASE_PAKE1 = 0x22 => "PasePake1",
    /// PASE: pB, cB.
    PASE_PAKE2 = 0x23 => "PasePake2",
    /// PASE: cA.
    PASE_PAKE3 = 0x24 => "PasePake3",
    /// CASE: Sigma1.
    CASE_SIGMA1 = 0x30 => "CaseSigma1",
    /// CASE: Sigma2.
    CASE_SIGMA2 = 0x31 => "CaseSigma2",
    /// CASE: Sigma3.
    CASE_SIGMA3 = 0x32 => "CaseSigma3",
    /// CASE: Sigma2 for session resumption.
    CASE_SIGMA2_RESUME = 0x33 => "CaseSigma2Resume",
    /// Status report (also carries CloseSession).
    STATUS_REPORT = 0x40 => "StatusReport",
    /// ICD check-in.
    ICD_CHECK_IN = 0x50 => "IcdCheckIn",
}

wire_newtype! {
    /// Opcodes of the Interaction Model protocol (Matter 1.3 §10.2.1, table "Interaction Model
    /// Protocol Opcodes").
    pub struct InteractionModelOpcode(u8);
    /// StatusResponseMessage.
    STATUS_RESPONSE = 0x01 => "StatusResponse",
    /// ReadRequestMessage.
    READ_REQUEST = 0x02 => "ReadRequest",
    /// SubscribeRequestMessage.
    SUBSCRIBE_REQUEST = 0x03 => "SubscribeRequest",
    /// SubscribeResponseMessage.
    SUBSCRIBE_RESPONSE = 0x04 => "SubscribeResponse",
    /// ReportDataMessage.
    REPORT_DATA = 0x05 => "ReportData",
    /// WriteRequestMessage.
    WRITE_REQUEST = 0x06 => "WriteRequest",
    /// WriteResponseMessage.
    WRITE_RESPONSE = 0x07 => "WriteResponse",
    /// InvokeRequestMessage.
    INVOKE_REQUEST = 0x08 => "InvokeRequest",
    /// InvokeResponseMessage.
    INVOKE_RESPONSE = 0x09 => "InvokeResponse",
    /// TimedRequestMessage.
    TIMED_REQUEST = 0x0A => "TimedRequest",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_names_and_hex_for_unknown_values() {
        assert_eq!(format!("{:?}", ProtocolId::SECURE_CHANNEL), "SecureChannel");
        assert_eq!(format!("{:?}", ProtocolId(0x1234)), "ProtocolId(0x1234)");
        assert_eq!(
            format!("{:?}", SecureChannelOpcode::PBKDF_PARAM_REQUEST),
            "PBKDFParamRequest"
        );
        assert_eq!(
            format!("{:?}", SecureChannelOpcode(0x7f)),
            "SecureChannelOpcode(0x7f)"
        );
        assert_eq!(
            format!("{:?}", InteractionModelOpcode::INVOKE_REQUEST),
            "InvokeRequest"
        );
        assert_eq!(InteractionModelOpcode::TIMED_REQUEST.value(), 0x0A);
        assert_eq!(SecureChannelOpcode::STATUS_REPORT.value(), 0x40);
        assert_eq!(SecureChannelOpcode::STANDALONE_ACK.value(), 0x10);
    }
}
