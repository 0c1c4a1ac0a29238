//! BTP, the Bluetooth Transport Protocol (Matter 1.4 §4.19; §4.18 in 1.3, §4.17 in 1.0–1.2): a
//! reliable, windowed, segmenting pipe for Matter messages over two GATT characteristics, as a
//! sans-IO state machine for both roles.
//!
//! ```text
//!   central (commissioner)                         peripheral (this device)
//!   write C1 ── 65 6C 04 00 00 00 mtu win ──────▶  request: versions, ATT MTU, window
//!   subscribe C2 ───────────────────────────────▶  (the CHIP central subscribes only now)
//!            ◀── indicate C2: 65 6C 04 frag win ── response = the peripheral's seq 0
//!   write C1 ── [A ack] seq [len] payload ──────▶  data segments both ways, acked, windowed
//!            ◀── indicate C2 ── ... ──────────────
//! ```
//!
//! One [`BtpEngine`] per BLE link; engines share nothing, so any number of links run at once.
//! The files split by concern: [`wire`] (frame codecs), `window` (8-bit sequence/ack/window math),
//! `reassembly` (segmentation and reassembly), `timer` (deadlines), `engine` (the state machine).
//!
//! # Interop facts (checked against the CHIP SDK's `src/ble`, matter.js and rs-matter)
//! - The CHIP central writes the request **before** subscribing to C2, says ATT MTU 0, offers
//!   window 6 and only version 4. The peripheral keeps the request and answers once subscribed;
//!   with MTU 0 it uses its GATT layer's MTU (fragment = min(MTU − 3, 244), or 20 if unknown).
//! - The response is the peripheral's sequence number 0: its first data segment is 1, and the
//!   central (whose own numbering starts at 0) acknowledges 0 on its first segment.
//! - Version slots: slot 0 is the low nibble of the first version byte. matter.js decodes the
//!   high nibble first and rs-matter masks slots with `0xff`; neither matters for a lone `04`.
//! - The CHIP SDK accepts `E` without `C` on a last segment (we do too) but sends `C|E`; it
//!   truncates over-long segments and trims excess SDU bytes, which we refuse as violations.
//! - Pre-1.0 CHIP SDKs used the handshake magic `6E 6C` ("nl") and a 128-byte maximum fragment; we
//!   speak only the Matter 1.0+ form (`65 6C`, 244).
//!
//! # Driving contract
//! See [`BtpEngine`]: feed GATT events with `handle_*`, queue SDUs with
//! [`send_sdu`](BtpEngine::send_sdu), then drain [`poll_transmit`](BtpEngine::poll_transmit),
//! [`poll_timeout`](BtpEngine::poll_timeout) and [`poll_event`](BtpEngine::poll_event) after
//! every call.

mod engine;
mod error;
mod reassembly;
mod timer;
mod window;
pub mod wire;

pub use engine::{BtpEngine, BtpState, Role};
pub use error::{BtpError, SendError, Violation};

use crate::time::Duration;

/// Engine settings. Every timer is injectable so tests can shorten or lengthen it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtpConfig {
    /// Largest receive window we offer (central) or accept (peripheral), in segments. The CHIP
    /// SDK's `BLE_MAX_RECEIVE_WINDOW_SIZE` is 6 on Linux. Must be at least 1.
    pub max_window: u8,
    /// Largest SDU we send or accept, in bytes (never more than 65535, the length field's range).
    /// The default, 1583, is the largest packet buffer of the CHIP SDK (and rs-matter's receive
    /// buffer), so anything a commissioner sends fits.
    pub max_sdu_size: usize,
    /// How many SDUs [`BtpEngine::send_sdu`] queues before it answers [`SendError::Busy`].
    pub max_queued_sdus: usize,
    /// Close when a segment we sent is not acknowledged within this time (CHIP SDK and matter.js:
    /// 15 s).
    pub ack_timeout: Duration,
    /// Send a standalone ack when a received segment has waited this long without one riding on
    /// our data (CHIP SDK: 2.5 s). Sooner, when the peer's window toward us is nearly used up.
    pub send_ack_delay: Duration,
    /// Close when the handshake (request, subscription, response) is not done within this time
    /// from the first GATT event (CHIP SDK connect / receive-connection timeout: 15 s; matter.js
    /// uses 5 s from request to subscription).
    pub handshake_timeout: Duration,
    /// Close after this long without an SDU either way. `None` (the default) keeps the link while
    /// only acks flow, like the CHIP SDK; matter.js's central uses 30 s.
    pub idle_timeout: Option<Duration>,
}

impl Default for BtpConfig {
    fn default() -> Self {
        Self {
            max_window: 6,
            max_sdu_size: 1583,
            max_queued_sdus: 8,
            ack_timeout: Duration::from_secs(15),
            send_ack_delay: Duration::from_millis(2500),
            handshake_timeout: Duration::from_secs(15),
            idle_timeout: None,
        }
    }
}

/// Something the engine tells its driver. Drain with [`BtpEngine::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BtpEvent {
    /// The handshake is done; SDUs flow from now on.
    Established {
        /// The BTP version in use (4).
        version: u8,
        /// Largest segment either side sends, ATT header excluded.
        fragment_size: u16,
        /// Receive window of both sides, in segments.
        window: u8,
    },
    /// A whole SDU (one Matter message) arrived.
    SduReceived(Vec<u8>),
    /// The session is closing with data not delivered. Comes just before [`BtpEvent::Closed`].
    DataLost {
        /// Our SDUs not fully acknowledged by the peer (queued, in progress or awaiting acks).
        outbound_sdus: usize,
        /// Bytes of a partly received SDU that are thrown away.
        inbound_bytes: usize,
    },
    /// The session is over. Emitted exactly once; the engine ignores every input afterwards and
    /// has no timer left.
    Closed {
        /// Why.
        reason: BtpError,
    },
}

/// What kind of frame a [`BtpTransmit`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameKind {
    /// The central's handshake request (write to C1).
    HandshakeRequest,
    /// The peripheral's handshake response (indication on C2).
    HandshakeResponse,
    /// A segment of an SDU (maybe with a piggy-backed ack).
    Data,
    /// A standalone ack.
    StandaloneAck,
}

/// One GATT value to send: the peripheral indicates it on C2, the central writes it (with
/// response) to C1. Its bytes are in the buffer passed to [`BtpEngine::poll_transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct BtpTransmit {
    /// Length of the value (the whole buffer).
    pub len: usize,
    /// What it is, for logs and tests.
    pub kind: FrameKind,
}

/// Counters for logs and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BtpStats {
    /// GATT values handed out by `poll_transmit`, handshake included.
    pub frames_sent: u64,
    /// Bytes of those values.
    pub bytes_sent: u64,
    /// Of the frames sent, standalone acks.
    pub standalone_acks_sent: u64,
    /// SDU payload bytes inside the data segments sent.
    pub payload_bytes_sent: u64,
    /// SDUs whose last segment has been sent.
    pub sdus_sent: u64,
    /// GATT values passed to `handle_segment`.
    pub frames_received: u64,
    /// Bytes of those values.
    pub bytes_received: u64,
    /// SDUs delivered.
    pub sdus_received: u64,
}
