//! Subscriptions on the publisher side (Matter 1.3 §8.5 "Subscribe Interaction", messages in
//! §10.7.4–§10.7.5), sans-IO: the priming report and SubscribeResponse, change reports no sooner
//! than MinIntervalFloor after the last report (changes in between coalesce into one report),
//! empty keep-alive reports at MaxInterval, and the end of a subscription when a report is not
//! answered with StatusResponse(SUCCESS) in time, when sending fails, when the subscriber
//! replaces it (KeepSubscriptions false) or when its session ends.
//!
//! # Driving it
//! The node owns one [`SubscriptionManager`]. A SubscribeRequest that opens an exchange goes to
//! [`SubscriptionManager::handle_subscribe_request`]; any later IM message on an exchange the
//! manager owns ([`SubscriptionManager::owns_exchange`]) to
//! [`SubscriptionManager::handle_message`]. Attribute changes the node knows precisely (writes)
//! go to [`SubscriptionManager::handle_attributes_changed`]; other changes are found by
//! comparing cluster DataVersions, so any change that bumps a DataVersion is reported.
//! After every input the node calls [`SubscriptionManager::handle_timeout`] (which starts due
//! reports, opening a new exchange per report through the callback it is given, as the
//! publisher initiates them), then drains [`SubscriptionManager::poll_transmit`] and
//! [`SubscriptionManager::poll_event`], and arms a timer for
//! [`SubscriptionManager::poll_timeout`]. Session and exchange failures come in through
//! [`SubscriptionManager::handle_session_closed`] and
//! [`SubscriptionManager::handle_exchange_failed`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use tracing::{debug, warn};

use super::exchange::ImMessage;
use super::messages::{StatusResponse, SubscribeRequest, SubscribeResponse};
use super::model::{DataModel, ReadScope};
use super::path::{AttributePath, ConcreteAttributePath};
use super::report::Report;
use super::{ImError, Opcode, Status};
use crate::exchange::ExchangeRef;
use crate::fabric::{ChangedPath, NodeState, Subject};
use crate::session::SessionRef;
use crate::time::{Duration, Instant};

/// SUBSCRIPTION_MAX_INTERVAL_PUBLISHER_LIMIT (Matter 1.3 §8.5.1): the publisher may pick a
/// MaxInterval up to max(this, MaxIntervalCeiling).
pub const MAX_INTERVAL_PUBLISHER_LIMIT_S: u16 = 3600;

/// Limits and timers of the subscription manager.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionConfig {
    /// Subscriptions at once, over all subscribers.
    pub max_subscriptions: usize,
    /// Subscriptions at once per fabric (sessions without a fabric, i.e. PASE, share one
    /// bucket). Matter 1.3 §8.5.1 requires at least 3 per fabric.
    pub max_per_fabric: usize,
    /// Subscriptions at once per session.
    pub max_per_session: usize,
    /// Attribute plus event paths in one SubscribeRequest (the spec's minimum is 3 of each).
    pub max_paths_per_subscription: usize,
    /// How long a report waits for the subscriber's StatusResponse before the subscription
    /// ends (the CHIP SDK's ReadHandler waits 30 s).
    pub response_timeout: Duration,
    /// The smallest MaxInterval we grant, in seconds, whatever the ceiling asked: keep-alives
    /// more often than this only cost air time (matter.js uses the same 2 s floor).
    pub min_max_interval_s: u16,
    /// Largest IM payload of one report message; larger reports are chunked.
    pub max_payload: usize,
}

impl Default for SubscriptionConfig {
    fn default() -> Self {
        Self {
            max_subscriptions: 16,
            max_per_fabric: 5,
            max_per_session: 5,
            max_paths_per_subscription: 16,
            response_timeout: Duration::from_secs(30),
            min_max_interval_s: 2,
            max_payload: super::ImExchange::DEFAULT_MAX_PAYLOAD,
        }
    }
}

/// Who holds a subscription: the session it arrived on, and the subscriber's fabric and node id
/// when the session has them (CASE). KeepSubscriptions false cancels the subscriptions of the
/// same fabric and node, or of the same session when there is no node id (PASE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subscriber {
    /// The session the SubscribeRequest came on; reports go out on it.
    pub session: SessionRef,
    /// Who is behind the session: reports are read (and access-checked) as this subject.
    pub subject: Subject,
    /// Fabric index of the session, if any.
    pub fabric_index: Option<u8>,
    /// The subscriber's operational node id, if known.
    pub node_id: Option<u64>,
}

impl Subscriber {
    /// A subscriber on a PASE session not bound to a fabric.
    pub fn pase(session: SessionRef) -> Self {
        Self {
            session,
            subject: Subject::pase(None),
            fabric_index: None,
            node_id: None,
        }
    }

    fn scope<'s>(
        &self,
        state: &'s NodeState,
        fabric_filtered: bool,
        now: Instant,
    ) -> ReadScope<'s> {
        ReadScope {
            state,
            subject: self.subject,
            fabric_filtered,
            now,
        }
    }

    fn same_peer(&self, other: &Self) -> bool {
        match (
            self.fabric_index,
            self.node_id,
            other.fabric_index,
            other.node_id,
        ) {
            (Some(f1), Some(n1), Some(f2), Some(n2)) => f1 == f2 && n1 == n2,
            _ => self.session == other.session,
        }
    }
}

/// A message to send on an exchange the manager owns.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct SubscriptionTransmit {
    /// The exchange (the subscriber's for the priming report, ours for later reports).
    pub exchange: ExchangeRef,
    /// The message, or `None` when the exchange is only to be closed.
    pub message: Option<ImMessage>,
    /// Close the exchange once the message (if any) is sent: the interaction is over.
    pub close_exchange: bool,
}

/// Why a subscription ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// The subscriber answered a report with this non-SUCCESS status (e.g. INVALID_SUBSCRIPTION).
    StatusResponse(Status),
    /// No StatusResponse within the response timeout.
    Timeout,
    /// The message layer could not deliver a report (MRP gave up, exchange gone).
    SendFailed,
    /// The subscriber sent something other than a StatusResponse.
    ProtocolError,
    /// A SubscribeRequest with KeepSubscriptions false from the same subscriber.
    Replaced,
    /// The session ended.
    SessionClosed,
}

/// What the node should know about subscriptions (for the session's subscription count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscriptionEvent {
    /// The priming report was acknowledged and SubscribeResponse sent.
    Established {
        /// SubscriptionId.
        id: u32,
        /// The subscriber's session.
        session: SessionRef,
        /// The MaxInterval granted, seconds.
        max_interval_s: u16,
    },
    /// A subscription ended (also one that never got established).
    Ended {
        /// SubscriptionId.
        id: u32,
        /// The subscriber's session.
        session: SessionRef,
        /// Why.
        reason: EndReason,
    },
}

#[derive(Debug)]
enum Phase {
    /// Priming: a chunk is out on the subscriber's exchange, awaiting its StatusResponse.
    Priming {
        exchange: ExchangeRef,
        report: Report,
        deadline: Instant,
    },
    /// Established, no report in flight.
    Idle,
    /// A change or keep-alive report chunk is out on our exchange, awaiting StatusResponse.
    Reporting {
        exchange: ExchangeRef,
        report: Report,
        deadline: Instant,
    },
}

#[derive(Debug)]
struct Subscription {
    id: u32,
    owner: Subscriber,
    paths: Vec<AttributePath>,
    fabric_filtered: bool,
    min_interval: Duration,
    max_interval_s: u16,
    phase: Phase,
    /// When the last report started (for the priming report: when SubscribeResponse went out).
    last_report: Instant,
    /// DataVersion of each subscribed cluster as of the last report built.
    versions: BTreeMap<(u16, u32), u32>,
    /// Attributes known to have changed since (writes).
    dirty: BTreeSet<ConcreteAttributePath>,
    /// Clusters whose DataVersion moved with no attribute named: report all their subscribed
    /// attributes.
    dirty_clusters: BTreeSet<(u16, u32)>,
    /// Clusters with a named change outside the subscribed attributes: their DataVersion move
    /// is explained and reports nothing.
    named_clusters: BTreeSet<(u16, u32)>,
    /// No exchange could be opened for a report: try again at this time.
    retry_at: Option<Instant>,
}

impl Subscription {
    fn is_dirty(&self) -> bool {
        !self.dirty.is_empty() || !self.dirty_clusters.is_empty()
    }

    fn exchange(&self) -> Option<ExchangeRef> {
        match &self.phase {
            Phase::Priming { exchange, .. } | Phase::Reporting { exchange, .. } => Some(*exchange),
            Phase::Idle => None,
        }
    }

    /// When the next report is due (Idle only): a change report MinIntervalFloor after the last
    /// report, a keep-alive MaxInterval after it.
    fn next_report_at(&self) -> Instant {
        let due = if self.is_dirty() {
            self.last_report + self.min_interval
        } else {
            self.last_report + Duration::from_secs(u64::from(self.max_interval_s))
        };
        match self.retry_at {
            Some(r) if r > due => r,
            _ => due,
        }
    }

    /// Records the current DataVersion of every cluster the paths cover.
    fn snapshot_versions(&mut self, model: &DataModel) {
        self.versions.clear();
        for ep in model.endpoints() {
            for cl in ep.cluster_ids() {
                if self.paths.iter().any(|p| covers_cluster(p, ep.id(), cl)) {
                    if let Some(v) = model.data_version(ep.id(), cl) {
                        self.versions.insert((ep.id(), cl), v);
                    }
                }
            }
        }
    }

    /// Marks clusters whose DataVersion differs from the snapshot (or that appeared / went).
    fn detect_version_changes(&mut self, model: &DataModel) {
        let mut seen = BTreeSet::new();
        for ep in model.endpoints() {
            for cl in ep.cluster_ids() {
                if !self.paths.iter().any(|p| covers_cluster(p, ep.id(), cl)) {
                    continue;
                }
                seen.insert((ep.id(), cl));
                let now = model.data_version(ep.id(), cl);
                if now != self.versions.get(&(ep.id(), cl)).copied() {
                    let named = self.named_clusters.contains(&(ep.id(), cl))
                        || self
                            .dirty
                            .iter()
                            .any(|p| p.endpoint == ep.id() && p.cluster == cl);
                    if !named {
                        self.dirty_clusters.insert((ep.id(), cl));
                    }
                }
            }
        }
        // A cluster that disappeared: nothing to report for it, forget it.
        self.versions.retain(|k, _| seen.contains(k));
    }

    fn wants(&self, p: ConcreteAttributePath) -> bool {
        self.dirty.contains(&p) || self.dirty_clusters.contains(&(p.endpoint, p.cluster))
    }
}

fn covers_cluster(p: &AttributePath, endpoint: u16, cluster: u32) -> bool {
    p.endpoint.is_none_or(|e| e == endpoint) && p.cluster.is_none_or(|c| c == cluster)
}

fn covers(p: &AttributePath, c: ConcreteAttributePath) -> bool {
    covers_cluster(p, c.endpoint, c.cluster) && p.attribute.is_none_or(|a| a == c.attribute)
}

/// The publisher's subscriptions. See the module docs for the driving contract.
#[derive(Debug)]
pub struct SubscriptionManager {
    config: SubscriptionConfig,
    subs: Vec<Subscription>,
    out: VecDeque<SubscriptionTransmit>,
    events: VecDeque<SubscriptionEvent>,
}

impl SubscriptionManager {
    /// An empty manager.
    pub fn new(config: SubscriptionConfig) -> Self {
        Self {
            config,
            subs: Vec::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    // ---- B: inputs ----

    /// A SubscribeRequest that opened `exchange` (Matter 1.3 §8.5.1). Answers it with the first
    /// chunk of the priming report, or with a StatusResponse refusing it. `id` is the
    /// SubscriptionId to use (random, from the node); a clash with a live id is resolved by
    /// incrementing it.
    #[allow(clippy::too_many_arguments)]
    pub fn handle_subscribe_request(
        &mut self,
        now: Instant,
        model: &DataModel,
        state: &NodeState,
        subscriber: Subscriber,
        exchange: ExchangeRef,
        payload: &[u8],
        id: u32,
    ) {
        match self.start(now, model, state, subscriber, exchange, payload, id) {
            Ok(()) => {}
            Err(e) => {
                warn!(error = %e, "SubscribeRequest refused");
                self.push(exchange, status_message(e.status()), true);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn start(
        &mut self,
        now: Instant,
        model: &DataModel,
        state: &NodeState,
        subscriber: Subscriber,
        exchange: ExchangeRef,
        payload: &[u8],
        mut id: u32,
    ) -> Result<(), ImError> {
        let req = SubscribeRequest::parse(payload)?;
        debug!(
            keep = req.keep_subscriptions,
            min = req.min_interval_floor,
            max = req.max_interval_ceiling,
            attributes = req.attribute_requests.len(),
            events = req.event_requests.len(),
            "SubscribeRequest"
        );
        if req.attribute_requests.is_empty() && req.event_requests.is_empty() {
            return Err(refused(
                "SubscribeRequest without paths",
                Status::INVALID_ACTION,
            ));
        }
        if req.min_interval_floor > req.max_interval_ceiling {
            // The CHIP SDK refuses this too: no MaxInterval can satisfy both bounds.
            return Err(refused(
                "MinIntervalFloor above MaxIntervalCeiling",
                Status::INVALID_ACTION,
            ));
        }
        if !req.keep_subscriptions {
            // §8.5.1: the subscriber's earlier subscriptions end before this one is checked.
            self.end_where(|s| s.owner.same_peer(&subscriber), EndReason::Replaced);
        }
        let paths = req.attribute_requests.len() + req.event_requests.len();
        if paths > self.config.max_paths_per_subscription {
            return Err(refused(
                "too many subscription paths",
                Status::PATHS_EXHAUSTED,
            ));
        }
        let per_session = self
            .subs
            .iter()
            .filter(|s| s.owner.session == subscriber.session)
            .count();
        let per_fabric = self
            .subs
            .iter()
            .filter(|s| s.owner.fabric_index == subscriber.fabric_index)
            .count();
        if self.subs.len() >= self.config.max_subscriptions
            || per_session >= self.config.max_per_session
            || per_fabric >= self.config.max_per_fabric
        {
            return Err(refused(
                "subscription limit reached",
                Status::RESOURCE_EXHAUSTED,
            ));
        }
        let scope = subscriber.scope(state, req.fabric_filtered, now);
        let report = Report::new(
            model,
            &scope,
            &req.attribute_requests,
            &req.data_version_filters,
        )?
        .with_event_paths(model, &req.event_requests);
        while self.subs.iter().any(|s| s.id == id) {
            id = id.wrapping_add(1);
        }
        let max_interval_s = choose_max_interval(
            req.min_interval_floor,
            req.max_interval_ceiling,
            self.config.min_max_interval_s,
        );
        let mut sub = Subscription {
            id,
            owner: subscriber,
            paths: req.attribute_requests,
            fabric_filtered: req.fabric_filtered,
            min_interval: Duration::from_secs(u64::from(req.min_interval_floor)),
            max_interval_s,
            phase: Phase::Idle,
            last_report: now,
            versions: BTreeMap::new(),
            dirty: BTreeSet::new(),
            dirty_clusters: BTreeSet::new(),
            named_clusters: BTreeSet::new(),
            retry_at: None,
        };
        sub.snapshot_versions(model);
        debug!(
            id,
            max_interval_s,
            fabric_filtered = sub.fabric_filtered,
            "subscription priming"
        );
        let report = report.for_subscription(id);
        self.subs.push(sub);
        let i = self.subs.len() - 1;
        self.send_chunk(now, model, &scope, i, exchange, report, true);
        Ok(())
    }

    /// An IM message on an exchange the manager owns: the subscriber's StatusResponse to a
    /// report chunk.
    pub fn handle_message(
        &mut self,
        now: Instant,
        model: &DataModel,
        state: &NodeState,
        exchange: ExchangeRef,
        opcode: Opcode,
        payload: &[u8],
    ) {
        let Some(i) = self.index_of_exchange(exchange) else {
            return;
        };
        let status = if opcode == Opcode::STATUS_RESPONSE {
            StatusResponse::parse(payload).map(|s| s.status).ok()
        } else {
            None
        };
        let Some(status) = status else {
            warn!(?opcode, "subscription exchange: expected a StatusResponse");
            self.push(exchange, status_message(Status::INVALID_ACTION), true);
            self.end(i, EndReason::ProtocolError);
            return;
        };
        if status != Status::SUCCESS {
            // §8.5.2: a subscriber that does not know the subscription answers
            // INVALID_SUBSCRIPTION; any failure ends it. Nothing more goes on the exchange.
            debug!(?status, "subscriber refused a report");
            self.end(i, EndReason::StatusResponse(status));
            self.close_only(exchange);
            return;
        }
        let Some(sub) = self.subs.get_mut(i) else {
            return;
        };
        let scope = sub.owner.scope(state, sub.fabric_filtered, now);
        let phase = core::mem::replace(&mut sub.phase, Phase::Idle);
        match phase {
            Phase::Priming { report, .. } if !report.is_empty() => {
                self.send_chunk(now, model, &scope, i, exchange, report, true);
            }
            Phase::Priming { .. } => {
                // The priming report is acknowledged: SubscribeResponse closes the exchange and
                // the intervals count from now (§8.5.1).
                let rsp = SubscribeResponse {
                    subscription_id: sub.id,
                    max_interval: sub.max_interval_s,
                };
                sub.last_report = now;
                let (id, session, max_interval_s) = (sub.id, sub.owner.session, sub.max_interval_s);
                debug!(id, max_interval_s, "subscription established");
                self.push(
                    exchange,
                    ImMessage {
                        opcode: Opcode::SUBSCRIBE_RESPONSE,
                        payload: rsp.encode(),
                    },
                    true,
                );
                self.events.push_back(SubscriptionEvent::Established {
                    id,
                    session,
                    max_interval_s,
                });
            }
            Phase::Reporting { report, .. } if !report.is_empty() => {
                self.send_chunk(now, model, &scope, i, exchange, report, false);
            }
            Phase::Reporting { .. } => {
                debug!(id = sub.id, "subscription report acknowledged");
                self.close_only(exchange);
            }
            Phase::Idle => {}
        }
    }

    /// These attributes changed (a write, or a cluster that names what it changed).
    pub fn handle_attributes_changed(&mut self, paths: &[ConcreteAttributePath]) {
        for sub in &mut self.subs {
            for p in paths {
                if sub.paths.iter().any(|sp| covers(sp, *p)) {
                    sub.dirty.insert(*p);
                } else {
                    sub.named_clusters.insert((p.endpoint, p.cluster));
                }
            }
        }
    }

    /// The data model's changed paths ([`DataModel::take_changed`]): an attribute, or a whole
    /// cluster when the path names none.
    pub fn handle_changed<'c>(&mut self, changed: impl IntoIterator<Item = &'c ChangedPath>) {
        for c in changed {
            match c.attribute {
                Some(attribute) => self.handle_attributes_changed(&[ConcreteAttributePath {
                    endpoint: c.endpoint,
                    cluster: c.cluster,
                    attribute,
                }]),
                None => {
                    for sub in &mut self.subs {
                        if sub
                            .paths
                            .iter()
                            .any(|p| covers_cluster(p, c.endpoint, c.cluster))
                        {
                            sub.dirty_clusters.insert((c.endpoint, c.cluster));
                        }
                    }
                }
            }
        }
    }

    /// The session ended: its subscriptions end without any message (§8.5: a subscription
    /// lives on its session).
    pub fn handle_session_closed(&mut self, session: SessionRef) {
        self.end_where(|s| s.owner.session == session, EndReason::SessionClosed);
    }

    /// The message layer gave up on `exchange` (no acknowledgement) or it is gone.
    pub fn handle_exchange_failed(&mut self, exchange: ExchangeRef) {
        if let Some(i) = self.index_of_exchange(exchange) {
            warn!(?exchange, "subscription report not delivered");
            self.end(i, EndReason::SendFailed);
        }
    }

    /// Fires due timers and starts due reports. `open` opens a new IM exchange on a session as
    /// initiator (the node's exchange manager); `None` means no exchange is available now, and
    /// the report is retried a second later.
    pub fn handle_timeout(
        &mut self,
        now: Instant,
        model: &DataModel,
        state: &NodeState,
        open: &mut dyn FnMut(SessionRef) -> Option<ExchangeRef>,
    ) {
        // Response timeouts first.
        let timed_out: Vec<u32> = self
            .subs
            .iter()
            .filter(|s| match &s.phase {
                Phase::Priming { deadline, .. } | Phase::Reporting { deadline, .. } => {
                    *deadline <= now
                }
                Phase::Idle => false,
            })
            .map(|s| s.id)
            .collect();
        for id in timed_out {
            if let Some(i) = self.subs.iter().position(|s| s.id == id) {
                warn!(id, "no StatusResponse to a subscription report");
                if let Some(x) = self.subs.get(i).and_then(Subscription::exchange) {
                    self.close_only(x);
                }
                self.end(i, EndReason::Timeout);
            }
        }
        for i in 0..self.subs.len() {
            let Some(sub) = self.subs.get_mut(i) else {
                break;
            };
            if !matches!(sub.phase, Phase::Idle) {
                continue;
            }
            sub.detect_version_changes(model);
            if sub.next_report_at() > now {
                continue;
            }
            let scope = sub.owner.scope(state, sub.fabric_filtered, now);
            let mut report = match Report::new(model, &scope, &sub.paths, &[]) {
                Ok(r) => r,
                // The paths were accepted at subscribe time; they cannot fail now. Report
                // nothing rather than end the subscription if they somehow do.
                Err(_) => Report::empty(sub.fabric_filtered),
            };
            let dirty = sub.is_dirty();
            report.retain_data(|p| dirty && sub.wants(p));
            let due_keep_alive =
                sub.last_report + Duration::from_secs(u64::from(sub.max_interval_s)) <= now;
            if report.is_empty() && !due_keep_alive {
                // The changes touched nothing this subscription reports: no report now.
                sub.dirty.clear();
                sub.dirty_clusters.clear();
                sub.named_clusters.clear();
                sub.snapshot_versions(model);
                continue;
            }
            let Some(exchange) = open(sub.owner.session) else {
                debug!(
                    id = sub.id,
                    "no exchange for a subscription report; retrying"
                );
                sub.retry_at = Some(now + Duration::from_secs(1));
                continue;
            };
            sub.retry_at = None;
            debug!(
                id = sub.id,
                attributes = report.data_paths().count(),
                keep_alive = report.is_empty(),
                "subscription report"
            );
            sub.dirty.clear();
            sub.dirty_clusters.clear();
            sub.named_clusters.clear();
            sub.snapshot_versions(model);
            sub.last_report = now;
            let report = report.for_subscription(sub.id);
            self.send_chunk(now, model, &scope, i, exchange, report, false);
        }
    }

    // ---- A: getters ----

    /// Whether `exchange` carries a subscription's priming or report.
    pub fn owns_exchange(&self, exchange: ExchangeRef) -> bool {
        self.index_of_exchange(exchange).is_some()
    }

    /// Live subscriptions (priming ones included).
    pub fn len(&self) -> usize {
        self.subs.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// The MaxInterval granted to subscription `id`, seconds.
    pub fn max_interval(&self, id: u32) -> Option<u16> {
        self.subs
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.max_interval_s)
    }

    // ---- D: outputs ----

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<SubscriptionTransmit> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<SubscriptionEvent> {
        self.events.pop_front()
    }

    /// The earliest time [`SubscriptionManager::handle_timeout`] has work: a response
    /// deadline, a change report's MinIntervalFloor or a keep-alive's MaxInterval.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.subs
            .iter()
            .map(|s| match &s.phase {
                Phase::Priming { deadline, .. } | Phase::Reporting { deadline, .. } => *deadline,
                Phase::Idle => s.next_report_at(),
            })
            .min()
    }

    // ---- internals ----

    fn index_of_exchange(&self, exchange: ExchangeRef) -> Option<usize> {
        self.subs
            .iter()
            .position(|s| s.exchange() == Some(exchange))
    }

    #[allow(clippy::too_many_arguments)]
    fn send_chunk(
        &mut self,
        now: Instant,
        model: &DataModel,
        scope: &ReadScope<'_>,
        i: usize,
        exchange: ExchangeRef,
        mut report: Report,
        priming: bool,
    ) {
        let (payload, _more) = report.next_chunk(model, scope, self.config.max_payload);
        let deadline = now + self.config.response_timeout;
        if let Some(sub) = self.subs.get_mut(i) {
            sub.phase = if priming {
                Phase::Priming {
                    exchange,
                    report,
                    deadline,
                }
            } else {
                Phase::Reporting {
                    exchange,
                    report,
                    deadline,
                }
            };
        }
        self.push(
            exchange,
            ImMessage {
                opcode: Opcode::REPORT_DATA,
                payload,
            },
            false,
        );
    }

    fn push(&mut self, exchange: ExchangeRef, message: ImMessage, close_exchange: bool) {
        self.out.push_back(SubscriptionTransmit {
            exchange,
            message: Some(message),
            close_exchange,
        });
    }

    /// Asks the node to close `exchange` without sending anything more on it.
    fn close_only(&mut self, exchange: ExchangeRef) {
        self.out.push_back(SubscriptionTransmit {
            exchange,
            message: None,
            close_exchange: true,
        });
    }

    fn end(&mut self, i: usize, reason: EndReason) {
        if i < self.subs.len() {
            let s = self.subs.remove(i);
            debug!(id = s.id, ?reason, "subscription ended");
            self.events.push_back(SubscriptionEvent::Ended {
                id: s.id,
                session: s.owner.session,
                reason,
            });
        }
    }

    fn end_where(&mut self, pred: impl Fn(&Subscription) -> bool, reason: EndReason) {
        let mut i = 0;
        while i < self.subs.len() {
            if self.subs.get(i).is_some_and(&pred) {
                if let Some(x) = self.subs.get(i).and_then(Subscription::exchange) {
                    if reason != EndReason::SessionClosed {
                        self.close_only(x);
                    }
                }
                self.end(i, reason);
            } else {
                i += 1;
            }
        }
    }
}

/// MaxInterval for a request (Matter 1.3 §8.5.1: MinIntervalFloor ≤ MaxInterval ≤
/// max(SUBSCRIPTION_MAX_INTERVAL_PUBLISHER_LIMIT, MaxIntervalCeiling)). We grant the ceiling the
/// subscriber asked for, as the CHIP SDK does for a device that is always reachable, raised to
/// `min_max_interval_s` so a ceiling of 0 or 1 s does not turn keep-alives into a flood; the
/// result never exceeds the upper bound above.
pub(crate) fn choose_max_interval(floor: u16, ceiling: u16, min_max_interval_s: u16) -> u16 {
    let upper = ceiling.max(MAX_INTERVAL_PUBLISHER_LIMIT_S);
    ceiling.max(floor).max(min_max_interval_s).min(upper)
}

fn refused(what: &'static str, status: Status) -> ImError {
    ImError::Refused { what, status }
}

fn status_message(status: Status) -> ImMessage {
    ImMessage {
        opcode: Opcode::STATUS_RESPONSE,
        payload: StatusResponse { status }.encode(),
    }
}
