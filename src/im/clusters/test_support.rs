//! Helpers shared by the commissioning clusters' tests: fabrics, subjects, request fields and
//! response decoding.

use p256::SecretKey;
use zeroize::Zeroizing;

use crate::fabric::{Fabric, FabricIndex, NodeState, Subject};
use crate::im::model::InvokeResult;
use crate::im::Status;
use crate::time::Instant;
use crate::tlv::{Container, Tag, TlvError, TlvReader, TlvValue, TlvWriter};

/// A fabric record with distinct ids (not a real chain: for tests that need a table entry).
pub(crate) fn fabric(fabric_id: u64, vendor_id: u16) -> Fabric {
    let mut k = [0u8; 32];
    k[31] = 1;
    k[0] = fabric_id as u8;
    let mut root = [0u8; 65];
    root[0] = 4;
    root[1] = fabric_id as u8;
    Fabric {
        index: FabricIndex(0),
        rcac: vec![0xAA, fabric_id as u8],
        icac: None,
        noc: vec![0xBB, fabric_id as u8],
        fabric_id,
        node_id: 0x1000 + fabric_id,
        root_public_key: root,
        vendor_id,
        label: String::new(),
        ipk_epoch_key: Zeroizing::new([7; 16]),
        operational_key: SecretKey::from_slice(&k).expect("valid scalar"),
        compressed_fabric_id: [9; 8],
        cats: vec![],
    }
}

/// A state with one fabric (index 1), returned with a CASE subject on it.
pub(crate) fn state_with_fabric(vendor_id: u16) -> (NodeState, Subject) {
    let mut s = NodeState::default();
    let i = s.fabrics.add(fabric(1, vendor_id)).expect("room");
    (s, Subject::case(i, 0x1234, Default::default()))
}

/// Arms the fail-safe for `subject`'s fabric at time 0 for 60 s.
pub(crate) fn arm(s: &mut NodeState, subject: &Subject) {
    s.arm_fail_safe(Instant::ZERO, subject.fabric, false, 60, 0)
        .expect("arm");
}

/// Encodes an anonymous structure.
pub(crate) fn fields(build: impl FnOnce(&mut TlvWriter<'_>) -> Result<(), TlvError>) -> Vec<u8> {
    let mut b = Vec::new();
    let mut w = TlvWriter::new(&mut b);
    w.start_struct(Tag::Anonymous).expect("struct");
    build(&mut w).expect("fields");
    w.end_container().expect("end");
    b
}

/// The container of encoded fields.
pub(crate) fn c(bytes: &[u8]) -> Option<Container<'_>> {
    Some(TlvReader::new(bytes).read_struct().expect("test fields"))
}

/// A response command's id and decoded fields (panics on anything else).
pub(crate) fn response(r: &InvokeResult) -> (u32, Vec<(Tag, TlvValue)>) {
    match r {
        InvokeResult::Response { command, fields } => {
            let (_, v) = TlvValue::decode(fields).expect("response TLV");
            let TlvValue::Struct(m) = v else {
                panic!("response is not a structure")
            };
            (*command, m)
        }
        other => panic!("expected a response, got {other:?}"),
    }
}

/// The member with context tag `t`.
pub(crate) fn field(m: &[(Tag, TlvValue)], t: u8) -> Option<&TlvValue> {
    m.iter()
        .find(|(tag, _)| *tag == Tag::Context(t))
        .map(|(_, v)| v)
}

/// InvokeResult::Status(s).
pub(crate) fn st(s: Status) -> InvokeResult {
    InvokeResult::Status(s)
}
