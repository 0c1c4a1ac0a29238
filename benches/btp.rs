//! BTP throughput: SDUs of 1 KiB and 64 KiB from a central engine to a peripheral engine over a
//! zero-latency in-memory GATT loopback at fragment 244 / window 6.
//!
//! Prints, before criterion's timings:
//! - goodput = SDU bytes / all bytes handed to GATT (both directions, acks included); target
//!   >= 0.98 for 64 KiB;
//! - engine CPU time per KiB (both engines together) against the radio's time for the same bytes:
//!   BLE 1M PHY carries roughly 100 KB/s of GATT payload at best, about 10 ms per KiB.

use std::hint::black_box;
use std::time::Instant as WallClock;

use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use matter_ble::btp::{BtpConfig, BtpEngine, BtpEvent};
use matter_ble::time::Instant;

const FRAGMENT: u16 = 244;
const WINDOW: u8 = 6;
/// The largest SDU BTP's 16-bit length field allows, our "64 KiB".
const BIG: usize = 65_535;
const SMALL: usize = 1024;
/// GATT payload rate of BLE 1M PHY at best, bytes per second.
const RADIO_BYTES_PER_SEC: f64 = 100_000.0;

struct Loopback {
    central: BtpEngine,
    peripheral: BtpEngine,
    now: Instant,
    gatt_bytes: u64,
    buf: Vec<u8>,
}

impl Loopback {
    fn new() -> Self {
        let config = BtpConfig {
            max_window: WINDOW,
            max_sdu_size: BIG,
            ..BtpConfig::default()
        };
        let mtu = Some(FRAGMENT + 3);
        let mut lb = Self {
            central: BtpEngine::central(config.clone(), mtu),
            peripheral: BtpEngine::peripheral(config, mtu),
            now: Instant::ZERO,
            gatt_bytes: 0,
            buf: Vec::new(),
        };
        // Handshake: request, write response, subscription, response indication.
        lb.pump();
        lb.peripheral.handle_subscribed(lb.now);
        lb.pump();
        assert!(lb.central.is_established() && lb.peripheral.is_established());
        assert_eq!(lb.central.fragment_size(), Some(FRAGMENT));
        while lb.central.poll_event().is_some() {}
        while lb.peripheral.poll_event().is_some() {}
        lb
    }

    /// Moves values both ways until neither engine has anything to send.
    fn pump(&mut self) -> bool {
        let mut any = false;
        loop {
            let mut moved = false;
            if let Some(t) = self.central.poll_transmit(self.now, &mut self.buf) {
                self.gatt_bytes += t.len as u64;
                self.peripheral.handle_segment(self.now, &self.buf);
                self.central.handle_indication_done(self.now);
                moved = true;
            }
            if let Some(t) = self.peripheral.poll_transmit(self.now, &mut self.buf) {
                self.gatt_bytes += t.len as u64;
                self.central.handle_segment(self.now, &self.buf);
                self.peripheral.handle_indication_done(self.now);
                moved = true;
            }
            if !moved {
                return any;
            }
            any = true;
        }
    }

    /// Sends one SDU from the central and runs until the peripheral has it; returns its length.
    fn transfer(&mut self, sdu: Vec<u8>) -> usize {
        self.central.send_sdu(self.now, sdu).expect("queued");
        loop {
            self.pump();
            match self.peripheral.poll_event() {
                Some(BtpEvent::SduReceived(s)) => return s.len(),
                Some(other) => panic!("unexpected {other:?}"),
                None => {}
            }
            // Nothing moved and nothing arrived: let the earliest timer fire.
            let next = [self.central.poll_timeout(), self.peripheral.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .expect("a stalled transfer must have a timer");
            self.now = self.now.max(next);
            self.central.handle_timeout(self.now);
            self.peripheral.handle_timeout(self.now);
        }
    }
}

fn sdu(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 13 + 7) as u8).collect()
}

/// Goodput and CPU cost, printed as ratios against the target and the radio.
fn report() {
    for len in [SMALL, BIG] {
        let mut lb = Loopback::new();
        let rounds = if len == BIG { 200 } else { 5000 };
        let payload = sdu(len);
        let before = lb.gatt_bytes;
        let started = WallClock::now();
        for _ in 0..rounds {
            assert_eq!(lb.transfer(black_box(payload.clone())), len);
        }
        let cpu = started.elapsed().as_secs_f64();
        let app = (len * rounds) as f64;
        let goodput = app / (lb.gatt_bytes - before) as f64;
        let kib = app / 1024.0;
        let cpu_per_kib_us = cpu / kib * 1e6;
        let radio_per_kib_us = 1024.0 / RADIO_BYTES_PER_SEC * 1e6;
        println!(
            "btp {len:>5} B SDU @ fragment {FRAGMENT} / window {WINDOW}: goodput {goodput:.4} \
             (target >= 0.98 for 64 KiB: {}); engine CPU {cpu_per_kib_us:.2} us/KiB vs radio \
             {radio_per_kib_us:.0} us/KiB = {:.5} of the radio's time",
            if len != BIG {
                "n/a"
            } else if goodput >= 0.98 {
                "met"
            } else {
                "MISSED"
            },
            cpu_per_kib_us / radio_per_kib_us,
        );
    }
}

fn bench_btp(c: &mut Criterion) {
    let mut group = c.benchmark_group("btp_loopback");
    for len in [SMALL, BIG] {
        let payload = sdu(len);
        let mut lb = Loopback::new();
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(format!("{len}B"), |b| {
            b.iter_batched(
                || payload.clone(),
                |s| lb.transfer(s),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_btp);

fn main() {
    report();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
