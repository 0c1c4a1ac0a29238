//! Secure session encode+decode of a 1 KiB application payload against raw AES-128-CCM
//! encrypt+decrypt of the same bytes, in the same run. Prints the ratio (target <= 1.15).
//! Run with `cargo bench --bench session -- --quick`.

use std::hint::black_box;
use std::time::{Duration, Instant as StdInstant};

use aes::Aes128;
use ccm::aead::AeadInOut;
use ccm::consts::{U13, U16};
use ccm::{Ccm, KeyInit};
use criterion::{criterion_group, criterion_main, Criterion};
use matter_ble::message::{Packet, PayloadHeader, ProtocolId};
use matter_ble::rng::TestRng;
use matter_ble::session::params::SessionParameters;
use matter_ble::session::{SecureSession, SecureSessionParams, UNSPECIFIED_NODE_ID};
use matter_ble::time::Instant;

type Aes128Ccm = Ccm<Aes128, U16, U13>;

const PAYLOAD: usize = 1024;

fn sessions() -> (SecureSession<()>, SecureSession<()>) {
    let mut rng = TestRng::new(1);
    let secret = [0x42u8; 16];
    let p = |local, peer, is_initiator| SecureSessionParams {
        local_session_id: local,
        peer_session_id: peer,
        peer_node_id: UNSPECIFIED_NODE_ID,
        shared_secret: &secret,
        salt: &[],
        is_initiator,
        is_resumption: false,
        fabric: None,
        context: (),
        peer_parameters: SessionParameters::default(),
        mrp_enabled: true,
    };
    let i = SecureSession::create(Instant::ZERO, p(1, 2, true), &mut rng).unwrap();
    let r = SecureSession::create(Instant::ZERO, p(2, 1, false), &mut rng).unwrap();
    (i, r)
}

/// One session round: encode on the initiator, decode on the responder. `receive` would also
/// run the replay window, so the bench uses the stateless `decode`, as a raw CCM decrypt is.
fn session_round(
    i: &mut SecureSession<()>,
    r: &SecureSession<()>,
    header: &PayloadHeader,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> usize {
    out.clear();
    i.encode_next(Instant::ZERO, header, payload, out).unwrap();
    let packet = Packet::decode(out).unwrap();
    r.decode(&packet).unwrap().payload.len()
}

fn raw_round(
    key: &Aes128Ccm,
    nonce: &[u8; 13],
    aad: &[u8; 8],
    payload: &[u8],
    buf: &mut Vec<u8>,
) -> usize {
    buf.clear();
    buf.extend_from_slice(payload);
    let tag = key
        .encrypt_inout_detached(nonce.into(), aad, buf.as_mut_slice().into())
        .unwrap();
    let mut copy = buf.clone();
    key.decrypt_inout_detached(nonce.into(), aad, copy.as_mut_slice().into(), &tag)
        .unwrap();
    copy.len()
}

fn bench(c: &mut Criterion) {
    let (mut i, r) = sessions();
    let header = PayloadHeader {
        initiator: true,
        needs_ack: true,
        ..PayloadHeader::new(1, ProtocolId::INTERACTION_MODEL, 0x05)
    };
    let payload = vec![0xA5u8; PAYLOAD];
    let key = Aes128Ccm::new(&[0x11u8; 16].into());
    let nonce = [0u8; 13];
    let aad = [0u8; 8];
    let mut out = Vec::with_capacity(PAYLOAD + 64);
    let mut buf = Vec::with_capacity(PAYLOAD + 64);

    let mut g = c.benchmark_group("session_1k");
    g.bench_function("secure_session_encode_decode", |b| {
        b.iter(|| {
            black_box(session_round(
                &mut i,
                &r,
                &header,
                black_box(&payload),
                &mut out,
            ))
        })
    });
    g.bench_function("raw_ccm_encrypt_decrypt", |b| {
        b.iter(|| black_box(raw_round(&key, &nonce, &aad, black_box(&payload), &mut buf)))
    });
    g.finish();

    // The ratio, from interleaved batches: the fastest batch of each side, so that load from
    // other processes (which only ever adds time) cancels out; the median is printed too.
    let batch = 200u32;
    let (mut t_session, mut t_raw) = (Vec::new(), Vec::new());
    for _ in 0..60 {
        let s = StdInstant::now();
        for _ in 0..batch {
            black_box(session_round(
                &mut i,
                &r,
                &header,
                black_box(&payload),
                &mut out,
            ));
        }
        t_session.push(s.elapsed());
        let s = StdInstant::now();
        for _ in 0..batch {
            black_box(raw_round(&key, &nonce, &aad, black_box(&payload), &mut buf));
        }
        t_raw.push(s.elapsed());
    }
    t_session.sort();
    t_raw.sort();
    let per = |d: Duration| d.as_nanos() as f64 / f64::from(batch);
    let (s_min, r_min) = (per(t_session[0]), per(t_raw[0]));
    let (s_med, r_med) = (per(t_session[30]), per(t_raw[30]));
    println!(
        "session_1k ratio (secure session encode+decode / raw ccm encrypt+decrypt): \
         {:.3} best-of-60 ({s_min:.0} ns vs {r_min:.0} ns), {:.3} median; target <= 1.15",
        s_min / r_min,
        s_med / r_med,
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
