//! The embedded mDNS responder (crate `mdns-sd`), for hosts without avahi-daemon: answers on
//! UDP 5353 on every non-loopback multicast interface that is up (or the `--network-interface`
//! one; loopback only when nothing else is up, so commissioners on the same host, e.g. in a
//! network namespace with only `lo`, still find us), with
//! a Matter host name (the interface MAC as 12 uppercase hex digits, Matter 1.3 §4.3.1) and its
//! A/AAAA records.
//!
//! `mdns-sd` gives a service instance one subtype only, and a commissionable node needs four or
//! five (`_L`, `_S`, `_V`, `_CM`, `_T`). So the backend runs one responder per subtype slot:
//! responder *i* publishes every service with its *i*-th subtype. All of them publish the same
//! SRV, TXT and address records, which is no conflict in mDNS (RFC 6762 §8.2: identical record
//! data), and each answers for its own subtype PTR. Only the first probes for name conflicts.

use std::time::Duration as StdDuration;

use mdns_sd::{DaemonEvent, IfKind, ServiceDaemon, ServiceInfo};
use thiserror::Error;
use tracing::{debug, warn};

use super::records::{self, Service};
use super::{Backend, PublisherOptions};
use crate::rng::{OsRng, Rng};

/// Why the embedded responder did not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EmbeddedError {
    /// mdns-sd could not start (sockets, threads).
    #[error("starting the mDNS responder: {0}")]
    Daemon(#[from] mdns_sd::Error),
}

/// The running responders and what they publish.
pub struct EmbeddedBackend {
    options: PublisherOptions,
    /// Leave loopback out (there is another multicast interface up).
    skip_loopback: bool,
    /// `<host>.local.`
    host: String,
    /// One responder per subtype slot; the first always exists.
    daemons: Vec<ServiceDaemon>,
    /// Published services with their full name and how many responders carry them.
    published: Vec<(Service, String, usize)>,
}

impl EmbeddedBackend {
    /// Starts the first responder.
    ///
    /// # Errors
    /// [`EmbeddedError::Daemon`] when mdns-sd cannot open its sockets.
    pub fn start(options: &PublisherOptions) -> Result<Self, EmbeddedError> {
        let mut random = [0u8; 8];
        OsRng.fill(&mut random);
        let mac = host_mac(options.interface.as_deref());
        let host = format!("{}.local.", records::host_name(mac, random));
        let skip_loopback = options.interface.is_none() && other_multicast_interface_up();
        if !skip_loopback && options.interface.is_none() {
            debug!("no multicast interface up but loopback: mDNS on loopback only");
        }
        let mut me = Self {
            options: options.clone(),
            skip_loopback,
            host,
            daemons: Vec::new(),
            published: Vec::new(),
        };
        me.daemon(0)?;
        debug!(host = %me.host, "embedded mDNS responder started");
        Ok(me)
    }

    /// Responder `i`, started on first use.
    fn daemon(&mut self, i: usize) -> Result<&ServiceDaemon, EmbeddedError> {
        while self.daemons.len() <= i {
            let d = ServiceDaemon::new()?;
            if let Some(name) = &self.options.interface {
                d.disable_interface(IfKind::All)?;
                d.enable_interface(IfKind::Name(name.clone()))?;
            } else if self.skip_loopback {
                d.disable_interface(vec![IfKind::LoopbackV4, IfKind::LoopbackV6])?;
            }
            if self.daemons.is_empty() {
                // Name conflicts are found by the first responder (the only one that probes).
                match d.monitor() {
                    Ok(events) => {
                        let spawned = std::thread::Builder::new()
                            .name("mdns-monitor".into())
                            .spawn(move || {
                                while let Ok(ev) = events.recv() {
                                    if let DaemonEvent::NameChange(c) = ev {
                                        warn!(
                                            original = %c.original,
                                            new = %c.new_name,
                                            "mDNS name conflict: another host uses our name"
                                        );
                                    }
                                }
                            });
                        if let Err(e) = spawned {
                            warn!(error = %e, "mDNS monitor thread not started");
                        }
                    }
                    Err(e) => warn!(error = %e, "mDNS monitor unavailable"),
                }
            }
            self.daemons.push(d);
        }
        self.daemons
            .get(i)
            .ok_or(EmbeddedError::Daemon(mdns_sd::Error::Msg(
                "responder missing".into(),
            )))
    }

    fn publish(&mut self, s: &Service) -> Result<(), EmbeddedError> {
        let slots = s.subtypes.len().max(1);
        let txt: Vec<(&str, &str)> = s
            .txt
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut fullname = String::new();
        let mut done = 0;
        for i in 0..slots {
            if let Err(e) = self.register_slot(s, i, &txt, &mut fullname) {
                // The responders that took the service already must not keep answering for
                // it: nobody would ever withdraw a service that is not in `published`.
                self.unregister(&fullname, done, None);
                return Err(e);
            }
            done = i + 1;
        }
        self.published.push((s.clone(), fullname, done));
        Ok(())
    }

    /// Registers `s` with responder `i` under its `i`-th subtype; `fullname` is set to the
    /// instance's full name.
    fn register_slot(
        &mut self,
        s: &Service,
        i: usize,
        txt: &[(&str, &str)],
        fullname: &mut String,
    ) -> Result<(), EmbeddedError> {
        let ty = match s.subtypes.get(i) {
            Some(sub) => format!("{}.local.", s.subtype_name(sub)),
            None => format!("{}.local.", s.service_type),
        };
        let mut info =
            ServiceInfo::new(&ty, &s.instance, &self.host, "", s.port, txt)?.enable_addr_auto();
        // The first responder probes the name (RFC 6762 §8.1); the others carry the same
        // records. The operational name is unique by construction (compressed fabric id and the
        // node id the fabric's administrator assigned), and the commissioner looks it up right
        // after AddNOC: probing it first made CASE wait ~0.95 s. The CHIP SDK's and matter.js's
        // responders do not probe it either.
        if i > 0 || !s.is_commissionable() {
            info.set_requires_probe(false);
        }
        info.get_fullname().clone_into(fullname);
        self.daemon(i)?.register(info)?;
        Ok(())
    }

    /// Unregisters `fullname` from the first `n` responders (goodbye records, RFC 6762 §10.1),
    /// waiting up to `wait` for each.
    fn unregister(&self, fullname: &str, n: usize, wait: Option<StdDuration>) {
        for d in self.daemons.iter().take(n) {
            match d.unregister(fullname) {
                Ok(rx) => {
                    if let Some(w) = wait {
                        let _ = rx.recv_timeout(w);
                    }
                }
                Err(e) => warn!(%fullname, error = %e, "mDNS: withdrawing failed"),
            }
        }
    }

    fn withdraw(&mut self, s: &Service, wait: Option<StdDuration>) {
        let Some(pos) = self.published.iter().position(|(p, _, _)| p == s) else {
            return;
        };
        let (_, fullname, n) = self.published.swap_remove(pos);
        self.unregister(&fullname, n, wait);
    }
}

impl Backend for EmbeddedBackend {
    fn apply(&mut self, services: Vec<Service>) {
        let current: Vec<Service> = self.published.iter().map(|(s, _, _)| s.clone()).collect();
        let d = records::diff(&current, &services);
        for s in &d.remove {
            self.withdraw(s, None);
        }
        for s in &d.add {
            if let Err(e) = self.publish(s) {
                warn!(instance = %s.instance, error = %e, "mDNS: publishing failed");
            }
        }
    }

    fn shutdown(mut self: Box<Self>, wait: StdDuration) {
        let all: Vec<Service> = self.published.iter().map(|(s, _, _)| s.clone()).collect();
        let per = wait / u32::try_from(all.len().max(1)).unwrap_or(1);
        for s in &all {
            self.withdraw(s, Some(per));
        }
        for d in &self.daemons {
            match d.shutdown() {
                Ok(rx) => {
                    let _ = rx.recv_timeout(StdDuration::from_millis(500));
                }
                Err(e) => debug!(error = %e, "mDNS responder shutdown"),
            }
        }
    }
}

/// Whether an interface other than loopback is up and multicast-capable (IFF_UP, IFF_MULTICAST
/// in /sys/class/net/*/flags).
fn other_multicast_interface_up() -> bool {
    const IFF_UP: u32 = 0x1;
    const IFF_LOOPBACK: u32 = 0x8;
    const IFF_MULTICAST: u32 = 0x1000;
    let Ok(dir) = std::fs::read_dir("/sys/class/net") else {
        return true;
    };
    dir.filter_map(Result::ok).any(|e| {
        std::fs::read_to_string(e.path().join("flags"))
            .ok()
            .and_then(|t| u32::from_str_radix(t.trim().trim_start_matches("0x"), 16).ok())
            .is_some_and(|f| f & IFF_UP != 0 && f & IFF_MULTICAST != 0 && f & IFF_LOOPBACK == 0)
    })
}

/// The MAC of `interface`, or of the first (by name) non-loopback interface that has one.
fn host_mac(interface: Option<&str>) -> Option<[u8; 6]> {
    let read = |n: &str| {
        std::fs::read_to_string(format!("/sys/class/net/{n}/address"))
            .ok()
            .and_then(|t| records::parse_mac(&t))
            .filter(|m| *m != [0; 6])
    };
    if let Some(i) = interface {
        return read(i);
    }
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n != "lo")
        .collect();
    names.sort();
    names.iter().find_map(|n| read(n))
}
