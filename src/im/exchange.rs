//! The Interaction Model state of one exchange, on the responder side (Matter 1.3 §8.2–§8.8):
//! which request it is serving, chunks still to send, and a pending timed interaction.

use std::collections::VecDeque;

use tracing::{debug, warn};

use super::messages::{
    write_status_ib, InvokeRequest, ReadRequest, StatusResponse, TimedRequest, WriteRequest,
};
use super::model::{DataModel, InvokeContext, InvokeResult};
use super::path::{CommandPath, ConcreteAttributePath};
use super::report::Report;
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
/// another status) and end the exchange. SubscribeRequest is answered with a StatusResponse
/// INVALID_ACTION: subscriptions are not implemented.
#[derive(Debug)]
pub struct ImExchange {
    max_payload: usize,
    state: State,
    out: VecDeque<ImMessage>,
    /// Attributes written successfully, for subscriptions (drained by the node).
    changes: Vec<ConcreteAttributePath>,
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
    Done,
}

/// Largest number of paths in one InvokeRequest we accept; matches the MaxPathsPerInvoke of
/// [`super::clusters::DeviceInfo::default`] (Matter 1.3 §8.8.2: more is INVALID_ACTION).
const MAX_PATHS_PER_INVOKE: usize = 1;

impl ImExchange {
    /// A responder exchange whose outgoing messages carry at most `max_payload` bytes of IM
    /// payload (the transport's message limit minus headers and MIC; see
    /// [`ImExchange::DEFAULT_MAX_PAYLOAD`]).
    pub fn new(max_payload: usize) -> Self {
        Self {
            max_payload,
            state: State::Idle,
            out: VecDeque::new(),
            changes: Vec::new(),
        }
    }

    /// A conservative IM payload limit for one message: the 1280-byte IPv6 minimum MTU less
    /// IP/UDP headers, the Matter message and protocol headers and the 16-byte MIC, rounded down
    /// (the CHIP SDK's limit is about 1200 bytes). BTP carries the same message size.
    pub const DEFAULT_MAX_PAYLOAD: usize = 1024;

    /// Feeds one decrypted IM message received on this exchange.
    pub fn handle_message(
        &mut self,
        now: Instant,
        model: &mut DataModel,
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
            State::Reporting(report) => self.on_chunk_status(model, opcode, payload, report),
            State::Idle => self.on_request(now, model, opcode, payload, false),
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
                    self.on_request(now, model, opcode, payload, true)
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

    /// The attributes this exchange has written successfully since the last call, so the node
    /// can tell subscriptions precisely what changed.
    pub fn take_changes(&mut self) -> Vec<ConcreteAttributePath> {
        core::mem::take(&mut self.changes)
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
                let report =
                    Report::new(model, &req.attribute_requests, &req.data_version_filters)?
                        .with_event_paths(model, &req.event_requests);
                self.send_chunk(model, report);
                Ok(())
            }
            Opcode::INVOKE_REQUEST => self.on_invoke(now, model, payload, timed),
            Opcode::WRITE_REQUEST => self.on_write(model, payload, timed),
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
                what: "SubscribeRequest (subscriptions not supported)",
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
        model: &mut DataModel,
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
        self.send_chunk(model, report);
        Ok(())
    }

    fn send_chunk(&mut self, model: &DataModel, mut report: Report) {
        let (payload, more) = report.next_chunk(model, self.max_payload);
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
        if req.invoke_requests.is_empty() || req.invoke_requests.len() > MAX_PATHS_PER_INVOKE {
            return Err(ImError::Refused {
                what: "number of invoke paths",
                status: Status::INVALID_ACTION,
            });
        }
        let mut buf = Vec::new();
        let mut w = TlvWriter::new(&mut buf);
        let mut body = || -> Result<(), TlvError> {
            w.start_struct(Tag::Anonymous)?;
            w.bool(Tag::Context(0), false)?;
            w.start_array(Tag::Context(1))?;
            for cmd in &req.invoke_requests {
                let (Some(endpoint), Some(cluster), Some(command)) =
                    (cmd.path.endpoint, cmd.path.cluster, cmd.path.command)
                else {
                    // Wildcards are for group commands only, which we do not receive.
                    write_command_status(
                        &mut w,
                        &cmd.path,
                        Status::INVALID_ACTION,
                        None,
                        cmd.command_ref,
                    )?;
                    continue;
                };
                let mut ctx = InvokeContext {
                    endpoint,
                    now,
                    timed,
                };
                let result = model.invoke(&mut ctx, cluster, command, cmd.fields);
                debug!(endpoint, cluster, command, ?result, "invoke");
                match result {
                    InvokeResult::Status(s) => {
                        write_command_status(&mut w, &cmd.path, s, None, cmd.command_ref)?
                    }
                    InvokeResult::ClusterStatus(s, cs) => {
                        write_command_status(&mut w, &cmd.path, s, Some(cs), cmd.command_ref)?
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
                            Ok(f) => {
                                // InvokeResponseIB {0: CommandDataIB {0: path, 1: fields, [2: ref]}}
                                w.start_struct(Tag::Anonymous)?;
                                w.start_struct(Tag::Context(0))?;
                                path.write(&mut w, Tag::Context(0))?;
                                w.value(Tag::Context(1), &Value::Struct(f))?;
                                if let Some(r) = cmd.command_ref {
                                    w.u16(Tag::Context(2), r)?;
                                }
                                w.end_container()?;
                                w.end_container()?;
                            }
                            Err(e) => {
                                warn!(error = %e, "cluster produced malformed response fields");
                                write_command_status(
                                    &mut w,
                                    &cmd.path,
                                    Status::FAILURE,
                                    None,
                                    cmd.command_ref,
                                )?;
                            }
                        }
                    }
                }
            }
            w.end_container()?;
            w.u8(Tag::Context(IM_REVISION_TAG), INTERACTION_MODEL_REVISION)?;
            w.end_container()
        };
        // Only unbalanced containers can fail an unlimited writer; `body` balances them.
        let _ = body();
        if !req.suppress_response {
            self.out.push_back(ImMessage {
                opcode: Opcode::INVOKE_RESPONSE,
                payload: buf,
            });
        }
        self.state = State::Done;
        Ok(())
    }

    fn on_write(
        &mut self,
        model: &mut DataModel,
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
        if req.more_chunked_messages {
            // Chunked writes carry list attributes too large for one message; none of our
            // writable attributes is a list.
            return Err(ImError::Refused {
                what: "chunked WriteRequest",
                status: Status::INVALID_ACTION,
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
                        let st = model.write_attribute(p, d.data_version, &d.data);
                        if st == Status::SUCCESS {
                            self.changes.push(p);
                        }
                        st
                    }
                    // Wildcard writes are for groups; list item writes need list attributes.
                    _ => Status::INVALID_ACTION,
                };
                debug!(path = ?d.path, ?status, "write");
                // AttributeStatusIB {0: path, 1: StatusIB}
                w.start_struct(Tag::Anonymous)?;
                match d.path.as_concrete() {
                    Some(p) => p.write(&mut w, Tag::Context(0))?,
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
