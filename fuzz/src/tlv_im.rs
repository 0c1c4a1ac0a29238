//! Fuzz harnesses for the TLV codec and the Interaction Model responder.
//!
//! [`tlv`] decodes arbitrary bytes and checks that whatever decodes re-encodes canonically and
//! decodes back to the same tree, and that the typed member look-ups never panic.
//! [`im_request`] feeds arbitrary bytes to an [`ImExchange`] as a request of a chosen opcode,
//! answers every report chunk with StatusResponse(SUCCESS), and checks that the exchange ends,
//! that every chunk respects the payload limit, and that every message it sends is valid TLV.

use matter_ble::fabric::{NodeState, Subject};
use matter_ble::im::clusters::DeviceInfo;
use matter_ble::im::{DataModel, ImExchange, Opcode, SessionContext, Status, StatusResponse};
use matter_ble::rng::TestRng;
use matter_ble::time::Instant;
use matter_ble::tlv::{TlvReader, TlvValue};

/// Runs one fuzz input through the TLV reader and writer.
pub fn tlv(data: &[u8]) {
    if let Ok((tag, v)) = TlvValue::decode(data) {
        let bytes = v.to_bytes(tag);
        let again = TlvValue::decode(&bytes).expect("our own encoding decodes");
        assert_eq!(again, (tag, v), "round trip changed the tree");
        assert_eq!(again.1.to_bytes(tag), bytes, "encoding is not canonical");
    }
    if let Ok(s) = TlvReader::new(data).read_struct() {
        for t in [0, 1, 2, 3, 4, 5, 0xFF] {
            let _ = s.u64(t);
            let _ = s.i32(t);
            let _ = s.octets(t);
            let _ = s.utf8(t);
            let _ = s.opt_structure(t);
            let _ = s.opt_list(t);
            let _ = s.nullable::<u16>(t);
        }
    }
}

/// Runs one fuzz input as an IM request. Byte 0 is the opcode, byte 1 the payload limit in
/// units of 8 bytes, the rest the payload.
pub fn im_request(data: &[u8]) {
    let [op, limit, payload @ ..] = data else {
        return;
    };
    let limit = usize::from(*limit) * 8;
    let mut model = DataModel::root_node(DeviceInfo::default(), 1);
    // A PASE subject: implicit Administer, so every path and command is reachable.
    let mut state = NodeState::default();
    let mut rng = TestRng::new(1);
    let mut session = SessionContext {
        subject: Subject::pase(None),
        state: &mut state,
        rng: &mut rng,
        attestation_challenge: &[0; 16],
    };
    let mut ex = ImExchange::new(limit);
    let success = StatusResponse {
        status: Status::SUCCESS,
    }
    .encode();
    ex.handle_message(
        Instant::ZERO,
        &mut model,
        &mut session,
        Opcode(*op),
        payload,
    );
    for _ in 0..10_000 {
        let mut sent_report = false;
        while let Some(m) = ex.poll_message() {
            assert!(
                TlvReader::new(&m.payload).read_struct().is_ok(),
                "{:?} is not one TLV structure",
                m.opcode
            );
            if m.opcode == Opcode::REPORT_DATA {
                assert!(m.payload.len() <= limit.max(64), "chunk over the limit");
                sent_report = true;
            }
        }
        if ex.is_done() || !sent_report {
            return;
        }
        ex.handle_message(
            Instant::ZERO,
            &mut model,
            &mut session,
            Opcode::STATUS_RESPONSE,
            &success,
        );
    }
    panic!("read never finished");
}

#[cfg(test)]
mod tests {
    use matter_ble::rng::{Rng, TestRng};

    use super::*;

    #[test]
    fn harnesses_run_on_handcrafted_inputs() {
        tlv(&[0x15, 0x36, 0x00, 0x17, 0x24, 0x02, 0x00, 0x18, 0x18, 0x18]);
        // A full wildcard read at the smallest limit: many chunks, split lists.
        im_request(&[0x02, 0x00, 0x15, 0x36, 0x00, 0x17, 0x18, 0x18, 0x18]);
        im_request(&[0x02, 0x20, 0x15, 0x36, 0x00, 0x17, 0x18, 0x18, 0x18]);
        im_request(&[0x0A, 0x80, 0x15, 0x24, 0x00, 0x10, 0x18]);
    }

    #[test]
    fn harnesses_survive_random_inputs() {
        let mut rng = TestRng::new(0x71f);
        for _ in 0..20_000 {
            let len = (rng.next_u32() % 120) as usize;
            let mut input = vec![0u8; len];
            rng.fill(&mut input);
            tlv(&input);
            if let Some(op) = input.first_mut() {
                *op %= 12;
            }
            im_request(&input);
        }
    }
}
