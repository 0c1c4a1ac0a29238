//! The commissioning driver: a commissioner's fabric ([`CommissionerFabric`]: root certificate,
//! its own NOC, IPK) and the steps of Matter 1.3 §5.5 run over a [`Commissioner`]
//! ([`CommissioningFlow`]): ArmFailSafe, device attestation (DAC and PAI chain to the test PAA,
//! the attestation elements signed over the PASE challenge, the Certification Declaration),
//! CSRRequest, AddTrustedRootCertificate, AddNOC, Wi-Fi network setup when the device's Network
//! Commissioning has the Wi-Fi feature, CASE, CommissioningComplete — each step timed.
//!
//! Sans-IO like the commissioner it drives: the caller feeds it the commissioner's events and
//! the time. The steps through network setup run over the PASE session; CASE runs over a
//! commissioner the caller chooses (the same one, or one toward the device's operational
//! address: [`FlowProgress::NeedCase`] says when), because the PASE transport (BLE) and the
//! operational one (UDP) differ on a real device.

use p256::ecdsa::SigningKey;
use p256::SecretKey;
use sha2::{Digest, Sha256};
use tracing::debug;
use zeroize::Zeroizing;

use crate::attestation::{self, dev, CdSigner};
use crate::case::CaseCredentials;
use crate::cert::matter::{key_purpose, key_usage, PublicKeyBytes};
use crate::cert::{DistinguishedName, DnAttribute, Extension, MatterCert};
use crate::commissioner::{Commissioner, CommissionerEvent, InvokeOutcome};
use crate::im::clusters::network_commissioning::FEATURE_WIFI;
use crate::im::clusters::{id, opcreds_codec::cmd};
use crate::im::{AttributePath, Status};
use crate::rng::Rng;
use crate::session::FabricIndex;
use crate::time::Instant;
use crate::tlv::{Tag, TlvError, TlvValue, TlvWriter};

/// General Commissioning command ids (Matter 1.3 §11.10.7).
mod gc {
    pub const ARM_FAIL_SAFE: u32 = 0x00;
    pub const COMMISSIONING_COMPLETE: u32 = 0x04;
}
/// Network Commissioning command ids (Matter 1.3 §11.9.7).
mod nc {
    pub const ADD_OR_UPDATE_WIFI_NETWORK: u32 = 0x02;
    pub const CONNECT_NETWORK: u32 = 0x06;
}
/// Operational Credentials' AddTrustedRootCertificate (Matter 1.3 §11.18.6.13).
const ADD_TRUSTED_ROOT_CERTIFICATE: u32 = 0x0B;
/// CertificateChainRequest's CertificateType values (§11.18.5.2).
const CERT_TYPE_DAC: u8 = 1;
const CERT_TYPE_PAI: u8 = 2;
/// FeatureMap, a global attribute.
const FEATURE_MAP: u32 = 0xFFFC;
/// The largest operational node id (Matter 1.3 §2.5.5.1: 0xFFFF_FFEF_FFFF_FFFF).
const MAX_OPERATIONAL_NODE_ID: u64 = 0xFFFF_FFEF_FFFF_FFFF;
/// The index our commissioner gives its own fabric locally (its CASE sessions are bound to it).
const LOCAL_FABRIC: FabricIndex = FabricIndex(1);

/// Errors of the commissioning driver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlowError {
    /// Building or signing a certificate failed.
    #[error("certificate: {0}")]
    Certificate(String),
    /// A command could not be sent.
    #[error("{step:?}: {error}")]
    Send {
        /// The step.
        step: Step,
        /// What the commissioner said.
        error: String,
    },
    /// The device answered a step with a failure or something unexpected.
    #[error("{step:?}: {detail}")]
    Device {
        /// The step.
        step: Step,
        /// What was wrong.
        detail: String,
    },
    /// Device attestation failed (the device is not trusted).
    #[error("attestation: {0}")]
    Attestation(String),
    /// The session went away before commissioning completed.
    #[error("the session closed during {0:?}")]
    SessionClosed(Step),
    /// An input came at the wrong time (e.g. `start_case` before [`FlowProgress::NeedCase`]).
    #[error("not expected now (at {0:?})")]
    OutOfOrder(Step),
}

fn cert_err(e: impl core::fmt::Display) -> FlowError {
    FlowError::Certificate(e.to_string())
}

/// A 20-octet key identifier: the leftmost 160 bits of SHA-256 of the public key (RFC 7093
/// §2 method 1, which RFC 5280's key identifier rules allow).
fn key_id(public_key: &PublicKeyBytes) -> [u8; 20] {
    let digest = Sha256::digest(public_key);
    let mut id = [0u8; 20];
    id.copy_from_slice(&digest[..20]);
    id
}

/// A P-256 secret from the rng (rejection sampling: almost every 32-octet string is a scalar).
fn random_secret(rng: &mut dyn Rng) -> SecretKey {
    loop {
        let mut b = Zeroizing::new([0u8; 32]);
        rng.fill(&mut b[..]);
        if let Ok(k) = SecretKey::from_slice(&b[..]) {
            return k;
        }
    }
}

/// A random operational node id in 1..=[`MAX_OPERATIONAL_NODE_ID`].
fn random_node_id(rng: &mut dyn Rng) -> u64 {
    let mut b = [0u8; 8];
    rng.fill(&mut b);
    u64::from_le_bytes(b) % MAX_OPERATIONAL_NODE_ID + 1
}

/// A positive 8-octet certificate serial (the DER INTEGER content; top bit clear).
fn random_serial(rng: &mut dyn Rng) -> Vec<u8> {
    let mut b = [0u8; 8];
    rng.fill(&mut b);
    b[0] = (b[0] & 0x7F) | 0x01;
    b.to_vec()
}

/// The commissioner's fabric: a self-signed root (RCAC), the administrator's own NOC issued by
/// it, and the IPK epoch key given to devices. NOCs are issued directly by the root (no ICAC).
/// The keys are p256 types, which zeroize on drop; the IPK is in [`Zeroizing`].
pub struct CommissionerFabric {
    fabric_id: u64,
    rcac_id: u64,
    root_key: SigningKey,
    root_skid: [u8; 20],
    rcac: Vec<u8>,
    admin_node_id: u64,
    admin_key: SecretKey,
    admin_noc: Vec<u8>,
    ipk_epoch_key: Zeroizing<[u8; 16]>,
    vendor_id: u16,
}

impl core::fmt::Debug for CommissionerFabric {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CommissionerFabric")
            .field("fabric_id", &self.fabric_id)
            .field("admin_node_id", &self.admin_node_id)
            .finish_non_exhaustive()
    }
}

impl CommissionerFabric {
    /// Generates a fabric: root key and RCAC, the administrator's key, node id and NOC, the IPK.
    /// `fabric_id` 0 picks a random one; `vendor_id` is the AdminVendorId AddNOC sends.
    ///
    /// # Errors
    /// [`FlowError::Certificate`] if a certificate cannot be encoded (not for valid inputs).
    pub fn generate(rng: &mut dyn Rng, fabric_id: u64, vendor_id: u16) -> Result<Self, FlowError> {
        let fabric_id = if fabric_id == 0 {
            random_node_id(rng)
        } else {
            fabric_id
        };
        let root_secret = random_secret(rng);
        let root_key = SigningKey::from(&root_secret);
        let root_public = crate::case::keys::public_key_of(&root_secret);
        let root_skid = key_id(&root_public);
        let rcac_id = random_node_id(rng);
        let root_dn = DistinguishedName(vec![
            DnAttribute::RcacId(rcac_id),
            DnAttribute::FabricId(fabric_id),
        ]);
        // Matter 1.3 §6.5.11: a root is a CA with keyCertSign and cRLSign, AKID = SKID.
        let mut rcac = MatterCert {
            serial: random_serial(rng),
            issuer: root_dn.clone(),
            not_before: 0,
            not_after: 0,
            subject: root_dn,
            public_key: root_public,
            extensions: vec![
                Extension::BasicConstraints {
                    is_ca: true,
                    path_len: None,
                },
                Extension::KeyUsage(key_usage::KEY_CERT_SIGN | key_usage::CRL_SIGN),
                Extension::SubjectKeyId(root_skid),
                Extension::AuthorityKeyId(root_skid),
            ],
            signature: [0; 64],
        };
        rcac.sign(&root_key).map_err(cert_err)?;
        let rcac = rcac.to_tlv().map_err(cert_err)?;
        let admin_key = random_secret(rng);
        let admin_node_id = random_node_id(rng);
        let mut ipk = Zeroizing::new([0u8; 16]);
        rng.fill(&mut ipk[..]);
        let mut fabric = Self {
            fabric_id,
            rcac_id,
            root_key,
            root_skid,
            rcac,
            admin_node_id,
            admin_noc: Vec::new(),
            ipk_epoch_key: ipk,
            vendor_id,
            admin_key,
        };
        let admin_public = crate::case::keys::public_key_of(&fabric.admin_key);
        fabric.admin_noc = fabric.issue_noc(admin_node_id, &admin_public, rng)?;
        debug!(
            fabric_id,
            admin_node_id, "commissioner fabric generated (RCAC, admin NOC, IPK)"
        );
        Ok(fabric)
    }

    /// Issues a NOC for `node_id` over `public_key`, signed by the root (Matter 1.3 §6.5.11:
    /// not a CA, digitalSignature, clientAuth + serverAuth).
    ///
    /// # Errors
    /// [`FlowError::Certificate`] if the certificate cannot be encoded.
    pub fn issue_noc(
        &self,
        node_id: u64,
        public_key: &PublicKeyBytes,
        rng: &mut dyn Rng,
    ) -> Result<Vec<u8>, FlowError> {
        self.issue_noc_with_serial(node_id, public_key, random_serial(rng))
    }

    fn issue_noc_with_serial(
        &self,
        node_id: u64,
        public_key: &PublicKeyBytes,
        serial: Vec<u8>,
    ) -> Result<Vec<u8>, FlowError> {
        let mut noc = MatterCert {
            serial,
            issuer: DistinguishedName(vec![
                DnAttribute::RcacId(self.rcac_id),
                DnAttribute::FabricId(self.fabric_id),
            ]),
            not_before: 0,
            not_after: 0,
            subject: DistinguishedName(vec![
                DnAttribute::NodeId(node_id),
                DnAttribute::FabricId(self.fabric_id),
            ]),
            public_key: *public_key,
            extensions: vec![
                Extension::BasicConstraints {
                    is_ca: false,
                    path_len: None,
                },
                Extension::KeyUsage(key_usage::DIGITAL_SIGNATURE),
                Extension::ExtendedKeyUsage(vec![
                    key_purpose::CLIENT_AUTH,
                    key_purpose::SERVER_AUTH,
                ]),
                Extension::SubjectKeyId(key_id(public_key)),
                Extension::AuthorityKeyId(self.root_skid),
            ],
            signature: [0; 64],
        };
        noc.sign(&self.root_key).map_err(cert_err)?;
        noc.to_tlv().map_err(cert_err)
    }

    /// A fresh random node id for a device.
    pub fn new_node_id(&self, rng: &mut dyn Rng) -> u64 {
        loop {
            let n = random_node_id(rng);
            if n != self.admin_node_id {
                return n;
            }
        }
    }

    /// The fabric id.
    pub fn fabric_id(&self) -> u64 {
        self.fabric_id
    }

    /// The administrator's node id (AddNOC's CaseAdminSubject).
    pub fn admin_node_id(&self) -> u64 {
        self.admin_node_id
    }

    /// The root certificate, Matter TLV.
    pub fn rcac(&self) -> &[u8] {
        &self.rcac
    }

    /// The administrator's NOC, Matter TLV.
    pub fn admin_noc(&self) -> &[u8] {
        &self.admin_noc
    }

    /// The administrator's CASE credentials on this fabric.
    pub fn case_credentials(&self) -> CaseCredentials {
        CaseCredentials {
            fabric: LOCAL_FABRIC,
            noc: self.admin_noc.clone(),
            icac: None,
            rcac: self.rcac.clone(),
            operational_key: self.admin_key.clone(),
            ipk_epoch_key: self.ipk_epoch_key.clone(),
        }
    }
}

/// Wi-Fi credentials for AddOrUpdateWiFiNetwork (Matter 1.3 §11.9.7.3).
#[derive(Clone)]
pub struct WifiCredentials {
    /// SSID, 1..=32 octets.
    pub ssid: Vec<u8>,
    /// Passphrase or PSK (empty for an open network).
    pub credentials: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for WifiCredentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WifiCredentials")
            .field("ssid", &String::from_utf8_lossy(&self.ssid))
            .finish_non_exhaustive()
    }
}

/// What the flow needs besides the fabric.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// The node id the device gets.
    pub device_node_id: u64,
    /// ArmFailSafe's ExpiryLengthSeconds.
    pub fail_safe_secs: u16,
    /// The network given to a Wi-Fi device (the step is skipped for other devices, and for a
    /// Wi-Fi device without credentials here).
    pub wifi: Option<WifiCredentials>,
    /// PAAs the PAI must chain to (DER); empty: the CSA test PAA for 0xFFF1.
    pub trusted_paas: Vec<Vec<u8>>,
}

impl FlowConfig {
    /// Defaults: a 120 s fail-safe, no Wi-Fi credentials, the test PAA.
    pub fn new(device_node_id: u64) -> Self {
        Self {
            device_node_id,
            fail_safe_secs: 120,
            wifi: None,
            trusted_paas: Vec::new(),
        }
    }
}

/// The steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Step {
    /// Read Network Commissioning's FeatureMap.
    ReadNetworkFeature,
    /// ArmFailSafe.
    ArmFailSafe,
    /// CertificateChainRequest for the DAC.
    DacCertificate,
    /// CertificateChainRequest for the PAI.
    PaiCertificate,
    /// AttestationRequest, then the chain, elements and CD checks.
    AttestationRequest,
    /// CSRRequest.
    CsrRequest,
    /// AddTrustedRootCertificate.
    AddRoot,
    /// AddNOC.
    AddNoc,
    /// AddOrUpdateWiFiNetwork.
    AddWifiNetwork,
    /// ConnectNetwork.
    ConnectNetwork,
    /// Waiting for the caller to start CASE.
    AwaitCase,
    /// CASE.
    Case,
    /// CommissioningComplete over CASE.
    CommissioningComplete,
    /// Commissioned.
    Done,
}

/// The phases reported in a commissioning's timing table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// ArmFailSafe through attestation verified.
    Attestation,
    /// CSRRequest through AddNOC.
    AddNoc,
    /// Wi-Fi network setup.
    Network,
    /// The CASE handshake.
    Case,
    /// CommissioningComplete.
    Complete,
}

impl Phase {
    fn steps(self) -> &'static [Step] {
        match self {
            Phase::Attestation => &[
                Step::ReadNetworkFeature,
                Step::ArmFailSafe,
                Step::DacCertificate,
                Step::PaiCertificate,
                Step::AttestationRequest,
            ],
            Phase::AddNoc => &[Step::CsrRequest, Step::AddRoot, Step::AddNoc],
            Phase::Network => &[Step::AddWifiNetwork, Step::ConnectNetwork],
            Phase::Case => &[Step::Case],
            Phase::Complete => &[Step::CommissioningComplete],
        }
    }
}

/// One step's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepTiming {
    /// The step.
    pub step: Step,
    /// When its request went out.
    pub start: Instant,
    /// When its answer was checked.
    pub end: Instant,
}

/// What an input did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlowProgress {
    /// Waiting for the device.
    Pending,
    /// The event was not the flow's (e.g. another request's).
    Ignored,
    /// The PASE part is done: start CASE with [`CommissioningFlow::start_case`] on the
    /// commissioner that reaches the device's operational address.
    NeedCase,
    /// CommissioningComplete succeeded.
    Done,
}

/// The commissioning of one device.
pub struct CommissioningFlow {
    fabric: CommissionerFabric,
    config: FlowConfig,
    step: Step,
    step_start: Instant,
    timings: Vec<StepTiming>,
    attestation_nonce: [u8; 32],
    csr_nonce: [u8; 32],
    challenge: Option<[u8; 16]>,
    wifi_feature: bool,
    dac: Vec<u8>,
    pai: Vec<u8>,
    noc_public_key: Option<PublicKeyBytes>,
    noc_serial: Vec<u8>,
}

impl core::fmt::Debug for CommissioningFlow {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CommissioningFlow")
            .field("step", &self.step)
            .field("device_node_id", &self.config.device_node_id)
            .finish_non_exhaustive()
    }
}

/// One anonymous TLV structure of fields, as [`Commissioner::invoke`] takes them.
fn fields(f: impl FnOnce(&mut TlvWriter<'_>) -> Result<(), TlvError>) -> Result<Vec<u8>, TlvError> {
    let mut out = Vec::new();
    let mut w = TlvWriter::new(&mut out);
    w.start_struct(Tag::Anonymous)?;
    f(&mut w)?;
    w.end_container()?;
    Ok(out)
}

/// A response's field `tag`.
fn field(outcome: &InvokeOutcome, tag: u8) -> Option<&TlvValue> {
    match outcome {
        InvokeOutcome::Response {
            fields: TlvValue::Struct(m),
            ..
        } => m
            .iter()
            .find_map(|(t, v)| (*t == Tag::Context(tag)).then_some(v)),
        _ => None,
    }
}

fn uint_field(outcome: &InvokeOutcome, tag: u8) -> Option<u64> {
    match field(outcome, tag) {
        Some(TlvValue::UInt(v)) => Some(*v),
        _ => None,
    }
}

fn octets_field(outcome: &InvokeOutcome, tag: u8) -> Option<&[u8]> {
    match field(outcome, tag) {
        Some(TlvValue::Octets(b)) => Some(b),
        _ => None,
    }
}

impl CommissioningFlow {
    /// A flow for one device; nonces come from `rng`.
    pub fn new(fabric: CommissionerFabric, config: FlowConfig, rng: &mut dyn Rng) -> Self {
        let mut attestation_nonce = [0u8; 32];
        rng.fill(&mut attestation_nonce);
        let mut csr_nonce = [0u8; 32];
        rng.fill(&mut csr_nonce);
        let noc_serial = random_serial(rng);
        Self {
            fabric,
            config,
            step: Step::ReadNetworkFeature,
            step_start: Instant::ZERO,
            timings: Vec::new(),
            attestation_nonce,
            csr_nonce,
            challenge: None,
            wifi_feature: false,
            dac: Vec::new(),
            pai: Vec::new(),
            noc_public_key: None,
            noc_serial,
        }
    }

    /// The current step.
    pub fn step(&self) -> Step {
        self.step
    }

    /// The fabric (its CASE credentials, for requests after commissioning).
    pub fn fabric(&self) -> &CommissionerFabric {
        &self.fabric
    }

    /// The device's node id.
    pub fn device_node_id(&self) -> u64 {
        self.config.device_node_id
    }

    /// Whether the device announced the Wi-Fi feature.
    pub fn device_has_wifi(&self) -> bool {
        self.wifi_feature
    }

    /// Each finished step's time.
    pub fn timings(&self) -> &[StepTiming] {
        &self.timings
    }

    /// The time of a phase (first start to last end of its steps that ran), milliseconds.
    pub fn phase_ms(&self, phase: Phase) -> Option<u64> {
        let ran = self
            .timings
            .iter()
            .filter(|t| phase.steps().contains(&t.step));
        let start = ran.clone().map(|t| t.start).min()?;
        let end = ran.map(|t| t.end).max()?;
        Some(end.as_millis().saturating_sub(start.as_millis()))
    }

    /// Starts commissioning over `c`'s PASE session (which must be established).
    ///
    /// # Errors
    /// [`FlowError::OutOfOrder`] if already started; [`FlowError::Send`].
    pub fn start<R: Rng>(
        &mut self,
        now: Instant,
        c: &mut Commissioner<R>,
    ) -> Result<(), FlowError> {
        if self.step != Step::ReadNetworkFeature || !self.timings.is_empty() {
            return Err(FlowError::OutOfOrder(self.step));
        }
        // The PASE session's attestation challenge (Matter 1.3 §4.13.2.6), taken now: after
        // CASE the commissioner's current session is another one.
        self.challenge = c.attestation_challenge();
        if self.challenge.is_none() {
            return Err(FlowError::OutOfOrder(self.step));
        }
        self.begin(now, c, Step::ReadNetworkFeature)
    }

    /// Starts CASE on `c` (after [`FlowProgress::NeedCase`]).
    ///
    /// # Errors
    /// [`FlowError::OutOfOrder`] at another step; [`FlowError::Send`].
    pub fn start_case<R: Rng>(
        &mut self,
        now: Instant,
        c: &mut Commissioner<R>,
    ) -> Result<(), FlowError> {
        if self.step != Step::AwaitCase {
            return Err(FlowError::OutOfOrder(self.step));
        }
        self.begin(now, c, Step::Case)
    }

    fn send_err(&self, step: Step, e: impl core::fmt::Display) -> FlowError {
        FlowError::Send {
            step,
            error: e.to_string(),
        }
    }

    fn invoke<R: Rng>(
        &self,
        now: Instant,
        c: &mut Commissioner<R>,
        step: Step,
        cluster: u32,
        command: u32,
        f: impl FnOnce(&mut TlvWriter<'_>) -> Result<(), TlvError>,
    ) -> Result<(), FlowError> {
        let body = fields(f).map_err(|e| self.send_err(step, e))?;
        c.invoke(now, 0, cluster, command, &body, None)
            .map_err(|e| self.send_err(step, e))
    }

    /// Sends `step`'s request.
    fn begin<R: Rng>(
        &mut self,
        now: Instant,
        c: &mut Commissioner<R>,
        step: Step,
    ) -> Result<(), FlowError> {
        self.step = step;
        self.step_start = now;
        debug!(?step, "commissioning step");
        let opc = id::OPERATIONAL_CREDENTIALS;
        match step {
            Step::ReadNetworkFeature => c
                .read(
                    now,
                    &[AttributePath::concrete(
                        0,
                        id::NETWORK_COMMISSIONING,
                        FEATURE_MAP,
                    )],
                )
                .map_err(|e| self.send_err(step, e)),
            Step::ArmFailSafe => {
                let secs = self.config.fail_safe_secs;
                self.invoke(
                    now,
                    c,
                    step,
                    id::GENERAL_COMMISSIONING,
                    gc::ARM_FAIL_SAFE,
                    |w| {
                        w.u16(Tag::Context(0), secs)?;
                        w.u64(Tag::Context(1), 1)
                    },
                )
            }
            Step::DacCertificate | Step::PaiCertificate => {
                let kind = if step == Step::DacCertificate {
                    CERT_TYPE_DAC
                } else {
                    CERT_TYPE_PAI
                };
                self.invoke(now, c, step, opc, cmd::CERTIFICATE_CHAIN_REQUEST, |w| {
                    w.u8(Tag::Context(0), kind)
                })
            }
            Step::AttestationRequest => {
                let nonce = self.attestation_nonce;
                self.invoke(now, c, step, opc, cmd::ATTESTATION_REQUEST, |w| {
                    w.octets(Tag::Context(0), &nonce)
                })
            }
            Step::CsrRequest => {
                let nonce = self.csr_nonce;
                self.invoke(now, c, step, opc, cmd::CSR_REQUEST, |w| {
                    w.octets(Tag::Context(0), &nonce)
                })
            }
            Step::AddRoot => {
                let rcac = self.fabric.rcac.clone();
                self.invoke(now, c, step, opc, ADD_TRUSTED_ROOT_CERTIFICATE, |w| {
                    w.octets(Tag::Context(0), &rcac)
                })
            }
            Step::AddNoc => {
                let pk = self
                    .noc_public_key
                    .ok_or(FlowError::OutOfOrder(Step::AddNoc))?;
                let noc = self.fabric.issue_noc_with_serial(
                    self.config.device_node_id,
                    &pk,
                    self.noc_serial.clone(),
                )?;
                let ipk = self.fabric.ipk_epoch_key.clone();
                let admin = self.fabric.admin_node_id;
                let vendor = self.fabric.vendor_id;
                self.invoke(now, c, step, opc, cmd::ADD_NOC, |w| {
                    w.octets(Tag::Context(0), &noc)?;
                    w.octets(Tag::Context(2), &ipk[..])?;
                    w.u64(Tag::Context(3), admin)?;
                    w.u16(Tag::Context(4), vendor)
                })
            }
            Step::AddWifiNetwork => {
                let wifi = self
                    .config
                    .wifi
                    .clone()
                    .ok_or(FlowError::OutOfOrder(step))?;
                self.invoke(
                    now,
                    c,
                    step,
                    id::NETWORK_COMMISSIONING,
                    nc::ADD_OR_UPDATE_WIFI_NETWORK,
                    |w| {
                        w.octets(Tag::Context(0), &wifi.ssid)?;
                        w.octets(Tag::Context(1), &wifi.credentials)?;
                        w.u64(Tag::Context(2), 2)
                    },
                )
            }
            Step::ConnectNetwork => {
                let ssid = self
                    .config
                    .wifi
                    .as_ref()
                    .map(|w| w.ssid.clone())
                    .unwrap_or_default();
                self.invoke(
                    now,
                    c,
                    step,
                    id::NETWORK_COMMISSIONING,
                    nc::CONNECT_NETWORK,
                    |w| {
                        w.octets(Tag::Context(0), &ssid)?;
                        w.u64(Tag::Context(1), 3)
                    },
                )
            }
            Step::AwaitCase | Step::Done => Ok(()),
            Step::Case => c
                .start_case(
                    now,
                    self.fabric.case_credentials(),
                    self.config.device_node_id,
                    false,
                )
                .map_err(|e| self.send_err(step, e)),
            Step::CommissioningComplete => self.invoke(
                now,
                c,
                step,
                id::GENERAL_COMMISSIONING,
                gc::COMMISSIONING_COMPLETE,
                |_| Ok(()),
            ),
        }
    }

    fn device_err(&self, detail: impl Into<String>) -> FlowError {
        FlowError::Device {
            step: self.step,
            detail: detail.into(),
        }
    }

    /// Feeds one of the commissioner's events (`c` is the commissioner that produced it: the
    /// PASE one before [`FlowProgress::NeedCase`], the CASE one after).
    ///
    /// # Errors
    /// The step's failure; the flow stops there (the device's fail-safe then rolls back).
    pub fn handle_event<R: Rng>(
        &mut self,
        now: Instant,
        c: &mut Commissioner<R>,
        event: &CommissionerEvent,
    ) -> Result<FlowProgress, FlowError> {
        let step = self.step;
        match (step, event) {
            (Step::AwaitCase | Step::Done, _) => Ok(FlowProgress::Ignored),
            (_, CommissionerEvent::SessionClosed) => Err(FlowError::SessionClosed(step)),
            (Step::ReadNetworkFeature, CommissionerEvent::ReadDone { reports, .. }) => {
                let features = reports.iter().find_map(|r| match &r.value {
                    Ok(TlvValue::UInt(v))
                        if r.cluster == id::NETWORK_COMMISSIONING && r.attribute == FEATURE_MAP =>
                    {
                        Some(*v)
                    }
                    _ => None,
                });
                let features = features.ok_or_else(|| {
                    self.device_err("no Network Commissioning FeatureMap on endpoint 0")
                })?;
                self.wifi_feature = features & u64::from(FEATURE_WIFI) != 0;
                debug!(
                    features,
                    wifi = self.wifi_feature,
                    "network commissioning features"
                );
                self.next(now, c, Step::ArmFailSafe)
            }
            (Step::ReadNetworkFeature, CommissionerEvent::ReadFailed(e)) => {
                Err(self.device_err(e.clone()))
            }
            (Step::Case, CommissionerEvent::CaseEstablished { .. }) => {
                self.next(now, c, Step::CommissioningComplete)
            }
            (Step::Case, CommissionerEvent::CaseFailed(e)) => Err(self.device_err(e.to_string())),
            (_, CommissionerEvent::InvokeFailed(e)) => Err(self.device_err(e.clone())),
            (_, CommissionerEvent::InvokeDone(outcome)) => self.on_response(now, c, outcome),
            _ => Ok(FlowProgress::Ignored),
        }
    }

    /// Records the current step's time and sends `next`'s request (or stops at AwaitCase).
    fn next<R: Rng>(
        &mut self,
        now: Instant,
        c: &mut Commissioner<R>,
        next: Step,
    ) -> Result<FlowProgress, FlowError> {
        self.timings.push(StepTiming {
            step: self.step,
            start: self.step_start,
            end: now,
        });
        self.begin(now, c, next)?;
        Ok(match next {
            Step::AwaitCase => FlowProgress::NeedCase,
            Step::Done => FlowProgress::Done,
            _ => FlowProgress::Pending,
        })
    }

    fn on_response<R: Rng>(
        &mut self,
        now: Instant,
        c: &mut Commissioner<R>,
        o: &InvokeOutcome,
    ) -> Result<FlowProgress, FlowError> {
        let after_network = if self.wifi_feature && self.config.wifi.is_some() {
            Step::AddWifiNetwork
        } else {
            Step::AwaitCase
        };
        match self.step {
            Step::ArmFailSafe => {
                // ArmFailSafeResponse: ErrorCode 0 = OK (§11.10.7.2).
                match uint_field(o, 0) {
                    Some(0) => self.next(now, c, Step::DacCertificate),
                    other => Err(self.device_err(format!("ArmFailSafe ErrorCode {other:?}"))),
                }
            }
            Step::DacCertificate | Step::PaiCertificate => {
                let cert = octets_field(o, 0)
                    .ok_or_else(|| self.device_err(format!("no certificate: {o:?}")))?
                    .to_vec();
                if self.step == Step::DacCertificate {
                    self.dac = cert;
                    self.next(now, c, Step::PaiCertificate)
                } else {
                    self.pai = cert;
                    self.next(now, c, Step::AttestationRequest)
                }
            }
            Step::AttestationRequest => {
                self.verify_attestation(o)?;
                self.next(now, c, Step::CsrRequest)
            }
            Step::CsrRequest => {
                let (elements, signature) = octets_field(o, 0)
                    .zip(octets_field(o, 1))
                    .ok_or_else(|| self.device_err(format!("not a CSRResponse: {o:?}")))?;
                let info = attestation::verify_dac(&self.dac, &self.pai)
                    .map_err(|e| FlowError::Attestation(e.to_string()))?;
                let challenge = self.challenge.unwrap_or_default();
                let ne =
                    attestation::verify_nocsr(elements, &challenge, signature, &info.public_key)
                        .map_err(|e| FlowError::Attestation(format!("NOCSR elements: {e}")))?;
                if ne.csr_nonce != self.csr_nonce {
                    return Err(self.device_err("CSRNonce not echoed"));
                }
                let csr = crate::cert::csr::verify_csr(&ne.csr)
                    .map_err(|e| self.device_err(format!("CSR: {e}")))?;
                self.noc_public_key = Some(csr.public_key);
                self.next(now, c, Step::AddRoot)
            }
            Step::AddRoot => match o {
                InvokeOutcome::Status {
                    status: Status::SUCCESS,
                    ..
                } => self.next(now, c, Step::AddNoc),
                other => Err(self.device_err(format!("{other:?}"))),
            },
            Step::AddNoc => {
                // NOCResponse: StatusCode 0 = OK (§11.18.6.10).
                match uint_field(o, 0) {
                    Some(0) => self.next(now, c, after_network),
                    other => Err(self.device_err(format!(
                        "NOCResponse StatusCode {other:?} ({:?})",
                        field(o, 2)
                    ))),
                }
            }
            Step::AddWifiNetwork | Step::ConnectNetwork => {
                // NetworkConfigResponse / ConnectNetworkResponse: NetworkingStatus 0 = Success
                // (§11.9.5.1).
                match uint_field(o, 0) {
                    Some(0) if self.step == Step::AddWifiNetwork => {
                        self.next(now, c, Step::ConnectNetwork)
                    }
                    Some(0) => self.next(now, c, Step::AwaitCase),
                    other => {
                        Err(self
                            .device_err(format!("NetworkingStatus {other:?} ({:?})", field(o, 1))))
                    }
                }
            }
            Step::CommissioningComplete => match uint_field(o, 0) {
                Some(0) => {
                    debug!(node = self.config.device_node_id, "commissioning complete");
                    self.next(now, c, Step::Done)
                }
                other => Err(self.device_err(format!("CommissioningComplete ErrorCode {other:?}"))),
            },
            _ => Ok(FlowProgress::Ignored),
        }
    }

    /// Device attestation (Matter 1.3 §6.2.3): DAC -> PAI -> a trusted PAA, the attestation
    /// elements signed by the DAC key over elements || PASE challenge with our nonce, and the
    /// Certification Declaration signed by the test CD key naming the DAC's vendor and product.
    fn verify_attestation(&self, o: &InvokeOutcome) -> Result<(), FlowError> {
        let att = |e: String| FlowError::Attestation(e);
        let info = attestation::verify_dac(&self.dac, &self.pai)
            .map_err(|e| att(format!("DAC -> PAI: {e}")))?;
        let paas: Vec<&[u8]> = if self.config.trusted_paas.is_empty() {
            vec![dev::TEST_PAA_CERT]
        } else {
            self.config.trusted_paas.iter().map(Vec::as_slice).collect()
        };
        if !paas
            .iter()
            .any(|paa| attestation::verify_pai(&self.pai, paa).is_ok())
        {
            return Err(att("the PAI chains to no trusted PAA".into()));
        }
        let (elements, signature) = octets_field(o, 0)
            .zip(octets_field(o, 1))
            .ok_or_else(|| self.device_err(format!("not an AttestationResponse: {o:?}")))?;
        let challenge = self.challenge.unwrap_or_default();
        let e = attestation::verify_attestation(elements, &challenge, signature, &info.public_key)
            .map_err(|e| att(format!("attestation elements: {e}")))?;
        if e.attestation_nonce != self.attestation_nonce {
            return Err(att("AttestationNonce not echoed".into()));
        }
        let signer: CdSigner =
            dev::test_cd_signer().map_err(|e| att(format!("test CD signer: {e}")))?;
        let cd =
            attestation::CertificationDeclaration::verify(&e.certification_declaration, &[signer])
                .map_err(|e| att(format!("certification declaration: {e}")))?;
        if cd.vendor_id != info.vendor_id || !cd.product_ids.contains(&info.product_id) {
            return Err(att(format!(
                "the CD (vendor {:#06x}, products {:?}) does not name the DAC's {:#06x}/{:#06x}",
                cd.vendor_id, cd.product_ids, info.vendor_id, info.product_id
            )));
        }
        debug!(
            vendor = info.vendor_id,
            product = info.product_id,
            "device attestation verified (DAC, PAI, PAA, elements, CD)"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests;
