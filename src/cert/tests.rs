//! Certificate tests: CHIP SDK and matter.js vectors both ways, chain validation positive and
//! negative cases, malformed-input tables, mutation property tests, CSRs, the compressed
//! fabric id vector and the X.509 builder.

use hex_literal::hex;
use p256::ecdsa::SigningKey;
use proptest::prelude::*;

use super::chain::{compressed_fabric_id, validate_chain, validate_rcac};
use super::csr::{build_csr, request_info, verify_csr};
use super::der::{DateTime, DerReader};
use super::matter::{
    key_purpose, key_usage, DistinguishedName, DnAttribute, Extension, MatterCert,
};
use super::test_vectors::*;
use super::x509::{self, oid, BuilderExtension, Name, NameValue, X509Builder, X509Cert};
use super::CertError;

fn key(b: &[u8]) -> SigningKey {
    SigningKey::from_slice(b).unwrap()
}

fn seeded_key(n: u8) -> SigningKey {
    key(&[n; 32])
}

// ---------------------------------------------------------------------------------------------
// Golden conversions
// ---------------------------------------------------------------------------------------------

#[test]
fn chip_vectors_tlv_to_der_and_back() {
    for (name, tlv, der) in [
        ("Root01", CHIP_ROOT01_TLV, CHIP_ROOT01_DER),
        ("ICA01", CHIP_ICA01_TLV, CHIP_ICA01_DER),
        ("Node01_01", CHIP_NODE01_01_TLV, CHIP_NODE01_01_DER),
    ] {
        assert_eq!(
            MatterCert::tlv_to_der(tlv).unwrap(),
            der,
            "{name} TLV -> DER"
        );
        assert_eq!(
            MatterCert::der_to_tlv(der).unwrap(),
            tlv,
            "{name} DER -> TLV"
        );
        let c = MatterCert::from_tlv(tlv).unwrap();
        assert_eq!(c.to_tlv().unwrap(), tlv, "{name} TLV re-encode");
        assert_eq!(MatterCert::from_der(der).unwrap(), c, "{name} same model");
        // The generic parser agrees on the TBS and signature.
        let x = X509Cert::parse(der).unwrap();
        assert_eq!(x.tbs, c.to_der_tbs().unwrap().as_slice());
        assert_eq!(x.signature, c.signature);
    }
}

#[test]
fn chip_node01_01_fields() {
    let c = MatterCert::from_tlv(CHIP_NODE01_01_TLV).unwrap();
    assert_eq!(c.serial, hex!("18e969ba0e089e23"));
    assert_eq!(c.subject.node_id(), Some(0xDEDE_DEDE_0001_0001));
    assert_eq!(c.subject.fabric_id(), Some(0xFAB0_0000_0000_001D));
    assert_eq!(c.issuer.icac_id(), Some(0xCACA_CACA_0000_0003));
    // Oct 15 14:23:43 2020 GMT .. Oct 15 14:23:42 2040 GMT.
    assert_eq!(
        DateTime::from_matter_seconds(c.not_before),
        DateTime::new(2020, 10, 15, 14, 23, 43).unwrap()
    );
    assert_eq!(
        DateTime::from_matter_seconds(c.not_after),
        DateTime::new(2040, 10, 15, 14, 23, 42).unwrap()
    );
    assert_eq!(c.basic_constraints(), Some((false, None)));
    assert_eq!(c.key_usage(), Some(key_usage::DIGITAL_SIGNATURE));
    assert_eq!(
        c.extended_key_usage(),
        Some(&[key_purpose::CLIENT_AUTH, key_purpose::SERVER_AUTH][..])
    );
    assert_eq!(
        c.subject_key_id(),
        Some(&hex!("6967C912F8A3E689556F899B65D76F53FA65C7B6"))
    );
    assert_eq!(
        c.authority_key_id(),
        Some(&hex!("440CC69231C4CB5B37942426F81BBE24B7EF345C"))
    );
}

#[test]
fn chip_root03_no_expiry_is_generalized_9999() {
    let c = MatterCert::from_tlv(CHIP_ROOT03_TLV).unwrap();
    assert_eq!(c.not_after, 0);
    assert_eq!(c.basic_constraints(), Some((true, Some(1))));
    let der = c.to_der().unwrap();
    let x = X509Cert::parse(&der).unwrap();
    assert_eq!(x.not_after, DateTime::NO_EXPIRY);
    assert!(der.windows(17).any(|w| w == b"\x18\x0F99991231235959Z"));
    // Self-signed over that DER: proves the no-expiry encoding matches the CHIP SDK's.
    let v = validate_rcac(CHIP_ROOT03_TLV, Some(u32::MAX)).unwrap();
    assert_eq!(v.cert.subject.fabric_id(), Some(0xFAB0_0000_0000_001D));
    assert_eq!(MatterCert::der_to_tlv(&der).unwrap(), CHIP_ROOT03_TLV);
}

#[test]
fn matterjs_sets_round_trip_and_validate() {
    // Real ecosystem chains (Apple, Google, Amazon, SmartThings, Aqara) and the spec's example:
    // the signatures only verify if our DER is byte-exact with what their CAs signed.
    assert_eq!(MATTERJS_SETS.len(), 7);
    for (name, root, icac, noc) in MATTERJS_SETS {
        let certs = [Some(root), icac.as_ref(), Some(noc)];
        for (tlv, tbs) in certs.into_iter().flatten() {
            let c = MatterCert::from_tlv(tlv).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(c.to_tlv().unwrap(), *tlv, "{name} TLV re-encode");
            let der = c.to_der().unwrap();
            if let Some(tbs) = tbs {
                assert_eq!(c.to_der_tbs().unwrap(), *tbs, "{name} DER TBS");
            }
            assert_eq!(
                MatterCert::der_to_tlv(&der).unwrap(),
                *tlv,
                "{name} DER -> TLV"
            );
        }
        let chain = validate_chain(noc.0, icac.map(|i| i.0), root.0, None);
        match (*name, chain) {
            (_, Ok(v)) => {
                let n = MatterCert::from_tlv(noc.0).unwrap();
                assert_eq!(Some(v.node_id), n.subject.node_id(), "{name}");
                assert_eq!(Some(v.fabric_id), n.subject.fabric_id(), "{name}");
            }
            (name, Err(e)) => panic!("{name}: chain rejected: {e}"),
        }
    }
}

#[test]
fn chip_chain_with_and_without_icac() {
    let v = validate_chain(
        CHIP_NODE01_01_TLV,
        Some(CHIP_ICA01_TLV),
        CHIP_ROOT01_TLV,
        None,
    )
    .unwrap();
    assert_eq!(v.node_id, 0xDEDE_DEDE_0001_0001);
    assert_eq!(v.fabric_id, 0xFAB0_0000_0000_001D);
    assert!(v.cats.is_empty());
    assert_eq!(v.root_public_key[..3], hex!("043b88"));
    assert_eq!(v.noc_public_key[..3], hex!("04bcf6"));
    assert_eq!(v.noc.der, CHIP_NODE01_01_DER);
    assert_eq!(v.icac.as_ref().unwrap().der, CHIP_ICA01_DER);
    assert_eq!(v.rcac.der, CHIP_ROOT01_DER);

    let v = validate_chain(CHIP_NODE01_02_TLV, None, CHIP_ROOT01_TLV, None).unwrap();
    assert_eq!(v.node_id, 0xDEDE_DEDE_0001_0002);
    assert!(v.icac.is_none());
}

#[test]
fn compressed_fabric_id_spec_vector() {
    // Matter 1.3 §4.3.2.2 example.
    let root = hex!(
        "044a9f42b1ca4840d37292bbc7f6a7e11e22200c976fc900dbc98a7a383a641cb8"
        "254a2e56d4e295a847943b4e3897c4a773e930277b4d9fbede8a052686bfacfa"
    );
    assert_eq!(
        compressed_fabric_id(&root, 0x2906_C908_D115_D362),
        hex!("87E1B004E235A130")
    );
}

// ---------------------------------------------------------------------------------------------
// Chain validation, negative cases (own chains signed with the CHIP test keys or fixed keys)
// ---------------------------------------------------------------------------------------------

fn resign(tlv: &[u8], f: impl FnOnce(&mut MatterCert), signer: &SigningKey) -> Vec<u8> {
    let mut c = MatterCert::from_tlv(tlv).unwrap();
    f(&mut c);
    c.sign(signer).unwrap();
    c.to_tlv().unwrap()
}

fn ica01_key() -> SigningKey {
    key(CHIP_ICA01_PRIV)
}

fn root01_key() -> SigningKey {
    key(CHIP_ROOT01_PRIV)
}

fn chip_chain(noc: &[u8], icac: &[u8]) -> Result<super::ValidatedChain, CertError> {
    validate_chain(noc, Some(icac), CHIP_ROOT01_TLV, None)
}

#[test]
fn resigned_unchanged_noc_still_validates() {
    // The re-signing helper is sound: without a change the chain still holds.
    let noc = resign(CHIP_NODE01_01_TLV, |_| {}, &ica01_key());
    chip_chain(&noc, CHIP_ICA01_TLV).unwrap();
}

#[test]
fn wrong_signature_rejected() {
    let mut noc = CHIP_NODE01_01_TLV.to_vec();
    let n = noc.len();
    noc[n - 10] ^= 0x01; // inside the signature
    assert_eq!(
        chip_chain(&noc, CHIP_ICA01_TLV),
        Err(CertError::BadSignature)
    );
    // Signed by the wrong key.
    let noc = resign(CHIP_NODE01_01_TLV, |_| {}, &root01_key());
    assert_eq!(
        chip_chain(&noc, CHIP_ICA01_TLV),
        Err(CertError::BadSignature)
    );
    // A changed field under the original signature.
    let noc = {
        let mut c = MatterCert::from_tlv(CHIP_NODE01_01_TLV).unwrap();
        c.not_after += 1;
        c.to_tlv().unwrap()
    };
    assert_eq!(
        chip_chain(&noc, CHIP_ICA01_TLV),
        Err(CertError::BadSignature)
    );
}

#[test]
fn wrong_issuer_rejected() {
    // Node01_01 is issued by ICA01, not directly by Root01.
    assert_eq!(
        validate_chain(CHIP_NODE01_01_TLV, None, CHIP_ROOT01_TLV, None),
        Err(CertError::IssuerMismatch)
    );
    // Right issuer name, wrong AKID.
    let noc = resign(
        CHIP_NODE01_01_TLV,
        |c| {
            for e in &mut c.extensions {
                if let Extension::AuthorityKeyId(k) = e {
                    k[0] ^= 1;
                }
            }
        },
        &ica01_key(),
    );
    assert_eq!(
        chip_chain(&noc, CHIP_ICA01_TLV),
        Err(CertError::KeyIdMismatch)
    );
}

#[test]
fn ca_flags_and_usages_enforced() {
    let set_bc = |is_ca: bool| {
        move |c: &mut MatterCert| {
            for e in &mut c.extensions {
                if let Extension::BasicConstraints { is_ca: ca, .. } = e {
                    *ca = is_ca;
                }
            }
        }
    };
    // ICAC without the CA flag.
    let icac = resign(CHIP_ICA01_TLV, set_bc(false), &root01_key());
    assert_eq!(chip_chain(CHIP_NODE01_01_TLV, &icac), Err(CertError::NotCa));
    // ICAC without keyCertSign.
    let icac = resign(
        CHIP_ICA01_TLV,
        |c| {
            for e in &mut c.extensions {
                if let Extension::KeyUsage(k) = e {
                    *k = key_usage::CRL_SIGN;
                }
            }
        },
        &root01_key(),
    );
    assert_eq!(
        chip_chain(CHIP_NODE01_01_TLV, &icac),
        Err(CertError::KeyUsage)
    );
    // NOC marked as a CA.
    let noc = resign(CHIP_NODE01_01_TLV, set_bc(true), &ica01_key());
    assert_eq!(
        chip_chain(&noc, CHIP_ICA01_TLV),
        Err(CertError::NotEndEntity)
    );
    // NOC without digitalSignature.
    let noc = resign(
        CHIP_NODE01_01_TLV,
        |c| {
            for e in &mut c.extensions {
                if let Extension::KeyUsage(k) = e {
                    *k = key_usage::KEY_AGREEMENT;
                }
            }
        },
        &ica01_key(),
    );
    assert_eq!(chip_chain(&noc, CHIP_ICA01_TLV), Err(CertError::KeyUsage));
    // NOC with only clientAuth.
    let noc = resign(
        CHIP_NODE01_01_TLV,
        |c| {
            for e in &mut c.extensions {
                if let Extension::ExtendedKeyUsage(p) = e {
                    *p = vec![key_purpose::CLIENT_AUTH];
                }
            }
        },
        &ica01_key(),
    );
    assert_eq!(
        chip_chain(&noc, CHIP_ICA01_TLV),
        Err(CertError::ExtendedKeyUsage)
    );
    // Root with pathlen 0 cannot have an ICAC under it.
    let root = resign(
        CHIP_ROOT01_TLV,
        |c| {
            for e in &mut c.extensions {
                if let Extension::BasicConstraints { path_len, .. } = e {
                    *path_len = Some(0);
                }
            }
        },
        &root01_key(),
    );
    assert_eq!(
        validate_chain(CHIP_NODE01_01_TLV, Some(CHIP_ICA01_TLV), &root, None),
        Err(CertError::PathLength)
    );
}

#[test]
fn fabric_mismatch_rejected() {
    // ICA01 given a fabric id other than the NOC's (and re-signed by the root).
    let icac = resign(
        CHIP_ICA01_TLV,
        |c| {
            c.subject
                .0
                .push(DnAttribute::FabricId(0xFAB0_0000_0000_0001))
        },
        &root01_key(),
    );
    // The NOC's issuer must then carry the same DN, so re-issue it too.
    let noc = resign(
        CHIP_NODE01_01_TLV,
        |c| {
            c.issuer
                .0
                .push(DnAttribute::FabricId(0xFAB0_0000_0000_0001))
        },
        &ica01_key(),
    );
    assert_eq!(chip_chain(&noc, &icac), Err(CertError::FabricMismatch));
    // Same fabric id everywhere is fine.
    let icac = resign(
        CHIP_ICA01_TLV,
        |c| {
            c.subject
                .0
                .push(DnAttribute::FabricId(0xFAB0_0000_0000_001D))
        },
        &root01_key(),
    );
    let noc = resign(
        CHIP_NODE01_01_TLV,
        |c| {
            c.issuer
                .0
                .push(DnAttribute::FabricId(0xFAB0_0000_0000_001D))
        },
        &ica01_key(),
    );
    chip_chain(&noc, &icac).unwrap();
}

#[test]
fn subject_rules_enforced() {
    type Edit = Box<dyn Fn(&mut MatterCert)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "node id 0",
            Box::new(|c| c.subject.0[0] = DnAttribute::NodeId(0)),
        ),
        (
            "node id not operational",
            Box::new(|c| c.subject.0[0] = DnAttribute::NodeId(0xFFFF_FFFF_0000_0001)),
        ),
        (
            "fabric id missing",
            Box::new(|c| {
                c.subject
                    .0
                    .retain(|a| !matches!(a, DnAttribute::FabricId(_)));
            }),
        ),
        (
            "CAT version 0",
            Box::new(|c| c.subject.0.push(DnAttribute::NocCat(0x0001_0000))),
        ),
        (
            "CAT id twice",
            Box::new(|c| {
                c.subject.0.push(DnAttribute::NocCat(0x0001_0001));
                c.subject.0.push(DnAttribute::NocCat(0x0001_0002));
            }),
        ),
        (
            "rcac id in NOC",
            Box::new(|c| c.subject.0.push(DnAttribute::RcacId(1))),
        ),
    ];
    for (what, f) in cases {
        let noc = resign(CHIP_NODE01_01_TLV, |c| f(c), &ica01_key());
        assert!(
            matches!(
                chip_chain(&noc, CHIP_ICA01_TLV),
                Err(CertError::InvalidSubject(_))
            ),
            "{what}"
        );
    }
    // Up to three distinct CATs are returned in order.
    let noc = resign(
        CHIP_NODE01_01_TLV,
        |c| {
            c.subject.0.push(DnAttribute::NocCat(0xABCD_0002));
            c.subject.0.push(DnAttribute::NocCat(0x0001_0001));
        },
        &ica01_key(),
    );
    let v = chip_chain(&noc, CHIP_ICA01_TLV).unwrap();
    assert_eq!(v.cats, vec![0xABCD_0002, 0x0001_0001]);
    // A fourth is a format error.
    let mut c = MatterCert::from_tlv(&noc).unwrap();
    for cat in [0x0002_0001, 0x0003_0001] {
        c.subject.0.push(DnAttribute::NocCat(cat));
    }
    assert!(matches!(c.to_tlv(), Err(CertError::Malformed(_))));
}

#[test]
fn root_rules_enforced() {
    // An ICAC offered as the root is not self-issued.
    assert!(validate_rcac(CHIP_ICA01_TLV, None).is_err());
    // Self-issued name but signed by another key.
    let root = resign(CHIP_ROOT01_TLV, |_| {}, &ica01_key());
    assert_eq!(validate_rcac(&root, None), Err(CertError::BadSignature));
    // AKID differing from SKID.
    let root = resign(
        CHIP_ROOT01_TLV,
        |c| {
            for e in &mut c.extensions {
                if let Extension::AuthorityKeyId(k) = e {
                    k[19] ^= 1;
                }
            }
        },
        &root01_key(),
    );
    assert_eq!(validate_rcac(&root, None), Err(CertError::NotSelfSigned));
}

#[test]
fn validity_checked_only_with_now() {
    let c = MatterCert::from_tlv(CHIP_NODE01_01_TLV).unwrap();
    let ok = |now| {
        validate_chain(
            CHIP_NODE01_01_TLV,
            Some(CHIP_ICA01_TLV),
            CHIP_ROOT01_TLV,
            now,
        )
    };
    ok(None).unwrap();
    ok(Some(c.not_before)).unwrap();
    ok(Some(c.not_after)).unwrap();
    assert_eq!(ok(Some(c.not_before - 1)), Err(CertError::NotYetValid));
    assert_eq!(ok(Some(c.not_after + 1)), Err(CertError::Expired));
}

// ---------------------------------------------------------------------------------------------
// Strict decoding: malformed tables, truncation, mutation
// ---------------------------------------------------------------------------------------------

#[test]
fn every_truncation_is_an_error() {
    for v in [CHIP_ROOT01_TLV, CHIP_ICA01_TLV, CHIP_NODE01_01_TLV] {
        for n in 0..v.len() {
            assert!(MatterCert::from_tlv(&v[..n]).is_err(), "TLV prefix {n}");
        }
    }
    for v in [CHIP_ROOT01_DER, CHIP_ICA01_DER, CHIP_NODE01_01_DER] {
        for n in 0..v.len() {
            assert!(MatterCert::from_der(&v[..n]).is_err(), "DER prefix {n}");
            assert!(X509Cert::parse(&v[..n]).is_err(), "DER prefix {n}");
        }
    }
}

#[test]
fn malformed_tlv_table() {
    let good = CHIP_NODE01_01_TLV;
    let replace = |from: &[u8], to: &[u8]| -> Vec<u8> {
        let i = good.windows(from.len()).position(|w| w == from).unwrap();
        let mut v = good[..i].to_vec();
        v.extend_from_slice(to);
        v.extend_from_slice(&good[i + from.len()..]);
        v
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("not a structure", hex!("1718").to_vec()),
        ("empty structure", hex!("1518").to_vec()),
        ("trailing byte", [good, &[0x00]].concat()),
        // The CHIP SDK's Node01_01_Err01 case: SKID tag changed to a common-profile tag.
        (
            "SKID with profile tag",
            replace(&hex!("300414"), &hex!("50ee0414")),
        ),
        (
            "sig-algo 2",
            replace(&hex!("240201 3703"), &hex!("240202 3703")),
        ),
        ("curve 2", replace(&hex!("240801"), &hex!("240802"))),
        ("pubkey algo 2", replace(&hex!("240701"), &hex!("240702"))),
        (
            "pubkey 64 bytes",
            replace(&hex!("30094104bc"), &hex!("30094004")),
        ),
        (
            "pubkey compressed prefix",
            replace(&hex!("30094104bc"), &hex!("30094103bc")),
        ),
        (
            "serial empty",
            replace(&hex!("30010818e969ba0e089e23"), &hex!("300100")),
        ),
        (
            "not-before negative",
            replace(&hex!("2604ef171b27"), &hex!("2204ef171b27")),
        ),
        (
            "is-ca not bool",
            replace(&hex!("350128011824"), &hex!("35012400181824")),
        ),
        (
            "unknown DN tag",
            replace(&hex!("2711010001"), &hex!("2717010001")),
        ),
        (
            "unknown extension tag",
            replace(&hex!("240201 3603"), &hex!("240701 3603")),
        ),
        (
            "key usage 0",
            replace(&hex!("1824020136"), &hex!("1824020036")),
        ),
        (
            "EKU purpose 7",
            replace(&hex!("3603040204011830"), &hex!("3603040704011830")),
        ),
    ];
    for (what, v) in cases {
        assert!(MatterCert::from_tlv(&v).is_err(), "{what}");
    }
    // Fields out of order: swap not-before and not-after.
    let swapped = replace(
        &hex!("2604ef171b2726056eb5b94c"),
        &hex!("26056eb5b94c2604ef171b27"),
    );
    assert!(matches!(
        MatterCert::from_tlv(&swapped),
        Err(CertError::Malformed(_))
    ));
}

#[test]
fn der_not_expressible_or_not_der_rejected() {
    let good = CHIP_NODE01_01_DER;
    // Garbage.
    for g in [
        &[][..],
        &[0x30, 0x00],
        &[0x30, 0x80, 0x00, 0x00],
        &[0xFF; 16],
    ] {
        assert!(MatterCert::from_der(g).is_err());
    }
    // A DN attribute value in lowercase hex: valid DER but not what Matter regenerates.
    let i = good
        .windows(16)
        .position(|w| w == b"DEDEDEDE00010001")
        .unwrap();
    let mut v = good.to_vec();
    v[i..i + 8].copy_from_slice(b"dededede");
    assert!(matches!(
        MatterCert::from_der(&v),
        Err(CertError::Unsupported(_))
    ));
    // The same certificate rebuilt with basicConstraints non-critical: valid X.509 with Matter
    // names, but the Matter form would regenerate it critical.
    let x = X509Cert::parse(good).unwrap();
    let mut bc = BuilderExtension::basic_constraints(false, None);
    bc.critical = false;
    let b = X509Builder {
        serial: x.serial.to_vec(),
        issuer: Name::Der(x.issuer.to_vec()),
        not_before: x.not_before,
        not_after: x.not_after,
        subject: Name::Der(x.subject.to_vec()),
        public_key: x.public_key,
        extensions: vec![bc],
    };
    let v = b.sign(&ica01_key()).unwrap();
    assert!(X509Cert::parse(&v).is_ok(), "well-formed DER");
    assert!(matches!(
        MatterCert::from_der(&v),
        Err(CertError::Unsupported(_))
    ));
    // With the critical flag it is expressible (and converts back to the same bytes).
    let b = X509Builder {
        extensions: vec![BuilderExtension::basic_constraints(false, None)],
        ..b
    };
    let v = b.sign(&ica01_key()).unwrap();
    let c = MatterCert::from_der(&v).unwrap();
    assert_eq!(c.to_der().unwrap(), v);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mutated_tlv_never_panics_nor_validates_differently(
        muts in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)
    ) {
        let mut v = CHIP_NODE01_01_TLV.to_vec();
        for (i, b) in &muts {
            let i = i.index(v.len());
            v[i] = *b;
        }
        let _ = MatterCert::from_tlv(&v).and_then(|c| c.to_der());
        if let Ok(chain) = chip_chain(&v, CHIP_ICA01_TLV) {
            // Only an encoding-level change that means the same certificate may pass.
            prop_assert_eq!(chain.noc.der.as_slice(), CHIP_NODE01_01_DER);
        }
    }

    #[test]
    fn mutated_der_never_panics(
        muts in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut v = CHIP_ICA01_DER.to_vec();
        for (i, b) in &muts {
            let i = i.index(v.len());
            v[i] = *b;
        }
        let _ = X509Cert::parse(&v);
        if let Ok(c) = MatterCert::from_der(&v) {
            // Whatever converts must convert back to the same bytes.
            prop_assert_eq!(c.to_der().unwrap(), v.clone());
        }
        let n = cut.index(v.len());
        let _ = MatterCert::from_der(&v[..n]);
        let _ = verify_csr(&v[..n]);
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = MatterCert::from_tlv(&data);
        let _ = MatterCert::from_der(&data);
        let _ = verify_csr(&data);
        let _ = validate_chain(&data, None, CHIP_ROOT01_TLV, Some(0));
    }
}

// ---------------------------------------------------------------------------------------------
// CSR
// ---------------------------------------------------------------------------------------------

#[test]
fn csr_request_info_matches_matterjs_golden() {
    let pk: [u8; 65] = MJS_CSR_PUBLIC_KEY.try_into().unwrap();
    assert_eq!(request_info(&pk).unwrap(), MJS_CSR_REQUEST_INFO);
}

#[test]
fn csr_round_trip_and_tamper() {
    let k = seeded_key(7);
    let csr = build_csr(&k).unwrap();
    let v = verify_csr(&csr).unwrap();
    assert_eq!(v.public_key, x509::public_key_bytes(k.verifying_key()));
    // Subject O=CSR as a UTF8String.
    assert_eq!(v.subject, hex!("300e310c300a060355040a0c03435352"));
    // Flip a key byte: the self-signature no longer holds (or the point is invalid).
    let mut bad = csr.clone();
    let i = bad.windows(2).position(|w| w == [0x00, 0x04]).unwrap() + 10;
    bad[i] ^= 1;
    assert!(matches!(
        verify_csr(&bad),
        Err(CertError::BadSignature | CertError::BadPublicKey)
    ));
    for n in 0..csr.len() {
        assert!(verify_csr(&csr[..n]).is_err());
    }
    assert!(verify_csr(&[csr.as_slice(), &[0]].concat()).is_err());
}

// ---------------------------------------------------------------------------------------------
// X.509 builder (for the attestation helper's DAC)
// ---------------------------------------------------------------------------------------------

#[test]
fn builder_issues_a_dac_shaped_certificate() {
    let pai = seeded_key(3);
    let dac = seeded_key(4);
    let pai_subject = {
        let b = X509Builder {
            serial: vec![1],
            issuer: Name::Attributes(vec![]),
            not_before: DateTime::new(2024, 1, 1, 0, 0, 0).unwrap(),
            not_after: DateTime::NO_EXPIRY,
            subject: Name::Attributes(vec![
                (
                    oid::COMMON_NAME.to_vec(),
                    NameValue::Utf8("Matter Test PAI".into()),
                ),
                (
                    oid::MATTER_VENDOR_ID.to_vec(),
                    NameValue::Utf8("FFF1".into()),
                ),
            ]),
            public_key: x509::public_key_bytes(pai.verifying_key()),
            extensions: vec![],
        };
        let der = b.sign(&pai).unwrap();
        X509Cert::parse(&der).unwrap().subject.to_vec()
    };
    let b = X509Builder {
        serial: hex!("8a3c1d").to_vec(), // top bit set: a sign octet is added
        issuer: Name::Der(pai_subject.clone()),
        not_before: DateTime::new(2024, 6, 1, 12, 0, 0).unwrap(),
        not_after: DateTime::NO_EXPIRY,
        subject: Name::Attributes(vec![
            (
                oid::COMMON_NAME.to_vec(),
                NameValue::Utf8("Matter Dev DAC".into()),
            ),
            (
                oid::MATTER_VENDOR_ID.to_vec(),
                NameValue::Utf8("FFF1".into()),
            ),
            (
                oid::MATTER_PRODUCT_ID.to_vec(),
                NameValue::Utf8("8000".into()),
            ),
        ]),
        public_key: x509::public_key_bytes(dac.verifying_key()),
        extensions: vec![
            BuilderExtension::basic_constraints(false, None),
            BuilderExtension::key_usage(key_usage::DIGITAL_SIGNATURE),
            BuilderExtension::subject_key_id(&[0x11; 20]),
            BuilderExtension::authority_key_id(&[0x22; 20]),
        ],
    };
    let der = b.sign(&pai).unwrap();
    let x = X509Cert::parse(&der).unwrap();
    x.verify_signature(&x509::public_key_bytes(pai.verifying_key()))
        .unwrap();
    assert_eq!(x.issuer, pai_subject.as_slice());
    assert_eq!(x.serial, hex!("008a3c1d"));
    assert_eq!(x.not_after, DateTime::NO_EXPIRY);
    let attrs = X509Cert::name_attributes(x.subject).unwrap();
    assert_eq!(attrs[1], (oid::MATTER_VENDOR_ID, 0x0C, &b"FFF1"[..]));
    assert_eq!(attrs[2], (oid::MATTER_PRODUCT_ID, 0x0C, &b"8000"[..]));
    let bc = x.extension(oid::BASIC_CONSTRAINTS).unwrap();
    assert!(bc.critical);
    assert_eq!(bc.value, hex!("3000"));
    let ku = x.extension(oid::KEY_USAGE).unwrap();
    assert_eq!(DerReader::new(ku.value).named_bits().unwrap(), 1);
    assert!(!x.extension(oid::SUBJECT_KEY_ID).unwrap().critical);
    // Vendor-id attributes have no Matter operational form.
    assert!(matches!(
        MatterCert::from_der(&der),
        Err(CertError::Unsupported(_))
    ));
}

#[test]
fn builder_rejects_long_serial_and_bad_printable() {
    let k = seeded_key(5);
    let mut b = X509Builder {
        serial: vec![0x7F; 21],
        issuer: Name::Attributes(vec![(
            oid::COMMON_NAME.to_vec(),
            NameValue::Utf8("x".into()),
        )]),
        not_before: DateTime::new(2024, 1, 1, 0, 0, 0).unwrap(),
        not_after: DateTime::new(2034, 1, 1, 0, 0, 0).unwrap(),
        subject: Name::Attributes(vec![]),
        public_key: x509::public_key_bytes(k.verifying_key()),
        extensions: vec![],
    };
    assert!(b.sign(&k).is_err());
    b.serial = vec![1];
    b.subject = Name::Attributes(vec![(
        oid::COMMON_NAME.to_vec(),
        NameValue::Printable("a@b".into()),
    )]);
    assert!(b.sign(&k).is_err());
}

// ---------------------------------------------------------------------------------------------
// Building a fresh operational chain with the Matter model (what a test commissioner does)
// ---------------------------------------------------------------------------------------------

fn op_cert(
    subject: Vec<DnAttribute>,
    issuer: Vec<DnAttribute>,
    key: &SigningKey,
    signer: &SigningKey,
    ca: bool,
    skid: u8,
    akid: u8,
) -> Vec<u8> {
    let mut exts = vec![Extension::BasicConstraints {
        is_ca: ca,
        path_len: None,
    }];
    if ca {
        exts.push(Extension::KeyUsage(
            key_usage::KEY_CERT_SIGN | key_usage::CRL_SIGN,
        ));
    } else {
        exts.push(Extension::KeyUsage(key_usage::DIGITAL_SIGNATURE));
        exts.push(Extension::ExtendedKeyUsage(vec![
            key_purpose::CLIENT_AUTH,
            key_purpose::SERVER_AUTH,
        ]));
    }
    exts.push(Extension::SubjectKeyId([skid; 20]));
    exts.push(Extension::AuthorityKeyId([akid; 20]));
    let mut c = MatterCert {
        serial: vec![skid],
        issuer: DistinguishedName(issuer),
        not_before: 0,
        not_after: 0,
        subject: DistinguishedName(subject),
        public_key: x509::public_key_bytes(key.verifying_key()),
        extensions: exts,
        signature: [0; 64],
    };
    c.sign(signer).unwrap();
    c.to_tlv().unwrap()
}

#[test]
fn fresh_chain_without_icac_and_root_fabric_mismatch() {
    let rk = seeded_key(9);
    let nk = seeded_key(10);
    let root_dn = vec![DnAttribute::RcacId(1), DnAttribute::FabricId(5)];
    let root = op_cert(root_dn.clone(), root_dn.clone(), &rk, &rk, true, 1, 1);
    let noc = op_cert(
        vec![DnAttribute::NodeId(0x1234), DnAttribute::FabricId(5)],
        root_dn.clone(),
        &nk,
        &rk,
        false,
        2,
        1,
    );
    let v = validate_chain(&noc, None, &root, Some(1_000)).unwrap();
    assert_eq!((v.fabric_id, v.node_id), (5, 0x1234));
    assert_eq!(
        v.compressed_fabric_id(),
        compressed_fabric_id(&v.root_public_key, 5)
    );
    // Each converts to DER and back exactly.
    for t in [&root, &noc] {
        let der = MatterCert::tlv_to_der(t).unwrap();
        assert_eq!(&MatterCert::der_to_tlv(&der).unwrap(), t);
    }
    let noc = op_cert(
        vec![DnAttribute::NodeId(0x1234), DnAttribute::FabricId(6)],
        root_dn,
        &nk,
        &rk,
        false,
        2,
        1,
    );
    assert_eq!(
        validate_chain(&noc, None, &root, None),
        Err(CertError::FabricMismatch)
    );
}

#[test]
fn many_repeated_dn_attributes_are_rejected_not_overflowed() {
    let mut c = MatterCert::from_tlv(CHIP_NODE01_01_TLV).unwrap();
    c.subject.0 = vec![DnAttribute::NodeId(1); 300];
    // Encoding refuses it, and so does decoding a hand-made TLV form of it.
    assert!(matches!(c.to_tlv(), Err(CertError::Malformed(_))));
    let good = CHIP_NODE01_01_TLV;
    let start = good.windows(2).position(|w| w == [0x37, 0x06]).unwrap();
    let end = start + good[start..].iter().position(|&b| b == 0x18).unwrap() + 1;
    let mut v = good[..start].to_vec();
    v.extend_from_slice(&[0x37, 0x06]);
    for _ in 0..300 {
        v.extend_from_slice(&[0x24, 0x11, 0x01]);
    }
    v.push(0x18);
    v.extend_from_slice(&good[end..]);
    assert!(matches!(
        MatterCert::from_tlv(&v),
        Err(CertError::Malformed(_))
    ));
}

#[test]
fn future_extensions_round_trip_and_critical_ones_are_refused() {
    // SEQUENCE { OID 1.2.3.4, [critical], OCTET STRING { NULL } }
    let non_critical = hex!("300906032a0304 04020500").to_vec();
    let critical = hex!("300c06032a0304 0101ff 04020500").to_vec();
    for (ext, accepted) in [(non_critical, true), (critical, false)] {
        let noc = resign(
            CHIP_NODE01_01_TLV,
            |c| c.extensions.push(Extension::Future(ext.clone())),
            &ica01_key(),
        );
        let der = MatterCert::tlv_to_der(&noc).unwrap();
        assert!(der.windows(ext.len()).any(|w| w == ext.as_slice()));
        assert_eq!(MatterCert::der_to_tlv(&der).unwrap(), noc);
        let r = chip_chain(&noc, CHIP_ICA01_TLV);
        assert_eq!(r.is_ok(), accepted, "{r:?}");
    }
    // Not one DER Extension, or a known type smuggled in as a future extension.
    let mut c = MatterCert::from_tlv(CHIP_NODE01_01_TLV).unwrap();
    for bad in [
        &hex!("3000")[..],
        &hex!("300906032a0304040205")[..],
        &hex!("300906032a030404020500 00")[..],
        &hex!("300c06032a0304 010100 04020500")[..],
        &hex!("3009 0603551d0e 04020500")[..],
    ] {
        c.extensions.push(Extension::Future(bad.to_vec()));
        assert!(
            matches!(c.to_tlv(), Err(CertError::Malformed(_))),
            "{bad:02x?}"
        );
        c.extensions.pop();
    }
}

#[test]
fn serial_must_be_a_positive_minimal_integer() {
    let mut c = MatterCert::from_tlv(CHIP_NODE01_01_TLV).unwrap();
    for bad in [&[0x00, 0x01][..], &[0x80], &[0xFF, 0x80], &[0x01; 21]] {
        c.serial = bad.to_vec();
        assert!(
            matches!(c.to_tlv(), Err(CertError::Malformed(_))),
            "{bad:02x?}"
        );
    }
    for good in [&[0x00][..], &[0x00, 0x80], &[0x7F; 20]] {
        c.serial = good.to_vec();
        c.to_tlv().unwrap();
    }
}

#[test]
fn csr_with_attributes_and_malformed_attributes() {
    // A CSR with one well-formed attribute (challengePassword-like) verifies; a malformed one
    // does not. Built by hand around our own request info.
    let k = seeded_key(8);
    let pk = x509::public_key_bytes(k.verifying_key());
    let base = request_info(&pk).unwrap();
    let make = |attrs: &[u8]| {
        // The request info with the trailing empty [0] (A0 00) replaced by [0] { attrs }.
        let body = &base[2..base.len() - 2];
        let mut w = super::der::DerWriter::new();
        w.sequence(|w| {
            w.raw(body);
            w.context(0, |w| w.raw(attrs));
        });
        let info = w.finish().unwrap();
        let sig = x509::sign_p256(&k, &info);
        let mut w = super::der::DerWriter::new();
        w.sequence(|w| {
            w.raw(&info);
            w.sequence(|w| w.oid(oid::ECDSA_WITH_SHA256));
            w.bit_string_with(|w| x509::write_ecdsa_sig(w, &sig));
        });
        w.finish().unwrap()
    };
    let ok = make(&hex!("300f06092a864886f70d010907 3102 0500"));
    assert_eq!(verify_csr(&ok).unwrap().public_key, pk);
    assert!(verify_csr(&make(&hex!("0500"))).is_err());
    assert!(verify_csr(&make(&hex!("300306012a"))).is_err());
}

#[test]
fn matterjs_noc_with_three_cats_converts_der_to_tlv_and_back() {
    // matter.js gives only the DER TBS; any signature will do for the conversion.
    let der = x509::wrap_signed(MJS_NOC_CAT_TBS, &[0x42; 64]);
    let c = MatterCert::from_der(&der).unwrap();
    assert_eq!(
        c.subject.cats(),
        vec![0x1234_5678, 0x5678_9012, 0x9012_3456]
    );
    assert_eq!(c.to_der_tbs().unwrap(), MJS_NOC_CAT_TBS);
    let tlv = c.to_tlv().unwrap();
    assert_eq!(MatterCert::tlv_to_der(&tlv).unwrap(), der);
    // CATs are 32-bit TLV integers (tag 22).
    assert!(tlv.windows(6).any(|w| w == hex!("261678563412")));
}
