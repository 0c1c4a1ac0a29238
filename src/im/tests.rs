//! Interaction Model tests: a captured controller ReadRequest, end-to-end reads, chunking,
//! statuses for unsupported paths, invoke, timed and write interactions.

use hex_literal::hex;
use proptest::prelude::*;

use super::clusters::{id, DeviceInfo};
use super::*;
use crate::fabric::{NodeState, Subject};
use crate::rng::TestRng;
use crate::time::Instant;
use crate::tlv::{Container, TlvReader, TlvValue};

/// A data model with the node state and the subject of the session talking to it (a PASE
/// session unless a test says otherwise).
pub(super) struct TestModel {
    pub(super) model: DataModel,
    pub(super) state: NodeState,
    pub(super) subject: Subject,
    pub(super) rng: TestRng,
}

impl From<DataModel> for TestModel {
    fn from(model: DataModel) -> Self {
        Self {
            model,
            state: NodeState::default(),
            subject: Subject::pase(None),
            rng: TestRng::new(5),
        }
    }
}

impl core::ops::Deref for TestModel {
    type Target = DataModel;
    fn deref(&self) -> &DataModel {
        &self.model
    }
}

impl core::ops::DerefMut for TestModel {
    fn deref_mut(&mut self) -> &mut DataModel {
        &mut self.model
    }
}

/// Feeds a message to an exchange on behalf of the test model's subject.
pub(super) trait Drive {
    fn handle(&mut self, now: Instant, m: &mut TestModel, op: Opcode, payload: &[u8]);
}

impl Drive for ImExchange {
    fn handle(&mut self, now: Instant, m: &mut TestModel, op: Opcode, payload: &[u8]) {
        let mut session = SessionContext {
            subject: m.subject,
            state: &mut m.state,
            rng: &mut m.rng,
            attestation_challenge: &[0x5A; 16],
        };
        self.handle_message(now, &mut m.model, &mut session, op, payload);
    }
}

/// A ReadRequest as an iPhone sent it right after PASE (106 bytes), published as `apple_read` in
/// test_matter_im.c of an ISC-licensed Matter device project (author "asxeem"): nine paths on
/// endpoint 0 — General Commissioning 0x30 attributes 4, 0, 1, 2, 3, 0xC; Basic Information
/// VendorID and ProductID; Time Synchronization 0x38 with an attribute wildcard. FabricFiltered
/// false, InteractionModelRevision 12.
const APPLE_READ: [u8; 106] = hex!(
    "15 36 00 17 24 02 00 24 03 30 24 04 04 18 17 24 02 00 24 03 30 24 04 00 18 17 24 02"
    "00 24 03 30 24 04 01 18 17 24 02 00 24 03 30 24 04 02 18 17 24 02 00 24 03 30 24 04"
    "03 18 17 24 02 00 24 03 30 24 04 0c 18 17 24 02 00 24 03 28 24 04 02 18 17 24 02 00"
    "24 03 28 24 04 04 18 17 24 02 00 24 03 38 18 18 28 03 24 ff 0c 18"
);

/// The ReadRequest the CHIP SDK's chip-tool sends for `basicinformation read vendor-name 1 0`,
/// constructed from Matter 1.3 §10.7.2 / §10.6.2 with the SDK's choices (minimal integer
/// widths, FabricFiltered present, revision last), which APPLE_READ shows on the wire.
const CHIP_READ_VENDOR_NAME: [u8; 21] =
    hex!("15 36 00 17 24 02 00 24 03 28 24 04 01 18 18 28 03 24 ff 0b 18");

pub(super) type Outcome = Result<TlvValue, Status>;

#[derive(Debug)]
pub(super) struct Chunk {
    /// Reports in order, list appends (ListIndex null) excluded.
    pub(super) reports: Vec<(ConcreteAttributePath, Outcome)>,
    /// Every report in order, with `true` for a list append.
    pub(super) raw: Vec<(ConcreteAttributePath, Outcome, bool)>,
    pub(super) more: bool,
    pub(super) suppress: bool,
    pub(super) len: usize,
}

fn path_of(c: &Container<'_>) -> ConcreteAttributePath {
    ConcreteAttributePath {
        endpoint: c.u16(2).unwrap(),
        cluster: c.u32(3).unwrap(),
        attribute: c.u32(4).unwrap(),
    }
}

/// Decodes a ReportData the way a controller would.
pub(super) fn decode_report(payload: &[u8]) -> Chunk {
    let s = TlvReader::new(payload)
        .read_struct()
        .expect("ReportData is one structure");
    let mut raw = Vec::new();
    for r in s.array(1).unwrap().iter() {
        let r = r.unwrap().value.decode::<Container<'_>>().unwrap();
        if let Some(d) = r.opt_structure(1).unwrap() {
            assert!(d.u32(0).is_ok(), "DataVersion present");
            let v = TlvValue::from_value(&d.get::<crate::tlv::Value<'_>>(2).unwrap()).unwrap();
            let path = d.list(1).unwrap();
            let append = match path.opt_nullable::<u16>(5).unwrap() {
                None => false,
                Some(None) => true,
                Some(Some(i)) => panic!("ListIndex {i} in a report"),
            };
            raw.push((path_of(&path), Ok(v), append));
        } else {
            let st = r.structure(0).unwrap();
            let code = st.structure(1).unwrap().u8(0).unwrap();
            raw.push((path_of(&st.list(0).unwrap()), Err(Status(code)), false));
        }
    }
    assert_eq!(s.u8(0xFF), Ok(INTERACTION_MODEL_REVISION));
    Chunk {
        reports: raw
            .iter()
            .filter(|r| !r.2)
            .map(|r| (r.0, r.1.clone()))
            .collect(),
        raw,
        more: s.opt_bool(3).unwrap().unwrap_or(false),
        suppress: s.opt_bool(4).unwrap().unwrap_or(false),
        len: payload.len(),
    }
}

/// All reports of a read, with list appends merged into the list they extend, as a controller
/// reassembles them.
pub(super) fn flatten(chunks: &[Chunk]) -> Vec<(ConcreteAttributePath, Outcome)> {
    let mut out: Vec<(ConcreteAttributePath, Outcome)> = Vec::new();
    for (path, v, append) in chunks.iter().flat_map(|c| c.raw.iter().cloned()) {
        if !append {
            out.push((path, v));
            continue;
        }
        let Some((last, Ok(TlvValue::Array(items)))) = out.last_mut() else {
            panic!("append to {path:?} without a list before it");
        };
        assert_eq!(*last, path, "append follows its own list");
        items.push((crate::tlv::Tag::Anonymous, v.unwrap()));
    }
    out
}

pub(super) fn status_of(m: &ImMessage) -> Status {
    assert_eq!(m.opcode, Opcode::STATUS_RESPONSE);
    StatusResponse::parse(&m.payload).unwrap().status
}

/// Endpoint 0 with the Descriptor (DataVersion `seed`) and Basic Information (`seed + 1`)
/// clusters only: the shape these tests were written against, before the commissioning
/// clusters joined [`DataModel::root_node`] (tested in `im::access_tests`).
pub(super) fn basic_model(info: DeviceInfo, seed: u32) -> TestModel {
    let mut m = DataModel::new();
    let ep = m.add_endpoint(0, vec![ROOT_NODE_DEVICE_TYPE]);
    ep.add_cluster(Box::new(clusters::Descriptor::new()), seed);
    ep.add_cluster(
        Box::new(clusters::BasicInformation::new(info)),
        seed.wrapping_add(1),
    );
    m.into()
}

pub(super) fn model() -> TestModel {
    basic_model(DeviceInfo::default(), 0x0101_0000)
}

/// StatusResponse(SUCCESS), as a client sends it between chunks.
pub(super) const SUCCESS_STATUS: [u8; 8] = hex!("15 24 00 00 24 ff 0b 18");

/// Runs a read to completion, answering each chunk with StatusResponse(SUCCESS).
pub(super) fn drive_read(model: &mut TestModel, request: &[u8], max_payload: usize) -> Vec<Chunk> {
    let mut ex = ImExchange::new(max_payload);
    ex.handle(Instant::ZERO, model, Opcode::READ_REQUEST, request);
    let mut chunks = Vec::new();
    for _ in 0..1000 {
        let m = ex.poll_message().expect("a chunk");
        assert_eq!(m.opcode, Opcode::REPORT_DATA);
        assert!(ex.poll_message().is_none(), "one message per step");
        let c = decode_report(&m.payload);
        assert!(
            c.len <= max_payload.max(64),
            "chunk {} > limit {}",
            c.len,
            max_payload
        );
        let more = c.more;
        assert_eq!(c.suppress, !more, "SuppressResponse only on the last chunk");
        chunks.push(c);
        if !more {
            assert!(ex.is_done());
            return chunks;
        }
        assert!(!ex.is_done());
        ex.handle(
            Instant::ZERO,
            model,
            Opcode::STATUS_RESPONSE,
            &StatusResponse {
                status: Status::SUCCESS,
            }
            .encode(),
        );
    }
    panic!("read did not finish");
}

pub(super) fn read(
    model: &mut TestModel,
    paths: &[AttributePath],
) -> Vec<(ConcreteAttributePath, Outcome)> {
    let req = ReadRequest {
        attribute_requests: paths.to_vec(),
        ..ReadRequest::default()
    };
    drive_read(model, &req.encode(), ImExchange::DEFAULT_MAX_PAYLOAD)
        .into_iter()
        .flat_map(|c| c.reports)
        .collect()
}

pub(super) fn cp(endpoint: u16, cluster: u32, attribute: u32) -> ConcreteAttributePath {
    ConcreteAttributePath {
        endpoint,
        cluster,
        attribute,
    }
}

#[test]
fn status_and_opcode_codes_match_the_spec() {
    // Matter 1.3 §8.10.1 and §10.2.1.
    assert_eq!(Status::UNSUPPORTED_ENDPOINT.0, 0x7F);
    assert_eq!(Status::UNSUPPORTED_CLUSTER.0, 0xC3);
    assert_eq!(Status::UNSUPPORTED_ATTRIBUTE.0, 0x86);
    assert_eq!(Status::UNSUPPORTED_COMMAND.0, 0x81);
    assert_eq!(Status::INVALID_ACTION.0, 0x80);
    assert_eq!(Status::TIMED_REQUEST_MISMATCH.0, 0xC9);
    assert_eq!(format!("{:?}", Status(0xC3)), "UNSUPPORTED_CLUSTER");
    assert_eq!(format!("{:?}", Status(0x42)), "Status(0x42)");
    assert_eq!(Opcode::REPORT_DATA.0, 0x05);
    assert_eq!(Opcode::TIMED_REQUEST.0, 0x0A);
}

#[test]
fn captured_read_request_parses() {
    let r = ReadRequest::parse(&APPLE_READ).unwrap();
    assert_eq!(r.attribute_requests.len(), 9);
    assert!(!r.fabric_filtered);
    let attrs: Vec<_> = r.attribute_requests[..6]
        .iter()
        .map(|p| p.attribute)
        .collect();
    assert_eq!(
        attrs,
        [Some(4), Some(0), Some(1), Some(2), Some(3), Some(0xC)]
    );
    assert_eq!(r.attribute_requests[6], AttributePath::concrete(0, 0x28, 2));
    assert_eq!(r.attribute_requests[7], AttributePath::concrete(0, 0x28, 4));
    let w = r.attribute_requests[8];
    assert_eq!(
        (w.endpoint, w.cluster, w.attribute),
        (Some(0), Some(0x38), None)
    );
    assert!(w.is_wildcard());
    // Every truncation is rejected.
    for cut in 0..APPLE_READ.len() {
        assert!(ReadRequest::parse(&APPLE_READ[..cut]).is_err(), "cut {cut}");
    }
}

#[test]
fn read_request_encoding_matches_chip_tool_shape() {
    let r = ReadRequest {
        attribute_requests: vec![AttributePath::concrete(0, 0x28, 1)],
        ..ReadRequest::default()
    };
    assert_eq!(r.encode(), CHIP_READ_VENDOR_NAME);
    assert_eq!(ReadRequest::parse(&CHIP_READ_VENDOR_NAME).unwrap(), r);
}

#[test]
fn end_to_end_read_vendor_name_and_product_id() {
    let info = DeviceInfo {
        vendor_name: "Acme".into(),
        product_id: 0x8001,
        ..DeviceInfo::default()
    };
    let mut m = basic_model(info, 7);
    let req = ReadRequest {
        attribute_requests: vec![
            AttributePath::concrete(0, 0x28, 1),
            AttributePath::concrete(0, 0x28, 4),
        ],
        ..ReadRequest::default()
    };
    let chunks = drive_read(&mut m, &req.encode(), 1024);
    assert_eq!(chunks.len(), 1);
    assert_eq!(
        chunks[0].reports,
        vec![
            (cp(0, 0x28, 1), Ok(TlvValue::Utf8("Acme".into()))),
            (cp(0, 0x28, 4), Ok(TlvValue::UInt(0x8001))),
        ]
    );
}

/// The exact ReportData bytes for the chip-tool VendorName read (DataVersion 0x0101_0001 of
/// Basic Information), spelled out field by field from Matter 1.3 §10.7.3 / §10.6.4-5.
#[test]
fn report_data_golden_bytes() {
    let mut m = model();
    let mut ex = ImExchange::new(1024);
    ex.handle(
        Instant::ZERO,
        &mut m,
        Opcode::READ_REQUEST,
        &CHIP_READ_VENDOR_NAME,
    );
    let msg = ex.poll_message().unwrap();
    let expected = hex!(
        "15"                                   // ReportDataMessage
        "36 01"                                // 1: AttributeReportIBs [
        "15 35 01"                             //   { 1: AttributeDataIB {
        "26 00 01 00 01 01"                    //       0: DataVersion 0x01010001
        "37 01 24 02 00 24 03 28 24 04 01 18"  //       1: Path [[2: 0, 3: 0x28, 4: 1]]
        "2c 02 0a 6d 61 74 74 65 72 2d 62 6c 65" // 2: "matter-ble"
        "18 18"                                //   } }
        "18"                                   // ]
        "29 04"                                // 4: SuppressResponse true
        "24 ff 0b"                             // 0xFF: InteractionModelRevision 11
        "18"
    );
    assert_eq!(msg.payload, expected);
    assert!(ex.is_done());
}

#[test]
fn captured_read_gets_statuses_for_missing_and_silence_for_wildcards() {
    let mut m = model();
    let chunks = drive_read(&mut m, &APPLE_READ, 1024);
    let reports: Vec<_> = chunks.into_iter().flat_map(|c| c.reports).collect();
    // Six concrete paths into General Commissioning, which this model lacks.
    for (i, a) in [4, 0, 1, 2, 3, 0xC].into_iter().enumerate() {
        assert_eq!(
            reports[i],
            (cp(0, 0x30, a), Err(Status::UNSUPPORTED_CLUSTER))
        );
    }
    assert_eq!(reports[6], (cp(0, 0x28, 2), Ok(TlvValue::UInt(0xFFF1))));
    assert_eq!(reports[7], (cp(0, 0x28, 4), Ok(TlvValue::UInt(0x8000))));
    // The Time Synchronization wildcard matches nothing and says nothing.
    assert_eq!(reports.len(), 8);
}

#[test]
fn unsupported_concrete_paths_report_outermost_status() {
    let mut m = model();
    let r = read(
        &mut m,
        &[
            AttributePath::concrete(1, 0x28, 1),
            AttributePath::concrete(0, 0x99, 1),
            AttributePath::concrete(0, 0x28, 0x77),
            AttributePath::concrete(0, 0x1D, 0x04), // TagList: not offered
            AttributePath::concrete(0, 0x28, 0xFFFA), // EventList: not a global here
        ],
    );
    assert_eq!(
        r,
        vec![
            (cp(1, 0x28, 1), Err(Status::UNSUPPORTED_ENDPOINT)),
            (cp(0, 0x99, 1), Err(Status::UNSUPPORTED_CLUSTER)),
            (cp(0, 0x28, 0x77), Err(Status::UNSUPPORTED_ATTRIBUTE)),
            (cp(0, 0x1D, 0x04), Err(Status::UNSUPPORTED_ATTRIBUTE)),
            (cp(0, 0x28, 0xFFFA), Err(Status::UNSUPPORTED_ATTRIBUTE)),
        ]
    );
    // Wildcards over things that do not exist are silent.
    let wild_ep = AttributePath {
        endpoint: Some(3),
        ..AttributePath::default()
    };
    let wild_attr = AttributePath {
        endpoint: Some(0),
        cluster: Some(0x99),
        ..AttributePath::default()
    };
    assert_eq!(read(&mut m, &[wild_ep, wild_attr]), vec![]);
}

#[test]
fn descriptor_and_global_attributes() {
    use TlvValue::*;
    let mut m = model();
    let u = |v: &[u64]| {
        Array(
            v.iter()
                .map(|&x| (crate::tlv::Tag::Anonymous, UInt(x)))
                .collect(),
        )
    };
    let r = read(
        &mut m,
        &[
            AttributePath::concrete(0, id::DESCRIPTOR, 0),
            AttributePath::concrete(0, id::DESCRIPTOR, 1),
            AttributePath::concrete(0, id::DESCRIPTOR, 2),
            AttributePath::concrete(0, id::DESCRIPTOR, 3),
            AttributePath::concrete(0, id::DESCRIPTOR, 0xFFFD),
            AttributePath::concrete(0, id::DESCRIPTOR, 0xFFFB),
            AttributePath::concrete(0, id::BASIC_INFORMATION, 0xFFFD),
            AttributePath::concrete(0, id::BASIC_INFORMATION, 0xFFFC),
            AttributePath::concrete(0, id::BASIC_INFORMATION, 0xFFF9),
            AttributePath::concrete(0, id::BASIC_INFORMATION, 0xFFF8),
            AttributePath::concrete(0, id::BASIC_INFORMATION, 0x13),
            AttributePath::concrete(0, id::BASIC_INFORMATION, 0x15),
        ],
    );
    let vals: Vec<_> = r.into_iter().map(|(_, v)| v.unwrap()).collect();
    let dt = Struct(vec![
        (crate::tlv::Tag::Context(0), UInt(0x16)),
        (crate::tlv::Tag::Context(1), UInt(2)),
    ]);
    assert_eq!(vals[0], Array(vec![(crate::tlv::Tag::Anonymous, dt)]));
    assert_eq!(vals[1], u(&[0x1D, 0x28]));
    assert_eq!(vals[2], u(&[]));
    assert_eq!(vals[3], u(&[]));
    assert_eq!(vals[4], UInt(2));
    assert_eq!(
        vals[5],
        u(&[0, 1, 2, 3, 0xFFF8, 0xFFF9, 0xFFFB, 0xFFFC, 0xFFFD])
    );
    assert_eq!(vals[6], UInt(3));
    assert_eq!(vals[7], UInt(0));
    assert_eq!(vals[8], u(&[]));
    assert_eq!(vals[9], u(&[]));
    assert_eq!(
        vals[10],
        Struct(vec![
            (crate::tlv::Tag::Context(0), UInt(3)),
            (crate::tlv::Tag::Context(1), UInt(3)),
        ])
    );
    assert_eq!(vals[11], UInt(0x0103_0000));
}

#[test]
fn parts_list_names_other_endpoints() {
    let mut m = model();
    m.add_endpoint(
        1,
        vec![DeviceType {
            id: 0x0100,
            revision: 3,
        }],
    )
    .add_cluster(Box::new(super::clusters::Descriptor::new()), 1);
    let r = read(
        &mut m,
        &[
            AttributePath::concrete(0, id::DESCRIPTOR, 3),
            AttributePath::concrete(1, id::DESCRIPTOR, 3),
        ],
    );
    let any = crate::tlv::Tag::Anonymous;
    assert_eq!(r[0].1, Ok(TlvValue::Array(vec![(any, TlvValue::UInt(1))])));
    assert_eq!(r[1].1, Ok(TlvValue::Array(vec![])));
}

fn all_concrete_paths(m: &DataModel) -> Vec<ConcreteAttributePath> {
    let mut v = Vec::new();
    for ep in m.endpoints() {
        for cl in ep.cluster_ids() {
            for a in m.attribute_ids(ep.id(), cl) {
                v.push(cp(ep.id(), cl, a));
            }
        }
    }
    v
}

#[test]
fn wildcard_read_of_endpoint_0_chunks_and_delivers_each_attribute_once() {
    let mut m = model();
    let expected = all_concrete_paths(&m);
    assert_eq!(expected.len(), 4 + 5 + 16 + 5);
    let req = ReadRequest {
        attribute_requests: vec![AttributePath {
            endpoint: Some(0),
            ..AttributePath::default()
        }],
        ..ReadRequest::default()
    };
    for limit in [128, 200, 300, 1024] {
        let chunks = drive_read(&mut m, &req.encode(), limit);
        if limit < 1024 {
            assert!(chunks.len() > 1, "limit {limit} should chunk");
        } else {
            assert_eq!(chunks.len(), 1);
        }
        let got: Vec<_> = chunks.iter().flat_map(|c| c.reports.iter()).collect();
        let paths: Vec<_> = got.iter().map(|(p, _)| *p).collect();
        assert_eq!(
            paths, expected,
            "limit {limit}: each attribute exactly once, in order"
        );
        assert!(got.iter().all(|(_, v)| v.is_ok()));
    }
    // At the minimum limit the largest attribute (AttributeList of Basic Information) cannot
    // fit one message: it goes out as a first part plus appended entries (ListIndex null),
    // and reassembles to the same value as in one message.
    let whole = flatten(&drive_read(&mut m, &req.encode(), 1024));
    let chunks = drive_read(&mut m, &req.encode(), 64);
    assert!(
        chunks.iter().any(|c| c.raw.iter().any(|r| r.2)),
        "some list was split"
    );
    assert_eq!(flatten(&chunks), whole);
    // The full wildcard (no endpoint, cluster or attribute) reads the same set.
    let all = read(&mut m, &[AttributePath::default()]);
    assert_eq!(all.iter().map(|(p, _)| *p).collect::<Vec<_>>(), expected);
}

#[test]
fn wildcard_flags_and_data_version_filters() {
    let mut m = model();
    let p = AttributePath {
        endpoint: Some(0),
        cluster: Some(id::DESCRIPTOR),
        wildcard_flags: 1 << 1, // skip global attributes
        ..AttributePath::default()
    };
    assert_eq!(read(&mut m, &[p]).len(), 4);
    let skip_root = AttributePath {
        wildcard_flags: 1 << 0,
        ..AttributePath::default()
    };
    assert!(read(&mut m, &[skip_root]).is_empty());
    // A filter with the current DataVersion suppresses that cluster's data.
    let v = m.data_version(0, id::BASIC_INFORMATION).unwrap();
    let req = ReadRequest {
        attribute_requests: vec![AttributePath {
            endpoint: Some(0),
            ..AttributePath::default()
        }],
        data_version_filters: vec![(0, id::BASIC_INFORMATION, v)],
        ..ReadRequest::default()
    };
    let r: Vec<_> = drive_read(&mut m, &req.encode(), 1024)
        .into_iter()
        .flat_map(|c| c.reports)
        .collect();
    assert!(r.iter().all(|(p, _)| p.cluster == id::DESCRIPTOR));
    assert_eq!(r.len(), 9);
    // A global attribute under a cluster wildcard is fine; another attribute is not.
    let g = AttributePath {
        endpoint: Some(0),
        attribute: Some(0xFFFD),
        ..AttributePath::default()
    };
    assert_eq!(read(&mut m, &[g]).len(), 2);
    let bad = AttributePath {
        endpoint: Some(0),
        attribute: Some(1),
        ..AttributePath::default()
    };
    let req = ReadRequest {
        attribute_requests: vec![bad],
        ..ReadRequest::default()
    };
    let mut ex = ImExchange::new(1024);
    ex.handle(Instant::ZERO, &mut m, Opcode::READ_REQUEST, &req.encode());
    assert_eq!(
        status_of(&ex.poll_message().unwrap()),
        Status::INVALID_ACTION
    );
    assert!(ex.is_done());
}

#[test]
fn chunked_read_aborted_or_interrupted_by_peer() {
    let mut m = model();
    let req = ReadRequest {
        attribute_requests: vec![AttributePath::default()],
        ..ReadRequest::default()
    }
    .encode();
    // Peer answers the first chunk with a failure status: the exchange ends silently.
    let mut ex = ImExchange::new(128);
    ex.handle(Instant::ZERO, &mut m, Opcode::READ_REQUEST, &req);
    assert!(decode_report(&ex.poll_message().unwrap().payload).more);
    let fail = StatusResponse {
        status: Status::FAILURE,
    }
    .encode();
    ex.handle(Instant::ZERO, &mut m, Opcode::STATUS_RESPONSE, &fail);
    assert!(ex.poll_message().is_none());
    assert!(ex.is_done());
    // Peer sends something else between chunks: INVALID_ACTION.
    let mut ex = ImExchange::new(128);
    ex.handle(Instant::ZERO, &mut m, Opcode::READ_REQUEST, &req);
    let _ = ex.poll_message();
    ex.handle(Instant::ZERO, &mut m, Opcode::READ_REQUEST, &req);
    assert_eq!(
        status_of(&ex.poll_message().unwrap()),
        Status::INVALID_ACTION
    );
    assert!(ex.is_done());
    // Messages after the end are ignored.
    ex.handle(Instant::ZERO, &mut m, Opcode::READ_REQUEST, &req);
    assert!(ex.poll_message().is_none());
}

#[test]
fn malformed_and_unexpected_requests_get_invalid_action() {
    let mut m = model();
    let cases: &[(Opcode, &[u8])] = &[
        (Opcode::READ_REQUEST, &hex!("15 36 00 17 24 02")),
        (Opcode::READ_REQUEST, &hex!("24 00 01")),
        (Opcode::READ_REQUEST, &hex!("15 18 00")),
        (
            Opcode::READ_REQUEST,
            &hex!("15 36 00 17 25 02 00 01 24 03 28 24 04 01 18 18 18"),
        ),
        (Opcode::INVOKE_REQUEST, &hex!("15 18")),
        (Opcode::TIMED_REQUEST, &hex!("15 18")),
        (Opcode::STATUS_RESPONSE, &SUCCESS_STATUS),
        (Opcode::SUBSCRIBE_REQUEST, &hex!("15 18")),
        (Opcode::REPORT_DATA, &hex!("15 18")),
        (Opcode::from(0x77), &[]),
    ];
    for (i, (op, payload)) in cases.iter().enumerate() {
        let mut ex = ImExchange::new(1024);
        ex.handle(Instant::ZERO, &mut m, *op, payload);
        let msg = ex.poll_message().unwrap();
        if i == 3 {
            // ...a 2-byte endpoint 0x0100 is valid TLV: it gets UNSUPPORTED_ENDPOINT in a report.
            let c = decode_report(&msg.payload);
            assert_eq!(c.reports[0].1, Err(Status::UNSUPPORTED_ENDPOINT));
        } else {
            assert_eq!(status_of(&msg), Status::INVALID_ACTION, "case {i}");
        }
        assert!(ex.is_done());
    }
    // A read without any path: INVALID_ACTION. With only event paths: an empty report.
    let mut ex = ImExchange::new(1024);
    ex.handle(
        Instant::ZERO,
        &mut m,
        Opcode::READ_REQUEST,
        &hex!("15 36 00 18 28 03 24 ff 0b 18"),
    );
    assert_eq!(
        status_of(&ex.poll_message().unwrap()),
        Status::INVALID_ACTION
    );
    let mut ex = ImExchange::new(1024);
    ex.handle(
        Instant::ZERO,
        &mut m,
        Opcode::READ_REQUEST,
        &hex!("15 36 01 17 24 01 00 18 18 28 03 18"),
    );
    let c = decode_report(&ex.poll_message().unwrap().payload);
    assert!(c.reports.is_empty() && c.suppress);
    // An endpoint id wider than 16 bits is a type error: INVALID_ACTION.
    let mut ex = ImExchange::new(1024);
    ex.handle(
        Instant::ZERO,
        &mut m,
        Opcode::READ_REQUEST,
        &hex!("15 36 00 17 26 02 00 00 01 00 18 18 18"),
    );
    assert_eq!(
        status_of(&ex.poll_message().unwrap()),
        Status::INVALID_ACTION
    );
}

pub(super) fn invoke_request(endpoint: u16, cluster: u32, command: u32, timed: bool) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = crate::tlv::TlvWriter::new(&mut buf);
    (|| -> Result<(), crate::tlv::TlvError> {
        use crate::tlv::Tag;
        w.start_struct(Tag::Anonymous)?;
        w.bool(Tag::Context(0), false)?;
        w.bool(Tag::Context(1), timed)?;
        w.start_array(Tag::Context(2))?;
        w.start_struct(Tag::Anonymous)?;
        CommandPath {
            endpoint: Some(endpoint),
            cluster: Some(cluster),
            command: Some(command),
        }
        .write(&mut w, Tag::Context(0))?;
        w.start_struct(Tag::Context(1))?;
        w.end_container()?;
        w.end_container()?;
        w.end_container()?;
        w.u8(Tag::Context(0xFF), 11)?;
        w.end_container()
    })()
    .unwrap();
    buf
}

/// (path, status) of the single CommandStatusIB of an InvokeResponse.
pub(super) fn invoke_status(m: &ImMessage) -> (CommandPath, Status) {
    assert_eq!(m.opcode, Opcode::INVOKE_RESPONSE);
    let s = TlvReader::new(&m.payload).read_struct().unwrap();
    assert_eq!(s.bool(0), Ok(false));
    let ib = s
        .array(1)
        .unwrap()
        .iter()
        .next()
        .unwrap()
        .unwrap()
        .value
        .decode::<Container<'_>>()
        .unwrap();
    let cs = ib.structure(1).unwrap();
    (
        CommandPath::parse(&cs.list(0).unwrap()).unwrap(),
        Status(cs.structure(1).unwrap().u8(0).unwrap()),
    )
}

#[test]
fn invoke_of_unsupported_paths() {
    let mut m = model();
    for (ep, cl, cmd, want) in [
        (0, id::BASIC_INFORMATION, 0x00, Status::UNSUPPORTED_COMMAND),
        (0, id::DESCRIPTOR, 0x42, Status::UNSUPPORTED_COMMAND),
        (0, 0x0030, 0x00, Status::UNSUPPORTED_CLUSTER),
        (9, 0x0030, 0x00, Status::UNSUPPORTED_ENDPOINT),
    ] {
        let mut ex = ImExchange::new(1024);
        ex.handle(
            Instant::ZERO,
            &mut m,
            Opcode::INVOKE_REQUEST,
            &invoke_request(ep, cl, cmd, false),
        );
        let (path, status) = invoke_status(&ex.poll_message().unwrap());
        assert_eq!(status, want);
        assert_eq!(
            path,
            CommandPath {
                endpoint: Some(ep),
                cluster: Some(cl),
                command: Some(cmd)
            }
        );
        assert!(ex.is_done());
    }
    // The exact bytes for one of them (Matter 1.3 §10.7.10, §10.6.13-14).
    let mut ex = ImExchange::new(1024);
    ex.handle(
        Instant::ZERO,
        &mut m,
        Opcode::INVOKE_REQUEST,
        &invoke_request(0, 0x30, 0, false),
    );
    assert_eq!(
        ex.poll_message().unwrap().payload,
        hex!("15 28 00 36 01 15 35 01 37 00 24 00 00 24 01 30 24 02 00 18 35 01 24 00 c3 18 18 18 18 24 ff 0b 18")
    );
}

#[test]
fn timed_invoke() {
    let mut m = model();
    let timed = hex!("15 25 00 e8 03 24 ff 0b 18"); // TimedRequest { 0: 1000 ms }
                                                    // Timed request, then the invoke in time: answered normally.
    let mut ex = ImExchange::new(1024);
    ex.handle(
        Instant::from_millis(5),
        &mut m,
        Opcode::TIMED_REQUEST,
        &timed,
    );
    assert_eq!(status_of(&ex.poll_message().unwrap()), Status::SUCCESS);
    assert!(!ex.is_done());
    ex.handle(
        Instant::from_millis(1005),
        &mut m,
        Opcode::INVOKE_REQUEST,
        &invoke_request(0, 0x28, 0, true),
    );
    assert_eq!(
        invoke_status(&ex.poll_message().unwrap()).1,
        Status::UNSUPPORTED_COMMAND
    );
    assert!(ex.is_done());
    // Too late: TIMEOUT.
    let mut ex = ImExchange::new(1024);
    ex.handle(Instant::ZERO, &mut m, Opcode::TIMED_REQUEST, &timed);
    let _ = ex.poll_message();
    ex.handle(
        Instant::from_millis(1001),
        &mut m,
        Opcode::INVOKE_REQUEST,
        &invoke_request(0, 0x28, 0, true),
    );
    assert_eq!(status_of(&ex.poll_message().unwrap()), Status::TIMEOUT);
    // Flag without a timed request, and a timed request without the flag: mismatch.
    let mut ex = ImExchange::new(1024);
    ex.handle(
        Instant::ZERO,
        &mut m,
        Opcode::INVOKE_REQUEST,
        &invoke_request(0, 0x28, 0, true),
    );
    assert_eq!(
        status_of(&ex.poll_message().unwrap()),
        Status::TIMED_REQUEST_MISMATCH
    );
    let mut ex = ImExchange::new(1024);
    ex.handle(Instant::ZERO, &mut m, Opcode::TIMED_REQUEST, &timed);
    let _ = ex.poll_message();
    ex.handle(
        Instant::ZERO,
        &mut m,
        Opcode::INVOKE_REQUEST,
        &invoke_request(0, 0x28, 0, false),
    );
    assert_eq!(
        status_of(&ex.poll_message().unwrap()),
        Status::TIMED_REQUEST_MISMATCH
    );
    // A read after a timed request: INVALID_ACTION.
    let mut ex = ImExchange::new(1024);
    ex.handle(Instant::ZERO, &mut m, Opcode::TIMED_REQUEST, &timed);
    let _ = ex.poll_message();
    ex.handle(
        Instant::ZERO,
        &mut m,
        Opcode::READ_REQUEST,
        &CHIP_READ_VENDOR_NAME,
    );
    assert_eq!(
        status_of(&ex.poll_message().unwrap()),
        Status::INVALID_ACTION
    );
}

pub(super) fn write_request(
    path: AttributePath,
    value: &TlvValue,
    version: Option<u32>,
) -> Vec<u8> {
    use crate::tlv::Tag;
    let mut buf = Vec::new();
    let mut w = crate::tlv::TlvWriter::new(&mut buf);
    (|| -> Result<(), crate::tlv::TlvError> {
        w.start_struct(Tag::Anonymous)?;
        w.bool(Tag::Context(0), false)?;
        w.bool(Tag::Context(1), false)?;
        w.start_array(Tag::Context(2))?;
        w.start_struct(Tag::Anonymous)?;
        if let Some(v) = version {
            w.u32(Tag::Context(0), v)?;
        }
        path.write(&mut w, Tag::Context(1))?;
        value.encode(Tag::Context(2), &mut w)?;
        w.end_container()?;
        w.end_container()?;
        w.u8(Tag::Context(0xFF), 11)?;
        w.end_container()
    })()
    .unwrap();
    buf
}

fn write_status(
    m: &mut TestModel,
    path: AttributePath,
    value: TlvValue,
    version: Option<u32>,
) -> Status {
    let mut ex = ImExchange::new(1024);
    ex.handle(
        Instant::ZERO,
        m,
        Opcode::WRITE_REQUEST,
        &write_request(path, &value, version),
    );
    let msg = ex.poll_message().unwrap();
    assert_eq!(msg.opcode, Opcode::WRITE_RESPONSE);
    assert!(ex.is_done());
    let s = TlvReader::new(&msg.payload).read_struct().unwrap();
    let ib = s
        .array(0)
        .unwrap()
        .iter()
        .next()
        .unwrap()
        .unwrap()
        .value
        .decode::<Container<'_>>()
        .unwrap();
    Status(ib.structure(1).unwrap().u8(0).unwrap())
}

#[test]
fn writes_node_label_and_location() {
    let mut m = model();
    let label = AttributePath::concrete(0, 0x28, 5);
    let v0 = m.data_version(0, 0x28).unwrap();
    assert_eq!(
        write_status(&mut m, label, TlvValue::Utf8("Kitchen".into()), Some(v0)),
        Status::SUCCESS
    );
    assert_eq!(m.data_version(0, 0x28), Some(v0.wrapping_add(1)));
    assert_eq!(
        read(&mut m, &[label])[0].1,
        Ok(TlvValue::Utf8("Kitchen".into()))
    );
    // Stale DataVersion.
    assert_eq!(
        write_status(&mut m, label, TlvValue::Utf8("x".into()), Some(v0)),
        Status::DATA_VERSION_MISMATCH
    );
    let loc = AttributePath::concrete(0, 0x28, 6);
    assert_eq!(
        write_status(&mut m, loc, TlvValue::Utf8("DEU".into()), None),
        Status::CONSTRAINT_ERROR
    );
    assert_eq!(
        write_status(&mut m, loc, TlvValue::UInt(1), None),
        Status::INVALID_DATA_TYPE
    );
    assert_eq!(
        write_status(&mut m, loc, TlvValue::Utf8("DE".into()), None),
        Status::SUCCESS
    );
    assert_eq!(
        write_status(
            &mut m,
            AttributePath::concrete(0, 0x28, 1),
            TlvValue::Utf8("x".into()),
            None
        ),
        Status::UNSUPPORTED_WRITE
    );
    assert_eq!(
        write_status(
            &mut m,
            AttributePath::concrete(0, 0x28, 0xFFFD),
            TlvValue::UInt(1),
            None
        ),
        Status::UNSUPPORTED_WRITE
    );
    assert_eq!(
        write_status(
            &mut m,
            AttributePath::concrete(2, 0x28, 5),
            TlvValue::Utf8("x".into()),
            None
        ),
        Status::UNSUPPORTED_ENDPOINT
    );
}

proptest! {
    /// Any payload limit: every attribute of a full wildcard read arrives exactly once, in
    /// order, and no chunk exceeds the limit.
    #[test]
    fn prop_chunking_delivers_everything_once(limit in 64usize..1500, label in "[a-z]{0,32}") {
        let mut m = basic_model(DeviceInfo::default(), 1);
        m.state.info.node_label = label;
        let req = ReadRequest { attribute_requests: vec![AttributePath::default()], ..ReadRequest::default() };
        let chunks = drive_read(&mut m, &req.encode(), limit);
        let got = flatten(&chunks);
        let paths: Vec<_> = got.iter().map(|(p, _)| *p).collect();
        prop_assert_eq!(paths, all_concrete_paths(&m));
        prop_assert_eq!(got, flatten(&drive_read(&mut m, &req.encode(), 4096)));
    }

    /// Arbitrary bytes as any IM request never panic and always get an answer or nothing.
    #[test]
    fn prop_garbage_requests_are_answered(op in 0u8..12, bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let mut m = model();
        let mut ex = ImExchange::new(256);
        ex.handle(Instant::ZERO, &mut m, Opcode::from(op), &bytes);
        let _ = ex.poll_message();
    }
}

/// A cluster with no attributes of its own, to populate endpoints in tests.
struct Dummy(u32);

impl Cluster for Dummy {
    fn id(&self) -> u32 {
        self.0
    }
    fn revision(&self) -> u16 {
        1
    }
    fn attributes(&self) -> &[u32] {
        &[]
    }
    fn read(
        &self,
        _: &ReadContext<'_>,
        _: u32,
        _: &mut crate::tlv::TlvWriter<'_>,
        _: crate::tlv::Tag,
    ) -> Result<(), AttrError> {
        Err(AttrError::Status(Status::UNSUPPORTED_ATTRIBUTE))
    }
}

#[test]
fn long_list_is_split_into_first_part_and_appends() {
    let mut m = model();
    let ep = m.endpoint_mut(0).unwrap();
    for c in 0..60u32 {
        ep.add_cluster(Box::new(Dummy(0xFFF1_FC00 + c)), c);
    }
    let server_list = AttributePath::concrete(0, id::DESCRIPTOR, 1);
    let req = ReadRequest {
        attribute_requests: vec![server_list, AttributePath::concrete(0, 0x28, 4)],
        ..ReadRequest::default()
    };
    let chunks = drive_read(&mut m, &req.encode(), 128);
    assert!(chunks.len() > 3);
    // The first part carries some entries, not none; the rest are appends.
    let first = &chunks[0].raw[0];
    assert!(!first.2);
    let Ok(TlvValue::Array(items)) = &first.1 else {
        panic!("{first:?}")
    };
    assert!(!items.is_empty() && items.len() < 62);
    let got = flatten(&chunks);
    assert_eq!(got.len(), 2);
    let Ok(TlvValue::Array(all)) = &got[0].1 else {
        panic!()
    };
    assert_eq!(all.len(), 62);
    assert_eq!(got[1], (cp(0, 0x28, 4), Ok(TlvValue::UInt(0x8000))));
    assert_eq!(got, flatten(&drive_read(&mut m, &req.encode(), 4096)));
}
