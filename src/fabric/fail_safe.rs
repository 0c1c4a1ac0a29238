//! The fail-safe timer and context (Matter 1.3 §11.10.7.2 ArmFailSafe, §11.10.6.2
//! BasicCommissioningInfo): who armed it, when it expires, the cumulative cap, the breadcrumb
//! and what was done under it. The snapshot taken at arming and the rollback itself live in
//! [`super::NodeState`], which owns everything the fail-safe guards.

use super::FabricIndex;
use crate::time::{Duration, Instant};

/// BasicCommissioningInfo (§11.10.6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BasicCommissioningInfo {
    /// FailSafeExpiryLengthSeconds: the timeout commissioners should use for their first
    /// ArmFailSafe.
    pub fail_safe_expiry_length_seconds: u16,
    /// MaxCumulativeFailsafeSeconds: no extension goes beyond arming time plus this.
    pub max_cumulative_failsafe_seconds: u16,
}

impl Default for BasicCommissioningInfo {
    /// 60 s and 900 s: the CHIP SDK's values (the spec requires the cap to be at least the
    /// expiry length; the CHIP SDK uses 900 s).
    fn default() -> Self {
        Self {
            fail_safe_expiry_length_seconds: 60,
            max_cumulative_failsafe_seconds: 900,
        }
    }
}

/// What was done under the armed fail-safe (the spec's "Fail-Safe Context", §11.10.7.2.1),
/// which the commissioning commands check and update.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailSafeContext {
    /// The accessing fabric of the arming session (`None`: a PASE session without a fabric).
    /// AddNOC over PASE sets it to the new fabric.
    pub fabric: Option<FabricIndex>,
    /// CSRRequest succeeded.
    pub csr_requested: bool,
    /// AddTrustedRootCertificate succeeded.
    pub root_added: bool,
    /// The fabric AddNOC added.
    pub added_fabric: Option<FabricIndex>,
    /// The fabric UpdateNOC updated.
    pub updated_fabric: Option<FabricIndex>,
    /// Network configuration changed (Network Commissioning commands).
    pub network_changed: bool,
}

impl FailSafeContext {
    /// AddNOC or UpdateNOC has already succeeded under this fail-safe.
    pub fn noc_invoked(&self) -> bool {
        self.added_fabric.is_some() || self.updated_fabric.is_some()
    }
}

#[derive(Clone, Debug)]
struct Armed {
    context: FailSafeContext,
    deadline: Instant,
    /// Arming time + MaxCumulativeFailsafeSeconds: no deadline goes past it.
    cap: Instant,
}

/// The fail-safe timer with its context and the Breadcrumb attribute.
#[derive(Clone, Debug, Default)]
pub struct FailSafe {
    armed: Option<Armed>,
    breadcrumb: u64,
    info: BasicCommissioningInfo,
}

impl FailSafe {
    /// A disarmed fail-safe reporting `info`.
    pub fn new(info: BasicCommissioningInfo) -> Self {
        Self {
            armed: None,
            breadcrumb: 0,
            info,
        }
    }

    /// BasicCommissioningInfo.
    pub fn info(&self) -> BasicCommissioningInfo {
        self.info
    }

    /// Whether the fail-safe is armed.
    pub fn is_armed(&self) -> bool {
        self.armed.is_some()
    }

    /// The context while armed.
    pub fn context(&self) -> Option<&FailSafeContext> {
        self.armed.as_ref().map(|a| &a.context)
    }

    /// The context while armed, to record what a command did.
    pub fn context_mut(&mut self) -> Option<&mut FailSafeContext> {
        self.armed.as_mut().map(|a| &mut a.context)
    }

    /// When the fail-safe expires.
    pub fn deadline(&self) -> Option<Instant> {
        self.armed.as_ref().map(|a| a.deadline)
    }

    /// Breadcrumb.
    pub fn breadcrumb(&self) -> u64 {
        self.breadcrumb
    }

    /// Sets Breadcrumb (a write, or a successful commissioning command carrying one).
    pub fn set_breadcrumb(&mut self, v: u64) {
        self.breadcrumb = v;
    }

    /// Whether a subject of `fabric` may act on this fail-safe (it armed it, or it is not armed).
    pub fn is_owned_by(&self, fabric: Option<FabricIndex>) -> bool {
        self.context().is_none_or(|c| c.fabric == fabric)
    }

    /// Arms (or re-arms) for `expiry` from `now`, capped at arming time plus
    /// MaxCumulativeFailsafeSeconds. Returns true when this arms a disarmed fail-safe (the
    /// caller takes the snapshot then). The ownership rules are the caller's
    /// ([`super::NodeState::arm_fail_safe`]).
    pub(crate) fn arm(
        &mut self,
        now: Instant,
        fabric: Option<FabricIndex>,
        expiry: Duration,
    ) -> bool {
        match &mut self.armed {
            Some(a) => {
                a.deadline = (now + expiry).min(a.cap);
                false
            }
            None => {
                let cap =
                    now + Duration::from_secs(u64::from(self.info.max_cumulative_failsafe_seconds));
                self.armed = Some(Armed {
                    context: FailSafeContext {
                        fabric,
                        ..FailSafeContext::default()
                    },
                    deadline: (now + expiry).min(cap),
                    cap,
                });
                true
            }
        }
    }

    /// Disarms, returning the context (commit or rollback follows in the caller).
    pub(crate) fn disarm(&mut self) -> Option<FailSafeContext> {
        self.armed.take().map(|a| a.context)
    }

    /// Whether the fail-safe has expired at `now`.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.armed.as_ref().is_some_and(|a| now >= a.deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_is_capped_by_max_cumulative() {
        let mut f = FailSafe::new(BasicCommissioningInfo {
            fail_safe_expiry_length_seconds: 60,
            max_cumulative_failsafe_seconds: 100,
        });
        let t0 = Instant::from_millis(1_000);
        assert!(f.arm(t0, None, Duration::from_secs(60)));
        assert_eq!(f.deadline(), Some(t0 + Duration::from_secs(60)));
        let t1 = t0 + Duration::from_secs(50);
        assert!(
            !f.arm(t1, None, Duration::from_secs(60)),
            "re-arm is an extension"
        );
        assert_eq!(f.deadline(), Some(t0 + Duration::from_secs(100)));
        // A shorter re-arm shortens the deadline.
        assert!(!f.arm(t1, None, Duration::from_secs(5)));
        assert_eq!(f.deadline(), Some(t1 + Duration::from_secs(5)));
        assert!(!f.is_expired(t1 + Duration::from_millis(4_999)));
        assert!(f.is_expired(t1 + Duration::from_secs(5)));
    }

    #[test]
    fn ownership_follows_the_arming_fabric() {
        let mut f = FailSafe::default();
        assert!(f.is_owned_by(Some(FabricIndex(3))), "disarmed: anyone");
        f.arm(Instant::ZERO, None, Duration::from_secs(60));
        assert!(f.is_owned_by(None));
        assert!(!f.is_owned_by(Some(FabricIndex(1))));
        if let Some(c) = f.context_mut() {
            c.fabric = Some(FabricIndex(1));
        }
        assert!(f.is_owned_by(Some(FabricIndex(1))));
        assert!(f.disarm().is_some());
        assert!(!f.is_armed());
    }
}
