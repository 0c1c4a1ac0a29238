//! Operational Credentials cluster, 0x003E (Matter 1.3 core §11.18): device attestation
//! (AttestationRequest, CertificateChainRequest), the operational CSR (CSRRequest), the
//! commissioning of a fabric (AddTrustedRootCertificate, AddNOC), its maintenance (UpdateNOC,
//! UpdateFabricLabel, RemoveFabric) and the attributes describing the fabric table.
//!
//! The fabric table, the pending CSR key and root, the ACL and the fail-safe are
//! [`NodeState`]'s; this cluster validates requests (certificate chains with [`crate::cert`],
//! signatures with the device's attestation credentials) and changes that state. Everything
//! done under the fail-safe is undone by its rollback (the snapshot taken at ArmFailSafe holds
//! the fabric table with its pending state and the ACL), so nothing here has its own undo.
//!
//! The order of checks in each command follows the spec's "Effect on Receipt" text and, where
//! the spec leaves the order open, the CHIP SDK's, so commissioners see the status they expect.

use p256::ecdsa::SigningKey;
use p256::SecretKey;
use tracing::{debug, warn};
use zeroize::Zeroizing;

use super::id;
use super::opcreds_codec::{
    self as codec, attr, cmd, AddNocRequest, AttestationRequest, CertificateChainType, CsrRequest,
    NocStatus, UpdateNocRequest,
};
use crate::attestation::DeviceCredentials;
use crate::cert::{self, CertError};
use crate::fabric::{
    cluster_id, AclEntry, AuthMode, Effect, Fabric, FabricError, FabricIndex, NodeState, Privilege,
    Subject, WindowRequest,
};
use crate::im::model::{AttrError, Cluster, InvokeContext, InvokeResult, ReadContext};
use crate::im::Status;
use crate::rng::Rng;
use crate::time::Duration;
use crate::tlv::{Container, Tag, TlvWriter};

/// Attempts at drawing a valid P-256 scalar before giving up (a uniform 256-bit string is out
/// of range with probability about 2^-32, so one attempt nearly always suffices).
const KEYGEN_ATTEMPTS: usize = 8;

/// How long the commissioning window stays open after the last fabric is removed (the spec's
/// default announcement duration, §5.4.2.3.1: 15 minutes).
const REOPEN_WINDOW_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// What a command of this cluster needs from the interaction that carries it.
pub struct Request<'a> {
    /// The node state (fabrics, ACL, fail-safe, effects).
    pub state: &'a mut NodeState,
    /// Who is asking.
    pub subject: Subject,
    /// The secure session's attestation challenge (16 bytes; `None` outside a secure
    /// session, which cannot happen for these commands, but is refused rather than assumed).
    pub attestation_challenge: Option<&'a [u8]>,
    /// Randomness for the operational key.
    pub rng: &'a mut dyn Rng,
}

/// The Operational Credentials cluster. It owns the device attestation credentials (DAC, PAI,
/// CD and the DAC key); the operational state is [`NodeState`]'s.
pub struct OperationalCredentials {
    credentials: DeviceCredentials,
}

impl core::fmt::Debug for OperationalCredentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OperationalCredentials")
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl OperationalCredentials {
    /// The cluster answering attestation with `credentials`.
    pub fn new(credentials: DeviceCredentials) -> Self {
        Self { credentials }
    }

    /// The device's attestation credentials.
    pub fn credentials(&self) -> &DeviceCredentials {
        &self.credentials
    }

    /// Runs one command (the cluster's `invoke` after the IM's access and timed checks).
    pub fn handle(
        &self,
        req: &mut Request<'_>,
        command: u32,
        fields: Option<Container<'_>>,
    ) -> InvokeResult {
        let r = match command {
            cmd::ATTESTATION_REQUEST => {
                AttestationRequest::decode(fields).and_then(|a| self.attestation_request(req, &a))
            }
            cmd::CERTIFICATE_CHAIN_REQUEST => {
                CertificateChainType::decode(fields).map(|t| self.certificate_chain(t))
            }
            cmd::CSR_REQUEST => CsrRequest::decode(fields).and_then(|c| self.csr_request(req, &c)),
            cmd::ADD_TRUSTED_ROOT_CERTIFICATE => {
                codec::decode_root(fields).and_then(|r| add_trusted_root(req, r))
            }
            cmd::ADD_NOC => AddNocRequest::decode(fields).and_then(|a| add_noc(req, &a)),
            cmd::UPDATE_NOC => UpdateNocRequest::decode(fields).and_then(|u| update_noc(req, &u)),
            cmd::UPDATE_FABRIC_LABEL => {
                codec::decode_label(fields).and_then(|l| update_fabric_label(req, l))
            }
            cmd::REMOVE_FABRIC => {
                codec::decode_fabric_index(fields).map(|i| remove_fabric(req, FabricIndex(i)))
            }
            _ => Err(InvokeResult::Status(Status::UNSUPPORTED_COMMAND)),
        };
        r.unwrap_or_else(|e| e)
    }

    /// AttestationRequest (§11.18.6.1): attestation-elements with the CD, the nonce and
    /// timestamp 0 (no trusted time source, as the CHIP SDK), signed with the DAC key over
    /// elements || attestation challenge.
    fn attestation_request(
        &self,
        req: &Request<'_>,
        a: &AttestationRequest,
    ) -> Result<InvokeResult, InvokeResult> {
        let challenge = req
            .attestation_challenge
            .ok_or(InvokeResult::Status(Status::FAILURE))?;
        let (elements, sig) = self
            .credentials
            .attestation_response(&a.nonce, 0, challenge)
            .map_err(|e| {
                warn!(error = %e, "opcreds: attestation elements could not be signed");
                InvokeResult::Status(Status::FAILURE)
            })?;
        debug!(len = elements.len(), "opcreds: AttestationResponse");
        Ok(codec::attestation_response(&elements, &sig))
    }

    /// CertificateChainRequest (§11.18.6.3): the DAC or the PAI, DER.
    fn certificate_chain(&self, t: CertificateChainType) -> InvokeResult {
        let der = match t {
            CertificateChainType::Dac => self.credentials.dac_der(),
            CertificateChainType::Pai => self.credentials.pai_der(),
        };
        debug!(?t, len = der.len(), "opcreds: CertificateChainResponse");
        codec::certificate_chain_response(der)
    }

    /// CSRRequest (§11.18.6.5): a fresh operational key pair, kept pending under the
    /// fail-safe, and its PKCS#10 CSR inside nocsr-elements signed with the DAC key.
    fn csr_request(
        &self,
        req: &mut Request<'_>,
        c: &CsrRequest,
    ) -> Result<InvokeResult, InvokeResult> {
        // UpdateNOC is forbidden over PASE, so a CSR for it is useless there (§11.18.6.5).
        if c.for_update_noc
            && (req.subject.auth_mode == AuthMode::Pase || req.subject.fabric.is_none())
        {
            return Err(InvokeResult::Status(Status::INVALID_COMMAND));
        }
        require_fail_safe(req)?;
        if noc_invoked(req) {
            return Err(InvokeResult::Status(Status::CONSTRAINT_ERROR));
        }
        let challenge = req
            .attestation_challenge
            .ok_or(InvokeResult::Status(Status::FAILURE))?;
        let key = generate_key(req.rng).ok_or(InvokeResult::Status(Status::FAILURE))?;
        let csr = cert::csr::build_csr(&SigningKey::from(&key)).map_err(|e| {
            warn!(error = %e, "opcreds: CSR could not be built");
            InvokeResult::Status(Status::FAILURE)
        })?;
        let (elements, sig) = self
            .credentials
            .csr_response(&csr, &c.nonce, challenge)
            .map_err(|e| {
                warn!(error = %e, "opcreds: NOCSR elements could not be signed");
                InvokeResult::Status(Status::FAILURE)
            })?;
        // A second CSRRequest in the same fail-safe replaces the pending key (as in the CHIP
        // SDK): only the latest CSR can be answered by AddNOC.
        req.state.fabrics.pending.operational_key = Some((key, c.for_update_noc));
        if let Some(ctx) = req.state.fail_safe.context_mut() {
            ctx.csr_requested = true;
        }
        debug!(
            for_update = c.for_update_noc,
            "opcreds: CSRResponse, operational key pending"
        );
        Ok(codec::csr_response(&elements, &sig))
    }

    /// NOCs (fabric-scoped): one NOCStruct per fabric; NOC and ICAC are fabric-sensitive, so
    /// other fabrics' entries carry only their FabricIndex. `filtered` drops them altogether.
    pub fn read_nocs(
        state: &NodeState,
        accessing: Option<FabricIndex>,
        filtered: bool,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError> {
        w.start_array(tag)?;
        for f in state.fabrics.iter() {
            let own = Some(f.index) == accessing;
            if filtered && !own {
                continue;
            }
            w.start_struct(Tag::Anonymous)?;
            if own {
                w.octets(Tag::Context(1), &f.noc)?;
                match &f.icac {
                    Some(i) => w.octets(Tag::Context(2), i)?,
                    None => w.null(Tag::Context(2))?,
                }
            }
            w.u8(Tag::Context(0xFE), f.index.0)?;
            w.end_container()?;
        }
        w.end_container()?;
        Ok(())
    }

    /// Fabrics (fabric-scoped, no fabric-sensitive fields): one FabricDescriptorStruct per
    /// fabric, only the accessing fabric's when `filtered`.
    pub fn read_fabrics(
        state: &NodeState,
        accessing: Option<FabricIndex>,
        filtered: bool,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError> {
        w.start_array(tag)?;
        for f in state.fabrics.iter() {
            if filtered && Some(f.index) != accessing {
                continue;
            }
            write_fabric_descriptor(f, w)?;
        }
        w.end_container()?;
        Ok(())
    }

    /// Every attribute other than the two fabric-scoped lists.
    pub fn read_plain(
        state: &NodeState,
        accessing: Option<FabricIndex>,
        attribute: u32,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError> {
        match attribute {
            attr::SUPPORTED_FABRICS => w.u8(tag, state.fabrics.supported())?,
            attr::COMMISSIONED_FABRICS => w.u8(tag, fabric_count(state))?,
            attr::TRUSTED_ROOT_CERTIFICATES => {
                // The fabrics' roots, then the one pending from AddTrustedRootCertificate
                // (duplicates are allowed, §11.18.5.5).
                w.start_array(tag)?;
                for f in state.fabrics.iter() {
                    w.octets(Tag::Anonymous, &f.rcac)?;
                }
                if let Some(r) = &state.fabrics.pending.root {
                    w.octets(Tag::Anonymous, r)?;
                }
                w.end_container()?;
            }
            // 0 over a PASE session before AddNOC (§11.18.5.6).
            attr::CURRENT_FABRIC_INDEX => w.u8(tag, accessing.map_or(0, |f| f.0))?,
            _ => return Err(AttrError::Status(Status::UNSUPPORTED_ATTRIBUTE)),
        }
        Ok(())
    }
}

const ATTRIBUTES: [u32; 6] = [
    attr::NOCS,
    attr::FABRICS,
    attr::SUPPORTED_FABRICS,
    attr::COMMISSIONED_FABRICS,
    attr::TRUSTED_ROOT_CERTIFICATES,
    attr::CURRENT_FABRIC_INDEX,
];
const ACCEPTED: [u32; 8] = [
    cmd::ATTESTATION_REQUEST,
    cmd::CERTIFICATE_CHAIN_REQUEST,
    cmd::CSR_REQUEST,
    cmd::ADD_NOC,
    cmd::UPDATE_NOC,
    cmd::UPDATE_FABRIC_LABEL,
    cmd::REMOVE_FABRIC,
    cmd::ADD_TRUSTED_ROOT_CERTIFICATE,
];
const GENERATED: [u32; 4] = [
    cmd::ATTESTATION_RESPONSE,
    cmd::CERTIFICATE_CHAIN_RESPONSE,
    cmd::CSR_RESPONSE,
    cmd::NOC_RESPONSE,
];

impl Cluster for OperationalCredentials {
    fn id(&self) -> u32 {
        id::OPERATIONAL_CREDENTIALS
    }

    /// Revision 1 (Matter 1.3).
    fn revision(&self) -> u16 {
        1
    }

    fn attributes(&self) -> &[u32] {
        &ATTRIBUTES
    }

    fn accepted_commands(&self) -> &[u32] {
        &ACCEPTED
    }

    fn generated_commands(&self) -> &[u32] {
        &GENERATED
    }

    /// NOCs is "R F A" (Administer); the rest "R V" (§11.18.5).
    fn read_privilege(&self, attribute: u32) -> Privilege {
        if attribute == attr::NOCS {
            Privilege::Administer
        } else {
            Privilege::View
        }
    }

    /// Every command needs Administer (§11.18.6).
    fn invoke_privilege(&self, _command: u32) -> Privilege {
        Privilege::Administer
    }

    fn is_fabric_scoped(&self, attribute: u32) -> bool {
        matches!(attribute, attr::NOCS | attr::FABRICS)
    }

    /// UpdateNOC and UpdateFabricLabel are "F A": they need an accessing fabric.
    fn is_fabric_scoped_command(&self, command: u32) -> bool {
        matches!(command, cmd::UPDATE_NOC | cmd::UPDATE_FABRIC_LABEL)
    }

    fn read(
        &self,
        ctx: &ReadContext<'_>,
        attribute: u32,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError> {
        let f = ctx.fabric();
        match attribute {
            attr::NOCS => Self::read_nocs(ctx.state, f, ctx.fabric_filtered, w, tag),
            attr::FABRICS => Self::read_fabrics(ctx.state, f, ctx.fabric_filtered, w, tag),
            a => Self::read_plain(ctx.state, f, a, w, tag),
        }
    }

    fn invoke(
        &mut self,
        ctx: &mut InvokeContext<'_>,
        command: u32,
        fields: Option<Container<'_>>,
    ) -> InvokeResult {
        let mut req = Request {
            state: &mut *ctx.state,
            subject: ctx.subject,
            attestation_challenge: Some(&ctx.attestation_challenge[..]),
            rng: &mut *ctx.rng,
        };
        self.handle(&mut req, command, fields)
    }
}

/// FabricDescriptorStruct: 1 RootPublicKey, 2 VendorID, 3 FabricID, 4 NodeID, 5 Label,
/// 0xFE FabricIndex (§11.18.4.5).
fn write_fabric_descriptor(f: &Fabric, w: &mut TlvWriter<'_>) -> Result<(), AttrError> {
    w.start_struct(Tag::Anonymous)?;
    w.octets(Tag::Context(1), &f.root_public_key)?;
    w.u16(Tag::Context(2), f.vendor_id)?;
    w.u64(Tag::Context(3), f.fabric_id)?;
    w.u64(Tag::Context(4), f.node_id)?;
    w.utf8(Tag::Context(5), &f.label)?;
    w.u8(Tag::Context(0xFE), f.index.0)?;
    w.end_container()?;
    Ok(())
}

fn fabric_count(state: &NodeState) -> u8 {
    u8::try_from(state.fabrics.len()).unwrap_or(u8::MAX)
}

/// FAILSAFE_REQUIRED unless the fail-safe is armed by the accessing fabric (the CHIP SDK's
/// `IsFailSafeArmed(accessingFabricIndex)`).
fn require_fail_safe(req: &Request<'_>) -> Result<(), InvokeResult> {
    let fs = &req.state.fail_safe;
    if fs.is_armed() && fs.is_owned_by(req.subject.fabric) {
        Ok(())
    } else {
        Err(InvokeResult::Status(Status::FAILSAFE_REQUIRED))
    }
}

fn noc_invoked(req: &Request<'_>) -> bool {
    req.state
        .fail_safe
        .context()
        .is_some_and(|c| c.noc_invoked())
}

fn root_added(req: &Request<'_>) -> bool {
    req.state.fail_safe.context().is_some_and(|c| c.root_added)
}

fn generate_key(rng: &mut dyn Rng) -> Option<SecretKey> {
    for _ in 0..KEYGEN_ATTEMPTS {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill(bytes.as_mut());
        if let Ok(k) = SecretKey::from_slice(bytes.as_ref()) {
            return Some(k);
        }
    }
    None
}

fn public_key_of(key: &SecretKey) -> [u8; 65] {
    cert::x509::public_key_bytes(SigningKey::from(key).verifying_key())
}

/// The NOCResponse status for a chain that failed validation: a bad node id is
/// InvalidNodeOpId, everything else InvalidNOC (the CHIP SDK's `ConvertToNOCResponseStatus`).
fn chain_error_status(e: &CertError) -> NocStatus {
    match e {
        CertError::InvalidSubject(what) if what.contains("node id") => NocStatus::InvalidNodeOpId,
        CertError::BadPublicKey => NocStatus::InvalidPublicKey,
        _ => NocStatus::InvalidNoc,
    }
}

fn noc_error(status: NocStatus, why: &str) -> InvokeResult {
    debug!(?status, why, "opcreds: NOCResponse error");
    codec::noc_response(status, None, why)
}

/// AddTrustedRootCertificate (§11.18.6.13).
fn add_trusted_root(req: &mut Request<'_>, root: &[u8]) -> Result<InvokeResult, InvokeResult> {
    require_fail_safe(req)?;
    if root_added(req) || noc_invoked(req) {
        return Err(InvokeResult::Status(Status::CONSTRAINT_ERROR));
    }
    cert::validate_rcac(root, None).map_err(|e| {
        debug!(error = %e, "opcreds: root certificate rejected");
        InvokeResult::Status(Status::INVALID_COMMAND)
    })?;
    req.state.fabrics.pending.root = Some(root.to_vec());
    if let Some(ctx) = req.state.fail_safe.context_mut() {
        ctx.root_added = true;
    }
    req.state.mark_changed(
        0,
        cluster_id::OPERATIONAL_CREDENTIALS,
        Some(attr::TRUSTED_ROOT_CERTIFICATES),
    );
    debug!(len = root.len(), "opcreds: trusted root pending");
    Ok(InvokeResult::Status(Status::SUCCESS))
}

/// AddNOC (§11.18.6.8).
fn add_noc(req: &mut Request<'_>, a: &AddNocRequest<'_>) -> Result<InvokeResult, InvokeResult> {
    require_fail_safe(req)?;
    if noc_invoked(req) {
        return Err(InvokeResult::Status(Status::CONSTRAINT_ERROR));
    }
    let Some((key, for_update)) = req.state.fabrics.pending.operational_key.clone() else {
        return Ok(noc_error(
            NocStatus::MissingCsr,
            "no CSRRequest in this fail-safe",
        ));
    };
    if for_update {
        return Err(InvokeResult::Status(Status::CONSTRAINT_ERROR));
    }
    let Some(root) = req.state.fabrics.pending.root.clone() else {
        // AddNOC always needs the root from this fail-safe, even if another fabric has it.
        return Ok(noc_error(
            NocStatus::InvalidNoc,
            "no AddTrustedRootCertificate",
        ));
    };
    if !codec::is_valid_case_admin_subject(a.case_admin_subject) {
        return Ok(noc_error(
            NocStatus::InvalidAdminSubject,
            "CaseAdminSubject",
        ));
    }
    let chain = match cert::validate_chain(a.noc, a.icac, &root, None) {
        Ok(c) => c,
        Err(e) => return Ok(noc_error(chain_error_status(&e), &e.to_string())),
    };
    if chain.noc_public_key != public_key_of(&key) {
        return Ok(noc_error(
            NocStatus::InvalidPublicKey,
            "NOC public key is not the CSR's",
        ));
    }
    // FabricConflict before TableFull, in the spec's order.
    if req
        .state
        .fabrics
        .find(&chain.root_public_key, chain.fabric_id)
        .is_some()
    {
        return Ok(noc_error(
            NocStatus::FabricConflict,
            "fabric already present",
        ));
    }
    let fabric = Fabric {
        index: FabricIndex(0),
        rcac: root,
        icac: a.icac.map(<[u8]>::to_vec),
        noc: a.noc.to_vec(),
        fabric_id: chain.fabric_id,
        node_id: chain.node_id,
        root_public_key: chain.root_public_key,
        vendor_id: a.admin_vendor_id,
        label: String::new(),
        ipk_epoch_key: a.ipk.clone(),
        operational_key: key,
        compressed_fabric_id: chain.compressed_fabric_id(),
        cats: chain.cats.clone(),
    };
    let index = match req.state.fabrics.add(fabric) {
        Ok(i) => i,
        Err(FabricError::TableFull) => {
            return Ok(noc_error(NocStatus::TableFull, "fabric table full"))
        }
        Err(FabricError::Conflict) => {
            return Ok(noc_error(
                NocStatus::FabricConflict,
                "fabric already present",
            ))
        }
        Err(e) => return Ok(noc_error(NocStatus::InvalidNoc, &e.to_string())),
    };
    // The administrator's entry: Administer over CASE for CaseAdminSubject, no targets
    // (§11.18.6.8.4).
    let entry = AclEntry {
        fabric_index: index,
        privilege: Privilege::Administer,
        auth_mode: AuthMode::Case,
        subjects: vec![a.case_admin_subject],
        targets: vec![],
    };
    if let Err(e) = req.state.acl.add_entry(entry) {
        // Undo the fabric: the table must not keep a fabric nobody can administer.
        req.state.fabrics.remove(index);
        return Ok(noc_error(NocStatus::InvalidAdminSubject, &e.to_string()));
    }
    req.state.fabrics.pending.operational_key = None;
    req.state.fabrics.pending.root = None;
    if let Some(ctx) = req.state.fail_safe.context_mut() {
        // The fail-safe now belongs to the new fabric: CommissioningComplete comes over CASE
        // on it (§11.10.7.2.1, the CHIP SDK's `SetAddNocCommandInvoked`).
        ctx.added_fabric = Some(index);
        ctx.fabric = Some(index);
    }
    if req.subject.auth_mode == AuthMode::Pase {
        // The PASE session gains the new fabric as its accessing fabric (§11.18.6.8).
        req.state.push_effect(Effect::BindSessionToFabric(index));
    }
    for c in [
        cluster_id::OPERATIONAL_CREDENTIALS,
        cluster_id::ACCESS_CONTROL,
        cluster_id::GROUP_KEY_MANAGEMENT,
    ] {
        req.state.mark_changed(0, c, None);
    }
    debug!(
        fabric = index.0,
        fabric_id = format_args!("{:016X}", chain.fabric_id),
        node_id = format_args!("{:016X}", chain.node_id),
        "opcreds: AddNOC created the fabric"
    );
    Ok(codec::noc_response(NocStatus::Ok, Some(index.0), ""))
}

/// UpdateNOC (§11.18.6.9): a new NOC (and ICAC) for the accessing fabric, with the key from a
/// CSRRequest that had IsForUpdateNOC. The fail-safe's snapshot restores the old ones.
fn update_noc(
    req: &mut Request<'_>,
    u: &UpdateNocRequest<'_>,
) -> Result<InvokeResult, InvokeResult> {
    require_fail_safe(req)?;
    if noc_invoked(req) || root_added(req) {
        return Err(InvokeResult::Status(Status::CONSTRAINT_ERROR));
    }
    let Some((key, for_update)) = req.state.fabrics.pending.operational_key.clone() else {
        return Ok(noc_error(
            NocStatus::MissingCsr,
            "no CSRRequest in this fail-safe",
        ));
    };
    if !for_update {
        return Err(InvokeResult::Status(Status::CONSTRAINT_ERROR));
    }
    // Over PASE there is no fabric to update (the CHIP SDK answers InvalidNOC).
    let index = match (req.subject.auth_mode, req.subject.fabric) {
        (AuthMode::Case, Some(i)) => i,
        _ => {
            return Ok(noc_error(
                NocStatus::InvalidNoc,
                "UpdateNOC needs a CASE session",
            ))
        }
    };
    let Some(current) = req.state.fabrics.get(index) else {
        return Ok(noc_error(NocStatus::InvalidFabricIndex, "accessing fabric"));
    };
    let chain = match cert::validate_chain(u.noc, u.icac, &current.rcac, None) {
        Ok(c) => c,
        Err(e) => return Ok(noc_error(chain_error_status(&e), &e.to_string())),
    };
    if chain.fabric_id != current.fabric_id {
        return Ok(noc_error(NocStatus::InvalidNoc, "NOC names another fabric"));
    }
    if chain.noc_public_key != public_key_of(&key) {
        return Ok(noc_error(
            NocStatus::InvalidPublicKey,
            "NOC public key is not the CSR's",
        ));
    }
    if let Some(f) = req.state.fabrics.get_mut(index) {
        f.noc = u.noc.to_vec();
        f.icac = u.icac.map(<[u8]>::to_vec);
        f.node_id = chain.node_id;
        f.cats = chain.cats.clone();
        f.operational_key = key;
    }
    req.state.fabrics.pending.operational_key = None;
    if let Some(ctx) = req.state.fail_safe.context_mut() {
        ctx.updated_fabric = Some(index);
    }
    req.state
        .mark_changed(0, cluster_id::OPERATIONAL_CREDENTIALS, None);
    debug!(fabric = index.0, "opcreds: UpdateNOC replaced the NOC");
    Ok(codec::noc_response(NocStatus::Ok, Some(index.0), ""))
}

/// UpdateFabricLabel (§11.18.6.11).
fn update_fabric_label(req: &mut Request<'_>, label: &str) -> Result<InvokeResult, InvokeResult> {
    // A fabric-scoped command: without an accessing fabric there is nothing to label.
    let index = req
        .subject
        .fabric
        .ok_or(InvokeResult::Status(Status::UNSUPPORTED_ACCESS))?;
    match req.state.fabrics.set_label(index, label) {
        Ok(()) => {
            req.state
                .mark_changed(0, cluster_id::OPERATIONAL_CREDENTIALS, Some(attr::FABRICS));
            debug!(fabric = index.0, "opcreds: fabric label set");
            Ok(codec::noc_response(NocStatus::Ok, Some(index.0), ""))
        }
        Err(FabricError::LabelConflict) => Ok(noc_error(NocStatus::LabelConflict, "label in use")),
        Err(FabricError::LabelTooLong) => Err(InvokeResult::Status(Status::INVALID_COMMAND)),
        Err(FabricError::NotFound(_)) => Ok(noc_error(
            NocStatus::InvalidFabricIndex,
            "accessing fabric not found",
        )),
        Err(_) => Err(InvokeResult::Status(Status::FAILURE)),
    }
}

/// RemoveFabric (§11.18.6.12): the fabric and everything scoped to it; the node closes its
/// sessions ([`Effect::FabricRemoved`]). Removing the last fabric reopens commissioning (the
/// CHIP SDK's behaviour: a device left without fabrics would otherwise be unreachable).
fn remove_fabric(req: &mut Request<'_>, index: FabricIndex) -> InvokeResult {
    if !req.state.remove_fabric(index) {
        return noc_error(NocStatus::InvalidFabricIndex, "no such fabric");
    }
    debug!(fabric = index.0, "opcreds: RemoveFabric");
    if req.state.fabrics.is_empty() {
        debug!("opcreds: last fabric removed, reopening the commissioning window");
        req.state.push_effect(Effect::OpenCommissioningWindow {
            window: WindowRequest::Basic,
            timeout: REOPEN_WINDOW_TIMEOUT,
        });
    }
    codec::noc_response(NocStatus::Ok, Some(index.0), "")
}

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod vectors;
