//! Why a BTP session ended ([`BtpError`]), how the peer broke the protocol ([`Violation`]), and why
//! an SDU was refused ([`SendError`]).
//!
//! Sorted by who is at fault: the peer ([`BtpError::PeerMisbehaved`]), time
//! ([`BtpError::HandshakeTimeout`], [`BtpError::AckTimeout`], [`BtpError::IdleTimeout`]), the
//! link ([`BtpError::Unsubscribed`], [`BtpError::Disconnected`]) or us ([`BtpError::LocallyClosed`]).

use thiserror::Error;

use crate::error::DecodeError;

use super::wire::SupportedVersions;

/// The reason a BTP session closed. Reported once, in [`BtpEvent::Closed`](super::BtpEvent::Closed).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BtpError {
    /// The peer sent something BTP forbids. Meant for logs, not for branching.
    #[error("peer violated BTP: {0}")]
    PeerMisbehaved(#[from] Violation),
    /// The central offered no BTP version we speak (or, on the central, the peripheral answered
    /// with version 0). The peripheral still sends its response with version 0 first, as the CHIP
    /// SDK does, so the central learns why.
    #[error("no BTP version in common (offered {offered:?}, we speak 4)")]
    UnsupportedVersion {
        /// The versions the central offered.
        offered: SupportedVersions,
    },
    /// The handshake (request, subscription and response) did not finish in time.
    #[error("BTP handshake not completed in time")]
    HandshakeTimeout,
    /// A segment we sent was not acknowledged in time (Matter 1.4 §4.19.5.4, the CHIP SDK's
    /// `BTP_ACK_RECEIVED_TIMEOUT_MS`).
    #[error("BTP segment not acknowledged in time")]
    AckTimeout,
    /// No SDU went either way for the configured idle time.
    #[error("BTP session idle for too long")]
    IdleTimeout,
    /// The central unsubscribed from C2 (or, on the central, our subscription ended).
    #[error("C2 subscription ended")]
    Unsubscribed,
    /// The BLE link went away.
    #[error("BLE link disconnected")]
    Disconnected,
    /// [`BtpEngine::close`](super::BtpEngine::close) finished.
    #[error("closed locally")]
    LocallyClosed,
}

/// A protocol violation by the peer. Each one closes the session.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Violation {
    /// The first frame was not a well-formed handshake request or response.
    #[error("malformed handshake: {0}")]
    MalformedHandshake(DecodeError),
    /// A handshake window of 0 (no segment could ever be sent), or a response window larger than
    /// the request offered.
    #[error("invalid window size {window}")]
    InvalidWindow {
        /// The window in the frame.
        window: u8,
    },
    /// A response fragment size too small to carry a segment header and one byte of payload.
    #[error("invalid fragment size {size}")]
    InvalidFragmentSize {
        /// The size in the frame.
        size: u16,
    },
    /// The peripheral selected a version the central did not offer.
    #[error("peer selected BTP version {version}, which was not offered")]
    UnofferedVersion {
        /// The selected version.
        version: u8,
    },
    /// A handshake frame after the session was set up, or a second request.
    #[error("handshake frame after the handshake")]
    UnexpectedHandshake,
    /// The management flag on a data segment (only the handshake carries an opcode).
    #[error("management flag on a data segment (flags {flags:#04x})")]
    UnexpectedManagement {
        /// The flag byte.
        flags: u8,
    },
    /// A data segment before the handshake response was sent (peripheral) or received (central).
    #[error("data segment before the handshake completed")]
    SegmentBeforeHandshake,
    /// The segment ended inside its header.
    #[error("truncated segment: {0}")]
    Truncated(DecodeError),
    /// Beginning and continuing flags together.
    #[error("conflicting segment flags {flags:#04x}")]
    ConflictingFlags {
        /// The flag byte.
        flags: u8,
    },
    /// Bytes after a standalone ack.
    #[error("{count} bytes after a standalone ack")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// A segment longer than the negotiated fragment size. (The CHIP SDK silently truncates such a
    /// segment to the fragment size; we refuse it, as the spec bounds every segment.)
    #[error("segment of {len} bytes exceeds the fragment size {max}")]
    SegmentTooLong {
        /// The segment length, header included.
        len: usize,
        /// The negotiated fragment size.
        max: u16,
    },
    /// A sequence number other than the next one (BTP never reorders or repeats).
    #[error("sequence number {got}, expected {expected}")]
    UnexpectedSequence {
        /// The one we expected.
        expected: u8,
        /// The one that came.
        got: u8,
    },
    /// A segment while our receive window was already full.
    #[error("receive window of {window} exceeded")]
    WindowExceeded {
        /// The negotiated window.
        window: u8,
    },
    /// An ack that acknowledges nothing outstanding (stale, repeated or from the future).
    #[error("ack {ack} acknowledges nothing outstanding")]
    InvalidAck {
        /// The ack number received.
        ack: u8,
    },
    /// A continuing or ending segment with no SDU in progress.
    #[error("continuing segment without a beginning segment")]
    ContinuationWithoutBeginning,
    /// A beginning segment while an SDU was still in progress.
    #[error("beginning segment inside an unfinished SDU")]
    BeginningDuringMessage,
    /// An SDU length above our configured maximum.
    #[error("SDU of {declared} bytes exceeds the maximum {max}")]
    MessageTooLarge {
        /// The length in the beginning segment.
        declared: u16,
        /// Our maximum.
        max: usize,
    },
    /// The segments of an SDU did not add up to its declared length (too many bytes at any point,
    /// or too few at the ending segment).
    #[error("SDU declared {declared} bytes but carried {received}")]
    LengthMismatch {
        /// The length in the beginning segment.
        declared: u16,
        /// The bytes received by the time the mismatch was seen.
        received: usize,
    },
}

/// Why [`BtpEngine::send_sdu`](super::BtpEngine::send_sdu) refused an SDU. Nothing was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SendError {
    /// BTP cannot carry an empty SDU usefully, and Matter never sends one.
    #[error("empty SDU")]
    Empty,
    /// Longer than the configured maximum (and never more than 65535, the 16-bit length field).
    #[error("SDU of {len} bytes exceeds the maximum {max}")]
    TooLarge {
        /// The SDU length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The send queue is full: try again after the engine has made progress (backpressure).
    #[error("send queue full")]
    Busy,
    /// The session is closing or closed.
    #[error("BTP session closed")]
    Closed,
}
