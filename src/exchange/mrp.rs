//! Message Reliability Protocol timing (Matter 1.3 §4.12 "Message Reliability Protocol"): the
//! retransmission backoff, the standalone-ack timeout and the per-exchange state that uses them.
//! MRP runs over UDP only; over BTP (reliable) the exchange layer sends without the R flag.

use crate::rng::Rng;
use crate::session::params::MrpParameters;
use crate::time::{Duration, Instant};

/// MRP_MAX_TRANSMISSIONS: transmissions of one reliable message, the first included.
pub const MRP_MAX_TRANSMISSIONS: u8 = 5;
/// MRP_BACKOFF_BASE = 1.6, as a fraction.
const BACKOFF_BASE: (u128, u128) = (16, 10);
/// MRP_BACKOFF_MARGIN = 1.1, as a fraction.
const BACKOFF_MARGIN: (u128, u128) = (11, 10);
/// MRP_BACKOFF_JITTER = 0.25, as a fraction.
const BACKOFF_JITTER: (u128, u128) = (1, 4);
/// MRP_BACKOFF_THRESHOLD: retransmissions before the backoff turns exponential.
pub const MRP_BACKOFF_THRESHOLD: u32 = 1;
/// MRP_STANDALONE_ACK_TIMEOUT: how long an ack waits for a message to ride on.
pub const MRP_STANDALONE_ACK_TIMEOUT: Duration = Duration::from_millis(200);

/// The base interval `i` for the next transmission: the peer's active interval while it is
/// active, its idle interval otherwise (Matter 1.3 §4.12.2.1).
pub fn base_interval(params: &MrpParameters, peer_active: bool) -> Duration {
    if peer_active {
        params.active_interval
    } else {
        params.idle_interval
    }
}

/// The retransmission timeout after the transmission with index `n` (0 = the first one):
///
/// `t = i · MRP_BACKOFF_MARGIN · MRP_BACKOFF_BASE^max(0, n − MRP_BACKOFF_THRESHOLD)
///      · (1 + random(0, 1) · MRP_BACKOFF_JITTER)`  (Matter 1.3 §4.12.2.1)
///
/// computed exactly in integers (truncated to whole milliseconds); `jitter` is the random
/// value as a fraction `jitter / 2^32` of one.
pub fn backoff(base: Duration, n: u32, jitter: u32) -> Duration {
    // Caps keep the integer math inside u128: MRP gives up after 5 transmissions anyway, and
    // session parameters are u32 milliseconds.
    let exponent = n.saturating_sub(MRP_BACKOFF_THRESHOLD).min(8);
    let i = base.as_millis().min(u128::from(u32::MAX));
    let mut num = i * BACKOFF_MARGIN.0;
    let mut den = BACKOFF_MARGIN.1;
    for _ in 0..exponent {
        num *= BACKOFF_BASE.0;
        den *= BACKOFF_BASE.1;
    }
    // (1 + r/2^32 · J) = (2^32 · J.den + r · J.num) / (2^32 · J.den)
    let scale = 1u128 << 32;
    num *= scale * BACKOFF_JITTER.1 + u128::from(jitter) * BACKOFF_JITTER.0;
    den *= scale * BACKOFF_JITTER.1;
    Duration::from_millis(u64::try_from(num / den).unwrap_or(u64::MAX))
}

/// A reliable message waiting for its acknowledgement.
#[derive(Debug, Clone)]
pub(crate) struct Retransmission {
    /// Counter of the message: the ack must name it.
    pub(crate) counter: u32,
    /// The datagram exactly as first sent (retransmissions reuse counter and bytes).
    pub(crate) datagram: Vec<u8>,
    /// Transmissions so far.
    pub(crate) send_count: u8,
    /// When to retransmit (or give up).
    pub(crate) deadline: Instant,
}

/// An acknowledgement we owe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PendingAck {
    /// The counter to acknowledge.
    pub(crate) counter: u32,
    /// When to stop waiting for a piggy-back and send a standalone ack.
    pub(crate) deadline: Instant,
}

/// The next deadline after transmission `send_count` (1 = the first) at `now`.
pub(crate) fn next_deadline(
    now: Instant,
    params: &MrpParameters,
    peer_active: bool,
    send_count: u8,
    rng: &mut dyn Rng,
) -> Instant {
    let n = u32::from(send_count.saturating_sub(1));
    now + backoff(base_interval(params, peer_active), n, rng.next_u32())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_the_spec_formula() {
        let active = Duration::from_millis(300);
        // No jitter: 300 · 1.1 = 330, then 330, 528, 844.8, 1351.68.
        let no_jitter: Vec<u64> = (0..5)
            .map(|n| backoff(active, n, 0).as_millis() as u64)
            .collect();
        assert_eq!(no_jitter, [330, 330, 528, 844, 1351]);
        // Maximum jitter approaches · 1.25 (412.5 → 412 for n = 0).
        let max: Vec<u64> = (0..5)
            .map(|n| backoff(active, n, u32::MAX).as_millis() as u64)
            .collect();
        assert_eq!(max, [412, 412, 659, 1055, 1689]);
        // Half jitter on the idle default (500 ms): 550 · 1.125 = 618.75.
        assert_eq!(
            backoff(Duration::from_millis(500), 0, 1 << 31).as_millis(),
            618
        );
        // Large n does not overflow.
        assert!(backoff(Duration::from_secs(3600), u32::MAX, u32::MAX) > Duration::ZERO);
    }

    #[test]
    fn base_interval_depends_on_peer_activity() {
        let p = MrpParameters::DEFAULT;
        assert_eq!(base_interval(&p, true), Duration::from_millis(300));
        assert_eq!(base_interval(&p, false), Duration::from_millis(500));
    }
}
