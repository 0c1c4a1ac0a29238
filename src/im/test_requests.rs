//! Test helpers (compiled for tests only): InvokeRequest and WriteRequest encoders and response
//! decoders, written from Matter 1.3 §10.7.9-10 and §10.7.4-5, for tests of the IM layer, the
//! clusters and the node.

use super::path::{CommandPath, ConcreteAttributePath};
use super::{Status, IM_REVISION_TAG, INTERACTION_MODEL_REVISION};
use crate::tlv::{Container, Tag, TlvError, TlvReader, TlvValue, TlvWriter};

/// Writes the members of a command's fields structure.
pub(crate) type Fields<'a> = &'a dyn Fn(&mut TlvWriter<'_>) -> Result<(), TlvError>;

/// InvokeRequestMessage with one command; `fields` writes the members of its CommandFields
/// structure (`None`: no fields element at all).
pub(crate) fn invoke(
    endpoint: u16,
    cluster: u32,
    command: u32,
    timed: bool,
    fields: Option<Fields<'_>>,
) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = TlvWriter::new(&mut buf);
    let r = (|| -> Result<(), TlvError> {
        w.start_struct(Tag::Anonymous)?;
        w.bool(Tag::Context(0), false)?;
        w.bool(Tag::Context(1), timed)?;
        w.start_array(Tag::Context(2))?;
        w.start_struct(Tag::Anonymous)?;
        w.start_list(Tag::Context(0))?;
        w.u16(Tag::Context(0), endpoint)?;
        w.u32(Tag::Context(1), cluster)?;
        w.u32(Tag::Context(2), command)?;
        w.end_container()?;
        if let Some(f) = fields {
            w.start_struct(Tag::Context(1))?;
            f(&mut w)?;
            w.end_container()?;
        }
        w.end_container()?;
        w.end_container()?;
        w.u8(Tag::Context(IM_REVISION_TAG), INTERACTION_MODEL_REVISION)?;
        w.end_container()
    })();
    r.expect("test request encodes");
    buf
}

/// What one InvokeResponseIB said.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum InvokeOutcome {
    /// CommandStatusIB: status and cluster status.
    Status(Status, Option<u8>),
    /// CommandDataIB: response command id and its fields.
    Response(u32, TlvValue),
}

impl InvokeOutcome {
    /// The response's field `tag` as an unsigned integer (ErrorCode and friends).
    pub(crate) fn uint_field(&self, tag: u8) -> Option<u64> {
        let Self::Response(_, TlvValue::Struct(fields)) = self else {
            return None;
        };
        fields.iter().find_map(|(t, v)| match (t, v) {
            (Tag::Context(n), TlvValue::UInt(x)) if *n == tag => Some(*x),
            _ => None,
        })
    }
}

/// The single InvokeResponseIB of an InvokeResponseMessage.
pub(crate) fn invoke_outcome(payload: &[u8]) -> InvokeOutcome {
    let s = TlvReader::new(payload)
        .read_struct()
        .expect("InvokeResponse");
    let ib: Container<'_> = s
        .array(1)
        .expect("InvokeResponses")
        .iter()
        .next()
        .expect("one response")
        .expect("valid")
        .value
        .decode()
        .expect("struct");
    if let Some(cs) = ib.opt_structure(1).expect("status") {
        let st = cs.structure(1).expect("StatusIB");
        return InvokeOutcome::Status(Status(st.u8(0).expect("status")), st.opt_u8(1).expect("cs"));
    }
    let data = ib.structure(0).expect("CommandDataIB");
    let path = CommandPath::parse(&data.list(0).expect("path")).expect("path");
    let fields = data.find(1).expect("fields").expect("fields present");
    InvokeOutcome::Response(
        path.command.expect("command id"),
        TlvValue::from_value(&fields.value).expect("value"),
    )
}

/// WriteRequestMessage with one AttributeDataIB; `value` writes the data under the given tag.
/// `append` sets ListIndex null (append one list entry).
pub(crate) fn write(
    p: ConcreteAttributePath,
    timed: bool,
    append: bool,
    data_version: Option<u32>,
    value: &dyn Fn(&mut TlvWriter<'_>, Tag) -> Result<(), TlvError>,
) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = TlvWriter::new(&mut buf);
    let r = (|| -> Result<(), TlvError> {
        w.start_struct(Tag::Anonymous)?;
        w.bool(Tag::Context(0), false)?;
        w.bool(Tag::Context(1), timed)?;
        w.start_array(Tag::Context(2))?;
        w.start_struct(Tag::Anonymous)?;
        if let Some(v) = data_version {
            w.u32(Tag::Context(0), v)?;
        }
        w.start_list(Tag::Context(1))?;
        w.u16(Tag::Context(2), p.endpoint)?;
        w.u32(Tag::Context(3), p.cluster)?;
        w.u32(Tag::Context(4), p.attribute)?;
        if append {
            w.null(Tag::Context(5))?;
        }
        w.end_container()?;
        value(&mut w, Tag::Context(2))?;
        w.end_container()?;
        w.end_container()?;
        w.u8(Tag::Context(IM_REVISION_TAG), INTERACTION_MODEL_REVISION)?;
        w.end_container()
    })();
    r.expect("test request encodes");
    buf
}

/// The status of the single AttributeStatusIB of a WriteResponseMessage.
pub(crate) fn write_status(payload: &[u8]) -> Status {
    let s = TlvReader::new(payload)
        .read_struct()
        .expect("WriteResponse");
    let ib: Container<'_> = s
        .array(0)
        .expect("WriteResponses")
        .iter()
        .next()
        .expect("one status")
        .expect("valid")
        .value
        .decode()
        .expect("struct");
    Status(ib.structure(1).expect("StatusIB").u8(0).expect("status"))
}
