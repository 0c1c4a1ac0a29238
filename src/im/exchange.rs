//! The Interaction Model state of one exchange, on the responder side (Matter 1.3 §8.2–§8.8):
//! which request it is serving, chunks still to send, and a pending timed interaction.

use std::collections::{BTreeSet, VecDeque};

use tracing::{debug, warn};

use super::messages::CommandData;
use super::messages::{
    write_status_ib, InvokeRequest, ReadRequest, StatusResponse, TimedRequest, WriteRequest,
};
use super::model::{
    DataModel, InvokeContext, InvokeResult, ReadScope, SessionContext, WriteContext,
};
use super::path::{AttributePath, CommandPath, ConcreteAttributePath};
use super::report::{Report, MIN_PAYLOAD};
use super::{ImError, Opcode, Status, IM_REVISION_TAG, INTERACTION_MODEL_REVISION};
use crate::time::{Duration, Instant};
use crate::tlv::{Tag, TlvError, TlvReader, TlvWriter, Value};

/// One message for the node to send on this exchange (protocol [`super::PROTOCOL_ID`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct ImMessage {
    /// IM opcode.
    pub opcode: Opcode,
    /// TLV payload (to be encrypted by the session layer).
    pub payload: Vec<u8>,
}

/// The Interaction Model side of one exchange, sans-IO.
///
/// Driving contract: after [`ImExchange::handle_message`] (kind B: input), drain
/// [`ImExchange::poll_message`] (kind D: output) and send each message on the exchange;
/// [`ImExchange::is_done`] (kind A) says the exchange needs nothing more and can be closed
/// (after the last message is sent and, over MRP, acknowledged).
///
/// Handled: ReadRequest -> ReportData (chunked: each chunk but the last sets
/// MoreChunkedMessages and waits for the peer's StatusResponse), WriteRequest -> WriteResponse,
/// InvokeRequest -> InvokeResponse, TimedRequest -> StatusResponse then the timed Write/Invoke.
/// Malformed or unexpected messages get a StatusResponse (INVALID_ACTION unless the spec names
/// another status) and end the exchange. A SubscribeRequest that opens an exchange belongs to
/// [`super::SubscriptionManager`] (the node routes it there); one reaching an `ImExchange` is
/// answered with a StatusResponse INVALID_ACTION.
#[derive(Debug)]
pub struct ImExchange {
    max_payload: usize,
    state: State,
    out: VecDeque<ImMessage>,
    /// Attributes written in this interaction (over all chunks).
    written: BTreeSet<ConcreteAttributePath>,
}

#[derive(Debug)]
enum State {
    /// Waiting for the request that opened the exchange.
    Idle,
    /// A TimedRequest was accepted; the Write or Invoke must arrive by `deadline`.
    Timed {
        deadline: Instant,
    },
    /// A chunk was sent; waiting for the peer's StatusResponse before the next.
    Reporting(Report),
    /// An InvokeResponse chunk was sent; the rest waits for the peer's StatusResponse.
    InvokeChunks(VecDeque<Vec<u8>>),
    /// A WriteResponse to a chunk was sent; the next WriteRequest chunk is awaited.
    WriteChunks {
        timed: bool,
    },
    Done,
}

/// Bytes of an InvokeResponse around its IBs: structure, SuppressResponse, array start and end,
/// MoreChunkedMessages, revision, end.
const INVOKE_FRAME: usize = 1 + 2 + 2 + 1 + 2 + 3 + 1;

impl ImExchange {
    /// A responder exchange whose outgoing messages carry at most `max_payload` bytes of IM
    /// payload (the transport's message limit minus headers and MIC; see
    /// [`ImExchange::DEFAULT_MAX_PAYLOAD`]).
    pub fn new(max_payload: usize) -> Self {
        Self {
            max_payload,
            state: State::Idle,
            out: VecDeque::new(),
            written: BTreeSet::new(),
        }
    }

    /// A conservative IM payload limit for one message: the 1280-byte IPv6 minimum MTU less
    /// IP/UDP headers, the Matter message and protocol headers and the 16-byte MIC, rounded down
    /// (the CHIP SDK's limit is about 1200 bytes). BTP carries the same message size.
    pub const DEFAULT_MAX_PAYLOAD: usize = 1024;

    /// Feeds one decrypted IM message received on this exchange; `session` says who sent it
    /// and lends the node's state.
    pub fn handle_message(
        &mut self,
        now: Instant,
        model: &mut DataModel,
        session: &mut SessionContext<'_>,
        opcode: Opcode,
        payload: &[u8],
    ) {
        debug!(?opcode, len = payload.len(), "IM message");
        let state = core::mem::replace(&mut self.state, State::Done);
        let result = match state {
            State::Done => {
                warn!(?opcode, "IM message on a finished exchange ignored");
                Ok(())
            }
            State::Reporting(report) => {
                self.on_chunk_status(now, model, session, opcode, payload, report)
            }
            State::InvokeChunks(ibs) => self.on_invoke_chunk_status(opcode, payload, ibs),
            State::WriteChunks { timed } => {
                if opcode == Opcode::WRITE_REQUEST {
                    self.on_write(now, model, session, payload, timed)
                } else {
                    Err(ImError::Refused {
                        what: "expected the next WriteRequest chunk",
                        status: Status::INVALID_ACTION,
                    })
                }
            }
            State::Idle => self.on_request(now, model, session, opcode, payload, false),
            State::Timed { deadline } => {
                if opcode != Opcode::INVOKE_REQUEST && opcode != Opcode::WRITE_REQUEST {
                    Err(ImError::Refused {
                        what: "timed interaction followed by neither Write nor Invoke",
                        status: Status::INVALID_ACTION,
                    })
                } else if now > deadline {
                    Err(ImError::Refused {
                        what: "timed request expired",
                        status: Status::TIMEOUT,
                    })
                } else {
                    self.on_request(now, model, session, opcode, payload, true)
                }
            }
        };
        if let Err(e) = result {
            warn!(error = %e, "IM request refused");
            self.send_status(e.status());
            self.state = State::Done;
        }
    }

    /// The next message to send on this exchange.
    #[must_use]
    pub fn poll_message(&mut self) -> Option<ImMessage> {
        self.out.pop_front()
    }

    /// True when the exchange expects nothing more from the peer and has nothing more to send
    /// once [`ImExchange::poll_message`] is drained.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn on_request(
        &mut self,
        now: Instant,
        model: &mut DataModel,
        session: &mut SessionContext<'_>,
        opcode: Opcode,
        payload: &[u8],
        timed: bool,
    ) -> Result<(), ImError> {
        match opcode {
            Opcode::READ_REQUEST => {
                let req = ReadRequest::parse(payload)?;
                if req.attribute_requests.is_empty() && req.event_requests.is_empty() {
                    // §8.4.3.2: a read with no paths at all is refused.
                    return Err(ImError::Refused {
                        what: "ReadRequest without paths",
                        status: Status::INVALID_ACTION,
                    });
                }
                let scope = ReadScope {
                    state: session.state,
                    subject: session.subject,
                    fabric_filtered: req.fabric_filtered,
                    now,
                };
                let report = Report::new(
                    model,
                    &scope,
                    &req.attribute_requests,
                    &req.data_version_filters,
                )?
                .with_event_paths(model, &req.event_requests);
                self.send_chunk(model, &scope, report);
                Ok(())
            }
            Opcode::INVOKE_REQUEST => self.on_invoke(now, model, session, payload, timed),
            Opcode::WRITE_REQUEST => self.on_write(now, model, session, payload, timed),
            Opcode::TIMED_REQUEST => {
                let t = TimedRequest::parse(payload)?;
                debug!(timeout_ms = t.timeout_ms, "timed interaction armed");
                self.send_status(Status::SUCCESS);
                self.state = State::Timed {
                    deadline: now + Duration::from_millis(u64::from(t.timeout_ms)),
                };
                Ok(())
            }
            Opcode::SUBSCRIBE_REQUEST => Err(ImError::Refused {
                what: "SubscribeRequest inside another interaction",
                status: Status::INVALID_ACTION,
            }),
            _ => Err(ImError::Refused {
                what: "unexpected opcode",
                status: Status::INVALID_ACTION,
            }),
        }
    }

    fn on_chunk_status(
        &mut self,
        now: Instant,
        model: &mut DataModel,
        session: &mut SessionContext<'_>,
        opcode: Opcode,
        payload: &[u8],
        report: Report,
    ) -> Result<(), ImError> {
        if opcode != Opcode::STATUS_RESPONSE {
            return Err(ImError::Refused {
                what: "expected StatusResponse between report chunks",
                status: Status::INVALID_ACTION,
            });
        }
        let s = StatusResponse::parse(payload)?;
        if s.status != Status::SUCCESS {
            // The peer aborted the read; nothing to answer (§8.2.2).
            debug!(status = ?s.status, "read aborted by peer");
            self.state = State::Done;
            return Ok(());
        }
        let scope = ReadScope {
            state: session.state,
            subject: session.subject,
            fabric_filtered: report.fabric_filtered(),
            now,
        };
        self.send_chunk(model, &scope, report);
        Ok(())
    }

    fn on_invoke_chunk_status(
        &mut self,
        opcode: Opcode,
        payload: &[u8],
        ibs: VecDeque<Vec<u8>>,
    ) -> Result<(), ImError> {
        if opcode != Opcode::STATUS_RESPONSE {
            return Err(ImError::Refused {
                what: "expected StatusResponse between InvokeResponse chunks",
                status: Status::INVALID_ACTION,
            });
        }
        if StatusResponse::parse(payload)?.status != Status::SUCCESS {
            debug!("invoke response aborted by peer");
            self.state = State::Done;
            return Ok(());
        }
        self.send_invoke_chunk(ibs);
        Ok(())
    }

    fn send_chunk(&mut self, model: &DataModel, scope: &ReadScope<'_>, mut report: Report) {
        let (payload, more) = report.next_chunk(model, scope, self.max_payload);
        self.out.push_back(ImMessage {
            opcode: Opcode::REPORT_DATA,
            payload,
        });
        self.state = if more {
            State::Reporting(report)
        } else {
            State::Done
        };
    }

    fn on_invoke(
        &mut self,
        now: Instant,
        model: &mut DataModel,
        session: &mut SessionContext<'_>,
        payload: &[u8],
        timed: bool,
    ) -> Result<(), ImError> {
        let req = InvokeRequest::parse(payload)?;
        if req.timed_request != timed {
            // §8.8.3.1: the flag must match whether a TimedRequest preceded.
            return Err(ImError::Refused {
                what: "InvokeRequest TimedRequest flag mismatch",
                status: Status::TIMED_REQUEST_MISMATCH,
            });
        }
        let scope = ReadScope {
            state: session.state,
            subject: session.subject,
            fabric_filtered: false,
            now,
        };
        validate_invoke_paths(&req, model.max_paths_per_invoke(&scope))?;
        // One InvokeResponseIB per command, in request order, each encoded on its own so the
        // response can be split between messages at IB boundaries.
        let mut ibs = VecDeque::new();
        for cmd in &req.invoke_requests {
            let ib = invoke_one(now, model, session, timed, cmd);
            let ib = if ib.len() + INVOKE_FRAME > self.max_payload.max(MIN_PAYLOAD) {
                // A response no message can carry (§8.8.4: the path gets a status instead).
                warn!(path = ?cmd.path, len = ib.len(), "command response too large");
                encode_ib(|w| {
                    write_command_status(
                        w,
                        &cmd.path,
                        Status::RESOURCE_EXHAUSTED,
                        None,
                        cmd.command_ref,
                    )
                })
            } else {
                ib
            };
            ibs.push_back(ib);
        }
        if req.suppress_response {
            // §8.8.2: no InvokeResponse at all; the exchange ends.
            debug!("InvokeRequest with SuppressResponse: no response");
            self.state = State::Done;
            return Ok(());
        }
        self.send_invoke_chunk(ibs);
        Ok(())
    }

    /// Sends as many InvokeResponseIBs as fit one message; with more left, MoreChunkedMessages
    /// is set and the client's StatusResponse asks for the next (§8.8.3.4).
    fn send_invoke_chunk(&mut self, mut ibs: VecDeque<Vec<u8>>) {
        let limit = self.max_payload.max(MIN_PAYLOAD);
        let mut body: Vec<u8> = Vec::new();
        while let Some(ib) = ibs.front() {
            if !body.is_empty() && body.len() + ib.len() + INVOKE_FRAME > limit {
                break;
            }
            if let Some(ib) = ibs.pop_front() {
                body.extend_from_slice(&ib);
            }
        }
        let more = !ibs.is_empty();
        // {0: SuppressResponse false, 1: [IBs], [2: MoreChunkedMessages], 0xFF: revision}
        let mut payload = Vec::with_capacity(body.len() + INVOKE_FRAME);
        payload.extend_from_slice(&[0x15, 0x28, 0x00, 0x36, 0x01]);
        payload.extend_from_slice(&body);
        payload.push(0x18);
        if more {
            payload.extend_from_slice(&[0x29, 0x02]);
        }
        payload.extend_from_slice(&[0x24, IM_REVISION_TAG, INTERACTION_MODEL_REVISION, 0x18]);
        debug!(len = payload.len(), more, "InvokeResponse");
        self.out.push_back(ImMessage {
            opcode: Opcode::INVOKE_RESPONSE,
            payload,
        });
        self.state = if more {
            State::InvokeChunks(ibs)
        } else {
            State::Done
        };
    }

    /// A WriteRequest, or one chunk of a chunked write (Matter 1.3 §8.7.3.2: with
    /// MoreChunkedMessages the WriteResponse asks for the next chunk on the same exchange). A
    /// list attribute written whole arrives as a replace-all (no ListIndex, an array) followed by
    /// items appended with ListIndex null, in the same or later chunks, as the CHIP SDK splits
    /// it (§10.6.4.3.1).
    fn on_write(
        &mut self,
        now: Instant,
        model: &mut DataModel,
        session: &mut SessionContext<'_>,
        payload: &[u8],
        timed: bool,
    ) -> Result<(), ImError> {
        let req = WriteRequest::parse(payload)?;
        if req.timed_request != timed {
            return Err(ImError::Refused {
                what: "WriteRequest TimedRequest flag mismatch",
                status: Status::TIMED_REQUEST_MISMATCH,
            });
        }
        let mut buf = Vec::new();
        let mut w = TlvWriter::new(&mut buf);
        let mut body = || -> Result<(), TlvError> {
            w.start_struct(Tag::Anonymous)?;
            w.start_array(Tag::Context(0))?;
            for d in &req.write_requests {
                let status = match (d.path.as_concrete(), d.path.list_index) {
                    (Some(p), None) => {
                        let mut ctx = WriteContext {
                            endpoint: p.endpoint,
                            state: &mut *session.state,
                            subject: session.subject,
                            now,
                            timed,
                        };
                        model.write_attribute(&mut ctx, p, d.data_version, &d.data)
                    }
                    (Some(p), Some(None)) => {
                        // The DataVersion of a list written in this interaction has moved with
                        // its own replace-all; the check belongs to that first write.
                        let version = d.data_version.filter(|_| !self.written.contains(&p));
                        let mut ctx = WriteContext {
                            endpoint: p.endpoint,
                            state: &mut *session.state,
                            subject: session.subject,
                            now,
                            timed,
                        };
                        model.append_attribute(&mut ctx, p, version, &d.data)
                    }
                    // Wildcard writes are for groups; ListIndex values other than null are
                    // reserved (§10.6.2).
                    _ => Status::INVALID_ACTION,
                };
                if let (Some(p), Status::SUCCESS) = (d.path.as_concrete(), status) {
                    self.written.insert(p);
                }
                debug!(path = ?d.path, ?status, "write");
                // AttributeStatusIB {0: path, 1: StatusIB}; an append keeps its ListIndex null.
                w.start_struct(Tag::Anonymous)?;
                match d.path.as_concrete() {
                    Some(p) => AttributePath {
                        list_index: d.path.list_index,
                        ..AttributePath::from(p)
                    }
                    .write(&mut w, Tag::Context(0))?,
                    None => d.path.write(&mut w, Tag::Context(0))?,
                }
                write_status_ib(&mut w, Tag::Context(1), status, None)?;
                w.end_container()?;
            }
            w.end_container()?;
            w.u8(Tag::Context(IM_REVISION_TAG), INTERACTION_MODEL_REVISION)?;
            w.end_container()
        };
        let _ = body();
        if req.more_chunked_messages {
            // Every chunk but the last is answered, SuppressResponse or not: the response is
            // what asks for the next chunk.
            debug!(paths = req.write_requests.len(), "write chunk; more follow");
            self.out.push_back(ImMessage {
                opcode: Opcode::WRITE_RESPONSE,
                payload: buf,
            });
            self.state = State::WriteChunks { timed };
            return Ok(());
        }
        if !req.suppress_response {
            self.out.push_back(ImMessage {
                opcode: Opcode::WRITE_RESPONSE,
                payload: buf,
            });
        }
        self.state = State::Done;
        Ok(())
    }

    fn send_status(&mut self, status: Status) {
        self.out.push_back(ImMessage {
            opcode: Opcode::STATUS_RESPONSE,
            payload: StatusResponse { status }.encode(),
        });
    }
}

/// InvokeResponseIB `{1: CommandStatusIB {0: path, 1: StatusIB, [2: ref]}}` (§10.6.14).
fn write_command_status(
    w: &mut TlvWriter<'_>,
    path: &CommandPath,
    status: Status,
    cluster_status: Option<u8>,
    command_ref: Option<u16>,
) -> Result<(), TlvError> {
    w.start_struct(Tag::Anonymous)?;
    w.start_struct(Tag::Context(1))?;
    path.write(w, Tag::Context(0))?;
    write_status_ib(w, Tag::Context(1), status, cluster_status)?;
    if let Some(r) = command_ref {
        w.u16(Tag::Context(2), r)?;
    }
    w.end_container()?;
    w.end_container()
}

/// The checks of Matter 1.3 §8.8.2 (Invoke Request Action) on the paths of an InvokeRequest,
/// which refuse the whole message with INVALID_ACTION: no paths, more than MaxPathsPerInvoke,
/// and, with more than one path, a missing or repeated CommandRef or a repeated path (the CHIP
/// SDK's `ValidateInvokeRequestMessageAndBuildRegistry` applies the same rules).
fn validate_invoke_paths(req: &InvokeRequest<'_>, max_paths: u16) -> Result<(), ImError> {
    let refuse = |what| ImError::Refused {
        what,
        status: Status::INVALID_ACTION,
    };
    let n = req.invoke_requests.len();
    if n == 0 {
        return Err(refuse("InvokeRequest without paths"));
    }
    if n > usize::from(max_paths.max(1)) {
        return Err(refuse("more paths than MaxPathsPerInvoke"));
    }
    if n == 1 {
        return Ok(());
    }
    let mut refs = std::collections::BTreeSet::new();
    let mut paths = std::collections::BTreeSet::new();
    for c in &req.invoke_requests {
        let Some(r) = c.command_ref else {
            return Err(refuse("CommandRef missing in a multi-path InvokeRequest"));
        };
        if !refs.insert(r) {
            return Err(refuse("CommandRef repeated"));
        }
        if !paths.insert((c.path.endpoint, c.path.cluster, c.path.command)) {
            return Err(refuse("command path repeated"));
        }
    }
    Ok(())
}

/// Runs one command and encodes its InvokeResponseIB.
fn invoke_one(
    now: Instant,
    model: &mut DataModel,
    session: &mut SessionContext<'_>,
    timed: bool,
    cmd: &CommandData<'_>,
) -> Vec<u8> {
    let (Some(endpoint), Some(cluster), Some(command)) =
        (cmd.path.endpoint, cmd.path.cluster, cmd.path.command)
    else {
        // Wildcards are for group commands only, which we do not receive.
        return encode_ib(|w| {
            write_command_status(w, &cmd.path, Status::INVALID_ACTION, None, cmd.command_ref)
        });
    };
    let mut ctx = InvokeContext {
        endpoint,
        now,
        timed,
        subject: session.subject,
        state: &mut *session.state,
        rng: &mut *session.rng,
        attestation_challenge: session.attestation_challenge,
    };
    let result = model.invoke(&mut ctx, cluster, command, cmd.fields);
    debug!(endpoint, cluster, command, ?result, "invoke");
    match result {
        InvokeResult::Status(s) => {
            encode_ib(|w| write_command_status(w, &cmd.path, s, None, cmd.command_ref))
        }
        InvokeResult::ClusterStatus(s, cs) => {
            encode_ib(|w| write_command_status(w, &cmd.path, s, Some(cs), cmd.command_ref))
        }
        InvokeResult::Response {
            command: rsp,
            fields,
        } => {
            let path = CommandPath {
                command: Some(rsp),
                ..cmd.path
            };
            match TlvReader::new(&fields).read_struct() {
                Ok(f) => encode_ib(|w| {
                    // InvokeResponseIB {0: CommandDataIB {0: path, 1: fields, [2: ref]}}
                    w.start_struct(Tag::Anonymous)?;
                    w.start_struct(Tag::Context(0))?;
                    path.write(w, Tag::Context(0))?;
                    w.value(Tag::Context(1), &Value::Struct(f))?;
                    if let Some(r) = cmd.command_ref {
                        w.u16(Tag::Context(2), r)?;
                    }
                    w.end_container()?;
                    w.end_container()
                }),
                Err(e) => {
                    warn!(error = %e, "cluster produced malformed response fields");
                    encode_ib(|w| {
                        write_command_status(w, &cmd.path, Status::FAILURE, None, cmd.command_ref)
                    })
                }
            }
        }
    }
}

/// Encodes one anonymous element with an unlimited writer (which fails only on unbalanced
/// containers, and the callers balance them).
fn encode_ib(f: impl FnOnce(&mut TlvWriter<'_>) -> Result<(), TlvError>) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = TlvWriter::new(&mut buf);
    let _ = f(&mut w);
    buf
}
