//! TLV decode/encode benchmarks: a PBKDFParamRequest-shaped struct and a ReportData-shaped tree
//! (Matter 1.3 §8.9.5.1 / §10.6.3 shapes). Each decode is paired with the owned-tree decode of the
//! same bytes, the reference the zero-copy reader is measured against in the same run.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use matter_ble::tlv::{Container, Tag, TlvError, TlvReader, TlvValue, TlvWriter};

fn pbkdf_request(buf: &mut Vec<u8>) -> Result<(), TlvError> {
    let mut w = TlvWriter::new(buf);
    w.start_struct(Tag::Anonymous)?;
    w.octets(Tag::Context(1), &[0x5A; 32])?;
    w.u16(Tag::Context(2), 0x1234)?;
    w.u16(Tag::Context(3), 0)?;
    w.bool(Tag::Context(4), false)?;
    w.start_struct(Tag::Context(5))?;
    w.u32(Tag::Context(1), 500)?;
    w.u32(Tag::Context(2), 300)?;
    w.u16(Tag::Context(3), 4000)?;
    w.end_container()?;
    w.end_container()?;
    w.finish().map(drop)
}

/// ReportData { 1: [ AttributeReportIB { 1: AttributeDataIB { 0: version, 1: path[ep, cl, attr],
/// 2: data } } x 40 ], 4: suppress }.
fn report_data(buf: &mut Vec<u8>) -> Result<(), TlvError> {
    let mut w = TlvWriter::new(buf);
    w.start_struct(Tag::Anonymous)?;
    w.start_array(Tag::Context(1))?;
    for i in 0..40u32 {
        w.start_struct(Tag::Anonymous)?;
        w.start_struct(Tag::Context(1))?;
        w.u32(Tag::Context(0), 0xABCD_0000 + i)?;
        w.start_list(Tag::Context(1))?;
        w.u16(Tag::Context(2), 0)?;
        w.u32(Tag::Context(3), 0x28)?;
        w.u32(Tag::Context(4), i)?;
        w.end_container()?;
        if i % 2 == 0 {
            w.utf8(Tag::Context(2), "matter-ble example vendor")?;
        } else {
            w.start_array(Tag::Context(2))?;
            for j in 0..4u32 {
                w.start_struct(Tag::Anonymous)?;
                w.u32(Tag::Context(0), 0x16 + j)?;
                w.u16(Tag::Context(1), 1)?;
                w.end_container()?;
            }
            w.end_container()?;
        }
        w.end_container()?;
        w.end_container()?;
    }
    w.end_container()?;
    w.bool(Tag::Context(4), true)?;
    w.u8(Tag::Context(0xFF), 12)?;
    w.end_container()?;
    w.finish().map(drop)
}

fn read_pbkdf(b: &[u8]) -> Result<u32, TlvError> {
    let s = TlvReader::new(b).read_struct()?;
    let rnd: &[u8] = s.octets(1)?;
    let sid = s.u16(2)?;
    let pid = s.u16(3)?;
    let has = s.bool(4)?;
    let params = s.opt_structure(5)?;
    let idle = match params {
        Some(p) => p.opt_u32(1)?.unwrap_or(0),
        None => 0,
    };
    Ok(rnd.len() as u32 + u32::from(sid) + u32::from(pid) + u32::from(has) + idle)
}

fn walk(c: Container<'_>) -> Result<usize, TlvError> {
    let mut n = 0;
    for m in c.iter() {
        let m = m?;
        n += 1;
        if let Some(inner) = m.value.container() {
            n += walk(inner)?;
        }
    }
    Ok(n)
}

fn bench(c: &mut Criterion) {
    let mut pbkdf = Vec::new();
    pbkdf_request(&mut pbkdf).unwrap();
    let mut report = Vec::new();
    report_data(&mut report).unwrap();

    let mut g = c.benchmark_group("tlv");
    g.bench_function("encode/pbkdf_request", |b| {
        let mut buf = Vec::with_capacity(128);
        b.iter(|| {
            buf.clear();
            pbkdf_request(black_box(&mut buf)).unwrap();
        })
    });
    g.bench_function("encode/report_data", |b| {
        let mut buf = Vec::with_capacity(4096);
        b.iter(|| {
            buf.clear();
            report_data(black_box(&mut buf)).unwrap();
        })
    });
    g.bench_function("decode/pbkdf_request/typed", |b| {
        b.iter(|| read_pbkdf(black_box(&pbkdf)).unwrap())
    });
    g.bench_function("decode/pbkdf_request/owned_tree", |b| {
        b.iter(|| TlvValue::decode(black_box(&pbkdf)).unwrap())
    });
    g.bench_function("decode/report_data/walk", |b| {
        b.iter(|| walk(TlvReader::new(black_box(&report)).read_struct().unwrap()).unwrap())
    });
    g.bench_function("decode/report_data/owned_tree", |b| {
        b.iter(|| TlvValue::decode(black_box(&report)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
