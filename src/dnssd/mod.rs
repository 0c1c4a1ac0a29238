//! DNS-SD: making the device findable on the IP network (Matter 1.3 §4.3).
//!
//! [`records`] (sans-IO) says what to advertise; this module and its backends publish it:
//! - [`avahi`]: through avahi-daemon's D-Bus API, so we coexist with the host's own mDNS
//!   responder (two responders cannot both own UDP port 5353 well);
//! - [`embedded`]: our own responder (the `mdns-sd` crate) where no avahi-daemon runs.
//!
//! The runtime states what should be visible with [`Publisher::reconcile`] every loop turn;
//! the publisher compares it with what it last asked for and hands the backend the new set,
//! which the backend applies as a diff on its own thread. mDNS failures are logged, never
//! returned: the device keeps working without being findable.

pub mod avahi;
pub mod embedded;
pub mod records;

use std::time::Duration as StdDuration;

use tracing::{info, warn};

use crate::config::Mdns;
pub use records::{Commissionable, CommissioningMode, Desired, InstanceName, Operational, Service};

/// How long [`Publisher::shutdown`] waits for the backend to withdraw everything.
pub const SHUTDOWN_WAIT: StdDuration = StdDuration::from_secs(2);

/// Settings the backends need besides the services.
#[derive(Clone, Debug, Default)]
pub struct PublisherOptions {
    /// Publish only on this interface (`--network-interface`); `None` = every non-loopback
    /// multicast interface that is up (embedded; loopback when there is none) or wherever
    /// avahi-daemon publishes (avahi).
    pub interface: Option<String>,
}

/// Which backend is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendKind {
    /// avahi-daemon over D-Bus.
    Avahi,
    /// The embedded responder.
    Embedded,
}

/// A running backend: takes the whole desired set of services each time it changes.
trait Backend: Send {
    /// Makes `services` the published set (the backend diffs against what it has).
    fn apply(&mut self, services: Vec<Service>);
    /// Withdraws everything (goodbye packets / entry groups freed) and stops, waiting at most
    /// `wait`.
    fn shutdown(self: Box<Self>, wait: StdDuration);
}

/// The DNS-SD publisher: one per device run.
pub struct Publisher {
    kind: BackendKind,
    backend: Box<dyn Backend>,
    /// What the backend was last told (to send only changes).
    last: Vec<Service>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("kind", &self.kind)
            .field("published", &self.last.len())
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// Starts the backend `mode` asks for (`auto`: avahi when `org.freedesktop.Avahi` is on
    /// the system bus, else embedded). `None` for `off`, or when no backend could start (with
    /// a warning: the device runs on, unfindable).
    pub fn start(mode: Mdns, options: &PublisherOptions) -> Option<Self> {
        let kind = match mode {
            Mdns::Off => {
                info!("DNS-SD off (--mdns off): commissioners must be given this host's address");
                return None;
            }
            Mdns::Avahi => BackendKind::Avahi,
            Mdns::Embedded => BackendKind::Embedded,
            Mdns::Auto => {
                if avahi::is_running() {
                    BackendKind::Avahi
                } else {
                    BackendKind::Embedded
                }
            }
        };
        let backend: Box<dyn Backend> = match kind {
            BackendKind::Avahi => match avahi::AvahiBackend::start(options) {
                Ok(b) => Box::new(b),
                Err(e) => {
                    warn!(error = %e, "DNS-SD through avahi-daemon unavailable: not advertising \
                          (is avahi-daemon running? --mdns embedded uses our own responder)");
                    return None;
                }
            },
            BackendKind::Embedded => match embedded::EmbeddedBackend::start(options) {
                Ok(b) => Box::new(b),
                Err(e) => {
                    warn!(error = %e, "embedded mDNS responder unavailable: not advertising");
                    return None;
                }
            },
        };
        info!(
            backend = ?kind,
            requested = ?mode,
            "DNS-SD publisher started"
        );
        Some(Self {
            kind,
            backend,
            last: Vec::new(),
        })
    }

    /// The backend in use.
    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// Makes what is published match `desired`. Cheap when nothing changed (the usual case):
    /// the services are built and compared, nothing else.
    pub fn reconcile(&mut self, desired: &Desired) {
        let services = desired.services();
        if services == self.last {
            return;
        }
        let d = records::diff(&self.last, &services);
        for s in &d.remove {
            info!(instance = %s.instance, service = s.service_type, "DNS-SD: withdrawing");
        }
        for s in &d.add {
            info!(
                instance = %s.instance,
                service = s.service_type,
                subtypes = ?s.subtypes,
                txt = ?s.txt_strings(),
                port = s.port,
                "DNS-SD: publishing"
            );
        }
        self.last.clone_from(&services);
        self.backend.apply(services);
    }

    /// Withdraws every service and stops the backend (blocks up to [`SHUTDOWN_WAIT`]: call it
    /// from a blocking context).
    pub fn shutdown(self) {
        info!(services = self.last.len(), "DNS-SD: withdrawing everything");
        self.backend.shutdown(SHUTDOWN_WAIT);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::session::params::MrpParameters;

    /// Records what the publisher hands its backend.
    struct Recorder(Arc<Mutex<Vec<Option<Vec<Service>>>>>);

    impl Backend for Recorder {
        fn apply(&mut self, services: Vec<Service>) {
            if let Ok(mut v) = self.0.lock() {
                v.push(Some(services));
            }
        }
        fn shutdown(self: Box<Self>, _wait: StdDuration) {
            if let Ok(mut v) = self.0.lock() {
                v.push(None);
            }
        }
    }

    fn desired(window: bool) -> Desired {
        Desired {
            commissionable: window.then_some(Commissionable {
                instance: InstanceName([9; 8]),
                discriminator: 3840,
                vendor_id: 0xFFF1,
                product_id: 0x8001,
                device_type: None,
                device_name: None,
                mode: CommissioningMode::Basic,
                pairing_hint: records::pairing_hint::POWER_CYCLE,
                pairing_instruction: None,
                mrp: MrpParameters::DEFAULT,
            }),
            operational: vec![Operational {
                compressed_fabric_id: [1; 8],
                node_id: 2,
                mrp: MrpParameters::DEFAULT,
            }],
            port: 5540,
        }
    }

    #[test]
    fn the_backend_hears_only_changes_and_the_shutdown() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut p = Publisher {
            kind: BackendKind::Embedded,
            backend: Box::new(Recorder(Arc::clone(&log))),
            last: Vec::new(),
        };
        // The same state every loop turn: told once.
        for _ in 0..5 {
            p.reconcile(&desired(true));
        }
        p.reconcile(&desired(false));
        p.reconcile(&desired(false));
        p.shutdown();
        let log = log.lock().map(|l| l.clone()).unwrap_or_default();
        assert_eq!(log.len(), 3, "{log:?}");
        assert_eq!(log[0].as_ref().map(Vec::len), Some(2));
        assert_eq!(log[1].as_ref().map(Vec::len), Some(1));
        assert!(log[1].as_ref().is_some_and(|s| !s[0].is_commissionable()));
        assert!(log[2].is_none(), "shutdown last");
    }

    #[test]
    fn off_starts_nothing() {
        assert!(Publisher::start(Mdns::Off, &PublisherOptions::default()).is_none());
    }
}
