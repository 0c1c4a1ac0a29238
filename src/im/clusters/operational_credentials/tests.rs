//! Operational Credentials: attestation verified as a commissioner verifies it, the CSR, and
//! the AddNOC flow with a real chain (the CHIP SDK's Root01/ICA01 test CAs issuing a NOC for
//! the key our CSR requests), every NOCResponse error, UpdateNOC, labels, RemoveFabric, the
//! attributes, and the rollback of AddNOC when the fail-safe expires.

use p256::ecdsa::SigningKey;

use super::vectors::*;
use super::*;
use crate::attestation::{self, dev};
use crate::cert::matter::{DnAttribute, MatterCert};
use crate::fabric::{FailSafeEnd, Privilege, Subject};
use crate::im::clusters::group_key_management::{self as gkm, GroupKeyManagement};
use crate::im::clusters::test_support::{self as ts, c, field, fields, response, st};
use crate::rng::TestRng;
use crate::time::Instant;
use crate::tlv::TlvValue;

const CHALLENGE: [u8; 16] = [0x5A; 16];
const IPK: [u8; 16] = *b"IPK epoch key 16";
const ADMIN: u64 = 0x0000_0000_0001_B669;
/// Node01_01's fabric and node ids.
const FABRIC_ID: u64 = 0xFAB0_0000_0000_001D;
const NODE_ID: u64 = 0xDEDE_DEDE_0001_0001;

struct Env {
    cluster: OperationalCredentials,
    state: NodeState,
    subject: Subject,
    rng: TestRng,
}

impl Env {
    fn new() -> Self {
        let mut rng = TestRng::new(0x0C_0FFEE);
        let creds = dev::development_credentials(0xFFF1, 0x8000, 0x0016, &mut rng)
            .expect("development credentials");
        Self {
            cluster: OperationalCredentials::new(creds),
            state: NodeState::default(),
            subject: Subject::pase(None),
            rng,
        }
    }

    fn invoke(&mut self, command: u32, f: &[u8]) -> InvokeResult {
        let mut req = Request {
            state: &mut self.state,
            subject: self.subject,
            attestation_challenge: Some(&CHALLENGE),
            rng: &mut self.rng,
        };
        self.cluster.handle(&mut req, command, c(f))
    }

    fn arm(&mut self) {
        let s = self.subject;
        ts::arm(&mut self.state, &s);
    }

    /// CSRRequest; returns the requested public key, checked the way a commissioner does.
    fn csr(&mut self, for_update: bool) -> [u8; 65] {
        let req = fields(|w| {
            w.octets(Tag::Context(0), &[0x33; 32])?;
            w.bool(Tag::Context(1), for_update)
        });
        let r = self.invoke(cmd::CSR_REQUEST, &req);
        let (command, m) = response(&r);
        assert_eq!(command, cmd::CSR_RESPONSE);
        let (Some(TlvValue::Octets(elements)), Some(TlvValue::Octets(sig))) =
            (field(&m, 0), field(&m, 1))
        else {
            panic!("CSRResponse fields: {m:?}")
        };
        let dac_key = self.cluster.credentials().dac_public_key();
        let e = attestation::verify_nocsr(elements, &CHALLENGE, sig, &dac_key)
            .expect("NOCSR signature verifies with the DAC public key");
        assert_eq!(e.csr_nonce, [0x33; 32]);
        let csr = cert::csr::verify_csr(&e.csr).expect("CSR parses and is self-signed");
        csr.public_key
    }

    fn add_root(&mut self, root: &[u8]) -> InvokeResult {
        let req = fields(|w| w.octets(Tag::Context(0), root));
        self.invoke(cmd::ADD_TRUSTED_ROOT_CERTIFICATE, &req)
    }

    fn add_noc(&mut self, noc: &[u8], icac: Option<&[u8]>, admin: u64) -> InvokeResult {
        let req = fields(|w| {
            w.octets(Tag::Context(0), noc)?;
            if let Some(i) = icac {
                w.octets(Tag::Context(1), i)?;
            }
            w.octets(Tag::Context(2), &IPK)?;
            w.u64(Tag::Context(3), admin)?;
            w.u16(Tag::Context(4), 0xFFF1)
        });
        self.invoke(cmd::ADD_NOC, &req)
    }

    /// Arm, CSR, root, AddNOC with a NOC from ICA01 for the CSR key: the commissioning flow.
    fn commission(&mut self) -> InvokeResult {
        self.arm();
        let pk = self.csr(false);
        assert_eq!(self.add_root(CHIP_ROOT01_TLV), st(Status::SUCCESS));
        let noc = issue(CHIP_NODE01_01_TLV, pk, CHIP_ICA01_PRIV, |_| {});
        self.add_noc(&noc, Some(CHIP_ICA01_TLV), ADMIN)
    }

    fn read(&self, attribute: u32, filtered: bool) -> TlvValue {
        let mut b = Vec::new();
        let mut w = TlvWriter::new(&mut b);
        let f = self.subject.fabric;
        match attribute {
            attr::NOCS => {
                OperationalCredentials::read_nocs(&self.state, f, filtered, &mut w, Tag::Anonymous)
            }
            attr::FABRICS => OperationalCredentials::read_fabrics(
                &self.state,
                f,
                filtered,
                &mut w,
                Tag::Anonymous,
            ),
            a => OperationalCredentials::read_plain(&self.state, f, a, &mut w, Tag::Anonymous),
        }
        .expect("read");
        TlvValue::decode(&b).expect("tlv").1
    }
}

/// A certificate from `template` with `public_key`, changed by `edit`, signed with `signer`.
fn issue(
    template: &[u8],
    public_key: [u8; 65],
    signer: &[u8],
    edit: impl FnOnce(&mut MatterCert),
) -> Vec<u8> {
    let mut cert = MatterCert::from_tlv(template).expect("template");
    cert.public_key = public_key;
    edit(&mut cert);
    cert.sign(&SigningKey::from_slice(signer).expect("key"))
        .expect("sign");
    cert.to_tlv().expect("tlv")
}

fn noc_status(r: &InvokeResult) -> (u64, Option<u64>) {
    let (command, m) = response(r);
    assert_eq!(command, cmd::NOC_RESPONSE);
    let Some(TlvValue::UInt(s)) = field(&m, 0) else {
        panic!("no StatusCode: {m:?}")
    };
    let idx = match field(&m, 1) {
        Some(TlvValue::UInt(i)) => Some(*i),
        _ => None,
    };
    (*s, idx)
}

fn effects(s: &mut NodeState) -> Vec<Effect> {
    std::iter::from_fn(|| s.poll_effect()).collect()
}

#[test]
fn attestation_response_verifies_with_the_dac_key() {
    let mut env = Env::new();
    let req = fields(|w| w.octets(Tag::Context(0), &[0xA5; 32]));
    let r = env.invoke(cmd::ATTESTATION_REQUEST, &req);
    let (command, m) = response(&r);
    assert_eq!(command, cmd::ATTESTATION_RESPONSE);
    let (Some(TlvValue::Octets(elements)), Some(TlvValue::Octets(sig))) =
        (field(&m, 0), field(&m, 1))
    else {
        panic!("AttestationResponse fields: {m:?}")
    };
    assert_eq!(sig.len(), 64);
    let dac_key = env.cluster.credentials().dac_public_key();
    let e = attestation::verify_attestation(elements, &CHALLENGE, sig, &dac_key)
        .expect("signature over elements || challenge");
    assert_eq!(e.attestation_nonce, [0xA5; 32]);
    assert_eq!(
        e.certification_declaration,
        env.cluster.credentials().cd_der()
    );
    // Another challenge (another session) does not verify.
    assert!(attestation::verify_attestation(elements, &[0; 16], sig, &dac_key).is_err());
    // Malformed nonce.
    let short = fields(|w| w.octets(Tag::Context(0), &[0xA5; 31]));
    assert_eq!(
        env.invoke(cmd::ATTESTATION_REQUEST, &short),
        st(Status::INVALID_COMMAND)
    );
}

#[test]
fn certificate_chain_request_returns_dac_and_pai() {
    let mut env = Env::new();
    for (t, want) in [
        (1u8, env.cluster.credentials().dac_der().to_vec()),
        (2, dev::DEV_PAI_CERT.to_vec()),
    ] {
        let req = fields(|w| w.u8(Tag::Context(0), t));
        let (command, m) = response(&env.invoke(cmd::CERTIFICATE_CHAIN_REQUEST, &req));
        assert_eq!(command, cmd::CERTIFICATE_CHAIN_RESPONSE);
        assert_eq!(field(&m, 0), Some(&TlvValue::Octets(want)));
    }
    let bad = fields(|w| w.u8(Tag::Context(0), 3));
    assert_eq!(
        env.invoke(cmd::CERTIFICATE_CHAIN_REQUEST, &bad),
        st(Status::INVALID_COMMAND)
    );
}

#[test]
fn csr_request_rules() {
    let mut env = Env::new();
    let req = fields(|w| w.octets(Tag::Context(0), &[1; 32]));
    assert_eq!(
        env.invoke(cmd::CSR_REQUEST, &req),
        st(Status::FAILSAFE_REQUIRED)
    );
    env.arm();
    let upd = fields(|w| {
        w.octets(Tag::Context(0), &[1; 32])?;
        w.bool(Tag::Context(1), true)
    });
    assert_eq!(
        env.invoke(cmd::CSR_REQUEST, &upd),
        st(Status::INVALID_COMMAND),
        "IsForUpdateNOC over PASE"
    );
    let bad_nonce = fields(|w| w.octets(Tag::Context(0), &[1; 16]));
    assert_eq!(
        env.invoke(cmd::CSR_REQUEST, &bad_nonce),
        st(Status::INVALID_COMMAND)
    );
    let pk = env.csr(false);
    let (key, for_update) = env
        .state
        .fabrics
        .pending
        .operational_key
        .clone()
        .expect("pending key");
    assert!(!for_update);
    assert_eq!(public_key_of(&key), pk, "CSR carries the pending key");
    // A second CSR replaces the pending key.
    let pk2 = env.csr(false);
    assert_ne!(pk, pk2);
    assert!(env
        .state
        .fail_safe
        .context()
        .is_some_and(|c| c.csr_requested));
}

#[test]
fn add_trusted_root_rules() {
    let mut env = Env::new();
    assert_eq!(env.add_root(CHIP_ROOT01_TLV), st(Status::FAILSAFE_REQUIRED));
    env.arm();
    assert_eq!(
        env.add_root(CHIP_ICA01_TLV),
        st(Status::INVALID_COMMAND),
        "not a root"
    );
    assert_eq!(env.add_root(&[0x15, 0x18]), st(Status::INVALID_COMMAND));
    assert_eq!(env.add_root(&[0; 401]), st(Status::INVALID_COMMAND));
    assert_eq!(env.add_root(CHIP_ROOT01_TLV), st(Status::SUCCESS));
    assert_eq!(
        env.read(attr::TRUSTED_ROOT_CERTIFICATES, false),
        TlvValue::Array(vec![(
            Tag::Anonymous,
            TlvValue::Octets(CHIP_ROOT01_TLV.to_vec())
        )])
    );
    assert_eq!(
        env.add_root(CHIP_ROOT01_TLV),
        st(Status::CONSTRAINT_ERROR),
        "one root per fail-safe"
    );
}

#[test]
fn add_noc_over_pase_creates_the_fabric_acl_ipk_and_binds_the_session() {
    let mut env = Env::new();
    assert_eq!(
        env.read(attr::CURRENT_FABRIC_INDEX, false),
        TlvValue::UInt(0)
    );
    let r = env.commission();
    assert_eq!(noc_status(&r), (0, Some(1)));
    let f = env.state.fabrics.get(FabricIndex(1)).expect("fabric 1");
    assert_eq!(
        (f.fabric_id, f.node_id, f.vendor_id),
        (FABRIC_ID, NODE_ID, 0xFFF1)
    );
    assert_eq!(*f.ipk_epoch_key, IPK);
    assert_eq!(f.rcac, CHIP_ROOT01_TLV);
    assert_eq!(f.icac.as_deref(), Some(CHIP_ICA01_TLV));
    assert_eq!(
        f.compressed_fabric_id,
        cert::compressed_fabric_id(&f.root_public_key, FABRIC_ID)
    );
    let acl: Vec<_> = env.state.acl.fabric_entries(FabricIndex(1)).collect();
    assert_eq!(acl.len(), 1);
    assert_eq!(acl[0].privilege, Privilege::Administer);
    assert_eq!(acl[0].auth_mode, AuthMode::Case);
    assert_eq!(acl[0].subjects, [ADMIN]);
    assert!(acl[0].targets.is_empty());
    assert!(effects(&mut env.state)
        .iter()
        .any(|e| matches!(e, Effect::BindSessionToFabric(FabricIndex(1)))));
    let ctx = env.state.fail_safe.context().expect("armed");
    assert_eq!(
        (ctx.added_fabric, ctx.fabric),
        (Some(FabricIndex(1)), Some(FabricIndex(1)))
    );
    assert!(env.state.fabrics.pending.operational_key.is_none());

    // The session is now on fabric 1: the attributes as the commissioner reads them next.
    env.subject = Subject::pase(Some(FabricIndex(1)));
    assert_eq!(
        env.read(attr::CURRENT_FABRIC_INDEX, false),
        TlvValue::UInt(1)
    );
    assert_eq!(
        env.read(attr::COMMISSIONED_FABRICS, false),
        TlvValue::UInt(1)
    );
    assert_eq!(env.read(attr::SUPPORTED_FABRICS, false), TlvValue::UInt(5));
    let TlvValue::Array(nocs) = env.read(attr::NOCS, true) else {
        panic!()
    };
    let (_, TlvValue::Struct(n)) = &nocs[0] else {
        panic!()
    };
    assert_eq!(field(n, 1).cloned(), Some(TlvValue::Octets(f_noc(&env))));
    assert_eq!(
        field(n, 2).cloned(),
        Some(TlvValue::Octets(CHIP_ICA01_TLV.to_vec()))
    );
    assert_eq!(field(n, 0xFE), Some(&TlvValue::UInt(1)));
    let TlvValue::Array(fabrics) = env.read(attr::FABRICS, true) else {
        panic!()
    };
    let (_, TlvValue::Struct(d)) = &fabrics[0] else {
        panic!()
    };
    let root = env
        .state
        .fabrics
        .get(FabricIndex(1))
        .expect("f")
        .root_public_key;
    assert_eq!(field(d, 1), Some(&TlvValue::Octets(root.to_vec())));
    assert_eq!(field(d, 2), Some(&TlvValue::UInt(0xFFF1)));
    assert_eq!(field(d, 3), Some(&TlvValue::UInt(FABRIC_ID)));
    assert_eq!(field(d, 4), Some(&TlvValue::UInt(NODE_ID)));
    assert_eq!(field(d, 5), Some(&TlvValue::Utf8(String::new())));
    assert_eq!(
        env.read(attr::TRUSTED_ROOT_CERTIFICATES, false),
        TlvValue::Array(vec![(
            Tag::Anonymous,
            TlvValue::Octets(CHIP_ROOT01_TLV.to_vec())
        )]),
        "the pending root became the fabric's (no duplicate)"
    );
    // The IPK is group key set 0 of the new fabric.
    let id0 = fields(|w| w.u16(Tag::Context(0), 0));
    let r = GroupKeyManagement.handle(
        &env.state,
        Some(FabricIndex(1)),
        gkm::cmd::KEY_SET_READ,
        c(&id0),
    );
    assert_eq!(response(&r).0, gkm::cmd::KEY_SET_READ_RESPONSE);
    // Nothing else may follow AddNOC in this fail-safe.
    assert_eq!(env.add_root(CHIP_ROOT01_TLV), st(Status::CONSTRAINT_ERROR));
    let again = env.add_noc(&f_noc(&env), Some(CHIP_ICA01_TLV), ADMIN);
    assert_eq!(again, st(Status::CONSTRAINT_ERROR));
    let csr = fields(|w| w.octets(Tag::Context(0), &[1; 32]));
    assert_eq!(
        env.invoke(cmd::CSR_REQUEST, &csr),
        st(Status::CONSTRAINT_ERROR)
    );
}

fn f_noc(env: &Env) -> Vec<u8> {
    env.state
        .fabrics
        .get(FabricIndex(1))
        .expect("fabric")
        .noc
        .clone()
}

#[test]
fn add_noc_without_icac() {
    let mut env = Env::new();
    env.arm();
    let pk = env.csr(false);
    assert_eq!(env.add_root(CHIP_ROOT01_TLV), st(Status::SUCCESS));
    let noc = issue(CHIP_NODE01_02_TLV, pk, CHIP_ROOT01_PRIV, |_| {});
    assert_eq!(noc_status(&env.add_noc(&noc, None, ADMIN)), (0, Some(1)));
    let TlvValue::Array(nocs) = env.read(attr::NOCS, false) else {
        panic!()
    };
    // Read over the unbound PASE subject: another fabric's entry shows only its index.
    let (_, TlvValue::Struct(n)) = &nocs[0] else {
        panic!()
    };
    assert_eq!(n.as_slice(), [(Tag::Context(0xFE), TlvValue::UInt(1))]);
    env.subject = Subject::pase(Some(FabricIndex(1)));
    let TlvValue::Array(nocs) = env.read(attr::NOCS, false) else {
        panic!()
    };
    let (_, TlvValue::Struct(n)) = &nocs[0] else {
        panic!()
    };
    assert_eq!(field(n, 2), Some(&TlvValue::Null), "no ICAC: null");
}

#[test]
fn add_noc_errors() {
    // Before any fail-safe.
    let mut env = Env::new();
    let noc = issue(CHIP_NODE01_01_TLV, [4; 65], CHIP_ICA01_PRIV, |_| {});
    assert_eq!(
        env.add_noc(&noc, Some(CHIP_ICA01_TLV), ADMIN),
        st(Status::FAILSAFE_REQUIRED)
    );
    env.arm();
    // No CSR yet.
    assert_eq!(
        noc_status(&env.add_noc(CHIP_NODE01_01_TLV, Some(CHIP_ICA01_TLV), ADMIN)).0,
        NocStatus::MissingCsr as u64
    );
    let pk = env.csr(false);
    let good = issue(CHIP_NODE01_01_TLV, pk, CHIP_ICA01_PRIV, |_| {});
    // No root yet.
    assert_eq!(
        noc_status(&env.add_noc(&good, Some(CHIP_ICA01_TLV), ADMIN)).0,
        NocStatus::InvalidNoc as u64
    );
    assert_eq!(env.add_root(CHIP_ROOT01_TLV), st(Status::SUCCESS));
    type Case<'a> = (Vec<u8>, Option<&'a [u8]>, u64, NocStatus);
    let cases: Vec<Case<'_>> = vec![
        (
            good.clone(),
            Some(CHIP_ICA01_TLV),
            0,
            NocStatus::InvalidAdminSubject,
        ),
        (
            good.clone(),
            Some(CHIP_ICA01_TLV),
            0xFFFF_FFFD_0001_0000,
            NocStatus::InvalidAdminSubject,
        ),
        // The published Node01_01 carries another key than our CSR's.
        (
            CHIP_NODE01_01_TLV.to_vec(),
            Some(CHIP_ICA01_TLV),
            ADMIN,
            NocStatus::InvalidPublicKey,
        ),
        // Signed by the root instead of the ICAC it names as issuer.
        (
            issue(CHIP_NODE01_01_TLV, pk, CHIP_ROOT01_PRIV, |_| {}),
            Some(CHIP_ICA01_TLV),
            ADMIN,
            NocStatus::InvalidNoc,
        ),
        // Missing its ICAC.
        (good.clone(), None, ADMIN, NocStatus::InvalidNoc),
        // A node id outside the operational range.
        (
            issue(CHIP_NODE01_01_TLV, pk, CHIP_ICA01_PRIV, |c| {
                for a in &mut c.subject.0 {
                    if let DnAttribute::NodeId(n) = a {
                        *n = 0xFFFF_FFFF_0000_0001;
                    }
                }
            }),
            Some(CHIP_ICA01_TLV),
            ADMIN,
            NocStatus::InvalidNodeOpId,
        ),
        (
            vec![0x15, 0x18],
            Some(CHIP_ICA01_TLV),
            ADMIN,
            NocStatus::InvalidNoc,
        ),
    ];
    for (i, (noc, icac, admin, want)) in cases.iter().enumerate() {
        let r = env.add_noc(noc, *icac, *admin);
        assert_eq!(noc_status(&r), (*want as u64, None), "case {i}");
        assert!(env.state.fabrics.is_empty(), "case {i} left no fabric");
        assert!(
            env.state.acl.entries().is_empty(),
            "case {i} left no ACL entry"
        );
    }
    // After all those failures the good request still succeeds.
    assert_eq!(
        noc_status(&env.add_noc(&good, Some(CHIP_ICA01_TLV), ADMIN)),
        (0, Some(1))
    );
}

#[test]
fn add_noc_field_errors_are_invalid_command() {
    let mut env = Env::new();
    env.arm();
    let bad_vendor = fields(|w| {
        w.octets(Tag::Context(0), CHIP_NODE01_01_TLV)?;
        w.octets(Tag::Context(2), &IPK)?;
        w.u64(Tag::Context(3), ADMIN)?;
        w.u16(Tag::Context(4), 0)
    });
    assert_eq!(
        env.invoke(cmd::ADD_NOC, &bad_vendor),
        st(Status::INVALID_COMMAND)
    );
}

/// Commissions fabric 1 and commits it (CommissioningComplete over CASE on it).
fn committed() -> Env {
    let mut env = Env::new();
    assert_eq!(noc_status(&env.commission()), (0, Some(1)));
    env.state
        .commissioning_complete(Some(FabricIndex(1)), true)
        .expect("commit");
    effects(&mut env.state);
    env.subject = Subject::case(FabricIndex(1), ADMIN, Default::default());
    env
}

#[test]
fn fabric_conflict_and_table_full() {
    let mut env = committed();
    // The same root and fabric id again, from a new PASE commissioning.
    env.subject = Subject::pase(None);
    env.arm();
    let pk = env.csr(false);
    assert_eq!(env.add_root(CHIP_ROOT01_TLV), st(Status::SUCCESS));
    let noc = issue(CHIP_NODE01_01_TLV, pk, CHIP_ICA01_PRIV, |_| {});
    assert_eq!(
        noc_status(&env.add_noc(&noc, Some(CHIP_ICA01_TLV), ADMIN)).0,
        NocStatus::FabricConflict as u64
    );
    // Fill the table (5 supported) with other fabrics: TableFull.
    for id in 2..=5 {
        env.state.fabrics.add(ts::fabric(id, 0xFFF1)).expect("room");
    }
    assert_eq!(
        noc_status(&env.add_noc(&noc, Some(CHIP_ICA01_TLV), ADMIN)).0,
        NocStatus::FabricConflict as u64,
        "conflict is checked first"
    );
    let other_fabric = issue(CHIP_NODE01_01_TLV, pk, CHIP_ICA01_PRIV, |c| {
        for a in &mut c.subject.0 {
            if let DnAttribute::FabricId(f) = a {
                *f = 0x77;
            }
        }
    });
    assert_eq!(
        noc_status(&env.add_noc(&other_fabric, Some(CHIP_ICA01_TLV), ADMIN)).0,
        NocStatus::TableFull as u64
    );
}

#[test]
fn fail_safe_expiry_rolls_back_add_noc() {
    let mut env = Env::new();
    assert_eq!(noc_status(&env.commission()), (0, Some(1)));
    effects(&mut env.state);
    // ArmFailSafe was for 60 s at t = 0.
    assert!(!env.state.handle_timeout(Instant::from_millis(59_999)));
    assert!(env.state.handle_timeout(Instant::from_millis(60_000)));
    assert!(env.state.fabrics.is_empty(), "fabric rolled back");
    assert!(
        env.state.acl.entries().is_empty(),
        "admin entry rolled back"
    );
    assert!(env.state.fabrics.pending.root.is_none());
    assert!(env.state.fabrics.pending.operational_key.is_none());
    let e = effects(&mut env.state);
    assert!(
        e.iter()
            .any(|e| matches!(e, Effect::FabricRemoved(FabricIndex(1)))),
        "{e:?}"
    );
    assert!(e
        .iter()
        .any(|e| matches!(e, Effect::FailSafeEnded(FailSafeEnd::Expired))));
    assert_eq!(
        env.read(attr::COMMISSIONED_FABRICS, false),
        TlvValue::UInt(0)
    );
    assert_eq!(
        env.read(attr::TRUSTED_ROOT_CERTIFICATES, false),
        TlvValue::Array(vec![])
    );
    // The next commissioning starts from scratch and works.
    env.subject = Subject::pase(None);
    assert_eq!(noc_status(&env.commission()), (0, Some(1)));
}

#[test]
fn update_noc_and_its_rollback() {
    let mut env = committed();
    let old = f_noc(&env);
    env.arm();
    // A CSR not tagged for UpdateNOC cannot be used by it.
    let pk = env.csr(false);
    let new = issue(CHIP_NODE01_01_TLV, pk, CHIP_ICA01_PRIV, |c| {
        c.serial = vec![0x42]
    });
    let upd = |noc: &[u8]| {
        fields(|w| {
            w.octets(Tag::Context(0), noc)?;
            w.octets(Tag::Context(1), CHIP_ICA01_TLV)
        })
    };
    assert_eq!(
        env.invoke(cmd::UPDATE_NOC, &upd(&new)),
        st(Status::CONSTRAINT_ERROR)
    );
    let pk = env.csr(true);
    let other_fabric = issue(CHIP_NODE01_01_TLV, pk, CHIP_ICA01_PRIV, |c| {
        for a in &mut c.subject.0 {
            if let DnAttribute::FabricId(f) = a {
                *f = 0x77;
            }
        }
    });
    assert_eq!(
        noc_status(&env.invoke(cmd::UPDATE_NOC, &upd(&other_fabric))).0,
        NocStatus::InvalidNoc as u64
    );
    let new = issue(CHIP_NODE01_01_TLV, pk, CHIP_ICA01_PRIV, |c| {
        c.serial = vec![0x42]
    });
    assert_eq!(
        noc_status(&env.invoke(cmd::UPDATE_NOC, &upd(&new))),
        (0, Some(1))
    );
    assert_eq!(f_noc(&env), new);
    assert_eq!(
        env.invoke(cmd::UPDATE_NOC, &upd(&new)),
        st(Status::CONSTRAINT_ERROR),
        "once per fail-safe"
    );
    // Expiry restores the old NOC and closes the fabric's CASE sessions.
    effects(&mut env.state);
    assert!(env.state.handle_timeout(Instant::from_millis(60_000)));
    assert_eq!(f_noc(&env), old);
    assert!(effects(&mut env.state)
        .iter()
        .any(|e| matches!(e, Effect::CloseFabricSessions(FabricIndex(1)))));
}

#[test]
fn update_noc_over_pase_is_invalid_noc() {
    let mut env = Env::new();
    env.arm();
    // A pending key tagged for update cannot come from PASE; plant one to reach the check.
    let key = generate_key(&mut TestRng::new(1)).expect("key");
    env.state.fabrics.pending.operational_key = Some((key, true));
    let req = fields(|w| w.octets(Tag::Context(0), CHIP_NODE01_01_TLV));
    assert_eq!(
        noc_status(&env.invoke(cmd::UPDATE_NOC, &req)).0,
        NocStatus::InvalidNoc as u64
    );
}

#[test]
fn update_fabric_label() {
    let mut env = committed();
    env.state.fabrics.add(ts::fabric(2, 0xFFF1)).expect("room");
    env.state
        .fabrics
        .set_label(FabricIndex(2), "Kitchen")
        .expect("label");
    let label = |l: &str| fields(|w| w.utf8(Tag::Context(0), l));
    assert_eq!(
        noc_status(&env.invoke(cmd::UPDATE_FABRIC_LABEL, &label("Home"))),
        (0, Some(1))
    );
    assert_eq!(
        env.state.fabrics.get(FabricIndex(1)).expect("f").label,
        "Home"
    );
    assert_eq!(
        noc_status(&env.invoke(cmd::UPDATE_FABRIC_LABEL, &label("Kitchen"))).0,
        NocStatus::LabelConflict as u64
    );
    assert_eq!(
        env.invoke(cmd::UPDATE_FABRIC_LABEL, &label(&"x".repeat(33))),
        st(Status::INVALID_COMMAND)
    );
    env.subject = Subject::pase(None);
    assert_eq!(
        env.invoke(cmd::UPDATE_FABRIC_LABEL, &label("Den")),
        st(Status::UNSUPPORTED_ACCESS)
    );
}

#[test]
fn remove_fabric() {
    let mut env = committed();
    env.state.fabrics.add(ts::fabric(2, 0xFFF1)).expect("room");
    let idx = |i: u8| fields(|w| w.u8(Tag::Context(0), i));
    assert_eq!(
        noc_status(&env.invoke(cmd::REMOVE_FABRIC, &idx(9))),
        (NocStatus::InvalidFabricIndex as u64, None)
    );
    assert_eq!(
        env.invoke(cmd::REMOVE_FABRIC, &idx(0)),
        st(Status::INVALID_COMMAND)
    );
    assert_eq!(
        noc_status(&env.invoke(cmd::REMOVE_FABRIC, &idx(2))),
        (0, Some(2))
    );
    let e = effects(&mut env.state);
    assert!(
        matches!(e.as_slice(), [Effect::FabricRemoved(FabricIndex(2))]),
        "{e:?}"
    );
    // The last one: its ACL goes too, and the node becomes commissionable again.
    assert_eq!(
        noc_status(&env.invoke(cmd::REMOVE_FABRIC, &idx(1))),
        (0, Some(1))
    );
    assert!(env.state.fabrics.is_empty());
    assert!(env.state.acl.entries().is_empty());
    let e = effects(&mut env.state);
    assert!(e
        .iter()
        .any(|e| matches!(e, Effect::FabricRemoved(FabricIndex(1)))));
    assert!(e.iter().any(|e| matches!(
        e,
        Effect::OpenCommissioningWindow {
            window: WindowRequest::Basic,
            ..
        }
    )));
}
