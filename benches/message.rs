//! Message header decode/encode throughput (criterion). Run with
//! `cargo bench --bench message -- --quick`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use matter_ble::message::{
    Destination, Message, Packet, PacketHeader, PayloadHeader, ProtocolId, SecureChannelOpcode,
};

fn sample() -> Message {
    Message {
        packet_header: PacketHeader {
            session_id: 0x1234,
            message_counter: 0x0102_0304,
            source_node_id: Some(0x1122_3344_5566_7788),
            destination: Destination::Node(0x8877_6655_4433_2211),
            privacy: false,
            control: false,
        },
        payload_header: PayloadHeader {
            initiator: true,
            needs_ack: true,
            acked_counter: Some(7),
            ..PayloadHeader::new(
                0xBEEF,
                ProtocolId::SECURE_CHANNEL,
                SecureChannelOpcode::PASE_PAKE1.value(),
            )
        },
        payload: vec![0x15; 64],
    }
}

fn bench(c: &mut Criterion) {
    let m = sample();
    let mut bytes = Vec::new();
    m.encode_plain(&mut bytes);

    c.bench_function("message/header_decode", |b| {
        b.iter(|| {
            let p = Packet::decode(black_box(&bytes)).unwrap();
            let (h, rest) = PayloadHeader::decode(p.payload).unwrap();
            black_box((p.header, h, rest.len()))
        })
    });
    let mut out = Vec::with_capacity(128);
    c.bench_function("message/header_encode", |b| {
        b.iter(|| {
            out.clear();
            black_box(&m.packet_header).encode(&mut out);
            black_box(&m.payload_header).encode(&mut out);
            black_box(out.len())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
