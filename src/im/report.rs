//! Building ReportData for a read (Matter 1.3 §8.4.3 "Read Interaction", §10.7.3
//! ReportDataMessage): path expansion, DataVersion filtering and chunking to a payload limit.
//! A list attribute too large for one message is sent as a first part followed by entries
//! appended with ListIndex null, as the CHIP SDK does.

use std::collections::VecDeque;

use tracing::{debug, warn};

use super::messages::{write_status_ib, EventPath};
use super::model::{global, AttrError, DataModel, ReadScope};
use super::path::{wildcard_flags as wf, AttributePath, ConcreteAttributePath};
use super::{ImError, Status, IM_REVISION_TAG, INTERACTION_MODEL_REVISION};
use crate::tlv::{Tag, TlvError, TlvReader, TlvWriter, Value};

/// One entry of a report: a value to read, a status for a concrete path, or the rest of a list
/// attribute too large for one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ReportItem {
    Data(ConcreteAttributePath),
    Status(ConcreteAttributePath, Status),
    /// One list entry to append (ListIndex null), read at DataVersion `version`.
    ListAppend {
        path: ConcreteAttributePath,
        version: u32,
        entry: Vec<u8>,
    },
}

/// Bytes the end of a ReportData needs after the last report: end of the AttributeReports array
/// (1), MoreChunkedMessages or SuppressResponse (2), InteractionModelRevision (3), end of the
/// message structure (1).
const TRAILER: usize = 7;

/// The reports still to send for one read interaction, or for one report of a subscription.
#[derive(Debug)]
pub(crate) struct Report {
    items: VecDeque<ReportItem>,
    /// EventStatusIBs for concrete event paths (this device has no events).
    events: VecDeque<(EventPath, Status)>,
    /// SubscriptionId (tag 0) for the reports of a subscription; `None` for a read.
    subscription: Option<u32>,
    fabric_filtered: bool,
}

impl Report {
    /// Expands the requested paths in request order: a concrete path yields its value or the
    /// status of its outermost missing element, then UNSUPPORTED_ACCESS if the subject may not
    /// read it; a wildcard yields every existing match the subject may read and is silent about
    /// the rest, paths without access included (Matter 1.3 §8.4.3.2, "Incoming Read Request
    /// Action"; existence is checked before access, as in the CHIP SDK).
    pub(crate) fn new(
        model: &DataModel,
        scope: &ReadScope<'_>,
        paths: &[AttributePath],
        filters: &[(u16, u32, u32)],
    ) -> Result<Self, ImError> {
        let mut items = VecDeque::new();
        for p in paths {
            expand(model, scope, p, filters, &mut items)?;
        }
        debug!(paths = paths.len(), items = items.len(), "read expanded");
        Ok(Self {
            items,
            events: VecDeque::new(),
            subscription: None,
            fabric_filtered: scope.fabric_filtered,
        })
    }

    /// A report with nothing in it (a keep-alive).
    pub(crate) fn empty(fabric_filtered: bool) -> Self {
        Self {
            items: VecDeque::new(),
            events: VecDeque::new(),
            subscription: None,
            fabric_filtered,
        }
    }

    /// The request's FabricFiltered flag (later chunks are read with it too).
    pub(crate) fn fabric_filtered(&self) -> bool {
        self.fabric_filtered
    }

    /// Adds the statuses the event paths of the request get. This device has no events: a
    /// concrete event path gets the status of its outermost missing element, or UNSUPPORTED_EVENT
    /// for an existing cluster; a wildcard event path matches nothing and is silent. This is the
    /// CHIP SDK's behaviour (its `CheckEventSupportStatus` for concrete event paths, reported as
    /// EventStatusIBs; wildcards skipped), following Matter 1.3 §8.4.3.2 for event paths.
    pub(crate) fn with_event_paths(mut self, model: &DataModel, paths: &[EventPath]) -> Self {
        for p in paths {
            let (Some(ep), Some(cl), Some(_)) = (p.endpoint, p.cluster, p.event) else {
                continue;
            };
            let status = match model.endpoint(ep) {
                None => Status::UNSUPPORTED_ENDPOINT,
                Some(_) if model.cluster(ep, cl).is_none() => Status::UNSUPPORTED_CLUSTER,
                Some(_) => Status::UNSUPPORTED_EVENT,
            };
            self.events.push_back((*p, status));
        }
        self
    }

    /// Makes this the report of subscription `id`: every chunk carries SubscriptionId and none
    /// sets SuppressResponse, so the subscriber answers each one (Matter 1.3 §8.5; the CHIP SDK
    /// sets SuppressResponse only on the last chunk of a Read).
    pub(crate) fn for_subscription(mut self, id: u32) -> Self {
        self.subscription = Some(id);
        self
    }

    /// Keeps only the attribute data items `keep` selects (a subscription's change report is
    /// the subscribed paths restricted to what changed); statuses and event statuses go.
    pub(crate) fn retain_data(&mut self, mut keep: impl FnMut(ConcreteAttributePath) -> bool) {
        self.items.retain(|i| match i {
            ReportItem::Data(p) => keep(*p),
            _ => false,
        });
        self.events.clear();
    }

    /// The concrete attribute paths this report will carry data for.
    pub(crate) fn data_paths(&self) -> impl Iterator<Item = ConcreteAttributePath> + '_ {
        self.items.iter().filter_map(|i| match i {
            ReportItem::Data(p) => Some(*p),
            _ => None,
        })
    }

    /// True if nothing is left to report.
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty() && self.events.is_empty()
    }

    /// Encodes the next ReportData, at most `max_payload` bytes (at least [`MIN_PAYLOAD`]), and
    /// whether more follow.
    pub(crate) fn next_chunk(
        &mut self,
        model: &DataModel,
        scope: &ReadScope<'_>,
        max_payload: usize,
    ) -> (Vec<u8>, bool) {
        let max_payload = max_payload.max(MIN_PAYLOAD);
        let mut buf = Vec::with_capacity(max_payload.min(2048));
        let mut w = TlvWriter::with_limit(&mut buf, max_payload - TRAILER);
        let mut sent = 0usize;
        // MIN_PAYLOAD leaves room for these 3 bytes, so they cannot fail; if they did, the
        // message below would still be closed without the limit.
        let _ = w
            .start_struct(Tag::Anonymous)
            .and_then(|()| match self.subscription {
                Some(id) => w.u32(Tag::Context(0), id),
                None => Ok(()),
            });
        let _ = w.start_array(Tag::Context(1));
        while let Some(item) = self.items.front() {
            let cp = w.checkpoint();
            let path = item.path();
            let r = match write_item(model, scope, item, &mut w) {
                Err(ItemError::Status(s)) => {
                    w.rollback(cp);
                    write_item(model, scope, &ReportItem::Status(path, s), &mut w)
                }
                Err(ItemError::Tlv(TlvError::BufferFull))
                    if sent == 0 && matches!(item, ReportItem::Data(_)) =>
                {
                    // Too large for any message: a list goes out as a first part plus
                    // appended entries (Matter 1.3 §10.6.4.3.1, "Lists").
                    w.rollback(cp);
                    match split_list(model, scope, path, &mut w) {
                        Some(rest) => {
                            self.items.pop_front();
                            for entry in rest.into_iter().rev() {
                                self.items.push_front(entry);
                            }
                            sent += 1;
                            continue;
                        }
                        None => Err(ItemError::Tlv(TlvError::BufferFull)),
                    }
                }
                other => other,
            };
            match r {
                Ok(()) => {
                    self.items.pop_front();
                    sent += 1;
                }
                Err(ItemError::Tlv(TlvError::BufferFull)) if sent > 0 => {
                    w.rollback(cp);
                    break;
                }
                Err(e) => {
                    // Does not fit even an empty message (or failed otherwise): report
                    // RESOURCE_EXHAUSTED for the path rather than stall the read. A status
                    // report always fits MIN_PAYLOAD.
                    w.rollback(cp);
                    warn!(?path, error = ?e, "attribute does not fit a report");
                    let st = ReportItem::Status(path, Status::RESOURCE_EXHAUSTED);
                    if write_item(model, scope, &st, &mut w).is_err() {
                        w.rollback(cp);
                    }
                    self.items.pop_front();
                    sent += 1;
                }
            }
        }
        // Event statuses follow once every attribute report is out, in their own array.
        w.set_limit(None);
        let _ = w.end_container();
        if self.items.is_empty() && !self.events.is_empty() {
            // Room for the rest of the trailer (6 bytes) and the end of this array (1).
            w.set_limit(Some((max_payload - TRAILER).max(w.written())));
            let cp = w.checkpoint();
            let mut n = 0usize;
            if w.start_array(Tag::Context(2)).is_ok() {
                while let Some((p, st)) = self.events.front() {
                    let before = w.checkpoint();
                    if write_event_status(&mut w, p, *st).is_err() {
                        w.rollback(before);
                        break;
                    }
                    self.events.pop_front();
                    n += 1;
                }
            }
            w.set_limit(None);
            if n == 0 {
                w.rollback(cp);
                if sent == 0 {
                    // Cannot happen with MIN_PAYLOAD; never stall on a status that cannot fit.
                    self.events.clear();
                }
            } else {
                let _ = w.end_container();
            }
            sent += n;
        }
        let more = !self.is_empty();
        let _ = close(&mut w, more, self.subscription.is_some());
        debug!(reports = sent, more, len = buf.len(), "ReportData chunk");
        (buf, more)
    }
}

/// The smallest payload limit honoured: room for the message frame and one status report.
pub(crate) const MIN_PAYLOAD: usize = 64;

impl ReportItem {
    fn path(&self) -> ConcreteAttributePath {
        match self {
            Self::Data(p) | Self::Status(p, _) | Self::ListAppend { path: p, .. } => *p,
        }
    }
}

/// Writes the first part of list attribute `p` (as many entries as fit) and returns the other
/// entries as append items; `None` if `p` is not a list or nothing fits.
fn split_list(
    model: &DataModel,
    scope: &ReadScope<'_>,
    p: ConcreteAttributePath,
    w: &mut TlvWriter<'_>,
) -> Option<Vec<ReportItem>> {
    let mut scratch = Vec::new();
    model
        .read_attribute(scope, p, &mut TlvWriter::new(&mut scratch), Tag::Anonymous)
        .ok()?;
    let Ok(Value::Array(list)) = TlvReader::new(&scratch).read_element().map(|e| e.value) else {
        return None;
    };
    let version = model.data_version(p.endpoint, p.cluster).unwrap_or(0);
    let cp = w.checkpoint();
    let saved = w.limit();
    let mut first = || -> Result<usize, TlvError> {
        w.start_struct(Tag::Anonymous)?;
        w.start_struct(Tag::Context(1))?;
        w.u32(Tag::Context(0), version)?;
        p.write(w, Tag::Context(1))?;
        w.start_array(Tag::Context(2))?;
        // Keep room for closing the array and both structures.
        w.set_limit(saved.map(|l| l.saturating_sub(3)));
        let mut n = 0;
        for e in list.iter() {
            let e = e?;
            let before = w.checkpoint();
            if w.element(&e).is_err() {
                w.rollback(before);
                break;
            }
            n += 1;
        }
        w.set_limit(saved);
        w.end_container()?;
        w.end_container()?;
        w.end_container()?;
        Ok(n)
    };
    let result = first();
    w.set_limit(saved);
    let n = match result {
        Ok(n) => n,
        Err(_) => {
            w.rollback(cp);
            return None;
        }
    };
    let mut rest = Vec::new();
    for e in list.iter().skip(n) {
        let e = e.ok()?;
        let mut entry = Vec::new();
        TlvWriter::new(&mut entry)
            .value(Tag::Anonymous, &e.value)
            .ok()?;
        rest.push(ReportItem::ListAppend {
            path: p,
            version,
            entry,
        });
    }
    debug!(
        ?p,
        first = n,
        appended = rest.len(),
        "list attribute split across reports"
    );
    Some(rest)
}

#[derive(Debug)]
enum ItemError {
    /// The cluster refused the read with this status.
    Status(Status),
    Tlv(TlvError),
}

impl From<TlvError> for ItemError {
    fn from(e: TlvError) -> Self {
        Self::Tlv(e)
    }
}

/// Closes a ReportData whose AttributeReports (and EventReports) are already closed.
fn close(w: &mut TlvWriter<'_>, more: bool, subscription: bool) -> Result<(), TlvError> {
    if more {
        w.bool(Tag::Context(3), true)?;
    } else if !subscription {
        // The last report of a read asks for no StatusResponse (§8.4.3.3); subscription reports
        // always want one (§8.5.2), keep-alives included, as the CHIP SDK does.
        w.bool(Tag::Context(4), true)?;
    }
    w.u8(Tag::Context(IM_REVISION_TAG), INTERACTION_MODEL_REVISION)?;
    w.end_container()
}

/// AttributeReportIB: `{1: AttributeDataIB {0: version, 1: path, 2: data}}` or
/// `{0: AttributeStatusIB {0: path, 1: StatusIB}}` (§10.6.5).
fn write_item(
    model: &DataModel,
    scope: &ReadScope<'_>,
    item: &ReportItem,
    w: &mut TlvWriter<'_>,
) -> Result<(), ItemError> {
    match item {
        ReportItem::ListAppend {
            path,
            version,
            entry,
        } => {
            let value = TlvReader::new(entry)
                .read_element()
                .map_err(ItemError::Tlv)?
                .value;
            w.start_struct(Tag::Anonymous)?;
            w.start_struct(Tag::Context(1))?;
            w.u32(Tag::Context(0), *version)?;
            AttributePath {
                list_index: Some(None),
                ..AttributePath::from(*path)
            }
            .write(w, Tag::Context(1))?;
            w.value(Tag::Context(2), &value)?;
            w.end_container()?;
            Ok(w.end_container()?)
        }
        &ReportItem::Data(p) => {
            let version = model.data_version(p.endpoint, p.cluster).unwrap_or(0);
            w.start_struct(Tag::Anonymous)?;
            w.start_struct(Tag::Context(1))?;
            w.u32(Tag::Context(0), version)?;
            p.write(w, Tag::Context(1))?;
            model
                .read_attribute(scope, p, w, Tag::Context(2))
                .map_err(|e| match e {
                    AttrError::Tlv(e) => ItemError::Tlv(e),
                    AttrError::Status(s) => ItemError::Status(s),
                })?;
            w.end_container()?;
            Ok(w.end_container()?)
        }
        &ReportItem::Status(p, s) => {
            w.start_struct(Tag::Anonymous)?;
            w.start_struct(Tag::Context(0))?;
            p.write(w, Tag::Context(0))?;
            write_status_ib(w, Tag::Context(1), s, None)?;
            w.end_container()?;
            Ok(w.end_container()?)
        }
    }
}

/// EventReportIB `{0: EventStatusIB {0: EventPathIB, 1: StatusIB}}` (§10.6.9, §10.6.10).
fn write_event_status(w: &mut TlvWriter<'_>, p: &EventPath, s: Status) -> Result<(), TlvError> {
    w.start_struct(Tag::Anonymous)?;
    w.start_struct(Tag::Context(0))?;
    p.write(w, Tag::Context(0))?;
    write_status_ib(w, Tag::Context(1), s, None)?;
    w.end_container()?;
    w.end_container()
}

fn expand(
    model: &DataModel,
    scope: &ReadScope<'_>,
    p: &AttributePath,
    filters: &[(u16, u32, u32)],
    out: &mut VecDeque<ReportItem>,
) -> Result<(), ImError> {
    // A read path carries no list index (§10.6.2: ListIndex is for writes).
    if p.list_index.is_some() {
        return Err(ImError::Refused {
            what: "ListIndex in a read path",
            status: Status::INVALID_ACTION,
        });
    }
    // An attribute id with a cluster wildcard must be a global attribute (§8.9.2.2).
    if let (None, Some(a)) = (p.cluster, p.attribute) {
        if !global::ALL.contains(&a) {
            return Err(ImError::Refused {
                what: "non-global attribute under a cluster wildcard",
                status: Status::INVALID_ACTION,
            });
        }
    }
    let filtered = |ep: u16, cl: u32| {
        filters
            .iter()
            .any(|&(e, c, v)| e == ep && c == cl && model.data_version(ep, cl) == Some(v))
    };
    if let Some(c) = p.as_concrete() {
        match model.check_attribute(c) {
            Ok(()) if !model.read_allowed(scope.state, &scope.subject, c) => {
                out.push_back(ReportItem::Status(c, Status::UNSUPPORTED_ACCESS))
            }
            Ok(()) if filtered(c.endpoint, c.cluster) => {}
            Ok(()) => out.push_back(ReportItem::Data(c)),
            Err(s) => out.push_back(ReportItem::Status(c, s)),
        }
        return Ok(());
    }
    for ep in model.endpoints() {
        if p.endpoint.is_some_and(|e| e != ep.id()) {
            continue;
        }
        if p.endpoint.is_none() && ep.id() == 0 && p.wildcard_flags & wf::SKIP_ROOT_NODE != 0 {
            continue;
        }
        for cl in ep.cluster_ids() {
            if p.cluster.is_some_and(|c| c != cl) || filtered(ep.id(), cl) {
                continue;
            }
            for a in model.attribute_ids(ep.id(), cl) {
                if let Some(want) = p.attribute {
                    if want != a {
                        continue;
                    }
                } else if skipped_by_flags(a, p.wildcard_flags) {
                    continue;
                }
                let c = ConcreteAttributePath {
                    endpoint: ep.id(),
                    cluster: cl,
                    attribute: a,
                };
                if model.read_allowed(scope.state, &scope.subject, c) {
                    out.push_back(ReportItem::Data(c));
                }
            }
        }
    }
    Ok(())
}

fn skipped_by_flags(a: u32, flags: u32) -> bool {
    let is_global = global::ALL.contains(&a);
    (flags & wf::SKIP_GLOBAL_ATTRIBUTES != 0 && is_global)
        || (flags & wf::SKIP_ATTRIBUTE_LIST != 0 && a == global::ATTRIBUTE_LIST)
        || (flags & wf::SKIP_COMMAND_LISTS != 0
            && (a == global::ACCEPTED_COMMAND_LIST || a == global::GENERATED_COMMAND_LIST))
}
