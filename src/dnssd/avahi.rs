//! DNS-SD through avahi-daemon's D-Bus API (system bus, `org.freedesktop.Avahi`), so the device
//! shares the host's mDNS responder instead of fighting it for UDP port 5353.
//!
//! One entry group per service (`Server.EntryGroupNew`, `EntryGroup.AddService`,
//! `AddServiceSubtype`, `Commit`; `Free` withdraws), so each service is withdrawn on its own.
//! Avahi publishes them under its own host name and addresses. A blocking `dbus` connection
//! lives on its own thread, which takes the desired set of services over a channel and
//! watches two signals:
//! - `EntryGroup.StateChanged` COLLISION: another host has the instance name. The commissionable
//!   service gets a new random name (Matter 1.3 §4.3.1 allows any 64-bit random one); an
//!   operational collision means another node claims our node id on the fabric, which is logged.
//! - `NameOwnerChanged` of `org.freedesktop.Avahi`: avahi-daemon stopped (its groups are gone)
//!   or started again (everything is published again).

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration as StdDuration;

use dbus::blocking::Connection;
use dbus::message::MatchRule;
use dbus::Path;
use thiserror::Error;
use tracing::{debug, error, info, warn};

use super::records::{self, InstanceName, Service};
use super::{Backend, PublisherOptions};
use crate::rng::OsRng;

const AVAHI: &str = "org.freedesktop.Avahi";
const SERVER_IFACE: &str = "org.freedesktop.Avahi.Server";
const GROUP_IFACE: &str = "org.freedesktop.Avahi.EntryGroup";
const CALL_TIMEOUT: StdDuration = StdDuration::from_secs(5);
/// AVAHI_IF_UNSPEC and AVAHI_PROTO_UNSPEC: every interface, IPv4 and IPv6.
const UNSPEC: i32 = -1;
/// AvahiEntryGroupState values (avahi-common/defs.h).
const GROUP_ESTABLISHED: i32 = 2;
const GROUP_COLLISION: i32 = 3;
const GROUP_FAILURE: i32 = 4;

/// Why the Avahi backend did not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AvahiError {
    /// No system bus, or avahi-daemon is not on it.
    #[error("D-Bus: {0}")]
    Dbus(#[from] dbus::Error),
    /// avahi-daemon does not own its bus name.
    #[error("avahi-daemon is not running (org.freedesktop.Avahi has no owner on the system bus)")]
    NotRunning,
    /// `--network-interface` names no interface of this host.
    #[error("network interface {0} not found")]
    NoInterface(String),
    /// The backend thread could not be started.
    #[error("starting the avahi thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// Whether `org.freedesktop.Avahi` has an owner on the system bus (`DBUS_SYSTEM_BUS_ADDRESS`
/// is honoured, as libdbus does).
pub fn is_running() -> bool {
    match Connection::new_system() {
        Ok(c) => has_owner(&c).unwrap_or(false),
        Err(e) => {
            debug!(error = %e, "no system bus: avahi not considered");
            false
        }
    }
}

fn has_owner(c: &Connection) -> Result<bool, dbus::Error> {
    let proxy = c.with_proxy(
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        CALL_TIMEOUT,
    );
    let (owned,): (bool,) = proxy.method_call("org.freedesktop.DBus", "NameHasOwner", (AVAHI,))?;
    Ok(owned)
}

enum Command {
    Apply(Vec<Service>),
    Shutdown(mpsc::Sender<()>),
}

/// Signals, queued by the D-Bus callbacks for the thread's loop.
enum Signal {
    GroupState(Path<'static>, i32, String),
    AvahiOwner(bool),
}

/// The Avahi publisher thread's handle.
pub struct AvahiBackend {
    commands: mpsc::Sender<Command>,
    thread: Option<JoinHandle<()>>,
}

impl AvahiBackend {
    /// Connects to the system bus and starts the thread.
    ///
    /// # Errors
    /// [`AvahiError::NotRunning`] when avahi-daemon is not on the bus; D-Bus errors.
    pub fn start(options: &PublisherOptions) -> Result<Self, AvahiError> {
        // `--network-interface`: publish there only (its kernel index, as avahi takes it).
        let interface = match &options.interface {
            Some(name) => std::fs::read_to_string(format!("/sys/class/net/{name}/ifindex"))
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok())
                .ok_or_else(|| AvahiError::NoInterface(name.clone()))?,
            None => UNSPEC,
        };
        let conn = Connection::new_system()?;
        if !has_owner(&conn)? {
            return Err(AvahiError::NotRunning);
        }
        let signals = Arc::new(Mutex::new(Vec::new()));
        let q = Arc::clone(&signals);
        conn.add_match(
            MatchRule::new_signal(GROUP_IFACE, "StateChanged"),
            move |(state, err): (i32, String), _c: &Connection, m: &dbus::Message| {
                if let (Some(p), Ok(mut q)) = (m.path(), q.lock()) {
                    q.push(Signal::GroupState(p.into_static(), state, err));
                }
                true
            },
        )?;
        let q = Arc::clone(&signals);
        conn.add_match(
            MatchRule::new_signal("org.freedesktop.DBus", "NameOwnerChanged")
                .with_sender("org.freedesktop.DBus"),
            move |(name, _old, new): (String, String, String),
                  _c: &Connection,
                  _m: &dbus::Message| {
                if name == AVAHI {
                    if let Ok(mut q) = q.lock() {
                        q.push(Signal::AvahiOwner(!new.is_empty()));
                    }
                }
                true
            },
        )?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("dnssd-avahi".into())
            .spawn(move || {
                Worker {
                    conn,
                    signals,
                    interface,
                    entries: Vec::new(),
                }
                .run(&rx);
            })?;
        Ok(Self {
            commands: tx,
            thread: Some(thread),
        })
    }
}

impl Backend for AvahiBackend {
    fn apply(&mut self, services: Vec<Service>) {
        if self.commands.send(Command::Apply(services)).is_err() {
            warn!("DNS-SD: the avahi thread has stopped; not publishing");
        }
    }

    fn shutdown(mut self: Box<Self>, wait: StdDuration) {
        let (ack_tx, ack_rx) = mpsc::channel();
        if self.commands.send(Command::Shutdown(ack_tx)).is_ok()
            && ack_rx.recv_timeout(wait).is_ok()
        {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        } else {
            warn!("DNS-SD: avahi did not confirm the withdrawal in time");
        }
    }
}

/// One desired service and its entry group.
struct Entry {
    service: Service,
    /// The name it is published under (the desired one, or a new one after a collision).
    name: String,
    /// Its entry group while avahi has it.
    group: Option<Path<'static>>,
}

struct Worker {
    conn: Connection,
    signals: Arc<Mutex<Vec<Signal>>>,
    /// Avahi interface index, or UNSPEC for all.
    interface: i32,
    entries: Vec<Entry>,
}

impl Worker {
    fn run(mut self, commands: &mpsc::Receiver<Command>) {
        loop {
            if let Err(e) = self.conn.process(StdDuration::from_millis(100)) {
                // The bus itself went away: nothing more can be published.
                error!(error = %e, "DNS-SD: lost the system bus; services are no longer published");
                return;
            }
            self.handle_signals();
            loop {
                match commands.try_recv() {
                    Ok(Command::Apply(s)) => self.apply(s),
                    Ok(Command::Shutdown(ack)) => {
                        self.withdraw_all();
                        let _ = ack.send(());
                        return;
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        self.withdraw_all();
                        return;
                    }
                }
            }
        }
    }

    fn apply(&mut self, desired: Vec<Service>) {
        let current: Vec<Service> = self.entries.iter().map(|e| e.service.clone()).collect();
        let d = records::diff(&current, &desired);
        for s in &d.remove {
            if let Some(pos) = self.entries.iter().position(|e| &e.service == s) {
                let e = self.entries.swap_remove(pos);
                if let Some(g) = e.group {
                    self.free(&g);
                }
            }
        }
        for s in d.add {
            let mut e = Entry {
                name: s.instance.clone(),
                service: s,
                group: None,
            };
            self.publish(&mut e);
            self.entries.push(e);
        }
    }

    fn publish(&self, e: &mut Entry) {
        match self.add_group(e) {
            Ok(g) => {
                debug!(name = %e.name, group = %g, "avahi: entry group committed");
                e.group = Some(g);
            }
            Err(err) => warn!(
                name = %e.name,
                service = e.service.service_type,
                error = %err,
                "DNS-SD: avahi refused the service (published again when avahi restarts)"
            ),
        }
    }

    fn add_group(&self, e: &Entry) -> Result<Path<'static>, dbus::Error> {
        let server = self.conn.with_proxy(AVAHI, "/", CALL_TIMEOUT);
        let (group,): (Path<'static>,) = server.method_call(SERVER_IFACE, "EntryGroupNew", ())?;
        let g = self.conn.with_proxy(AVAHI, group.clone(), CALL_TIMEOUT);
        let s = &e.service;
        let txt: Vec<Vec<u8>> = s
            .txt_strings()
            .into_iter()
            .map(String::into_bytes)
            .collect();
        let added = g
            .method_call::<(), _, _, _>(
                GROUP_IFACE,
                "AddService",
                (
                    self.interface,
                    UNSPEC,
                    0u32,
                    e.name.as_str(),
                    s.service_type,
                    "",
                    "",
                    s.port,
                    txt,
                ),
            )
            .and_then(|()| {
                for sub in &s.subtypes {
                    g.method_call::<(), _, _, _>(
                        GROUP_IFACE,
                        "AddServiceSubtype",
                        (
                            self.interface,
                            UNSPEC,
                            0u32,
                            e.name.as_str(),
                            s.service_type,
                            "",
                            s.subtype_name(sub).as_str(),
                        ),
                    )?;
                }
                g.method_call::<(), _, _, _>(GROUP_IFACE, "Commit", ())
            });
        match added {
            Ok(()) => Ok(group),
            Err(err) => {
                self.free(&group);
                Err(err)
            }
        }
    }

    fn free(&self, group: &Path<'static>) {
        let g = self.conn.with_proxy(AVAHI, group.clone(), CALL_TIMEOUT);
        if let Err(e) = g.method_call::<(), _, _, _>(GROUP_IFACE, "Free", ()) {
            debug!(%group, error = %e, "avahi: freeing an entry group");
        }
    }

    fn withdraw_all(&mut self) {
        for e in std::mem::take(&mut self.entries) {
            if let Some(g) = e.group {
                self.free(&g);
            }
        }
    }

    fn handle_signals(&mut self) {
        let pending: Vec<Signal> = match self.signals.lock() {
            Ok(mut q) => std::mem::take(&mut *q),
            Err(_) => return,
        };
        for s in pending {
            match s {
                Signal::GroupState(path, state, err) => self.group_state(&path, state, &err),
                Signal::AvahiOwner(true) => {
                    info!("DNS-SD: avahi-daemon (re)started: publishing again");
                    let mut entries = std::mem::take(&mut self.entries);
                    for e in &mut entries {
                        e.group = None;
                        self.publish(e);
                    }
                    self.entries = entries;
                }
                Signal::AvahiOwner(false) => {
                    warn!("DNS-SD: avahi-daemon stopped: not findable until it is back");
                    for e in &mut self.entries {
                        e.group = None;
                    }
                }
            }
        }
    }

    fn group_state(&mut self, path: &Path<'static>, state: i32, err: &str) {
        let Some(i) = self
            .entries
            .iter()
            .position(|e| e.group.as_ref() == Some(path))
        else {
            return;
        };
        match state {
            GROUP_ESTABLISHED => {
                if let Some(e) = self.entries.get(i) {
                    info!(name = %e.name, service = e.service.service_type, "DNS-SD: published through avahi");
                }
            }
            GROUP_COLLISION => {
                let Some(mut e) = (i < self.entries.len()).then(|| self.entries.swap_remove(i))
                else {
                    return;
                };
                if let Some(g) = e.group.take() {
                    self.free(&g);
                }
                if e.service.is_commissionable() {
                    let new = InstanceName::random(&mut OsRng).to_string();
                    warn!(old = %e.name, %new, "DNS-SD: instance name collision, renaming");
                    e.name = new;
                    self.publish(&mut e);
                } else {
                    error!(
                        name = %e.name,
                        "DNS-SD: another node publishes our operational name (same node id on \
                         the same fabric?): not published"
                    );
                }
                self.entries.push(e);
            }
            GROUP_FAILURE => {
                if let Some(e) = self.entries.get(i) {
                    warn!(name = %e.name, error = %err, "DNS-SD: avahi failed to publish");
                }
            }
            _ => {}
        }
    }
}
