//! DER writer/reader tests: golden bytes, non-DER rejection tables, property tests.
use super::*;
use hex_literal::hex;
use proptest::prelude::*;

fn w(f: impl FnOnce(&mut DerWriter)) -> Vec<u8> {
    let mut w = DerWriter::new();
    f(&mut w);
    w.finish().unwrap()
}

#[test]
fn integer_leading_zero_rule() {
    assert_eq!(w(|w| w.integer_u64(0)), hex!("020100"));
    assert_eq!(w(|w| w.integer_u64(127)), hex!("02017F"));
    assert_eq!(w(|w| w.integer_u64(128)), hex!("02020080"));
    assert_eq!(w(|w| w.integer_u64(256)), hex!("02020100"));
    assert_eq!(w(|w| w.integer_unsigned(&[])), hex!("020100"));
    assert_eq!(
        w(|w| w.integer_unsigned(&hex!("0000FF01"))),
        hex!("020300FF01")
    );
    assert_eq!(
        w(|w| w.integer_u64(u64::MAX)),
        hex!("020900FFFFFFFFFFFFFFFF")
    );
}

#[test]
fn lengths_short_and_long_form() {
    assert_eq!(&w(|w| w.octet_string(&[0; 127]))[..2], hex!("047F"));
    assert_eq!(&w(|w| w.octet_string(&[0; 128]))[..3], hex!("048180"));
    assert_eq!(&w(|w| w.octet_string(&[0; 256]))[..4], hex!("04820100"));
    let big = w(|w| w.sequence(|w| w.octet_string(&[7; 300])));
    assert_eq!(&big[..9], hex!("3082013004 82012C 07"));
    let mut r = DerReader::new(&big);
    let mut s = r.sequence().unwrap();
    assert_eq!(s.octet_string().unwrap(), &[7; 300][..]);
    s.finish().unwrap();
    r.finish().unwrap();
}

#[test]
fn oids_golden() {
    // ecdsa-with-SHA256 1.2.840.10045.4.3.2; prime256v1 1.2.840.10045.3.1.7;
    // matter-node-id 1.3.6.1.4.1.37244.1.1 (Matter 1.3 §6.5.6.1).
    assert_eq!(
        encode_oid(&[1, 2, 840, 10045, 4, 3, 2]).unwrap(),
        hex!("2A8648CE3D040302")
    );
    assert_eq!(
        encode_oid(&[1, 2, 840, 10045, 3, 1, 7]).unwrap(),
        hex!("2A8648CE3D030107")
    );
    assert_eq!(
        encode_oid(&[1, 3, 6, 1, 4, 1, 37244, 1, 1]).unwrap(),
        hex!("2B0601040182A27C0101")
    );
    assert_eq!(encode_oid(&[2, 5, 29, 19]).unwrap(), hex!("551D13"));
    assert!(encode_oid(&[1]).is_err());
    assert!(encode_oid(&[3, 1]).is_err());
    assert!(encode_oid(&[1, 40]).is_err());
    assert_eq!(w(|w| w.oid(&hex!("551D13"))), hex!("0603551D13"));
}

#[test]
fn strings_bool_null_bits() {
    assert_eq!(w(|w| w.boolean(true)), hex!("0101FF"));
    assert_eq!(w(|w| w.boolean(false)), hex!("010100"));
    assert_eq!(w(|w| w.null()), hex!("0500"));
    assert_eq!(w(|w| w.utf8_string("é")), hex!("0C02C3A9"));
    assert_eq!(w(|w| w.printable_string("AB 1")), hex!("130441422031"));
    let mut bad = DerWriter::new();
    bad.printable_string("a@b");
    assert_eq!(bad.finish(), Err(DerError::BadString));
    assert_eq!(w(|w| w.bit_string(0, &hex!("04AB"))), hex!("03030004AB"));
    // KeyUsage keyCertSign(5) | cRLSign(6) = 03 02 01 06; digitalSignature(0) = 03 02 07 80.
    assert_eq!(w(|w| w.named_bits(1 << 5 | 1 << 6)), hex!("03020106"));
    assert_eq!(w(|w| w.named_bits(1)), hex!("03020780"));
    // decipherOnly (8) spills into a second byte.
    assert_eq!(w(|w| w.named_bits(1 << 8 | 1)), hex!("0303078080"));
    let mut bad = DerWriter::new();
    bad.bit_string(1, &[0x01]);
    assert_eq!(bad.finish(), Err(DerError::BadBitString));
}

#[test]
fn nested_and_context() {
    let v = w(|w| {
        w.sequence(|w| {
            w.context(0, |w| w.integer_u64(2));
            w.set(|w| w.null());
            w.context_primitive(0, &hex!("0102"));
            w.octet_string_with(|w| w.boolean(true));
            w.bit_string_with(|w| w.null());
        })
    });
    assert_eq!(
        v,
        hex!("3017 A003020102 31020500 80020102 04030101FF 0303000500")
    );
    let mut r = DerReader::new(&v);
    let mut s = r.sequence().unwrap();
    assert_eq!(s.context(0).unwrap().integer_u64().unwrap(), 2);
    s.set().unwrap().null().unwrap();
    assert_eq!(s.read(0x80).unwrap(), hex!("0102"));
    assert!(DerReader::new(s.octet_string().unwrap()).boolean().unwrap());
    assert_eq!(s.bit_string_octets().unwrap(), hex!("0500"));
    s.finish().unwrap();
}

#[test]
fn times_golden() {
    let t = DateTime::new(2020, 10, 15, 14, 23, 43).unwrap();
    assert_eq!(w(|w| w.time(&t)), b"\x17\x0D201015142343Z");
    assert_eq!(
        w(|w| w.time(&DateTime::NO_EXPIRY)),
        b"\x18\x0F99991231235959Z"
    );
    assert_eq!(w(|w| w.generalized_time(&t)), b"\x18\x0F20201015142343Z");
    let mut bad = DerWriter::new();
    bad.utc_time(&DateTime::NO_EXPIRY);
    assert_eq!(bad.finish(), Err(DerError::BadTime));
    // Matter epoch conversions.
    assert_eq!(
        DateTime::from_matter_seconds(0),
        DateTime::new(2000, 1, 1, 0, 0, 0).unwrap()
    );
    assert_eq!(t.to_matter_seconds(), Some(656_087_023));
    assert_eq!(DateTime::from_matter_seconds(656_087_023), t);
    assert_eq!(
        DateTime::from_unix_seconds(951_782_400).unwrap(),
        DateTime::new(2000, 2, 29, 0, 0, 0).unwrap()
    );
    let mut r = DerReader::new(b"\x17\x0D500101000000Z");
    assert_eq!(r.time().unwrap().year, 1950);
}

#[test]
fn reader_rejects_non_der() {
    let bad: &[(&[u8], DerError)] = &[
        (&[], DerError::Truncated),
        (&[0x04], DerError::Truncated),
        (&hex!("0402AA"), DerError::Truncated),
        (&hex!("1F0100"), DerError::UnsupportedTag),
        (&hex!("0480"), DerError::BadLength),     // indefinite
        (&hex!("04817F"), DerError::BadLength),   // long form for < 128
        (&hex!("0482007F"), DerError::BadLength), // leading zero length byte
        (&hex!("048500000000FF"), DerError::BadLength), // > 4 length bytes
        (&hex!("0484FFFFFFFF"), DerError::Truncated), // huge length, no data
    ];
    for (input, err) in bad {
        assert_eq!(
            DerReader::new(input).read_any().unwrap_err(),
            *err,
            "{input:02X?}"
        );
    }
    let int = |b: &[u8]| DerReader::new(b).integer_unsigned().map(|x| x.to_vec());
    assert_eq!(int(&hex!("0200")), Err(DerError::BadInteger));
    assert_eq!(int(&hex!("0202007F")), Err(DerError::BadInteger));
    assert_eq!(int(&hex!("0202FF80")), Err(DerError::BadInteger));
    assert_eq!(int(&hex!("020180")), Err(DerError::BadInteger)); // negative
    assert_eq!(int(&hex!("02020080")), Ok(vec![0x80]));
    assert_eq!(int(&hex!("020100")), Ok(vec![0]));
    assert_eq!(
        DerReader::new(&hex!("0209010000000000000000")).integer_u64(),
        Err(DerError::BadInteger)
    );
    assert_eq!(
        DerReader::new(&hex!("010101")).boolean(),
        Err(DerError::BadBoolean)
    );
    assert_eq!(
        DerReader::new(&hex!("03020801")).bit_string(),
        Err(DerError::BadBitString)
    );
    assert_eq!(
        DerReader::new(&hex!("03020101")).bit_string(),
        Err(DerError::BadBitString)
    );
    assert_eq!(
        DerReader::new(&hex!("030101")).bit_string(),
        Err(DerError::BadBitString)
    );
    // Named bits with a trailing zero bit (0x03 0x02 0x00 0x40 should be 0x01 0x40... ).
    assert_eq!(
        DerReader::new(&hex!("03020040")).named_bits(),
        Err(DerError::BadBitString)
    );
    assert_eq!(DerReader::new(&hex!("03020106")).named_bits(), Ok(0x60));
    assert_eq!(DerReader::new(&hex!("0600")).oid(), Err(DerError::BadOid));
    assert_eq!(DerReader::new(&hex!("060186")).oid(), Err(DerError::BadOid));
    assert_eq!(
        DerReader::new(&hex!("06022A80")).oid(),
        Err(DerError::BadOid)
    );
    assert_eq!(
        DerReader::new(&hex!("0603558001")).oid(),
        Err(DerError::BadOid)
    );
    assert_eq!(
        DerReader::new(&hex!("050100")).null(),
        Err(DerError::BadNull)
    );
    assert_eq!(
        DerReader::new(&hex!("130140")).printable_string(),
        Err(DerError::BadString)
    );
    assert_eq!(
        DerReader::new(&hex!("0C01FF")).utf8_string(),
        Err(DerError::BadString)
    );
    assert_eq!(
        DerReader::new(&hex!("0201 00")).read(0x04),
        Err(DerError::UnexpectedTag {
            expected: 0x04,
            found: 0x02
        })
    );
    assert_eq!(
        DerReader::new(&hex!("05000500")).finish(),
        Err(DerError::TrailingData(4))
    );
    for t in [
        &b"\x17\x0C20101514234Z"[..], // short
        b"\x17\x0D201015142343+",     // no Z
        b"\x17\x0D201315142343Z",     // month 13
        b"\x17\x0D210229000000Z",     // not a leap year
        b"\x17\x0D201015246000Z",     // hour 24
        b"\x18\x1120201015142343.5Z", // fraction
        b"\x18\x0F2020101514234AZ",   // non-digit
        b"\x0C\x0D201015142343Z",     // wrong tag
    ] {
        assert!(DerReader::new(t).time().is_err(), "{t:?}");
    }
}

#[test]
fn read_optional_and_raw() {
    let v = hex!("0201 05 0400");
    let mut r = DerReader::new(&v);
    assert_eq!(r.read_optional(0x01).unwrap(), None);
    let t = r.read_optional(0x02).unwrap().unwrap();
    assert_eq!(t.raw, hex!("020105"));
    assert_eq!(t.content, [5]);
    assert_eq!(r.remaining(), hex!("0400"));
}

proptest! {
    #[test]
    fn reader_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut r = DerReader::new(&data);
        while let Ok(t) = r.read_any() {
            let mut inner = DerReader::new(t.content);
            let _ = inner.integer_unsigned();
            let _ = DerReader::new(t.raw).time();
            let _ = DerReader::new(t.raw).named_bits();
            let _ = DerReader::new(t.raw).oid();
            let _ = DerReader::new(t.raw).integer_u64();
        }
    }

    #[test]
    fn integer_round_trip(v in any::<u64>()) {
        let enc = w(|w| w.integer_u64(v));
        let mut r = DerReader::new(&enc);
        prop_assert_eq!(r.integer_u64().unwrap(), v);
        r.finish().unwrap();
    }

    #[test]
    fn time_round_trip(secs in -2_208_988_800i64..253_402_300_799i64) {
        let t = DateTime::from_unix_seconds(secs).unwrap();
        prop_assert_eq!(t.to_unix_seconds(), secs);
        let enc = w(|w| w.time(&t));
        prop_assert_eq!(DerReader::new(&enc).time().unwrap(), t);
    }

    #[test]
    fn named_bits_round_trip(bits in any::<u32>()) {
        let enc = w(|w| w.named_bits(bits));
        prop_assert_eq!(DerReader::new(&enc).named_bits().unwrap(), bits);
    }
}
