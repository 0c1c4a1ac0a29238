//! Tests of the TLV codec: spec examples, CHIP SDK golden encodings, malformed input, round trips.

use hex_literal::hex;
use proptest::prelude::*;

use super::*;

fn enc(f: impl FnOnce(&mut TlvWriter<'_>) -> Result<(), TlvError>) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = TlvWriter::new(&mut buf);
    f(&mut w).expect("write");
    w.finish().expect("balanced");
    buf
}

fn one(bytes: &[u8]) -> (Tag, TlvValue) {
    TlvValue::decode(bytes).expect("decode")
}

const TP1: (u16, u16) = (0xAABB, 0xCCDD); // CHIP TestTLV's TestProfile_1 = 0xAABBCCDD
fn fq1(tag: u32) -> Tag {
    Tag::FullyQualified {
        vendor_id: TP1.0,
        profile: TP1.1,
        tag,
    }
}

/// Examples from the Matter 1.3 specification, Appendix A.12 (Tables 128 and 129: "TLV encoding
/// examples"), as also reproduced in the rs-matter and CHIP SDK TLV tests. `(bytes, tag, value)`.
#[test]
fn spec_appendix_examples_decode_and_encode() {
    use TlvValue::*;
    let anon = Tag::Anonymous;
    let s = |m: Vec<(Tag, TlvValue)>| Struct(m);
    let cases: Vec<(Vec<u8>, Tag, TlvValue)> = vec![
        (hex!("08").to_vec(), anon, Bool(false)),
        (hex!("09").to_vec(), anon, Bool(true)),
        (hex!("00 2a").to_vec(), anon, Int(42)),
        (hex!("00 ef").to_vec(), anon, Int(-17)),
        (hex!("04 2a").to_vec(), anon, UInt(42)),
        (hex!("02 f0 67 fd ff").to_vec(), anon, Int(-170000)),
        (
            hex!("03 00 90 2f 50 09 00 00 00").to_vec(),
            anon,
            Int(40_000_000_000),
        ),
        (
            hex!("0c 06 48 65 6c 6c 6f 21").to_vec(),
            anon,
            Utf8("Hello!".into()),
        ),
        (
            hex!("0c 07 54 73 63 68 c3 bc 73").to_vec(),
            anon,
            Utf8("Tschüs".into()),
        ),
        (
            hex!("10 05 00 01 02 03 04").to_vec(),
            anon,
            Octets(vec![0, 1, 2, 3, 4]),
        ),
        (hex!("14").to_vec(), anon, Null),
        (hex!("0a 00 00 00 00").to_vec(), anon, Float(0.0)),
        (hex!("0a ab aa aa 3e").to_vec(), anon, Float(1.0 / 3.0)),
        (hex!("0a 33 33 8f 41").to_vec(), anon, Float(17.9)),
        (hex!("0a 00 00 80 7f").to_vec(), anon, Float(f32::INFINITY)),
        (
            hex!("0a 00 00 80 ff").to_vec(),
            anon,
            Float(f32::NEG_INFINITY),
        ),
        (
            hex!("0b 00 00 00 00 00 00 00 00").to_vec(),
            anon,
            Double(0.0),
        ),
        (
            hex!("0b 55 55 55 55 55 55 d5 3f").to_vec(),
            anon,
            Double(1.0 / 3.0),
        ),
        (
            hex!("0b 66 66 66 66 66 e6 31 40").to_vec(),
            anon,
            Double(17.9),
        ),
        (
            hex!("0b 00 00 00 00 00 00 f0 7f").to_vec(),
            anon,
            Double(f64::INFINITY),
        ),
        (
            hex!("0b 00 00 00 00 00 00 f0 ff").to_vec(),
            anon,
            Double(f64::NEG_INFINITY),
        ),
        (hex!("15 18").to_vec(), anon, s(vec![])),
        (hex!("16 18").to_vec(), anon, Array(vec![])),
        (hex!("17 18").to_vec(), anon, List(vec![])),
        (
            hex!("15 20 00 2a 20 01 ef 18").to_vec(),
            anon,
            s(vec![
                (Tag::Context(0), Int(42)),
                (Tag::Context(1), Int(-17)),
            ]),
        ),
        (
            hex!("16 00 00 00 01 00 02 00 03 00 04 18").to_vec(),
            anon,
            Array((0..5).map(|i| (anon, Int(i))).collect()),
        ),
        (
            hex!("17 00 01 20 00 2a 00 02 00 03 20 00 ef 18").to_vec(),
            anon,
            List(vec![
                (anon, Int(1)),
                (Tag::Context(0), Int(42)),
                (anon, Int(2)),
                (anon, Int(3)),
                (Tag::Context(0), Int(-17)),
            ]),
        ),
        (
            hex!("16 00 2a 02 f0 67 fd ff 15 18 0a 33 33 8f 41 0c 06 48 65 6c 6c 6f 21 18")
                .to_vec(),
            anon,
            Array(vec![
                (anon, Int(42)),
                (anon, Int(-170000)),
                (anon, s(vec![])),
                (anon, Float(17.9)),
                (anon, Utf8("Hello!".into())),
            ]),
        ),
        (
            hex!("44 01 00 2a").to_vec(),
            Tag::CommonProfile(1),
            UInt(42),
        ),
        (
            hex!("64 a0 86 01 00 2a").to_vec(),
            Tag::CommonProfile(100_000),
            UInt(42),
        ),
        (
            hex!("c4 f1 ff ed de 01 00 2a").to_vec(),
            Tag::FullyQualified {
                vendor_id: 0xFFF1,
                profile: 0xDEED,
                tag: 1,
            },
            UInt(42),
        ),
        (
            hex!("e4 f1 ff ed de ed fe 55 aa 2a").to_vec(),
            Tag::FullyQualified {
                vendor_id: 0xFFF1,
                profile: 0xDEED,
                tag: 0xAA55_FEED,
            },
            UInt(42),
        ),
        (
            hex!("d5 f1 ff ed de 01 00 c4 f1 ff ed de 55 aa 2a 18").to_vec(),
            Tag::FullyQualified {
                vendor_id: 0xFFF1,
                profile: 0xDEED,
                tag: 1,
            },
            s(vec![(
                Tag::FullyQualified {
                    vendor_id: 0xFFF1,
                    profile: 0xDEED,
                    tag: 0xAA55,
                },
                UInt(42),
            )]),
        ),
    ];
    for (bytes, tag, value) in cases {
        assert_eq!(one(&bytes), (tag, value.clone()), "decode {bytes:02x?}");
        // The spec's 2-byte signed example (01 2a 00) is not minimal, so it is only decoded below.
        assert_eq!(value.to_bytes(tag), bytes, "encode {value:?}");
    }
    // Non-minimal widths decode to the same values (Table 128: "Signed Integer, 2-octet, 42").
    assert_eq!(one(&hex!("01 2a 00")).1, TlvValue::Int(42));
    // A context tag inside a structure (Table 129: "1 = 42U").
    let s = TlvReader::new(&hex!("15 24 01 2a 18"))
        .read_struct()
        .unwrap();
    assert_eq!(s.u8(1), Ok(42));
}

/// `Encoding1` from the CHIP SDK's src/lib/core/tests/TestTLV.cpp (project-chip/connectedhomeip),
/// which the SDK writes in `WriteEncoding1`: profile tags of TestProfile_1 (fully qualified) and of
/// TestProfile_2 (implicit), a context-tagged array, a list, a 270-byte string under a 4-byte
/// common-profile tag, float and double.
fn chip_encoding1() -> Vec<u8> {
    let head = hex!(
        "D5 BB AA DD CC 01 00 C9 BB AA DD CC 02 00 88 02 00 36 00 00 2A 00 EF 02 F0 67 FD FF 07 00"
        "90 2F 50 09 00 00 00 15 18 17 D4 BB AA DD CC 11 00 B4 A0 BB 0D 00 14 B5 00 28 6B EE 6D 70"
        "11 01 00 0E 01"
    );
    let tail = hex!(
        "18 18 18 CC BB AA DD CC 05 00 0E 54 68 69 73 20 69 73 20 61 20 74 65 73 74 8A FF FF 33 33"
        "8F 41 AB 00 00 01 00 66 66 66 66 66 E6 31 40 18"
    );
    [&head[..], CHIP_LARGE_STRING.as_bytes(), &tail[..]].concat()
}

/// `sLargeString` of the same file (270 bytes).
const CHIP_LARGE_STRING: &str = concat!(
    "START...",
    "!123456789ABCDEF@123456789ABCDEF#123456789ABCDEF$123456789ABCDEF%123456789ABCDEF^123456789ABCDEF&123456789ABCDEF*123456789ABCDEF",
    "01234567(9ABCDEF01234567)9ABCDEF01234567-9ABCDEF01234567=9ABCDEF01234567[9ABCDEF01234567]9ABCDEF01234567;9ABCDEF01234567'9ABCDEF",
    "...END"
);

fn chip_encoding1_tree() -> (Tag, TlvValue) {
    use TlvValue::*;
    let anon = Tag::Anonymous;
    (
        fq1(1),
        Struct(vec![
            (fq1(2), Bool(true)),
            (Tag::ImplicitProfile(2), Bool(false)),
            (
                Tag::Context(0),
                Array(vec![
                    (anon, Int(42)),
                    (anon, Int(-17)),
                    (anon, Int(-170000)),
                    (anon, UInt(40_000_000_000)),
                    (anon, Struct(vec![])),
                    (
                        anon,
                        List(vec![
                            (fq1(17), Null),
                            (Tag::ImplicitProfile(900_000), Null),
                            (anon, Null),
                            (
                                Tag::ImplicitProfile(4_000_000_000),
                                Struct(vec![(
                                    Tag::CommonProfile(70_000),
                                    Utf8(CHIP_LARGE_STRING.into()),
                                )]),
                            ),
                        ]),
                    ),
                ]),
            ),
            (fq1(5), Utf8("This is a test".into())),
            (Tag::ImplicitProfile(65535), Float(17.9)),
            (Tag::ImplicitProfile(65536), Double(17.9)),
        ]),
    )
}

#[test]
fn chip_encoding1_decodes_and_reencodes() {
    assert_eq!(CHIP_LARGE_STRING.len(), 270);
    let (tag, tree) = chip_encoding1_tree();
    assert_eq!(one(&chip_encoding1()), (tag, tree.clone()));
    assert_eq!(tree.to_bytes(tag), chip_encoding1());
}

/// CHIP TestTLV's `WriteIntMinMax`/`CheckIntMinMax`: the extremes of each width, written with
/// the smallest width that holds them, and read back into every Rust type that can hold them.
#[test]
fn int_min_max_widths_and_range_checks() {
    let bytes = enc(|w| {
        w.i8(Tag::Anonymous, i8::MIN)?;
        w.i16(Tag::Anonymous, i16::MAX)?;
        w.i32(Tag::Anonymous, i32::MIN)?;
        w.i64(Tag::Anonymous, i64::MAX)?;
        w.u8(Tag::Anonymous, u8::MAX)?;
        w.u16(Tag::Anonymous, u16::MAX)?;
        w.u32(Tag::Anonymous, u32::MAX)?;
        w.u64(Tag::Anonymous, u64::MAX)
    });
    assert_eq!(
        bytes,
        hex!(
            "00 80  01 ff 7f  02 00 00 00 80  03 ff ff ff ff ff ff ff 7f"
            "04 ff  05 ff ff  06 ff ff ff ff  07 ff ff ff ff ff ff ff ff"
        )
    );
    let mut r = TlvReader::new(&bytes);
    let mut next = || r.next().unwrap().unwrap().value;
    let v = next();
    assert_eq!(v.decode::<i8>(), Ok(i8::MIN));
    assert_eq!(v.decode::<i64>(), Ok(-128));
    assert!(matches!(v.decode::<u8>(), Err(TlvError::WrongType { .. })));
    let v = next();
    assert!(matches!(
        v.decode::<i8>(),
        Err(TlvError::IntegerOutOfRange { .. })
    ));
    assert_eq!(v.decode::<i16>(), Ok(i16::MAX));
    let v = next();
    assert!(matches!(
        v.decode::<i16>(),
        Err(TlvError::IntegerOutOfRange { .. })
    ));
    assert_eq!(v.decode::<i32>(), Ok(i32::MIN));
    let v = next();
    assert!(matches!(
        v.decode::<i32>(),
        Err(TlvError::IntegerOutOfRange { .. })
    ));
    assert_eq!(v.decode::<i64>(), Ok(i64::MAX));
    let v = next();
    assert_eq!(v.decode::<u8>(), Ok(u8::MAX));
    assert!(matches!(v.decode::<i16>(), Err(TlvError::WrongType { .. })));
    let v = next();
    assert!(matches!(
        v.decode::<u8>(),
        Err(TlvError::IntegerOutOfRange { .. })
    ));
    assert_eq!(v.decode::<u16>(), Ok(u16::MAX));
    let v = next();
    assert!(matches!(
        v.decode::<u16>(),
        Err(TlvError::IntegerOutOfRange { .. })
    ));
    assert_eq!(v.decode::<u64>(), Ok(u64::from(u32::MAX)));
    let v = next();
    assert!(matches!(
        v.decode::<u32>(),
        Err(TlvError::IntegerOutOfRange { .. })
    ));
    assert_eq!(v.decode::<u64>(), Ok(u64::MAX));
}

#[test]
fn writer_picks_minimal_widths() {
    assert_eq!(enc(|w| w.u64(Tag::Anonymous, 255)), hex!("04 ff"));
    assert_eq!(enc(|w| w.u64(Tag::Anonymous, 256)), hex!("05 00 01"));
    assert_eq!(
        enc(|w| w.u64(Tag::Anonymous, 0x1_0000)),
        hex!("06 00 00 01 00")
    );
    assert_eq!(enc(|w| w.i64(Tag::Anonymous, -129)), hex!("01 7f ff"));
    assert_eq!(enc(|w| w.i64(Tag::Anonymous, 128)), hex!("01 80 00"));
    assert_eq!(enc(|w| w.u32(Tag::Context(2), 0)), hex!("24 02 00"));
    let long = vec![0xAB; 256];
    let b = enc(|w| w.octets(Tag::Anonymous, &long));
    assert_eq!(&b[..3], &hex!("11 00 01"));
    assert_eq!(b.len(), 259);
    assert_eq!(enc(|w| w.utf8(Tag::Anonymous, "")), hex!("0c 00"));
    assert_eq!(
        enc(|w| w.u8(Tag::ImplicitProfile(1), 42)),
        hex!("84 01 00 2a")
    );
    assert_eq!(
        enc(|w| w.u8(Tag::ImplicitProfile(100_000), 42)),
        hex!("a4 a0 86 01 00 2a")
    );
}

/// A PBKDFParamRequest-shaped payload read with the typed helpers.
#[test]
fn struct_helpers() {
    let rnd = [0x11u8; 32];
    let bytes = enc(|w| {
        w.start_struct(Tag::Anonymous)?;
        w.octets(Tag::Context(1), &rnd)?;
        w.u16(Tag::Context(2), 0xBEEF)?;
        w.u16(Tag::Context(3), 0)?;
        w.bool(Tag::Context(4), false)?;
        w.start_struct(Tag::Context(5))?;
        w.u32(Tag::Context(1), 5000)?;
        w.u8(Tag::Context(99), 1)?; // unknown member: skipped
        w.end_container()?;
        w.null(Tag::Context(6))?;
        w.end_container()
    });
    let s = TlvReader::new(&bytes).read_struct().unwrap();
    assert_eq!(s.octets(1), Ok(&rnd[..]));
    assert_eq!(s.get::<[u8; 32]>(1), Ok(rnd));
    assert_eq!(
        s.get::<[u8; 16]>(1),
        Err(TlvError::WrongLength {
            expected: 16,
            found: 32
        })
    );
    assert_eq!(s.u16(2), Ok(0xBEEF));
    assert_eq!(s.u8(2), Err(TlvError::IntegerOutOfRange { target: "u8" }));
    assert_eq!(s.bool(4), Ok(false));
    assert_eq!(s.opt_bool(7), Ok(None));
    assert_eq!(s.u32(7), Err(TlvError::MissingField { tag: 7 }));
    assert_eq!(
        s.utf8(2),
        Err(TlvError::WrongType {
            expected: ElementType::Utf8String,
            found: ElementType::UnsignedInt
        })
    );
    let p = s.structure(5).unwrap();
    assert_eq!(p.u32(1), Ok(5000));
    assert_eq!(s.opt_structure(8), Ok(None));
    assert!(s.array(5).is_err());
    assert_eq!(s.nullable::<u8>(6), Ok(None));
    assert_eq!(s.opt_nullable::<u8>(6), Ok(Some(None)));
    assert_eq!(s.opt_nullable::<u16>(2), Ok(Some(Some(0xBEEF))));
    assert_eq!(s.iter().count(), 6);
}

#[test]
fn read_element_rejects_trailing_and_empty() {
    assert_eq!(
        TlvReader::new(&hex!("15 18 00")).read_struct(),
        Err(TlvError::TrailingData { count: 1 })
    );
    assert_eq!(TlvReader::new(&[]).read_element(), Err(TlvError::Empty));
    assert!(matches!(
        TlvReader::new(&hex!("04 01")).read_struct(),
        Err(TlvError::WrongType { .. })
    ));
    // `next` walks several top-level elements.
    let mut r = TlvReader::new(&hex!("04 01 15 18 08"));
    assert_eq!(r.next().unwrap().unwrap().value, Value::UInt(1));
    assert!(matches!(r.next().unwrap().unwrap().value, Value::Struct(_)));
    assert_eq!(r.next().unwrap().unwrap().value, Value::Bool(false));
    assert_eq!(r.next(), Ok(None));
}

/// Malformed inputs and the error each must give.
#[test]
fn malformed_corpus() {
    let cases: &[(&[u8], TlvError)] = &[
        (&hex!("05 01"), TlvError::Truncated { needed: 1 }),
        (&hex!("07"), TlvError::Truncated { needed: 8 }),
        (&hex!("24"), TlvError::Truncated { needed: 1 }),
        (&hex!("c4 f1 ff ed"), TlvError::Truncated { needed: 1 }),
        (&hex!("0a 00 00"), TlvError::Truncated { needed: 2 }),
        (&hex!("0c 05 41 42"), TlvError::Truncated { needed: 3 }),
        (&hex!("11 ff"), TlvError::Truncated { needed: 1 }),
        (
            &hex!("12 00 00 00 01 00"),
            TlvError::Truncated {
                needed: 0x0100_0000 - 1,
            },
        ),
        (&hex!("0c 02 c3 28"), TlvError::InvalidUtf8),
        (&hex!("15"), TlvError::UnterminatedContainer),
        (&hex!("15 24 01 2a"), TlvError::UnterminatedContainer),
        (&hex!("16 15 18"), TlvError::UnterminatedContainer),
        (&hex!("18"), TlvError::InvalidEndOfContainer),
        (&hex!("15 38 01 18"), TlvError::InvalidEndOfContainer),
        (&hex!("19"), TlvError::ReservedElementType(0x19)),
        (&hex!("15 3f 01 18"), TlvError::ReservedElementType(0x1f)),
        (&hex!("15 18 1c"), TlvError::TrailingData { count: 1 }),
        (&hex!("16 1c 18"), TlvError::ReservedElementType(0x1c)),
        (&hex!("15 24 01"), TlvError::Truncated { needed: 1 }),
    ];
    for (bytes, want) in cases {
        let got = TlvValue::decode(bytes);
        assert_eq!(
            got.as_ref().err(),
            Some(want),
            "input {bytes:02x?}: {got:?}"
        );
    }
    // An 8-byte length beyond the input: too large for a 32-bit address space, truncated on 64.
    assert!(matches!(
        TlvValue::decode(&hex!("13 ff ff ff ff ff ff ff ff")),
        Err(TlvError::Truncated { .. } | TlvError::LengthTooLarge(_))
    ));
    // Every reserved element type under every tag form.
    for et in 0x19..=0x1Fu8 {
        for tc in 0..8u8 {
            let mut b = vec![(tc << 5) | et];
            b.extend_from_slice(&[0; 8]);
            assert_eq!(
                TlvReader::new(&b).next(),
                Err(TlvError::ReservedElementType(et))
            );
        }
    }
}

#[test]
fn depth_limit() {
    let nested = |n: usize| {
        let mut b = vec![0x16; n];
        b.extend(std::iter::repeat_n(0x18, n));
        b
    };
    assert!(TlvValue::decode(&nested(DEFAULT_MAX_DEPTH.into())).is_ok());
    assert_eq!(
        TlvValue::decode(&nested(usize::from(DEFAULT_MAX_DEPTH) + 1)),
        Err(TlvError::TooDeep {
            max: DEFAULT_MAX_DEPTH
        })
    );
    // A huge nesting (no end markers) fails on depth, not on stack or time.
    let deep = vec![0x17; 1_000_000];
    assert_eq!(
        TlvValue::decode(&deep),
        Err(TlvError::TooDeep {
            max: DEFAULT_MAX_DEPTH
        })
    );
    let three = nested(3);
    assert_eq!(
        TlvReader::with_max_depth(&three, 2).read_element(),
        Err(TlvError::TooDeep { max: 2 })
    );
    assert!(TlvReader::with_max_depth(&nested(2), 2)
        .read_element()
        .is_ok());
    assert_eq!(
        TlvReader::with_max_depth(&nested(1), 0).read_element(),
        Err(TlvError::TooDeep { max: 0 })
    );
}

#[test]
fn skipping_unknown_containers() {
    // {1: [ {..}, [..] ], 2: 7} — looking up 2 skips the whole of member 1.
    let b = hex!("15 36 01 15 24 01 01 18 16 00 05 18 18 24 02 07 18");
    let s = TlvReader::new(&b).read_struct().unwrap();
    assert_eq!(s.u8(2), Ok(7));
    let a = s.array(1).unwrap();
    assert_eq!(a.iter().count(), 2);
}

#[test]
fn writer_limit_checkpoint_and_misuse() {
    let mut buf = vec![0xEE]; // existing bytes are kept and not counted
    let mut w = TlvWriter::with_limit(&mut buf, 6);
    w.start_array(Tag::Anonymous).unwrap();
    let cp = w.checkpoint();
    w.u8(Tag::Anonymous, 1).unwrap();
    w.u8(Tag::Anonymous, 2).unwrap();
    assert_eq!(w.u16(Tag::Anonymous, 0x300), Err(TlvError::BufferFull));
    assert_eq!(w.written(), 5);
    w.rollback(cp);
    assert_eq!(w.written(), 1);
    w.set_limit(None);
    w.end_container().unwrap();
    assert_eq!(
        w.end_container(),
        Err(TlvError::ApiMisuse(
            "end_container without an open container"
        ))
    );
    assert_eq!(w.finish(), Ok(2));
    assert_eq!(buf, hex!("ee 16 18"));
    let mut buf = Vec::new();
    let mut w = TlvWriter::new(&mut buf);
    w.start_list(Tag::Anonymous).unwrap();
    assert!(matches!(w.finish(), Err(TlvError::ApiMisuse(_))));
}

#[test]
fn value_copy_is_verbatim() {
    let b = hex!("15 36 01 15 24 01 01 18 18 24 02 07 18");
    let s = TlvReader::new(&b).read_struct().unwrap();
    let out = enc(|w| {
        w.start_struct(Tag::Anonymous)?;
        for m in s.iter() {
            w.element(&m?)?;
        }
        w.end_container()
    });
    assert_eq!(out, b);
}

fn arb_tag() -> BoxedStrategy<Tag> {
    prop_oneof![
        Just(Tag::Anonymous),
        any::<u8>().prop_map(Tag::Context),
        any::<u32>().prop_map(Tag::CommonProfile),
        any::<u32>().prop_map(Tag::ImplicitProfile),
        (any::<u16>(), any::<u16>(), any::<u32>()).prop_map(|(vendor_id, profile, tag)| {
            Tag::FullyQualified {
                vendor_id,
                profile,
                tag,
            }
        }),
    ]
    .boxed()
}

fn arb_value() -> impl Strategy<Value = TlvValue> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(TlvValue::Int),
        any::<u64>().prop_map(TlvValue::UInt),
        any::<bool>().prop_map(TlvValue::Bool),
        any::<f32>().prop_map(TlvValue::Float),
        any::<f64>().prop_map(TlvValue::Double),
        ".{0,40}".prop_map(TlvValue::Utf8),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(TlvValue::Octets),
        Just(TlvValue::Null),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        let members = proptest::collection::vec((arb_tag(), inner), 0..8);
        prop_oneof![
            members.clone().prop_map(TlvValue::Struct),
            members.clone().prop_map(TlvValue::Array),
            members.prop_map(TlvValue::List),
        ]
    })
}

proptest! {
    #[test]
    fn prop_write_read_round_trip(tag in arb_tag(), v in arb_value()) {
        let bytes = v.to_bytes(tag);
        prop_assert_eq!(TlvValue::decode(&bytes), Ok((tag, v.clone())));
        // The writer is canonical: re-encoding what was read gives the same bytes.
        let (t2, v2) = TlvValue::decode(&bytes).unwrap();
        prop_assert_eq!(v2.to_bytes(t2), bytes.clone());
        // Every strict prefix fails cleanly.
        for cut in [0, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
            prop_assert!(TlvValue::decode(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn prop_arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = TlvValue::decode(&bytes);
        let mut r = TlvReader::new(&bytes);
        while let Ok(Some(_)) = r.next() {}
    }
}

proptest! {
    /// `find` (which measures skipped members instead of decoding them) agrees with a plain walk
    /// over the members.
    #[test]
    fn prop_find_agrees_with_iteration(
        members in proptest::collection::vec((any::<u8>().prop_map(Tag::Context), arb_value()), 0..8),
        tag in any::<u8>(),
    ) {
        let bytes = TlvValue::Struct(members).to_bytes(Tag::Anonymous);
        let s = TlvReader::new(&bytes).read_struct().unwrap();
        let walked = s.iter().map(|m| m.unwrap()).find(|m| m.tag == Tag::Context(tag));
        prop_assert_eq!(s.find(tag).unwrap(), walked);
    }
}
