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
    /// True if EventRequests (tag 1) was present and non-empty (events are not supported).
    pub has_event_requests: bool,
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
        let mut attribute_requests = Vec::new();
        if let Some(a) = s.opt_array(0)? {
            for p in a.iter() {
                let p = p?;
                let list = p.value.decode::<Container<'_>>()?;
                attribute_requests.push(AttributePath::parse(&list)?);
            }
        }
        let has_event_requests = s.opt_array(1)?.is_some_and(|a| !a.is_empty());
        let mut data_version_filters = Vec::new();
        if let Some(a) = s.opt_array(4)? {
            for f in a.iter() {
                let f = f?.value.decode::<Container<'_>>()?;
                let path = f.list(0)?;
                data_version_filters.push((path.u16(1)?, path.u32(2)?, f.u32(1)?));
            }
        }
        Ok(Self {
            attribute_requests,
            has_event_requests,
            // Required by the spec, but the CHIP SDK tolerates its absence; so do we.
            fabric_filtered: s.opt_bool(3)?.unwrap_or(false),
            data_version_filters,
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
            if !self.data_version_filters.is_empty() {
                w.start_array(Tag::Context(4))?;
                for &(e, c, v) in &self.data_version_filters {
                    w.start_struct(Tag::Anonymous)?;
                    w.start_list(Tag::Context(0))?;
                    w.u16(Tag::Context(1), e)?;
                    w.u32(Tag::Context(2), c)?;
                    w.end_container()?;
                    w.u32(Tag::Context(1), v)?;
                    w.end_container()?;
                }
                w.end_container()?;
            }
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
