//! Codecs of the Interaction Model messages a responder receives and the small ones it sends
//! (Matter 1.3 §10.7, "Message Definitions"; information blocks in §10.6). ReportData is built
//! incrementally by `report.rs`, and InvokeResponse/WriteResponse by `exchange.rs`.

use super::path::{AttributePath, CommandPath};
use super::{ImError, Status, IM_REVISION_TAG, INTERACTION_MODEL_REVISION};
use crate::tlv::{Container, Tag, TlvError, TlvReader, TlvWriter, Value};

/// ReadRequestMessage (§10.7.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadRequest {
    /// AttributeRequests (tag 0).
    pub attribute_requests: Vec<AttributePath>,
    /// EventRequests (tag 1); this device has no events, so they only get statuses.
    pub event_requests: Vec<EventPath>,
    /// FabricFiltered (tag 3).
    pub fabric_filtered: bool,
    /// DataVersionFilters (tag 4): (endpoint, cluster, data version).
    pub data_version_filters: Vec<(u16, u32, u32)>,
}

impl ReadRequest {
    /// Parses a ReadRequest payload (exactly one anonymous structure).
    ///
    /// # Errors
    /// [`ImError::Malformed`] for bad TLV or a missing required field.
    pub fn parse(payload: &[u8]) -> Result<Self, ImError> {
        Self::parse_tlv(payload).map_err(ImError::malformed("ReadRequest"))
    }

    fn parse_tlv(payload: &[u8]) -> Result<Self, TlvError> {
        let s = TlvReader::new(payload).read_struct()?;
        Ok(Self {
            attribute_requests: parse_attribute_paths(s.opt_array(0)?)?,
            event_requests: parse_event_paths(s.opt_array(1)?)?,
            // Required by the spec, but the CHIP SDK tolerates its absence; so do we.
            fabric_filtered: s.opt_bool(3)?.unwrap_or(false),
            data_version_filters: parse_data_version_filters(s.opt_array(4)?)?,
        })
    }

    /// Encodes the request as a client would (for tests and a test commissioner).
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut w = TlvWriter::new(&mut buf);
        // Without a limit only unbalanced containers fail, and this code balances them.
        let _ = (|| -> Result<(), TlvError> {
            w.start_struct(Tag::Anonymous)?;
            w.start_array(Tag::Context(0))?;
            for p in &self.attribute_requests {
                p.write(&mut w, Tag::Anonymous)?;
            }
            w.end_container()?;
            if !self.event_requests.is_empty() {
                w.start_array(Tag::Context(1))?;
                for p in &self.event_requests {
                    p.write(&mut w, Tag::Anonymous)?;
                }
                w.end_container()?;
            }
            write_data_version_filters(&mut w, 4, &self.data_version_filters)?;
            w.bool(Tag::Context(3), self.fabric_filtered)?;
            w.u8(Tag::Context(IM_REVISION_TAG), INTERACTION_MODEL_REVISION)?;
            w.end_container()
        })();
        buf
    }
}

/// StatusResponseMessage (§10.7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusResponse {
    /// Status (tag 0).
    pub status: Status,
}

impl StatusResponse {
    /// Parses a StatusResponse payload.
    ///
    /// # Errors
    /// [`ImError::Malformed`].
    pub fn parse(payload: &[u8]) -> Result<Self, ImError> {
        let s = TlvReader::new(payload)
            .read_struct()
            .and_then(|s| s.u8(0))
            .map_err(ImError::malformed("StatusResponse"))?;
        Ok(Self { status: Status(s) })
    }

    /// Encodes `{0: status, 0xFF: revision}`.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(8);
        let mut w = TlvWriter::new(&mut buf);
        let _ = (|| -> Result<(), TlvError> {
            w.start_struct(Tag::Anonymous)?;
            w.u8(Tag::Context(0), self.status.0)?;
            w.u8(Tag::Context(IM_REVISION_TAG), INTERACTION_MODEL_REVISION)?;
            w.end_container()
        })();
        buf
    }
}

/// TimedRequestMessage (§10.7.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimedRequest {
    /// Timeout (tag 0), milliseconds.
    pub timeout_ms: u16,
}

impl TimedRequest {
    /// Parses a TimedRequest payload.
    ///
    /// # Errors
    /// [`ImError::Malformed`].
    pub fn parse(payload: &[u8]) -> Result<Self, ImError> {
        let t = TlvReader::new(payload)
            .read_struct()
            .and_then(|s| s.u16(0))
            .map_err(ImError::malformed("TimedRequest"))?;
        Ok(Self { timeout_ms: t })
    }
}

/// One CommandDataIB of an InvokeRequest (§10.6.12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandData<'a> {
    /// CommandPath (tag 0).
    pub path: CommandPath,
    /// CommandFields (tag 1), a structure, if present.
    pub fields: Option<Container<'a>>,
    /// CommandRef (tag 2), echoed in the response when present.
    pub command_ref: Option<u16>,
}

/// InvokeRequestMessage (§10.7.9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvokeRequest<'a> {
    /// SuppressResponse (tag 0).
    pub suppress_response: bool,
    /// TimedRequest (tag 1): the client says this follows a TimedRequest.
    pub timed_request: bool,
    /// InvokeRequests (tag 2).
    pub invoke_requests: Vec<CommandData<'a>>,
}

impl<'a> InvokeRequest<'a> {
    /// Parses an InvokeRequest payload; command fields stay borrowed.
    ///
    /// # Errors
    /// [`ImError::Malformed`].
    pub fn parse(payload: &'a [u8]) -> Result<Self, ImError> {
        Self::parse_tlv(payload).map_err(ImError::malformed("InvokeRequest"))
    }

    fn parse_tlv(payload: &'a [u8]) -> Result<Self, TlvError> {
        let s = TlvReader::new(payload).read_struct()?;
        let mut invoke_requests = Vec::new();
        for c in s.array(2)?.iter() {
            let c = c?.value.decode::<Container<'a>>()?;
            invoke_requests.push(CommandData {
                path: CommandPath::parse(&c.list(0)?)?,
                fields: c.opt_structure(1)?,
                command_ref: c.opt_u16(2)?,
            });
        }
        Ok(Self {
            suppress_response: s.opt_bool(0)?.unwrap_or(false),
            timed_request: s.opt_bool(1)?.unwrap_or(false),
            invoke_requests,
        })
    }
}

/// One AttributeDataIB of a WriteRequest (§10.6.4).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WriteData<'a> {
    /// DataVersion (tag 0), if the client asked for a version check.
    pub data_version: Option<u32>,
    /// Path (tag 1).
    pub path: AttributePath,
    /// Data (tag 2).
    pub data: Value<'a>,
}

/// WriteRequestMessage (§10.7.6).
#[derive(Clone, Debug, PartialEq)]
pub struct WriteRequest<'a> {
    /// SuppressResponse (tag 0).
    pub suppress_response: bool,
    /// TimedRequest (tag 1).
    pub timed_request: bool,
    /// WriteRequests (tag 2).
    pub write_requests: Vec<WriteData<'a>>,
    /// MoreChunkedMessages (tag 3).
    pub more_chunked_messages: bool,
}

impl<'a> WriteRequest<'a> {
    /// Parses a WriteRequest payload; data stays borrowed.
    ///
    /// # Errors
    /// [`ImError::Malformed`].
    pub fn parse(payload: &'a [u8]) -> Result<Self, ImError> {
        Self::parse_tlv(payload).map_err(ImError::malformed("WriteRequest"))
    }

    fn parse_tlv(payload: &'a [u8]) -> Result<Self, TlvError> {
        let s = TlvReader::new(payload).read_struct()?;
        let mut write_requests = Vec::new();
        for d in s.array(2)?.iter() {
            let d = d?.value.decode::<Container<'a>>()?;
            write_requests.push(WriteData {
                data_version: d.opt_u32(0)?,
                path: AttributePath::parse(&d.list(1)?)?,
                data: d.get::<Value<'a>>(2)?,
            });
        }
        Ok(Self {
            suppress_response: s.opt_bool(0)?.unwrap_or(false),
            timed_request: s.opt_bool(1)?.unwrap_or(false),
            write_requests,
            more_chunked_messages: s.opt_bool(3)?.unwrap_or(false),
        })
    }
}

/// Writes a StatusIB `{0: status, [1: cluster status]}` under `tag` (§10.6.17).
pub(crate) fn write_status_ib(
    w: &mut TlvWriter<'_>,
    tag: Tag,
    status: Status,
    cluster_status: Option<u8>,
) -> Result<(), TlvError> {
    w.start_struct(tag)?;
    w.u8(Tag::Context(0), status.0)?;
    if let Some(cs) = cluster_status {
        w.u8(Tag::Context(1), cs)?;
    }
    w.end_container()
}

/// An EventPathIB (Matter 1.3 §10.6.8, a list `{0: node, 1: endpoint, 2: cluster, 3: event,
/// 4: is urgent}`); an absent field is a wildcard. This device has no events, so these paths
/// only ever get statuses (see `report.rs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventPath {
    /// Node (tag 0).
    pub node: Option<u64>,
    /// Endpoint (tag 1).
    pub endpoint: Option<u16>,
    /// Cluster (tag 2).
    pub cluster: Option<u32>,
    /// Event (tag 3).
    pub event: Option<u32>,
    /// IsUrgent (tag 4).
    pub is_urgent: bool,
}

impl EventPath {
    /// Parses an EventPathIB.
    ///
    /// # Errors
    /// A TLV error.
    pub fn parse(c: &Container<'_>) -> Result<Self, TlvError> {
        Ok(Self {
            node: c.opt_u64(0)?,
            endpoint: c.opt_u16(1)?,
            cluster: c.opt_u32(2)?,
            event: c.opt_u32(3)?,
            is_urgent: c.opt_bool(4)?.unwrap_or(false),
        })
    }

    /// Writes the path under `tag`, omitting wildcard fields and a false IsUrgent.
    ///
    /// # Errors
    /// [`TlvError::BufferFull`] from a limited writer.
    pub fn write(&self, w: &mut TlvWriter<'_>, tag: Tag) -> Result<(), TlvError> {
        w.start_list(tag)?;
        if let Some(n) = self.node {
            w.u64(Tag::Context(0), n)?;
        }
        if let Some(e) = self.endpoint {
            w.u16(Tag::Context(1), e)?;
        }
        if let Some(c) = self.cluster {
            w.u32(Tag::Context(2), c)?;
        }
        if let Some(e) = self.event {
            w.u32(Tag::Context(3), e)?;
        }
        if self.is_urgent {
            w.bool(Tag::Context(4), true)?;
        }
        w.end_container()
    }
}

fn parse_attribute_paths(a: Option<Container<'_>>) -> Result<Vec<AttributePath>, TlvError> {
    let mut out = Vec::new();
    if let Some(a) = a {
        for p in a.iter() {
            let list = p?.value.decode::<Container<'_>>()?;
            out.push(AttributePath::parse(&list)?);
        }
    }
    Ok(out)
}

fn parse_event_paths(a: Option<Container<'_>>) -> Result<Vec<EventPath>, TlvError> {
    let mut out = Vec::new();
    if let Some(a) = a {
        for p in a.iter() {
            let list = p?.value.decode::<Container<'_>>()?;
            out.push(EventPath::parse(&list)?);
        }
    }
    Ok(out)
}

/// DataVersionFilterIBs: `{0: ClusterPathIB {0 node, 1 endpoint, 2 cluster}, 1: version}`.
fn parse_data_version_filters(a: Option<Container<'_>>) -> Result<Vec<(u16, u32, u32)>, TlvError> {
    let mut out = Vec::new();
    if let Some(a) = a {
        for f in a.iter() {
            let f = f?.value.decode::<Container<'_>>()?;
            let path = f.list(0)?;
            out.push((path.u16(1)?, path.u32(2)?, f.u32(1)?));
        }
    }
    Ok(out)
}

fn write_data_version_filters(
    w: &mut TlvWriter<'_>,
    tag: u8,
    filters: &[(u16, u32, u32)],
) -> Result<(), TlvError> {
    if filters.is_empty() {
        return Ok(());
    }
    w.start_array(Tag::Context(tag))?;
    for &(e, c, v) in filters {
        w.start_struct(Tag::Anonymous)?;
        w.start_list(Tag::Context(0))?;
        w.u16(Tag::Context(1), e)?;
        w.u32(Tag::Context(2), c)?;
        w.end_container()?;
        w.u32(Tag::Context(1), v)?;
        w.end_container()?;
    }
    w.end_container()
}

/// SubscribeRequestMessage (Matter 1.3 §10.7.4).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubscribeRequest {
    /// KeepSubscriptions (tag 0): false cancels the subscriber's earlier subscriptions.
    pub keep_subscriptions: bool,
    /// MinIntervalFloor (tag 1), seconds.
    pub min_interval_floor: u16,
    /// MaxIntervalCeiling (tag 2), seconds.
    pub max_interval_ceiling: u16,
    /// AttributeRequests (tag 3).
    pub attribute_requests: Vec<AttributePath>,
    /// EventRequests (tag 4).
    pub event_requests: Vec<EventPath>,
    /// IsFabricFiltered (tag 7).
    pub fabric_filtered: bool,
    /// DataVersionFilters (tag 8): (endpoint, cluster, data version).
    pub data_version_filters: Vec<(u16, u32, u32)>,
}

impl SubscribeRequest {
    /// Parses a SubscribeRequest payload. EventFilters (tag 5) are skipped: there are no events.
    ///
    /// # Errors
    /// [`ImError::Malformed`] for bad TLV or a missing required field.
    pub fn parse(payload: &[u8]) -> Result<Self, ImError> {
        Self::parse_tlv(payload).map_err(ImError::malformed("SubscribeRequest"))
    }

    fn parse_tlv(payload: &[u8]) -> Result<Self, TlvError> {
        let s = TlvReader::new(payload).read_struct()?;
        Ok(Self {
            // Tags 0, 1 and 2 are required (§10.7.4); the CHIP SDK refuses a request without them.
            keep_subscriptions: s.bool(0)?,
            min_interval_floor: s.u16(1)?,
            max_interval_ceiling: s.u16(2)?,
            attribute_requests: parse_attribute_paths(s.opt_array(3)?)?,
            event_requests: parse_event_paths(s.opt_array(4)?)?,
            // Required too, but tolerated when absent as in ReadRequest.
            fabric_filtered: s.opt_bool(7)?.unwrap_or(false),
            data_version_filters: parse_data_version_filters(s.opt_array(8)?)?,
        })
    }

    /// Encodes the request as a subscriber would (for tests and the test commissioner), in the
    /// CHIP SDK's field order.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut w = TlvWriter::new(&mut buf);
        let _ = (|| -> Result<(), TlvError> {
            w.start_struct(Tag::Anonymous)?;
            w.bool(Tag::Context(0), self.keep_subscriptions)?;
            w.u16(Tag::Context(1), self.min_interval_floor)?;
            w.u16(Tag::Context(2), self.max_interval_ceiling)?;
            if !self.attribute_requests.is_empty() {
                w.start_array(Tag::Context(3))?;
                for p in &self.attribute_requests {
                    p.write(&mut w, Tag::Anonymous)?;
                }
                w.end_container()?;
            }
            if !self.event_requests.is_empty() {
                w.start_array(Tag::Context(4))?;
                for p in &self.event_requests {
                    p.write(&mut w, Tag::Anonymous)?;
                }
                w.end_container()?;
            }
            w.bool(Tag::Context(7), self.fabric_filtered)?;
            write_data_version_filters(&mut w, 8, &self.data_version_filters)?;
            w.u8(Tag::Context(IM_REVISION_TAG), INTERACTION_MODEL_REVISION)?;
            w.end_container()
        })();
        buf
    }
}

/// SubscribeResponseMessage (Matter 1.3 §10.7.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubscribeResponse {
    /// SubscriptionId (tag 0).
    pub subscription_id: u32,
    /// MaxInterval (tag 2), seconds (tag 1, the old MinIntervalFloor, is gone since 1.0).
    pub max_interval: u16,
}

impl SubscribeResponse {
    /// Parses a SubscribeResponse payload.
    ///
    /// # Errors
    /// [`ImError::Malformed`].
    pub fn parse(payload: &[u8]) -> Result<Self, ImError> {
        (|| -> Result<Self, TlvError> {
            let s = TlvReader::new(payload).read_struct()?;
            Ok(Self {
                subscription_id: s.u32(0)?,
                max_interval: s.u16(2)?,
            })
        })()
        .map_err(ImError::malformed("SubscribeResponse"))
    }

    /// Encodes `{0: id, 2: max interval, 0xFF: revision}`.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(16);
        let mut w = TlvWriter::new(&mut buf);
        let _ = (|| -> Result<(), TlvError> {
            w.start_struct(Tag::Anonymous)?;
            w.u32(Tag::Context(0), self.subscription_id)?;
            w.u16(Tag::Context(2), self.max_interval)?;
            w.u8(Tag::Context(IM_REVISION_TAG), INTERACTION_MODEL_REVISION)?;
            w.end_container()
        })();
        buf
    }
}
