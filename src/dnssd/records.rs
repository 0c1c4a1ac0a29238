//! What the device advertises over DNS-SD (Matter 1.3 §4.3), as plain values: service instance
//! names, subtypes and TXT records for the commissionable (`_matterc._udp`, §4.3.1) and
//! operational (`_matter._tcp`, §4.3.2) services, the host name, and the diff between
//! what is published and what should be. Sans-IO: no sockets, no D-Bus, no clock; the
//! publishers in [`crate::dnssd`] turn these values into Avahi calls or mDNS packets.

use std::fmt;

use crate::rng::Rng;
use crate::session::params::MrpParameters;

/// The commissionable node service type (Matter 1.3 §4.3.1).
pub const COMMISSIONABLE_SERVICE: &str = "_matterc._udp";
/// The operational node service type (Matter 1.3 §4.3.2). `_tcp` is the DNS-SD convention
/// for "not UDP-only"; Matter traffic to it is UDP (RFC 6763 §7).
pub const OPERATIONAL_SERVICE: &str = "_matter._tcp";
/// DN is at most 32 bytes of UTF-8 (Matter 1.3 §4.3.1; CHIP SDK `kKeyDeviceNameMaxLength`).
pub const MAX_DEVICE_NAME_LEN: usize = 32;
/// PI is at most 128 bytes (Matter 1.3 §4.3.1; CHIP SDK `kKeyPairingInstructionMaxLength`).
pub const MAX_PAIRING_INSTRUCTION_LEN: usize = 128;
/// SII and SAI are at most one hour in milliseconds (Matter 1.3 §4.3.4, common TXT key/value
/// pairs; the CHIP SDK clamps to the same `kMaxRetryInterval`).
pub const MAX_MRP_INTERVAL_MS: u64 = 3_600_000;
/// SAT is at most 65535 ms (Matter 1.3 §4.3.4: a 16-bit value).
pub const MAX_MRP_THRESHOLD_MS: u64 = 65_535;

/// Pairing Hint bits (Matter 1.3 §5.4.2, table "Pairing Hint Values"; the same bits as
/// matter.js `PairingHintBitmap`).
pub mod pairing_hint {
    /// The device enters commissioning mode when it is power cycled; SHALL be set by devices
    /// using the Standard Commissioning Flow. Ours opens its window whenever it starts
    /// uncommissioned, which a restart of the program is.
    pub const POWER_CYCLE: u32 = 1 << 0;
    /// The device has been commissioned: an administrator's user interface can put it into
    /// commissioning mode (Administrator Commissioning, as ours is once it has a fabric).
    pub const ADMINISTRATOR: u32 = 1 << 2;
    /// A PI key describes a custom way to commissioning mode.
    pub const CUSTOM_INSTRUCTION: u32 = 1 << 4;
}

/// The commissionable service instance name: 64 random bits, shown as 16 uppercase hex digits
/// (Matter 1.3 §4.3.1). Kept for the run (a new one after a name collision).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct InstanceName(pub [u8; 8]);

impl InstanceName {
    /// A fresh random name.
    pub fn random(rng: &mut dyn Rng) -> Self {
        let mut b = [0u8; 8];
        rng.fill(&mut b);
        Self(b)
    }
}

impl fmt::Display for InstanceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex_upper(&self.0))
    }
}

impl fmt::Debug for InstanceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InstanceName({self})")
    }
}

/// The CM key: how the open window was opened (Matter 1.3 §4.3.1; 0, not in commissioning
/// mode, is never advertised: the service is withdrawn instead).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommissioningMode {
    /// CM=1: the initial window or OpenBasicCommissioningWindow (the device's own passcode).
    Basic,
    /// CM=2: OpenCommissioningWindow (a verifier an administrator supplied).
    Enhanced,
}

impl CommissioningMode {
    /// The TXT value.
    pub fn txt_value(self) -> u8 {
        match self {
            Self::Basic => 1,
            Self::Enhanced => 2,
        }
    }
}

/// The commissionable node advertisement, while a commissioning window is open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commissionable {
    /// The instance name.
    pub instance: InstanceName,
    /// The window's 12-bit discriminator.
    pub discriminator: u16,
    /// Vendor id.
    pub vendor_id: u16,
    /// Product id.
    pub product_id: u16,
    /// Primary device type (DT and `_T` subtype), when the device has one.
    pub device_type: Option<u32>,
    /// User-facing device name (DN), cut to [`MAX_DEVICE_NAME_LEN`] bytes.
    pub device_name: Option<String>,
    /// CM.
    pub mode: CommissioningMode,
    /// PH ([`pairing_hint`] bits); 0 leaves the key out.
    pub pairing_hint: u32,
    /// PI, cut to [`MAX_PAIRING_INSTRUCTION_LEN`] bytes.
    pub pairing_instruction: Option<String>,
    /// Our MRP parameters (SII, SAI, SAT).
    pub mrp: MrpParameters,
}

/// The operational advertisement of one fabric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operational {
    /// The fabric's compressed fabric id (Matter 1.3 §4.3.2).
    pub compressed_fabric_id: [u8; 8],
    /// Our node id on that fabric.
    pub node_id: u64,
    /// Our MRP parameters (SII, SAI, SAT).
    pub mrp: MrpParameters,
}

impl Operational {
    /// `<compressed fabric id>-<node id>`, each 16 uppercase hex digits (Matter 1.3 §4.3.2).
    pub fn instance_name(&self) -> String {
        format!(
            "{}-{}",
            hex_upper(&self.compressed_fabric_id),
            hex_upper(&self.node_id.to_be_bytes())
        )
    }
}

/// Everything that should be visible now; the runtime states it every loop turn and the
/// publisher makes it so.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Desired {
    /// The commissionable service, while a window is open.
    pub commissionable: Option<Commissionable>,
    /// One operational service per fabric.
    pub operational: Vec<Operational>,
    /// The UDP port Matter messages reach us on (SRV port).
    pub port: u16,
}

impl Desired {
    /// The DNS-SD services these stand for, commissionable first.
    pub fn services(&self) -> Vec<Service> {
        let mut out = Vec::with_capacity(1 + self.operational.len());
        if let Some(c) = &self.commissionable {
            out.push(commissionable_service(c, self.port));
        }
        out.extend(
            self.operational
                .iter()
                .map(|o| operational_service(o, self.port)),
        );
        out
    }
}

/// One DNS-SD service instance, ready for any responder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// Instance name (one DNS label, unescaped).
    pub instance: String,
    /// `_matterc._udp` or `_matter._tcp`, without the domain.
    pub service_type: &'static str,
    /// Subtype labels such as `_L3840` (published as `_L3840._sub.<service_type>`).
    pub subtypes: Vec<String>,
    /// SRV port.
    pub port: u16,
    /// TXT entries, `key=value`, in a stable order.
    pub txt: Vec<(String, String)>,
}

impl Service {
    /// What identifies the instance on the network: a changed service with the same key is
    /// withdrawn and published again.
    pub fn key(&self) -> (&str, &str) {
        (&self.instance, self.service_type)
    }

    /// Whether this is the commissionable service.
    pub fn is_commissionable(&self) -> bool {
        self.service_type == COMMISSIONABLE_SERVICE
    }

    /// A subtype's full service name, e.g. `_L3840._sub._matterc._udp`.
    pub fn subtype_name(&self, subtype: &str) -> String {
        format!("{subtype}._sub.{}", self.service_type)
    }

    /// The TXT entries as `key=value` strings.
    pub fn txt_strings(&self) -> Vec<String> {
        self.txt.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

/// What to change to get from `current` to `desired`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Withdraw these (gone, or changed).
    pub remove: Vec<Service>,
    /// Publish these (new, or changed).
    pub add: Vec<Service>,
}

impl Diff {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.add.is_empty()
    }
}

/// The changes from `current` to `desired`: a service whose key is in both but whose content
/// differs (a new discriminator, CM) is removed and added again, as a responder must re-announce
/// it anyway.
pub fn diff(current: &[Service], desired: &[Service]) -> Diff {
    let remove = current
        .iter()
        .filter(|c| !desired.contains(c))
        .cloned()
        .collect();
    let add = desired
        .iter()
        .filter(|d| !current.contains(d))
        .cloned()
        .collect();
    Diff { remove, add }
}

/// The `_matterc._udp` service (Matter 1.3 §4.3.1): subtypes `_L`, `_S`, `_V`, `_T` (with a
/// device type), `_CM`; TXT D, CM, VP, DT, DN, SII, SAI, SAT, PH, PI. The CHIP SDK's
/// `Advertiser_ImplMinimalMdns.cpp` publishes the same set and formats (decimal numbers,
/// `VP=<vid>+<pid>`).
pub fn commissionable_service(c: &Commissionable, port: u16) -> Service {
    let discriminator = c.discriminator & 0x0FFF;
    // The short discriminator is the top 4 of the 12 bits (Matter 1.3 §5.1.1.5).
    let short = discriminator >> 8;
    let mut subtypes = vec![
        format!("_L{discriminator}"),
        format!("_S{short}"),
        format!("_V{}", c.vendor_id),
    ];
    if let Some(dt) = c.device_type {
        subtypes.push(format!("_T{dt}"));
    }
    // _CM only while in commissioning mode (§4.3.1), which every advertised window is.
    subtypes.push("_CM".to_owned());

    let mut txt = vec![
        ("D".to_owned(), discriminator.to_string()),
        ("CM".to_owned(), c.mode.txt_value().to_string()),
        ("VP".to_owned(), format!("{}+{}", c.vendor_id, c.product_id)),
    ];
    if let Some(dt) = c.device_type {
        txt.push(("DT".to_owned(), dt.to_string()));
    }
    if let Some(name) = c
        .device_name
        .as_deref()
        .map(|n| cut(n, MAX_DEVICE_NAME_LEN))
    {
        if !name.is_empty() {
            txt.push(("DN".to_owned(), name.to_owned()));
        }
    }
    push_mrp(&mut txt, &c.mrp);
    if c.pairing_hint != 0 {
        txt.push(("PH".to_owned(), c.pairing_hint.to_string()));
    }
    if let Some(pi) = c
        .pairing_instruction
        .as_deref()
        .map(|p| cut(p, MAX_PAIRING_INSTRUCTION_LEN))
    {
        if !pi.is_empty() {
            txt.push(("PI".to_owned(), pi.to_owned()));
        }
    }
    // T (TCP support) is left out: absent means "TCP not supported" (Matter 1.3 §4.3.4), and the
    // CHIP SDK leaves it out too when it is built without TCP. ICD is left out: we are not an ICD.
    Service {
        instance: c.instance.to_string(),
        service_type: COMMISSIONABLE_SERVICE,
        subtypes,
        port,
        txt,
    }
}

/// The `_matter._tcp` service of one fabric (Matter 1.3 §4.3.2): subtype `_I<compressed fabric
/// id>`, TXT SII, SAI, SAT.
pub fn operational_service(o: &Operational, port: u16) -> Service {
    let mut txt = Vec::with_capacity(3);
    push_mrp(&mut txt, &o.mrp);
    Service {
        instance: o.instance_name(),
        service_type: OPERATIONAL_SERVICE,
        subtypes: vec![format!("_I{}", hex_upper(&o.compressed_fabric_id))],
        port,
        txt,
    }
}

/// The host name label (Matter 1.3 §4.3.1 and §4.3.2, target host name): the 48-bit MAC
/// address as 12 uppercase hex digits,
/// as the CHIP SDK's `MakeHostName` does, or 64 random bits as 16 when there is no MAC. Append
/// `.local` for the FQDN.
pub fn host_name(mac: Option<[u8; 6]>, random: [u8; 8]) -> String {
    match mac {
        Some(m) if m != [0; 6] => hex_upper(&m),
        _ => hex_upper(&random),
    }
}

/// Parses a MAC in the `aa:bb:cc:dd:ee:ff` form of /sys/class/net/*/address.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = text.trim().split(':');
    for b in &mut out {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

fn push_mrp(txt: &mut Vec<(String, String)>, mrp: &MrpParameters) {
    let ms = |d: crate::time::Duration, max: u64| {
        u64::try_from(d.as_millis())
            .unwrap_or(u64::MAX)
            .min(max)
            .to_string()
    };
    txt.push(("SII".to_owned(), ms(mrp.idle_interval, MAX_MRP_INTERVAL_MS)));
    txt.push((
        "SAI".to_owned(),
        ms(mrp.active_interval, MAX_MRP_INTERVAL_MS),
    ));
    txt.push((
        "SAT".to_owned(),
        ms(mrp.active_threshold, MAX_MRP_THRESHOLD_MS),
    ));
}

/// `s` cut to at most `max` bytes on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

fn hex_upper(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

#[cfg(test)]
mod tests;
