//! CASE session resumption records (Matter 1.3 §4.14.2.2.4): what a responder keeps of an
//! established CASE session so that the same peer can resume it with Sigma1 + resumption id
//! instead of a full handshake. Bounded, least recently used first out; one record per peer node
//! of a fabric (a newer session of the same peer replaces its record, as the CHIP SDK keys its
//! resumption storage by fabric and node id). Persisted as the `case-resumption` record.

use core::fmt;

use zeroize::Zeroizing;

use super::FabricIndex;

/// Records kept by default (the CHIP SDK keeps one per session it can hold; 16 bounds the
/// persisted record to about 1.5 KiB).
pub const DEFAULT_RESUMPTION_CAPACITY: usize = 16;

/// One resumable CASE session.
#[derive(Clone, PartialEq, Eq)]
pub struct ResumptionRecord {
    /// The id the peer sends in Sigma1 to resume.
    pub resumption_id: [u8; 16],
    /// The ECDH shared secret of the original handshake.
    pub shared_secret: Zeroizing<[u8; 32]>,
    /// The session's fabric.
    pub fabric: FabricIndex,
    /// The peer's node id.
    pub peer_node_id: u64,
    /// The peer's CASE Authenticated Tags.
    pub peer_cats: Vec<u32>,
}

impl fmt::Debug for ResumptionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResumptionRecord")
            .field("fabric", &self.fabric)
            .field("peer_node_id", &format_args!("{:016X}", self.peer_node_id))
            .field("peer_cats", &self.peer_cats)
            .finish_non_exhaustive()
    }
}

/// The bounded resumption store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumptionStore {
    /// Oldest use first.
    records: Vec<ResumptionRecord>,
    capacity: usize,
}

impl Default for ResumptionStore {
    fn default() -> Self {
        Self::new(DEFAULT_RESUMPTION_CAPACITY)
    }
}

impl ResumptionStore {
    /// An empty store holding at most `capacity` records (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            records: Vec::new(),
            capacity: capacity.max(1),
        }
    }

    /// Adds `r` as the most recently used record, replacing the record of the same peer (fabric
    /// and node id) or with the same id, and evicting the least recently used beyond capacity.
    pub fn insert(&mut self, r: ResumptionRecord) {
        self.records.retain(|x| {
            x.resumption_id != r.resumption_id
                && !(x.fabric == r.fabric && x.peer_node_id == r.peer_node_id)
        });
        self.records.push(r);
        while self.records.len() > self.capacity {
            self.records.remove(0);
        }
    }

    /// The record with this resumption id.
    pub fn find(&self, resumption_id: &[u8; 16]) -> Option<&ResumptionRecord> {
        self.records
            .iter()
            .find(|r| r.resumption_id == *resumption_id)
    }

    /// Drops every record of `fabric` (RemoveFabric).
    pub fn remove_fabric(&mut self, fabric: FabricIndex) {
        self.records.retain(|r| r.fabric != fabric);
    }

    /// The records, least recently used first.
    pub fn iter(&self) -> impl Iterator<Item = &ResumptionRecord> + '_ {
        self.records.iter()
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// No records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: u8, fabric: u8, node: u64) -> ResumptionRecord {
        ResumptionRecord {
            resumption_id: [id; 16],
            shared_secret: Zeroizing::new([id; 32]),
            fabric: FabricIndex(fabric),
            peer_node_id: node,
            peer_cats: vec![],
        }
    }

    #[test]
    fn lru_bound_replacement_and_fabric_removal() {
        let mut s = ResumptionStore::new(2);
        s.insert(rec(1, 1, 10));
        s.insert(rec(2, 1, 11));
        s.insert(rec(3, 2, 10));
        assert!(s.find(&[1; 16]).is_none(), "oldest evicted");
        assert_eq!(s.len(), 2);
        // Same peer again: its record is replaced, not duplicated.
        s.insert(rec(4, 2, 10));
        assert!(s.find(&[3; 16]).is_none());
        assert!(s.find(&[4; 16]).is_some());
        assert!(s.find(&[2; 16]).is_some());
        s.remove_fabric(FabricIndex(1));
        assert!(s.find(&[2; 16]).is_none());
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn persisted_record_round_trips_and_survives_restart() {
        use super::super::{NodeState, RecordKind};
        let mut st = NodeState::default();
        drop(st.take_records());
        let mut r = rec(7, 1, 0x1122);
        r.peer_cats = vec![0x0001_0001, 0xABCD_0002];
        st.case_resumption.insert(r.clone());
        st.case_resumption.insert(rec(8, 2, 5));
        let recs = st.take_records();
        assert_eq!(recs.len(), 1, "only the resumption record changed");
        assert_eq!(recs[0].kind, RecordKind::CaseResumption);
        assert_eq!(
            RecordKind::from_name("case-resumption"),
            Some(RecordKind::CaseResumption)
        );
        let loaded = NodeState::default()
            .load([(recs[0].kind, &recs[0].bytes[..])])
            .expect("loads");
        assert_eq!(loaded.case_resumption, st.case_resumption);
        assert_eq!(loaded.case_resumption.find(&[7; 16]), Some(&r));
        // A corrupt record is an error, not a silent reset.
        let mut bad = recs[0].bytes.to_vec();
        bad.truncate(bad.len() - 3);
        assert!(NodeState::default()
            .load([(RecordKind::CaseResumption, &bad[..])])
            .is_err());
    }

    #[test]
    fn removing_a_fabric_drops_its_records() {
        let mut st = super::super::NodeState::default();
        st.case_resumption.insert(rec(1, 1, 10));
        st.remove_fabric(FabricIndex(1));
        assert!(st.case_resumption.is_empty());
    }
}
