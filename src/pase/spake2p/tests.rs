//! SPAKE2+ against public vectors: the CHIP SDK's draft-01 vectors (full key schedule), RFC 9383
//! Appendix C (group math and transcript) and the CHIP SDK's PASE verifier for passcode 20202021.

use hex_literal::hex;
use proptest::prelude::*;

use super::*;
use crate::rng::TestRng;

/// One vector of connectedhomeip `src/crypto/tests/SPAKE2P_RFC_test_vectors.h` (commit 53e2c41b),
/// the draft-bar-cfrg-spake2plus-01 P-256 vectors with the key schedule Matter uses.
struct ChipVector {
    prover_id: &'static [u8],
    verifier_id: &'static [u8],
    x: [u8; 32],
    big_x: [u8; 65],
    y: [u8; 32],
    big_y: [u8; 65],
    z: [u8; 65],
    v: [u8; 65],
    ka: [u8; 16],
    ke: [u8; 16],
    kc_a: [u8; 16],
    kc_b: [u8; 16],
    mac_kc_a: [u8; 32],
    mac_kc_b: [u8; 32],
}

const CHIP_CONTEXT: &[u8] = b"SPAKE2+-P256-SHA256-HKDF draft-01";
const CHIP_W0: [u8; 32] = hex!("e6887cf9bdfb7579c69bf47928a84514b5e355ac034863f7ffaf4390e67d798c");
const CHIP_W1: [u8; 32] = hex!("24b5ae4abda868ec9336ffc3b78ee31c5755bef1759227ef5372ca139b94e512");
const CHIP_L: [u8; 65] = hex!(
    "04 95645cfb74df6e58f9748bb8 3a86620bab7c82e107f57d6870 da8cbcb2ff9f7063a14b6402c6"
    "2f99afcb9706a4d1a143273259 fe76f1c605a3639745a92154b9"
);

const CHIP_VECTORS: [ChipVector; 4] = [
    ChipVector {
        prover_id: b"client",
        verifier_id: b"server",
        x: hex!("8b0f3f383905cf3a3bb955 ef8fb62e24849dd349a05c a79aafb18041d30cbdb6"),
        big_x: hex!(
            "04af09987a593d3bac8694b123 839422c3cc87e37d6b41c1d630 f000dd64980e537ae704bcede0"
            "4ea3bec9b7475b32fa2ca3b684 be14d11645e38ea6609eb39e7e"
        ),
        y: hex!("2e0895b0e763d6d5a95644 33e64ac3cac74ff897f6c3 445247ba1bab40082a91"),
        big_y: hex!(
            "04417592620aebf9fd203616bb b9f121b730c258b286f890c5f1 9fea833a9c900cbe9057bc549a"
            "3e19975be9927f0e7614f08d1f 0a108eede5fd7eb5624584a4f4"
        ),
        z: hex!(
            "0471a35282d2026f36bf3ceb38 fcf87e3112a4452f46e9f7b47f d769cfb570145b62589c76b7aa"
            "1eb6080a832e5332c368984269 12e29c40ef9e9c742eee82bf30"
        ),
        v: hex!(
            "046718981bf15bc4db538fc1f1 c1d058cb0eececf1dbe1b1ea08 a4e25275d382e82b348c8131d8"
            "ed669d169c2e03a858db7cf6ca 2853a4071251a39fbe8cfc39bc"
        ),
        ka: hex!("f9cab9adcc0ed8e5 a4db11a8505914b2"),
        ke: hex!("801db297654816eb 4f02868129b9dc89"),
        kc_a: hex!("0d248d7d19234f14 86b2efba5179c52d"),
        kc_b: hex!("556291df26d705a2 caedd6474dd0079b"),
        mac_kc_a: hex!("d4376f2da9c72226dd151b 77c2919071155fc22a2068 d90b5faa6c78c11e77dd"),
        mac_kc_b: hex!("0660a680663e8c5695956f b22dff298b1d07a526cf3c c591adfecd1f6ef6e02e"),
    },
    ChipVector {
        prover_id: b"client",
        verifier_id: b"",
        x: hex!("ec82d9258337f61239c9cd 68e8e532a3a6b83d12d2b1 ca5d543f44def17dfb8d"),
        big_x: hex!(
            "04230779960824076d3666a7418e4d433e 2fa15b06176eabdd572f43a32ecc79a192"
            "b243d2624310a7356273b86e5fd9bd627d 3ade762baeff1a320d4ad7a4e47f"
        ),
        y: hex!("eac3f7de4b198d5fe25c44 3c0cd4963807add767815d d02a6f0133b4bc2c9eb0"),
        big_y: hex!(
            "04455864 2e71b616b248c9583bd6d7aa1b 3952c6df6a9f7492a06035ca5d92522d84"
            "443de7aa20a59380fa4de6b7438d925dbf b7f1cfe60d79acf961ee33988c7d"
        ),
        z: hex!(
            "04b4e8770f19f58ddf83f9220c3a930579 2665e0c60989e6ee9d7fa449c775d6395f"
            "6f25f307e3903ac045a013fbb5a676e872 a6abfcf4d7bb5aac69efd6140eed"
        ),
        v: hex!(
            "04141db83bc7d96f41b636622e7a5c552a d83211ff55319ac25ed0a09f0818bd942e"
            "8150319bfbfa686183806dc61911183f6a 0f5956156023d96e0f93d275bf50"
        ),
        ka: hex!("e2cbee3ae19a4dbe 9f146be6bee9bfa1"),
        ke: hex!("6989d8f9177ef7df 67da437987f07255"),
        kc_a: hex!("2f9e0bb669d2c226 45bce34da04ac16a"),
        kc_b: hex!("eb7a35168759dd8e 9ce44e4dc51277ce"),
        mac_kc_a: hex!("e1b9258807ba4750dae1d7 f3c3c294f13dc4fa60cde3 46d5de7d200e2f8fd3fc"),
        mac_kc_b: hex!("b9c39dfa49c47757de778d 9bedeaca2448b905be19a4 3b94ee24b770208135e3"),
    },
    ChipVector {
        prover_id: b"",
        verifier_id: b"server",
        x: hex!("ba0f0f5b78ef23fd07868e 46aeca63b51fda519a3420 501acbe23d53c2918748"),
        big_x: hex!(
            "04c14d28f4370fea20745106cea58bcfb6 0f2949fa4e131b9aff5ea13fd5aa79d507"
            "ae1d229e447e000f15eb78a9a32c2b8865 2e3411642043c1b2b7992cf2d4de"
        ),
        y: hex!("39397fbe6db47e9fbd1a26 3d79f5d0aaa44df26ce755 f78e092644b434533a42"),
        big_y: hex!(
            "04d1bee3120fd87e86fe189cb952dc6888 23080e62524dd2c08dffe3d22a0a8986aa"
            "64c9fe0191033cafbc9bcaefc8e2ba8ba8 60cd127af9efdd7f1c3a41920fe8"
        ),
        z: hex!(
            "04aac71cf4c8df8181b867c9ecbee9d096 3caf51f1534a823429c26fe5248313ffc5"
            "c5e44ea8162161ab6b3d73b87704a45889 bf6343d96fa96cd1641efa71607c"
        ),
        v: hex!(
            "04c7c9505365f7ce57293c92a37f1bbdc6 8e0322901e61edef59fee7876b17b063e0"
            "fa4a126eae0a671b37f1464cf1ccad591c 33ae944e3b1f318d76e36fea9966"
        ),
        ka: hex!("ec8d19b807ffb1d1 eea81a93ba35cdfe"),
        ke: hex!("2ea40e4badfa5452 b5744dc5983e99ba"),
        kc_a: hex!("66de534d9bf1e44e 96a53a4b48d6b353"),
        kc_b: hex!("4945c38bb476cb0f 347f3222be9b64a2"),
        mac_kc_a: hex!("e564c93b3015efb946dc16 d642bbe7d1c8da5be164ed 9fc3bae4e0ff86e1bd3c"),
        mac_kc_b: hex!("072a94d9a54edc201d8891 534c2317cadf3ea3792827 f479e873f93e90f21552"),
    },
    ChipVector {
        prover_id: b"",
        verifier_id: b"",
        x: hex!("5b478619804f4938d361fb ba3a20648725222f0a54cc 4c876139efe7d9a21786"),
        big_x: hex!(
            "04a6db23d001723fb01fcfc9d08746c3c2 a0a3feff8635d29cad2853e7358623425c"
            "f39712e928054561ba71e2dc11f300f176 0e71eb177021a8f85e78689071cd"
        ),
        y: hex!("766770dad8c8eecba93682 3c0aed044b8c3c4f7655e8 beec44a15dcbcaf78e5e"),
        big_y: hex!(
            "04390d29bf185c3abf99f150ae7c13388c 82b6be0c07b1b8d90d26853e84374bbdc8"
            "2becdb978ca3792f472424106a25780127 52c11938fcf60a41df75ff7cf947"
        ),
        z: hex!(
            "040a150d9a62f514c9a1fedd782a0240a3 42721046cefb1111c3adb3be893ce9fcd2"
            "ffa137922fcf8a588d0f76ba9c55c85da2 af3f1c789ca17976810387fb1d7e"
        ),
        v: hex!(
            "04f8e247cc263a1846272f5a3b61b68aa6 0a5a2665d10cd22c89cd6bad05dc0e5e65"
            "0f21ff017186cc92651a4cd7e66ce88f52 9299f340ea80fb90a9bad094e1a6"
        ),
        ka: hex!("5929a3ce9822c814 01bf0f764f69af08"),
        ke: hex!("ea3276d683345760 97e04b19ee5a3a8b"),
        kc_a: hex!("7f84b939d6001172 56b0c8a6d40cf181"),
        kc_b: hex!("f7d7547ced93f681 e8df4c258c4516fd"),
        mac_kc_a: hex!("71d9412779b6c45a2c615c 9df3f1fd93dc0aaf63104d a8ece4aa1b5a3a415fea"),
        mac_kc_b: hex!("095dc0400355cc233fde74 37811815b3c1524aae80fd 4e6810cf531cf11d20e3"),
    },
];

fn scalar(bytes: &[u8; 32]) -> Scalar {
    scalar_from_be(bytes).expect("vector scalar is canonical")
}

fn verifier_bytes(w0: &[u8; 32], l: &[u8; 65]) -> [u8; VERIFIER_LEN] {
    let mut b = [0u8; VERIFIER_LEN];
    b[..32].copy_from_slice(w0);
    b[32..].copy_from_slice(l);
    b
}

#[test]
fn chip_draft01_vectors_full_schedule() {
    for (i, tv) in CHIP_VECTORS.iter().enumerate() {
        let secrets = ProverSecrets::from_scalars(&CHIP_W0, &CHIP_W1).expect("canonical");
        // L = w1·G, and the serialized verifier round-trips.
        let verifier = secrets.verifier().expect("valid");
        assert_eq!(
            verifier.to_bytes()[..],
            verifier_bytes(&CHIP_W0, &CHIP_L)[..],
            "vector {i}: L"
        );
        let verifier =
            Verifier::from_bytes(&verifier_bytes(&CHIP_W0, &CHIP_L)).expect("valid verifier");

        // Prover: X = x·G + w0·M.
        let (prover, pa) =
            Prover::start_with(&secrets, Zeroizing::new(scalar(&tv.x))).expect("start");
        assert_eq!(pa, tv.big_x, "vector {i}: X");

        // Verifier: Y, Z, V, then the key schedule.
        let (pb, z, v) = verifier.points(&pa, &scalar(&tv.y)).expect("points");
        assert_eq!(pb, tv.big_y, "vector {i}: Y");
        assert_eq!(*z, tv.z, "vector {i}: Z (verifier)");
        assert_eq!(*v, tv.v, "vector {i}: V (verifier)");
        let (pz, pv) = prover.points(&secrets, &pb).expect("prover points");
        assert_eq!(*pz, tv.z, "vector {i}: Z (prover)");
        assert_eq!(*pv, tv.v, "vector {i}: V (prover)");

        let keys = KeySchedule::derive(&Transcript {
            context: CHIP_CONTEXT,
            prover_id: tv.prover_id,
            verifier_id: tv.verifier_id,
            x: &tv.big_x,
            y: &tv.big_y,
            z: &tv.z,
            v: &tv.v,
            w0: &CHIP_W0,
        });
        assert_eq!(*keys.ka, tv.ka, "vector {i}: Ka");
        assert_eq!(*keys.ke, tv.ke, "vector {i}: Ke");
        assert_eq!(*keys.kc_a, tv.kc_a, "vector {i}: KcA");
        assert_eq!(*keys.kc_b, tv.kc_b, "vector {i}: KcB");

        // The whole exchange through the public-facing steps.
        let (pake2, expect) = verifier
            .respond_with(
                CHIP_CONTEXT,
                tv.prover_id,
                tv.verifier_id,
                &pa,
                &scalar(&tv.y),
            )
            .expect("respond");
        assert_eq!(pake2.pb, tv.big_y);
        assert_eq!(pake2.cb, tv.mac_kc_b, "vector {i}: cB = HMAC(KcB, X)");
        let done = prover
            .finish_with(
                &secrets,
                CHIP_CONTEXT,
                tv.prover_id,
                tv.verifier_id,
                &pake2.pb,
                &pake2.cb,
            )
            .expect("prover accepts cB");
        assert_eq!(done.ca, tv.mac_kc_a, "vector {i}: cA = HMAC(KcA, Y)");
        assert_eq!(done.secret.as_bytes(), &tv.ke);
        let (secret, _proof) = expect.verify(&done.ca).expect("verifier accepts cA");
        assert_eq!(secret.as_bytes(), &tv.ke);
    }
}

/// RFC 9383 Appendix C, the P256-SHA256-HKDF-SHA256-HMAC-SHA256 vector. Its key schedule differs
/// from Matter's, so only the group math, TT and SHA-256(TT) (= Ka || Ke here, K_main there) apply.
#[test]
fn rfc9383_group_math_and_transcript() {
    let context = b"SPAKE2+-P256-SHA256-HKDF-SHA256-HMAC-SHA256 Test Vectors";
    let w0 = hex!("bb8e1bbcf3c48f62c08db243652ae55d3e5586053fca77102994f23ad95491b3");
    let w1 = hex!("7e945f34d78785b8a3ef44d0df5a1a97d6b3b460409a345ca7830387a74b1dba");
    let l = hex!(
        "04eb7c9db3d9a9eb1f8adab81b5794c1f13ae3e225efbe91ea487425854c7fc00f"
        "00bfedcbd09b2400142d40a14f2064ef31dfaa903b91d1faea7093d835966efd"
    );
    let x = hex!("d1232c8e8693d02368976c174e2088851b8365d0d79a9eee709c6a05a2fad539");
    let big_x = hex!(
        "04ef3bd051bf78a2234ec0df197f7828060fe9856503579bb1733009042c15c0c1"
        "de127727f418b5966afadfdd95a6e4591d171056b333dab97a79c7193e341727"
    );
    let y = hex!("717a72348a182085109c8d3917d6c43d59b224dc6a7fc4f0483232fa6516d8b3");
    let big_y = hex!(
        "04c0f65da0d11927bdf5d560c69e1d7d939a05b0e88291887d679fcadea75810fb"
        "5cc1ca7494db39e82ff2f50665255d76173e09986ab46742c798a9a68437b048"
    );
    let z = hex!(
        "04bbfce7dd7f277819c8da21544afb7964705569bdf12fb92aa388059408d50091"
        "a0c5f1d3127f56813b5337f9e4e67e2ca633117a4fbd559946ab474356c41839"
    );
    let v = hex!(
        "0458bf27c6bca011c9ce1930e8984a797a3419797b936629a5a937cf2f11c8b951"
        "4b82b993da8a46e664f23db7c01edc87faa530db01c2ee405230b18997f16b68"
    );
    let tt = hex!(
        "3800000000000000 5350414b45322b2d503235362d5348413235362d484b44462d5348413235362d484d4143"
        "2d534841323536205465737420566563746f7273"
        "0600000000000000 636c69656e74"
        "0600000000000000 736572766572"
        "4100000000000000 04886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f"
        "5ff355163e43ce224e0b0e65ff02ac8e5c7be09419c785e0ca547d55a12e2d20"
        "4100000000000000 04d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49"
        "07d60aa6bfade45008a636337f5168c64d9bd36034808cd564490b1e656edbe7"
        "4100000000000000 04ef3bd051bf78a2234ec0df197f7828060fe9856503579bb1733009042c15c0c1"
        "de127727f418b5966afadfdd95a6e4591d171056b333dab97a79c7193e341727"
        "4100000000000000 04c0f65da0d11927bdf5d560c69e1d7d939a05b0e88291887d679fcadea75810fb"
        "5cc1ca7494db39e82ff2f50665255d76173e09986ab46742c798a9a68437b048"
        "4100000000000000 04bbfce7dd7f277819c8da21544afb7964705569bdf12fb92aa388059408d50091"
        "a0c5f1d3127f56813b5337f9e4e67e2ca633117a4fbd559946ab474356c41839"
        "4100000000000000 0458bf27c6bca011c9ce1930e8984a797a3419797b936629a5a937cf2f11c8b951"
        "4b82b993da8a46e664f23db7c01edc87faa530db01c2ee405230b18997f16b68"
        "2000000000000000 bb8e1bbcf3c48f62c08db243652ae55d3e5586053fca77102994f23ad95491b3"
    );
    let hash_tt = hex!("4c59e1ccf2cfb961aa31bd9434478a1089b56cd11542f53d3576fb6c2a438a29");

    let secrets = ProverSecrets::from_scalars(&w0, &w1).expect("canonical");
    assert_eq!(
        secrets.verifier().expect("valid").to_bytes()[..],
        verifier_bytes(&w0, &l)[..]
    );
    let verifier = Verifier::from_bytes(&verifier_bytes(&w0, &l)).expect("valid");
    let (prover, pa) = Prover::start_with(&secrets, Zeroizing::new(scalar(&x))).expect("start");
    assert_eq!(pa, big_x);
    let (pb, vz, vv) = verifier.points(&pa, &scalar(&y)).expect("points");
    assert_eq!(pb, big_y);
    assert_eq!(*vz, z);
    assert_eq!(*vv, v);
    let (pz, pv) = prover.points(&secrets, &pb).expect("points");
    assert_eq!(*pz, z);
    assert_eq!(*pv, v);
    let t = Transcript {
        context,
        prover_id: b"client",
        verifier_id: b"server",
        x: &big_x,
        y: &big_y,
        z: &z,
        v: &v,
        w0: &w0,
    };
    assert_eq!(t.bytes()[..], tt[..]);
    let keys = KeySchedule::derive(&t);
    assert_eq!(keys.ka[..], hash_tt[..16]);
    assert_eq!(keys.ke[..], hash_tt[16..]);
}

/// connectedhomeip `src/protocols/secure_channel/tests/TestPASESession.cpp` (test set #01):
/// passcode 20202021, 1000 iterations, salt "SPAKE2P Key Salt" -> serialized verifier w0 || L.
#[test]
fn chip_test_verifier_from_passcode() {
    let expected = hex!(
        "B96170AAE803346884724FE9A3B287C30330C2A660375D17BB205A8CF1AECB35"
        "04 57F8AB79EE253AB6A8E46BB09E543AE422736DE501E3DB37D441FE344920D095"
        "48E4C18240630C4FF4913C53513839B7C07FCC0627A1B8573A149FCD1FA466CF"
    );
    let v = Verifier::from_passcode(20_202_021, b"SPAKE2P Key Salt", 1000).expect("valid");
    assert_eq!(v.to_bytes()[..], expected[..]);
    assert_eq!(
        Verifier::from_bytes(&expected).expect("valid").to_bytes()[..],
        expected[..]
    );
}

#[test]
fn fixed_points_match_their_compressed_form() {
    use p256::elliptic_curve::sec1::ToSec1Point;
    let m = decode_point(&M_BYTES).expect("M on curve");
    let n = decode_point(&N_BYTES).expect("N on curve");
    assert_eq!(
        m.to_sec1_point(true).as_bytes(),
        hex!("02886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f")
    );
    assert_eq!(
        n.to_sec1_point(true).as_bytes(),
        hex!("03d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49")
    );
}

fn test_pair(seed: u64, passcode: u32) -> (ProverSecrets, Verifier, TestRng) {
    let salt = b"SPAKE2P Key Salt";
    let secrets = ProverSecrets::from_passcode(passcode, salt, 1000).expect("params");
    let verifier = Verifier::from_passcode(20_202_021, salt, 1000).expect("params");
    (secrets, verifier, TestRng::new(seed))
}

#[test]
fn random_exchange_agrees_and_wrong_passcode_fails_both_ways() {
    let (secrets, verifier, mut rng) = test_pair(1, 20_202_021);
    let ctx = [7u8; 32];
    let (prover, pa) = Prover::start(&secrets, &mut rng).expect("start");
    let (pake2, expect) = verifier.respond(&ctx, &pa, &mut rng).expect("respond");
    let done = prover
        .finish(&secrets, &ctx, &pake2.pb, &pake2.cb)
        .expect("cB ok");
    let (secret, _) = expect.verify(&done.ca).expect("cA ok");
    assert_eq!(secret, done.secret);

    // Wrong passcode: the prover rejects cB, and a cA made with the wrong passcode is rejected.
    let (wrong, _, _) = test_pair(2, 20_202_022);
    let (prover, pa) = Prover::start(&wrong, &mut rng).expect("start");
    let (pake2, expect) = verifier.respond(&ctx, &pa, &mut rng).expect("respond");
    assert_eq!(
        prover
            .finish(&wrong, &ctx, &pake2.pb, &pake2.cb)
            .unwrap_err(),
        Spake2pError::ConfirmationFailed
    );
    assert_eq!(
        expect.verify(&[0u8; 32]).unwrap_err(),
        Spake2pError::ConfirmationFailed
    );

    // Different contexts (a tampered PBKDF exchange) fail confirmation too.
    let (prover, pa) = Prover::start(&secrets, &mut rng).expect("start");
    let (pake2, _) = verifier.respond(&ctx, &pa, &mut rng).expect("respond");
    assert!(prover
        .finish(&secrets, &[8u8; 32], &pake2.pb, &pake2.cb)
        .is_err());
}

#[test]
fn confirmation_of_wrong_length_is_rejected() {
    let (secrets, verifier, mut rng) = test_pair(3, 20_202_021);
    let (prover, pa) = Prover::start(&secrets, &mut rng).expect("start");
    let (pake2, expect) = verifier.respond(b"c", &pa, &mut rng).expect("respond");
    let done = prover
        .finish(&secrets, b"c", &pake2.pb, &pake2.cb)
        .expect("ok");
    assert!(expect.verify(&done.ca[..31]).is_err());
}

#[test]
fn invalid_points_are_rejected() {
    let (_, verifier, mut rng) = test_pair(4, 20_202_021);
    let mut off_curve = CHIP_VECTORS[0].big_x;
    off_curve[64] ^= 1;
    let mut compressed = [0u8; 33];
    compressed.copy_from_slice(&hex!(
        "02886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f"
    ));
    let mut bad_tag = CHIP_VECTORS[0].big_x;
    bad_tag[0] = 0x06;
    // x = p (not a canonical field element) with y from a valid point.
    let mut x_eq_p = CHIP_VECTORS[0].big_x;
    x_eq_p[1..33].copy_from_slice(&hex!(
        "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff"
    ));
    let cases: [&[u8]; 7] = [
        &[],
        &[0x00],
        &off_curve,
        &compressed,
        &bad_tag,
        &x_eq_p,
        &[0x04; 64],
    ];
    for (i, c) in cases.iter().enumerate() {
        assert_eq!(
            verifier.respond(b"", c, &mut rng).unwrap_err(),
            Spake2pError::InvalidPoint,
            "case {i}"
        );
    }
    // A share of w0·M makes Z the identity; refused rather than encoded.
    let w0m = verifier.w0_m.to_affine();
    let w0m = encode_point(&w0m).expect("not identity");
    assert_eq!(
        verifier.respond(b"", &w0m, &mut rng).unwrap_err(),
        Spake2pError::DegeneratePoint
    );
}

#[test]
fn invalid_verifier_bytes_are_rejected() {
    let good = verifier_bytes(&CHIP_W0, &CHIP_L);
    assert!(Verifier::from_bytes(&good[..96]).is_err());
    let mut zero_w0 = good;
    zero_w0[..32].fill(0);
    assert!(Verifier::from_bytes(&zero_w0).is_err());
    let mut big_w0 = good;
    big_w0[..32].fill(0xff);
    assert!(Verifier::from_bytes(&big_w0).is_err());
    let mut bad_l = good;
    bad_l[96] ^= 1;
    assert!(Verifier::from_bytes(&bad_l).is_err());
}

#[test]
fn pbkdf_parameter_ranges() {
    let salt16 = [0u8; 16];
    assert!(check_pbkdf_parameters(1000, &salt16).is_ok());
    assert!(check_pbkdf_parameters(100_000, &[0u8; 32]).is_ok());
    assert!(check_pbkdf_parameters(999, &salt16).is_err());
    assert!(check_pbkdf_parameters(100_001, &salt16).is_err());
    assert!(check_pbkdf_parameters(1000, &[0u8; 15]).is_err());
    assert!(check_pbkdf_parameters(1000, &[0u8; 33]).is_err());
    assert!(Verifier::from_passcode(1, &[0u8; 15], 1000).is_err());
}

/// 2^256 mod n, for the split reduction below.
const TWO_256_MOD_N: [u8; 32] =
    hex!("00000000ffffffff00000000000000004319055258e8617b0c46353d039cdaaf");

proptest! {
    /// The 40-byte reduction agrees with hi·2^256 + lo computed with scalar arithmetic.
    #[test]
    fn reduce_40_matches_split_reduction(bytes in proptest::array::uniform32(any::<u8>()),
                                         hi in any::<u64>()) {
        let mut forty = [0u8; 40];
        forty[..8].copy_from_slice(&hi.to_be_bytes());
        forty[8..].copy_from_slice(&bytes);
        use p256::elliptic_curve::ops::Reduce;
        let lo = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(bytes));
        let expected = Scalar::from(hi) * scalar(&TWO_256_MOD_N) + lo;
        prop_assert_eq!(reduce_40(&forty), expected);
    }

    /// Any byte string that is not a valid uncompressed point is refused without panicking.
    #[test]
    fn arbitrary_shares_never_panic(pa in proptest::collection::vec(any::<u8>(), 0..80)) {
        let verifier = Verifier::from_bytes(&verifier_bytes(&CHIP_W0, &CHIP_L)).expect("valid");
        let mut rng = TestRng::new(9);
        let r = verifier.respond(b"", &pa, &mut rng);
        if pa.len() != 65 || pa.first() != Some(&0x04) {
            prop_assert_eq!(r.unwrap_err(), Spake2pError::InvalidPoint);
        }
    }
}
