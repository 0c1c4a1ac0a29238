//! Write and Invoke completeness: list attributes written as replace-all plus appends (in one
//! WriteRequest and across chunked WriteRequests), multi-path InvokeRequests up to
//! MaxPathsPerInvoke with CommandRef rules, chunked InvokeResponses and SuppressResponse.
//! A test cluster provides a writable list attribute and an echo command.

use hex_literal::hex;

use super::tests::{model, status_of, Drive, TestModel, SUCCESS_STATUS};
use super::*;
use crate::time::Instant;
use crate::tlv::{Container, Tag, TlvError, TlvReader, TlvValue, TlvWriter, Value};

/// A manufacturer-specific test cluster id (vendor 0xFFF1 test range, Matter 1.3 §7.10.2).
const TEST_CLUSTER: u32 = 0xFFF1_FC00;
/// Attribute 0: list of u8, at most 8 entries, writable.
const LIST: u32 = 0;
/// Command 0: Echo {0: octets} -> EchoResponse (command 1) {0: the same octets}.
const ECHO: u32 = 0;
const ECHO_RESPONSE: u32 = 1;

#[derive(Default)]
struct TestCluster {
    list: Vec<u8>,
}

impl Cluster for TestCluster {
    fn id(&self) -> u32 {
        TEST_CLUSTER
    }
    fn revision(&self) -> u16 {
        1
    }
    fn attributes(&self) -> &[u32] {
        &[LIST]
    }
    fn accepted_commands(&self) -> &[u32] {
        &[ECHO]
    }
    fn generated_commands(&self) -> &[u32] {
        &[ECHO_RESPONSE]
    }
    fn read(
        &self,
        _ctx: &ReadContext<'_>,
        _attribute: u32,
        w: &mut TlvWriter<'_>,
        tag: Tag,
    ) -> Result<(), AttrError> {
        w.start_array(tag)?;
        for v in &self.list {
            w.u8(Tag::Anonymous, *v)?;
        }
        w.end_container()?;
        Ok(())
    }
    fn is_writable(&self, attribute: u32) -> bool {
        attribute == LIST
    }
    fn append_list_entry(
        &mut self,
        _ctx: &mut WriteContext<'_>,
        _attribute: u32,
        value: &Value<'_>,
    ) -> Result<(), Status> {
        let v = value
            .decode::<u8>()
            .map_err(|_| Status::INVALID_DATA_TYPE)?;
        if self.list.len() >= 8 {
            return Err(Status::CONSTRAINT_ERROR);
        }
        self.list.push(v);
        Ok(())
    }
    fn write(
        &mut self,
        _ctx: &mut WriteContext<'_>,
        _attribute: u32,
        value: &Value<'_>,
    ) -> Result<(), Status> {
        let Value::Array(a) = value else {
            return Err(Status::INVALID_DATA_TYPE);
        };
        let mut list = Vec::new();
        for e in a.iter() {
            let e = e.map_err(|_| Status::INVALID_DATA_TYPE)?;
            list.push(
                e.value
                    .decode::<u8>()
                    .map_err(|_| Status::INVALID_DATA_TYPE)?,
            );
        }
        if list.len() > 8 {
            return Err(Status::CONSTRAINT_ERROR);
        }
        self.list = list;
        Ok(())
    }
    fn invoke(
        &mut self,
        _ctx: &mut InvokeContext,
        _command: u32,
        fields: Option<Container<'_>>,
    ) -> InvokeResult {
        let data: &[u8] = fields
            .and_then(|f| f.opt::<&[u8]>(0).ok().flatten())
            .unwrap_or(&[]);
        let mut out = Vec::new();
        let mut w = TlvWriter::new(&mut out);
        let _ = w
            .start_struct(Tag::Anonymous)
            .and_then(|()| w.octets(Tag::Context(0), data))
            .and_then(|()| w.end_container());
        InvokeResult::Response {
            command: ECHO_RESPONSE,
            fields: out,
        }
    }
}

fn test_model() -> TestModel {
    let mut m = model();
    let ep = m.add_endpoint(1, vec![]);
    ep.add_cluster(Box::new(TestCluster::default()), 100);
    m
}

fn list_path(list_index: Option<Option<u16>>) -> AttributePath {
    AttributePath {
        list_index,
        ..AttributePath::concrete(1, TEST_CLUSTER, LIST)
    }
}

/// One AttributeDataIB to write: path (with its ListIndex), DataVersion, value.
type Ib = (AttributePath, Option<u32>, TlvValue);

fn u8_list(v: &[u8]) -> TlvValue {
    TlvValue::Array(
        v.iter()
            .map(|x| (Tag::Anonymous, TlvValue::UInt(u64::from(*x))))
            .collect(),
    )
}

fn write_msg(ibs: &[Ib], more: bool) -> Vec<u8> {
    write_msg_timed(ibs, more, false)
}

fn write_msg_timed(ibs: &[Ib], more: bool, timed: bool) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = TlvWriter::new(&mut buf);
    (|| -> Result<(), TlvError> {
        w.start_struct(Tag::Anonymous)?;
        w.bool(Tag::Context(0), false)?;
        w.bool(Tag::Context(1), timed)?;
        w.start_array(Tag::Context(2))?;
        for (path, version, value) in ibs {
            w.start_struct(Tag::Anonymous)?;
            if let Some(v) = version {
                w.u32(Tag::Context(0), *v)?;
            }
            path.write(&mut w, Tag::Context(1))?;
            value.encode(Tag::Context(2), &mut w)?;
            w.end_container()?;
        }
        w.end_container()?;
        if more {
            w.bool(Tag::Context(3), true)?;
        }
        w.u8(Tag::Context(0xFF), 11)?;
        w.end_container()
    })()
    .unwrap();
    buf
}

/// (path, status) of every AttributeStatusIB of a WriteResponse.
fn write_statuses(m: &ImMessage) -> Vec<(AttributePath, Status)> {
    assert_eq!(m.opcode, Opcode::WRITE_RESPONSE);
    let s = TlvReader::new(&m.payload).read_struct().unwrap();
    s.array(0)
        .unwrap()
        .iter()
        .map(|ib| {
            let ib = ib.unwrap().value.decode::<Container<'_>>().unwrap();
            (
                AttributePath::parse(&ib.list(0).unwrap()).unwrap(),
                Status(ib.structure(1).unwrap().u8(0).unwrap()),
            )
        })
        .collect()
}

fn list_value(m: &TestModel) -> Vec<u8> {
    let mut buf = Vec::new();
    let scope = ReadScope {
        state: &m.state,
        subject: m.subject,
        fabric_filtered: false,
        now: Instant::ZERO,
    };
    m.model
        .read_attribute(
            &scope,
            ConcreteAttributePath {
                endpoint: 1,
                cluster: TEST_CLUSTER,
                attribute: LIST,
            },
            &mut TlvWriter::new(&mut buf),
            Tag::Anonymous,
        )
        .unwrap();
    match TlvValue::decode(&buf).unwrap().1 {
        TlvValue::Array(items) => items
            .into_iter()
            .map(|(_, v)| match v {
                TlvValue::UInt(x) => x as u8,
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn list_written_whole_then_appended_in_one_message() {
    let mut m = test_model();
    let v0 = m.data_version(1, TEST_CLUSTER).unwrap();
    let mut ex = ImExchange::new(1024);
    let msg = write_msg(
        &[
            (list_path(None), Some(v0), u8_list(&[1, 2])),
            (list_path(Some(None)), Some(v0), TlvValue::UInt(3)),
            (list_path(Some(None)), Some(v0), TlvValue::UInt(4)),
        ],
        false,
    );
    ex.handle(Instant::ZERO, &mut m, Opcode::WRITE_REQUEST, &msg);
    let st = write_statuses(&ex.poll_message().unwrap());
    assert!(ex.is_done());
    assert_eq!(
        st,
        vec![
            (list_path(None), Status::SUCCESS),
            (list_path(Some(None)), Status::SUCCESS),
            (list_path(Some(None)), Status::SUCCESS),
        ],
        "appends are reported with their ListIndex null, as the CHIP SDK does"
    );
    assert_eq!(list_value(&m), vec![1, 2, 3, 4]);
    assert_eq!(m.model.take_changed().len(), 1, "one attribute changed");
}

#[test]
fn chunked_list_write_sequence() {
    // The CHIP SDK's chunking of a list too large for one message: an empty replace-all, then
    // the items appended one by one over several WriteRequests with MoreChunkedMessages, each
    // answered with its own WriteResponse on the same exchange.
    let mut m = test_model();
    let v0 = m.data_version(1, TEST_CLUSTER).unwrap();
    let mut ex = ImExchange::new(1024);
    let chunks = [
        (
            write_msg(&[(list_path(None), Some(v0), u8_list(&[]))], true),
            1,
        ),
        (
            write_msg(
                &[
                    (list_path(Some(None)), Some(v0), TlvValue::UInt(7)),
                    (list_path(Some(None)), Some(v0), TlvValue::UInt(8)),
                ],
                true,
            ),
            2,
        ),
        (
            write_msg(
                &[(list_path(Some(None)), Some(v0), TlvValue::UInt(9))],
                false,
            ),
            1,
        ),
    ];
    for (i, (msg, n)) in chunks.iter().enumerate() {
        ex.handle(Instant::ZERO, &mut m, Opcode::WRITE_REQUEST, msg);
        let rsp = ex.poll_message().expect("a WriteResponse per chunk");
        let st = write_statuses(&rsp);
        assert_eq!(st.len(), *n);
        assert!(st.iter().all(|s| s.1 == Status::SUCCESS), "{st:?}");
        assert!(ex.poll_message().is_none());
        assert_eq!(ex.is_done(), i == chunks.len() - 1);
    }
    assert_eq!(list_value(&m), vec![7, 8, 9]);
    // Something else than the next chunk: INVALID_ACTION, and the exchange ends.
    let mut ex = ImExchange::new(1024);
    ex.handle(Instant::ZERO, &mut m, Opcode::WRITE_REQUEST, &chunks[0].0);
    let _ = ex.poll_message();
    ex.handle(
        Instant::ZERO,
        &mut m,
        Opcode::STATUS_RESPONSE,
        &SUCCESS_STATUS,
    );
    assert_eq!(
        status_of(&ex.poll_message().unwrap()),
        Status::INVALID_ACTION
    );
    assert!(ex.is_done());
}

#[test]
fn list_append_errors() {
    let mut m = test_model();
    let v0 = m.data_version(1, TEST_CLUSTER).unwrap();
    let mut ex = ImExchange::new(1024);
    let mut ibs = vec![(list_path(None), None, u8_list(&[0; 8]))];
    // The cluster's constraint (8 entries) holds for appends too.
    ibs.push((list_path(Some(None)), None, TlvValue::UInt(1)));
    // A stale DataVersion on a standalone append (no replace-all before it in this request).
    let stale = write_msg(
        &[(list_path(Some(None)), Some(v0), TlvValue::UInt(1))],
        false,
    );
    // A ListIndex number is reserved; a non-list attribute takes no appends.
    ibs.push((list_path(Some(Some(0))), None, TlvValue::UInt(1)));
    ibs.push((
        AttributePath {
            list_index: Some(None),
            ..AttributePath::concrete(0, 0x28, 5)
        },
        None,
        TlvValue::Utf8("x".into()),
    ));
    ex.handle(
        Instant::ZERO,
        &mut m,
        Opcode::WRITE_REQUEST,
        &write_msg(&ibs, false),
    );
    let st: Vec<Status> = write_statuses(&ex.poll_message().unwrap())
        .into_iter()
        .map(|s| s.1)
        .collect();
    assert_eq!(
        st,
        vec![
            Status::SUCCESS,
            Status::CONSTRAINT_ERROR,
            Status::INVALID_ACTION,
            // NodeLabel is no list: the cluster has no append (Cluster::append_list_entry).
            Status::UNSUPPORTED_WRITE
        ]
    );
    assert_eq!(list_value(&m).len(), 8);
    let mut ex = ImExchange::new(1024);
    ex.handle(Instant::ZERO, &mut m, Opcode::WRITE_REQUEST, &stale);
    assert_eq!(
        write_statuses(&ex.poll_message().unwrap())[0].1,
        Status::DATA_VERSION_MISMATCH
    );
}

/// One command of an InvokeRequest: (endpoint, cluster, command, CommandRef, echo payload).
type Cmd<'a> = (u16, u32, u32, Option<u16>, &'a [u8]);

/// An InvokeRequest with `cmds`.
fn invoke_msg(cmds: &[Cmd<'_>], suppress: bool) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = TlvWriter::new(&mut buf);
    (|| -> Result<(), TlvError> {
        w.start_struct(Tag::Anonymous)?;
        w.bool(Tag::Context(0), suppress)?;
        w.bool(Tag::Context(1), false)?;
        w.start_array(Tag::Context(2))?;
        for &(ep, cl, cmd, r, data) in cmds {
            w.start_struct(Tag::Anonymous)?;
            CommandPath {
                endpoint: Some(ep),
                cluster: Some(cl),
                command: Some(cmd),
            }
            .write(&mut w, Tag::Context(0))?;
            w.start_struct(Tag::Context(1))?;
            w.octets(Tag::Context(0), data)?;
            w.end_container()?;
            if let Some(r) = r {
                w.u16(Tag::Context(2), r)?;
            }
            w.end_container()?;
        }
        w.end_container()?;
        w.u8(Tag::Context(0xFF), 11)?;
        w.end_container()
    })()
    .unwrap();
    buf
}

/// Each InvokeResponseIB as (CommandRef, Ok(response data) or Err(status)), and MoreChunked.
#[allow(clippy::type_complexity)]
fn invoke_results(m: &ImMessage) -> (Vec<(Option<u16>, Result<Vec<u8>, Status>)>, bool) {
    assert_eq!(m.opcode, Opcode::INVOKE_RESPONSE);
    let s = TlvReader::new(&m.payload).read_struct().unwrap();
    assert_eq!(s.bool(0), Ok(false));
    let out = s
        .array(1)
        .unwrap()
        .iter()
        .map(|ib| {
            let ib = ib.unwrap().value.decode::<Container<'_>>().unwrap();
            if let Some(d) = ib.opt_structure(0).unwrap() {
                let f = d.structure(1).unwrap();
                (
                    d.opt_u16(2).unwrap(),
                    Ok(f.get::<&[u8]>(0).unwrap().to_vec()),
                )
            } else {
                let st = ib.structure(1).unwrap();
                (
                    st.opt_u16(2).unwrap(),
                    Err(Status(st.structure(1).unwrap().u8(0).unwrap())),
                )
            }
        })
        .collect();
    (out, s.opt_bool(2).unwrap().unwrap_or(false))
}

#[test]
fn multi_path_invoke_answers_each_path_with_its_ref() {
    let mut m = test_model();
    let scope = ReadScope {
        state: &m.state,
        subject: m.subject,
        fabric_filtered: false,
        now: Instant::ZERO,
    };
    assert_eq!(
        m.model.max_paths_per_invoke(&scope),
        10,
        "the limit is what Basic Information says"
    );
    let mut ex = ImExchange::new(1024);
    let msg = invoke_msg(
        &[
            (1, TEST_CLUSTER, ECHO, Some(1), b"a"),
            (1, TEST_CLUSTER, 0x77, Some(2), b""),
            (5, TEST_CLUSTER, ECHO, Some(3), b""),
        ],
        false,
    );
    ex.handle(Instant::ZERO, &mut m, Opcode::INVOKE_REQUEST, &msg);
    let (results, more) = invoke_results(&ex.poll_message().unwrap());
    assert!(!more);
    assert!(ex.is_done());
    assert_eq!(
        results,
        vec![
            (Some(1), Ok(b"a".to_vec())),
            (Some(2), Err(Status::UNSUPPORTED_COMMAND)),
            (Some(3), Err(Status::UNSUPPORTED_ENDPOINT)),
        ]
    );
}

#[test]
fn multi_path_invoke_refusals() {
    let mut m = test_model();
    let e = (1, TEST_CLUSTER, ECHO);
    let eleven: Vec<_> = (0..11u16)
        .map(|i| (1u16, TEST_CLUSTER, ECHO + u32::from(i), Some(i), &b""[..]))
        .collect();
    for (cmds, why) in [
        (eleven, "more than MaxPathsPerInvoke"),
        (
            vec![
                (e.0, e.1, e.2, Some(1), &b""[..]),
                (e.0, e.1, 5, None, &b""[..]),
            ],
            "CommandRef missing",
        ),
        (
            vec![
                (e.0, e.1, e.2, Some(1), &b""[..]),
                (e.0, e.1, 5, Some(1), &b""[..]),
            ],
            "CommandRef repeated",
        ),
        (
            vec![
                (e.0, e.1, e.2, Some(1), &b""[..]),
                (e.0, e.1, e.2, Some(2), &b""[..]),
            ],
            "path repeated",
        ),
        (vec![], "no path"),
    ] {
        let mut ex = ImExchange::new(1024);
        ex.handle(
            Instant::ZERO,
            &mut m,
            Opcode::INVOKE_REQUEST,
            &invoke_msg(&cmds, false),
        );
        assert_eq!(
            status_of(&ex.poll_message().unwrap()),
            Status::INVALID_ACTION,
            "{why}"
        );
        assert!(ex.is_done());
    }
    // Ten paths, the advertised limit, are served.
    let ten: Vec<_> = (0..10u16)
        .map(|i| (1u16, TEST_CLUSTER, ECHO + u32::from(i), Some(i), &b""[..]))
        .collect();
    let mut ex = ImExchange::new(1024);
    ex.handle(
        Instant::ZERO,
        &mut m,
        Opcode::INVOKE_REQUEST,
        &invoke_msg(&ten, false),
    );
    assert_eq!(invoke_results(&ex.poll_message().unwrap()).0.len(), 10);
}

#[test]
fn large_invoke_response_is_chunked_and_suppress_response_sends_nothing() {
    let mut m = test_model();
    let big = [0xAB; 150];
    // Paths must differ: the same echo on endpoints 1 to 4, each holding the test cluster.
    let cmds: Vec<_> = (0..4u16)
        .map(|i| (1 + i, TEST_CLUSTER, ECHO, Some(i), &big[..]))
        .collect();
    for ep in 2..=4u16 {
        m.add_endpoint(ep, vec![])
            .add_cluster(Box::new(TestCluster::default()), 7);
    }
    let mut ex = ImExchange::new(256);
    ex.handle(
        Instant::ZERO,
        &mut m,
        Opcode::INVOKE_REQUEST,
        &invoke_msg(&cmds, false),
    );
    let mut refs = Vec::new();
    let mut chunks = 0;
    loop {
        let msg = ex.poll_message().expect("a chunk");
        assert!(msg.payload.len() <= 256, "{}", msg.payload.len());
        let (results, more) = invoke_results(&msg);
        chunks += 1;
        for (r, v) in results {
            assert_eq!(v, Ok(big.to_vec()));
            refs.push(r.unwrap());
        }
        if !more {
            assert!(ex.is_done());
            break;
        }
        assert!(!ex.is_done());
        ex.handle(
            Instant::ZERO,
            &mut m,
            Opcode::STATUS_RESPONSE,
            &SUCCESS_STATUS,
        );
    }
    assert_eq!(chunks, 4);
    assert_eq!(refs, vec![0, 1, 2, 3]);
    // SuppressResponse: the commands run, nothing is sent.
    let mut ex = ImExchange::new(1024);
    ex.handle(
        Instant::ZERO,
        &mut m,
        Opcode::INVOKE_REQUEST,
        &invoke_msg(&[(1, TEST_CLUSTER, ECHO, None, b"x")], true),
    );
    assert!(ex.poll_message().is_none());
    assert!(ex.is_done());
}

#[test]
fn single_path_invoke_response_golden_bytes() {
    // InvokeResponse {0: false, 1: [{0: {0: [0: 1, 1: 0xFFF1FC00, 2: 1], 1: {0: "hi"}}}],
    // 0xFF: 11} (Matter 1.3 §10.7.10, InvokeResponseIB §10.6.13).
    let mut m = test_model();
    let mut ex = ImExchange::new(1024);
    ex.handle(
        Instant::ZERO,
        &mut m,
        Opcode::INVOKE_REQUEST,
        &invoke_msg(&[(1, TEST_CLUSTER, ECHO, None, b"hi")], false),
    );
    assert_eq!(
        ex.poll_message().unwrap().payload,
        hex!(
            "15 28 00 36 01 15 35 00 37 00 24 00 01 26 01 00 fc f1 ff 24 02 01 18"
            "35 01 30 00 02 68 69 18 18 18 18 24 ff 0b 18"
        )
    );
}

#[test]
fn timed_chunked_write() {
    // TimedRequest {0: 500 ms}, then a chunked write whose chunks all carry TimedRequest true
    // (Matter 1.3 §8.7.2.3 / §8.6: the flag matches the interaction on every message).
    let timed = hex!("15 25 00 f4 01 24 ff 0b 18");
    let mut m = test_model();
    let mut ex = ImExchange::new(1024);
    ex.handle(Instant::ZERO, &mut m, Opcode::TIMED_REQUEST, &timed);
    assert_eq!(status_of(&ex.poll_message().unwrap()), Status::SUCCESS);
    let first = write_msg_timed(&[(list_path(None), None, u8_list(&[5]))], true, true);
    ex.handle(
        Instant::from_millis(400),
        &mut m,
        Opcode::WRITE_REQUEST,
        &first,
    );
    assert_eq!(
        write_statuses(&ex.poll_message().unwrap())[0].1,
        Status::SUCCESS
    );
    assert!(!ex.is_done());
    // The later chunk may come after the timed window: the window covers the first message.
    let second = write_msg_timed(
        &[(list_path(Some(None)), None, TlvValue::UInt(6))],
        false,
        true,
    );
    ex.handle(
        Instant::from_millis(900),
        &mut m,
        Opcode::WRITE_REQUEST,
        &second,
    );
    assert_eq!(
        write_statuses(&ex.poll_message().unwrap())[0].1,
        Status::SUCCESS
    );
    assert!(ex.is_done());
    assert_eq!(list_value(&m), vec![5, 6]);
    // A chunk that drops the flag mid-interaction: TIMED_REQUEST_MISMATCH.
    let mut ex = ImExchange::new(1024);
    ex.handle(Instant::ZERO, &mut m, Opcode::TIMED_REQUEST, &timed);
    let _ = ex.poll_message();
    ex.handle(Instant::ZERO, &mut m, Opcode::WRITE_REQUEST, &first);
    let _ = ex.poll_message();
    ex.handle(
        Instant::ZERO,
        &mut m,
        Opcode::WRITE_REQUEST,
        &write_msg_timed(
            &[(list_path(Some(None)), None, TlvValue::UInt(6))],
            false,
            false,
        ),
    );
    assert_eq!(
        status_of(&ex.poll_message().unwrap()),
        Status::TIMED_REQUEST_MISMATCH
    );
    assert!(ex.is_done());
}
