//! AddNOC chain validation cost next to the three raw ECDSA P-256 verifications it cannot avoid.
//!
//! Run with `cargo bench --bench cert -- --quick`. After criterion's report the bench prints
//! `ratio = validate_chain / 3 raw verifies`, measured interleaved in the same run: the ratio of
//! the fastest blocks and the median of per-round ratios. Everything above 1.0 is decoding the
//! three TLV certificates, rebuilding their DER TBS and checking the chain rules.
//!
//! The chain (RCAC -> ICAC -> NOC) is issued once with fixed keys through the public API; the raw
//! side verifies the same three TBS/signature pairs with `p256::ecdsa` directly, keys already
//! parsed.

use std::hint::black_box;
use std::time::Instant as WallClock;

use criterion::{criterion_group, Criterion};
use matter_ble::cert::matter::{key_purpose, key_usage};
use matter_ble::cert::x509::public_key_bytes;
use matter_ble::cert::{validate_chain, DistinguishedName, DnAttribute, Extension, MatterCert};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};

struct Fixture {
    rcac: Vec<u8>,
    icac: Vec<u8>,
    noc: Vec<u8>,
    raw: Vec<(VerifyingKey, Vec<u8>, Signature)>,
}

fn issue(
    subject: Vec<DnAttribute>,
    issuer: Vec<DnAttribute>,
    key: &SigningKey,
    signer: &SigningKey,
    ids: (u8, u8),
    ca: bool,
) -> MatterCert {
    let mut extensions = vec![Extension::BasicConstraints {
        is_ca: ca,
        path_len: None,
    }];
    if ca {
        extensions.push(Extension::KeyUsage(
            key_usage::KEY_CERT_SIGN | key_usage::CRL_SIGN,
        ));
    } else {
        extensions.push(Extension::KeyUsage(key_usage::DIGITAL_SIGNATURE));
        extensions.push(Extension::ExtendedKeyUsage(vec![
            key_purpose::CLIENT_AUTH,
            key_purpose::SERVER_AUTH,
        ]));
    }
    extensions.push(Extension::SubjectKeyId([ids.0; 20]));
    extensions.push(Extension::AuthorityKeyId([ids.1; 20]));
    let mut c = MatterCert {
        serial: vec![ids.0],
        issuer: DistinguishedName(issuer),
        not_before: 656_087_023,
        not_after: 0,
        subject: DistinguishedName(subject),
        public_key: public_key_bytes(key.verifying_key()),
        extensions,
        signature: [0; 64],
    };
    c.sign(signer).expect("sign");
    c
}

impl Fixture {
    fn new() -> Self {
        let key = |n: u8| SigningKey::from_slice(&[n; 32]).expect("key");
        let (rk, ik, nk) = (key(1), key(2), key(3));
        let root_dn = vec![DnAttribute::RcacId(0xCACA_CACA_0000_0001)];
        let ica_dn = vec![DnAttribute::IcacId(0xCACA_CACA_0000_0003)];
        let rcac = issue(root_dn.clone(), root_dn, &rk, &rk, (1, 1), true);
        let icac = issue(
            ica_dn.clone(),
            rcac.subject.0.clone(),
            &ik,
            &rk,
            (2, 1),
            true,
        );
        let noc = issue(
            vec![
                DnAttribute::NodeId(0xDEDE_DEDE_0001_0001),
                DnAttribute::FabricId(0xFAB0_0000_0000_001D),
            ],
            ica_dn,
            &nk,
            &ik,
            (3, 2),
            false,
        );
        let raw = [(&rcac, &rk), (&icac, &rk), (&noc, &ik)]
            .into_iter()
            .map(|(c, signer)| {
                (
                    *signer.verifying_key(),
                    c.to_der_tbs().expect("tbs"),
                    Signature::from_slice(&c.signature).expect("sig"),
                )
            })
            .collect();
        Self {
            rcac: rcac.to_tlv().expect("tlv"),
            icac: icac.to_tlv().expect("tlv"),
            noc: noc.to_tlv().expect("tlv"),
            raw,
        }
    }

    fn validate(&self) -> bool {
        validate_chain(&self.noc, Some(&self.icac), &self.rcac, None).is_ok()
    }

    fn raw(&self) -> bool {
        self.raw
            .iter()
            .all(|(vk, tbs, sig)| vk.verify(tbs, sig).is_ok())
    }
}

fn bench(c: &mut Criterion) {
    let fx = Fixture::new();
    assert!(fx.validate() && fx.raw(), "fixture chain must validate");
    c.bench_function("cert/validate_chain_noc_icac_rcac", |b| {
        b.iter(|| black_box(fx.validate()))
    });
    c.bench_function("cert/raw_ecdsa_verify_x3", |b| {
        b.iter(|| black_box(fx.raw()))
    });
}

fn report_ratio(rounds: usize, per_block: u32) {
    let fx = Fixture::new();
    let time = |f: &dyn Fn() -> bool| {
        let t = WallClock::now();
        for _ in 0..per_block {
            assert!(black_box(f()));
        }
        t.elapsed().as_secs_f64()
    };
    let validate = || fx.validate();
    let raw = || fx.raw();
    time(&validate);
    time(&raw);
    let (mut v_min, mut r_min) = (f64::MAX, f64::MAX);
    let mut ratios = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let (v, r) = if round % 2 == 0 {
            let v = time(&validate);
            (v, time(&raw))
        } else {
            let r = time(&raw);
            (time(&validate), r)
        };
        v_min = v_min.min(v);
        r_min = r_min.min(r);
        ratios.push(v / r);
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    let per = f64::from(per_block);
    println!(
        "cert: validate_chain {:.1} us, 3 raw ECDSA verifies {:.1} us (fastest blocks of \
         {per_block}); ratio = {:.3} (fastest blocks), {median:.3} (median of {rounds} rounds)",
        v_min / per * 1e6,
        r_min / per * 1e6,
        v_min / r_min,
    );
}

criterion_group!(benches, bench);

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not (then one token round).
    let benching = std::env::args().any(|a| a == "--bench");
    benches();
    Criterion::default().configure_from_args().final_summary();
    if benching {
        report_ratio(30, 10);
    } else {
        println!("cert: test mode, one token round follows (not a measurement)");
        report_ratio(1, 1);
    }
}
