//! Fuzz harness for the CASE responder: scripted Sigma messages against a node with one fabric
//! (the CHIP SDK's test chain Root01 -> ICA01 -> Node01_01, connectedhomeip
//! `src/credentials/tests/CHIPCert_test_vectors.cpp`; data only) and one resumption record.
//!
//! Byte 0 picks the mode: 0 raw messages (exchange, opcode, length-prefixed payload) from the
//! rest; 1 a valid Sigma1 made here, then the rest as a raw Sigma3; 2 a valid Sigma1, then the
//! rest as TBEData3 *plaintext*, correctly encrypted (so the fuzzer reaches the TBEData3
//! decoder and chain validation); 3 a Sigma1 resuming the stored record with a valid MIC, then
//! the rest as the StatusReport after Sigma2Resume.
//!
//! Invariants: no panic; at most `max_handshakes` at once; every transmit goes to an exchange
//! that sent something; no session is established except by resumption (mode 3) — nothing else
//! can forge the initiator's signature; every failure event is the handshake's last word.

use std::collections::BTreeSet;

use matter_ble::case::keys::{self, EphemeralKey, ResumeMic};
use matter_ble::case::messages::{Sigma1, Sigma2};
use matter_ble::case::{CaseEvent, CaseResponder, ResponderConfig};
use matter_ble::fabric::{Fabric, FabricIndex, FabricTable, ResumptionRecord, ResumptionStore};
use matter_ble::message::SecureChannelOpcode as Op;
use matter_ble::rng::TestRng;
use matter_ble::time::Instant;

const ROOT01: &str = "15300108534c4582736235142402013703271401000000cacacaca182604ef171b2726056eb5b94c3706271401000000cacacaca18240701240801300941043b88460ec9687a5d0f3b4b3b13fcd299c2f6d5051d003ee49c9924cf98f4f780eb20fd37c8d358347f5f87d08c3213e540af11bab9137e49354f0c5b6343de63370a3501290118240260300414cc1308af82cfee505eb23b57bfe86a311665535f300514cc1308af82cfee505eb23b57bfe86a311665535f18300b40f7f0092690494e46c8b1c5cbd1a5085e1e65d4360f98e96c4e8e495dc5e216d0bfa23d8f57470d89fddaf03f0464b0ae8e1f956d6f67a31124385824689780a918";
const ICA01: &str = "1530010869d86a8d80fc8f5d2402013703271401000000cacacaca182604ef171b2726056eb5b94c3706271303000000cacacaca18240701240801300941045f94f57e0b13c9cfcf96dfe1fce7888d564cc209c55c4508e44dcf16ba2e09662f9eecf19f40b0e88a0b2815da9ee10a3a177c251f434f5b0f263ce7de6278c6370a3501290118240260300414440cc69231c4cb5b37942426f81bbe24b7ef345c300514cc1308af82cfee505eb23b57bfe86a311665535f18300b40adb85b5d68cbfd36140d8c9d129014c45fa7ca191f34d9af241db71736e60f44199bc07c7f795bed81a2e77dc5342576f6a0d14198f46b910749427c2eed659c18";
const NODE01_01: &str = "1530010818e969ba0e089e232402013703271303000000cacacaca182604ef171b2726056eb5b94c3706271101000100dededede27151d0000000000b0fa1824070124080130094104bcf6580d2d71e14416651f7c311b5efcf9aec0a8c10af80927844c240f51a8eb23fa0744138887ac1e73cb72a054b6a0db0622aa807071016313b1596c8552cf370a3501280118240201360304020401183004146967c912f8a3e689556f899b65d76f53fa65c7b6300514440cc69231c4cb5b37942426f81bbe24b7ef345c18300b40ce6ef393cbbc94f80ee290cb3c3d373335bab95907734d99d384a62a373b8484e1d41a04c3140faa19e8a2b99b0c61e33c27ea913973e45b5bc6e39c270dac5318";

const MAX_HANDSHAKES: usize = 2;
const RESUMPTION_ID: [u8; 16] = [0xA5; 16];
const RESUMPTION_SECRET: [u8; 32] = [0x5A; 32];

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect()
}

fn fabric_table() -> FabricTable {
    let (rcac, icac, noc) = (unhex(ROOT01), unhex(ICA01), unhex(NODE01_01));
    let chain = matter_ble::cert::validate_chain(&noc, Some(&icac), &rcac, None)
        .expect("the CHIP test chain validates");
    let mut t = FabricTable::default();
    t.add(Fabric {
        index: FabricIndex(1),
        fabric_id: chain.fabric_id,
        node_id: chain.node_id,
        root_public_key: chain.root_public_key,
        compressed_fabric_id: chain.compressed_fabric_id(),
        rcac,
        icac: Some(icac),
        noc,
        vendor_id: 0xFFF1,
        label: String::new(),
        ipk_epoch_key: zeroize::Zeroizing::new([0x11; 16]),
        // Sigma2's signature need not verify here: any key will do.
        operational_key: keys::generate_secret_key(&mut TestRng::new(9)).expect("key"),
        cats: vec![],
    })
    .expect("fabric added");
    t
}

struct Harness {
    r: CaseResponder<u32>,
    fabrics: FabricTable,
    store: ResumptionStore,
    rng: TestRng,
    next_id: u16,
    /// Exchanges that sent something.
    seen: BTreeSet<u32>,
    /// Exchanges whose handshake ended (failed or established).
    ended: BTreeSet<u32>,
    established: usize,
    sent: Vec<(u32, Op, Vec<u8>)>,
}

impl Harness {
    fn input(&mut self, exchange: u32, op: Op, payload: &[u8]) {
        self.seen.insert(exchange);
        let next_id = &mut self.next_id;
        self.r.handle_message(
            Instant::ZERO,
            exchange,
            op,
            payload,
            &self.fabrics,
            &self.store,
            &mut self.rng,
            &mut || {
                *next_id = next_id.wrapping_add(1);
                Some(*next_id)
            },
        );
        self.drain();
    }

    fn drain(&mut self) {
        assert!(self.r.handshakes() <= MAX_HANDSHAKES, "too many handshakes");
        while let Some(t) = self.r.poll_transmit() {
            assert!(
                self.seen.contains(&t.exchange),
                "reply to a silent exchange"
            );
            assert_eq!(t.ends_exchange, t.opcode == Op::STATUS_REPORT);
            self.sent.push((t.exchange, t.opcode, t.payload));
        }
        while let Some(e) = self.r.poll_event() {
            let exchange = match e {
                CaseEvent::Established { exchange, .. } => {
                    self.established += 1;
                    exchange
                }
                CaseEvent::HandshakeFailed { exchange, .. } => exchange,
                _ => continue,
            };
            assert!(
                !self.r.owns_exchange(&exchange),
                "ended handshake still owned"
            );
            self.ended.insert(exchange);
        }
    }

    /// A valid Sigma1 for the fabric (or resuming the record), on exchange 0.
    fn sigma1(&mut self, resume: bool) -> (EphemeralKey, Vec<u8>, [u8; 16]) {
        let f = self.fabrics.iter().next().expect("one fabric");
        let eph = EphemeralKey::generate(&mut TestRng::new(3)).expect("key");
        let random = [0x42; 32];
        let ipk = keys::operational_ipk(&f.ipk_epoch_key, &f.compressed_fabric_id);
        let s1 = Sigma1 {
            initiator_random: random,
            initiator_session_id: 7,
            destination_id: keys::destination_id(
                &ipk,
                &random,
                &f.root_public_key,
                f.fabric_id,
                f.node_id,
            ),
            initiator_eph_pub: *eph.public(),
            initiator_session_params: None,
            resumption: resume.then(|| {
                (
                    RESUMPTION_ID,
                    keys::resume_mic(
                        ResumeMic::Sigma1,
                        &RESUMPTION_SECRET,
                        &random,
                        &RESUMPTION_ID,
                    ),
                )
            }),
        }
        .encode();
        self.input(0, Op::CASE_SIGMA1, &s1);
        (eph, s1, *ipk)
    }
}

/// Runs one input.
pub fn case_responder(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut store = ResumptionStore::default();
    store.insert(ResumptionRecord {
        resumption_id: RESUMPTION_ID,
        shared_secret: zeroize::Zeroizing::new(RESUMPTION_SECRET),
        fabric: FabricIndex(1),
        peer_node_id: 0x1234,
        peer_cats: vec![],
    });
    let mut h = Harness {
        r: CaseResponder::new(ResponderConfig {
            max_handshakes: MAX_HANDSHAKES,
            ..ResponderConfig::default()
        }),
        fabrics: fabric_table(),
        store,
        rng: TestRng::new(u64::from(mode)),
        next_id: 0,
        seen: BTreeSet::new(),
        ended: BTreeSet::new(),
        established: 0,
        sent: Vec::new(),
    };
    match mode % 4 {
        0 => {
            let mut ops = rest;
            while let [ex, op, len, tail @ ..] = ops {
                let n = usize::from(*len).min(tail.len());
                let (payload, tail) = tail.split_at(n);
                let op = match op % 4 {
                    0 => Op::CASE_SIGMA1,
                    1 => Op::CASE_SIGMA3,
                    2 => Op::STATUS_REPORT,
                    _ => Op::from(*op),
                };
                h.input(u32::from(ex % 4), op, payload);
                ops = tail;
            }
        }
        1 => {
            let _ = h.sigma1(false);
            h.input(0, Op::CASE_SIGMA3, rest);
        }
        2 => {
            let (eph, s1, ipk) = h.sigma1(false);
            let Some((_, _, s2)) = h.sent.iter().find(|t| t.1 == Op::CASE_SIGMA2).cloned() else {
                panic!("a valid Sigma1 is answered with Sigma2");
            };
            let sigma2 = Sigma2::decode(&s2).expect("our Sigma2 decodes");
            let shared = eph
                .agree(&sigma2.responder_eph_pub)
                .expect("our key is valid");
            let s3k = keys::sigma3_key(&shared, &ipk, &s1, &s2);
            let enc = keys::tbe_encrypt(&s3k, keys::TBE3_NONCE, rest);
            let s3 = matter_ble::case::messages::Sigma3 { encrypted3: enc }.encode();
            h.input(0, Op::CASE_SIGMA3, &s3);
            assert!(h.ended.contains(&0), "a Sigma3 always ends the handshake");
        }
        _ => {
            let _ = h.sigma1(true);
            assert!(
                h.sent.iter().any(|t| t.1 == Op::CASE_SIGMA2_RESUME),
                "a valid resumption is answered with Sigma2Resume"
            );
            h.input(0, Op::STATUS_REPORT, rest);
        }
    }
    if mode % 4 != 3 {
        assert_eq!(
            h.established, 0,
            "established without the initiator's signature"
        );
    }
}

#[cfg(test)]
mod tests {
    use matter_ble::rng::Rng;

    use super::*;

    #[test]
    fn handcrafted_inputs() {
        // Mode 3 with a success StatusReport establishes by resumption.
        case_responder(&[3, 0, 0, 0, 0, 0, 0, 0, 0]);
        for input in [
            &[][..],
            &[0],
            &[1],
            &[2],
            &[2, 0x15, 0x18],
            &[0, 0, 0, 2, 0x15, 0x18],
        ] {
            case_responder(input);
        }
    }

    #[test]
    fn random_inputs() {
        let mut rng = TestRng::new(0xca5e);
        for _ in 0..300 {
            let len = (rng.next_u32() % 160) as usize;
            let mut input = vec![0u8; len];
            rng.fill(&mut input);
            case_responder(&input);
        }
    }
}
