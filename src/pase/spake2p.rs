//! SPAKE2+ over P-256 with SHA-256, as Matter uses it: the group math of RFC 9383 with the key
//! schedule of draft-bar-cfrg-spake2plus-01 (Matter 1.3 §3.10 "Password-Authenticated Key Exchange"
//! and §4.14.1 "Passcode-Authenticated Session Establishment").
//!
//! This module owns the arithmetic and the keys; it knows nothing of TLV, messages or state. The
//! PASE state machines (`responder.rs`, `initiator.rs`) call it:
//!
//! * the **verifier** (commissionee) holds `(w0, L)` as a [`Verifier`] and answers `pA` with
//!   [`Verifier::respond`], which yields `pB`, `cB` and an [`ExpectConfirmation`] that checks `cA`;
//! * the **prover** (commissioner) holds `(w0, w1)` as [`ProverSecrets`], sends `pA` from
//!   [`Prover::start`] and checks `cB` in [`Prover::finish`].
//!
//! The only way to obtain the shared secret `Ke` is through a successful constant-time confirmation
//! check, which also hands out a [`KeyConfirmed`] token that only this module can create: a caller
//! that skipped the check would not compile.
//!
//! Why draft-01 and not RFC 9383's final schedule: Matter fixed its key schedule before the RFC was
//! finished. Matter: `Ka || Ke = SHA-256(TT)` (16 + 16 bytes), `KcA || KcB = HKDF-SHA256(salt empty,
//! Ka, "ConfirmationKeys")`, `cA = HMAC(KcA, pB)`, `cB = HMAC(KcB, pA)`. RFC 9383 instead derives
//! K_main, K_confirmP/V and K_shared with different HKDF labels, so only its group math and its
//! transcript layout apply here (both are checked against its Appendix C vector in the tests).

use hmac::{Hmac, KeyInit, Mac};
use p256::elliptic_curve::ff::{Field, FromUniformBytes, PrimeField};
use p256::elliptic_curve::group::Group;
use p256::elliptic_curve::point::{AffineCoordinates, BatchNormalize};
use p256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::rng::Rng;

/// Length of an uncompressed SEC1 P-256 point (`04 || x || y`), the only encoding Matter uses.
pub const POINT_LEN: usize = 65;
/// Length of a serialized scalar (`w0`, big-endian).
pub const SCALAR_LEN: usize = 32;
/// Length of a confirmation value (`cA`, `cB`): an HMAC-SHA256 tag.
pub const CONFIRM_LEN: usize = 32;
/// Length of the shared secret `Ke`.
pub const KE_LEN: usize = 16;
/// Length of a serialized verifier: `w0 (32) || L (65)`, the CHIP SDK's `Spake2pVerifierSerialized`
/// layout (used by `--verifier`).
pub const VERIFIER_LEN: usize = SCALAR_LEN + POINT_LEN;
/// Length of `w0s || w1s`, the PBKDF2 output (two 40-byte halves).
pub const W0W1_PBKDF_LEN: usize = 80;

/// Smallest PBKDF2 iteration count Matter allows (Matter 1.3 §3.9 "PBKDF").
pub const MIN_ITERATIONS: u32 = 1000;
/// Largest PBKDF2 iteration count Matter allows.
pub const MAX_ITERATIONS: u32 = 100_000;
/// Shortest salt Matter allows, bytes.
pub const MIN_SALT_LEN: usize = 16;
/// Longest salt Matter allows, bytes.
pub const MAX_SALT_LEN: usize = 32;

/// What went wrong in SPAKE2+. Every variant but [`Spake2pError::InvalidPbkdfParameters`] and
/// [`Spake2pError::InvalidVerifier`] is the peer's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Spake2pError {
    /// A received share is not an uncompressed P-256 point on the curve (or is the identity).
    #[error("peer share is not a valid uncompressed P-256 point")]
    InvalidPoint,
    /// A computed point came out as the identity (only a peer that knows `w0` can cause this).
    #[error("degenerate shared point")]
    DegeneratePoint,
    /// The peer's confirmation value does not match: wrong passcode or a tampered message.
    #[error("key confirmation failed")]
    ConfirmationFailed,
    /// Verifier bytes of the wrong length, a non-canonical or zero `w0`, or an invalid `L`.
    #[error("invalid SPAKE2+ verifier")]
    InvalidVerifier,
    /// Iterations outside 1000..=100000 or salt length outside 16..=32.
    #[error("PBKDF parameters out of range (iterations {iterations}, salt {salt_len} bytes)")]
    InvalidPbkdfParameters {
        /// The iteration count given.
        iterations: u32,
        /// The salt length given.
        salt_len: usize,
    },
}

/// Checks PBKDF2 parameters against the ranges Matter allows (Matter 1.3 §3.9 "PBKDF": iterations
/// 1000..=100000, salt 16..=32 bytes). An initiator must check what a responder sends it.
///
/// # Errors
/// [`Spake2pError::InvalidPbkdfParameters`] when either is out of range.
pub fn check_pbkdf_parameters(iterations: u32, salt: &[u8]) -> Result<(), Spake2pError> {
    if (MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations)
        && (MIN_SALT_LEN..=MAX_SALT_LEN).contains(&salt.len())
    {
        Ok(())
    } else {
        Err(Spake2pError::InvalidPbkdfParameters {
            iterations,
            salt_len: salt.len(),
        })
    }
}

/// `w0s || w1s = PBKDF2-HMAC-SHA256(passcode as u32 little-endian, salt, iterations, 80 bytes)`
/// (Matter 1.3 §3.10 "Computation of w0, w1 and L").
fn pbkdf_w0s_w1s(passcode: u32, salt: &[u8], iterations: u32) -> Zeroizing<[u8; W0W1_PBKDF_LEN]> {
    let pass = Zeroizing::new(passcode.to_le_bytes());
    let mut out = Zeroizing::new([0u8; W0W1_PBKDF_LEN]);
    pbkdf2::pbkdf2_hmac::<Sha256>(&pass[..], salt, iterations, &mut out[..]);
    out
}

/// Reduces a 40-byte big-endian integer modulo the group order n (the 320-bit halves of the PBKDF2
/// output). Uses p256's Barrett reduction of a 512-bit value, with the 40 bytes zero-extended.
fn reduce_40(half: &[u8]) -> Scalar {
    let mut wide = Zeroizing::new([0u8; 64]);
    // `half` is always one 40-byte half of a fixed 80-byte array; the slice lengths match.
    wide[64 - half.len()..].copy_from_slice(half);
    Scalar::from_uniform_bytes(&wide)
}

/// A uniformly random non-zero scalar: 320 random bits reduced mod n (bias below 2^-64).
fn random_scalar(rng: &mut dyn Rng) -> Zeroizing<Scalar> {
    let mut bytes = Zeroizing::new([0u8; 40]);
    loop {
        rng.fill(&mut bytes[..]);
        let s = Zeroizing::new(reduce_40(&bytes[..]));
        if !bool::from(s.is_zero()) {
            return s;
        }
    }
}

/// Parses a canonical big-endian scalar (`< n`).
fn scalar_from_be(bytes: &[u8; SCALAR_LEN]) -> Option<Scalar> {
    Option::from(Scalar::from_repr(FieldBytes::from(*bytes)))
}

/// Decodes an uncompressed SEC1 point and checks it is on the curve. The identity has no
/// uncompressed encoding, so a point that decodes is never the identity; P-256 has cofactor 1, so
/// no subgroup check is needed (RFC 9383 §3.3 and §4 "Security Considerations").
fn decode_point(bytes: &[u8]) -> Result<AffinePoint, Spake2pError> {
    let Some((&0x04, xy)) = bytes.split_first() else {
        return Err(Spake2pError::InvalidPoint);
    };
    if xy.len() != 2 * SCALAR_LEN {
        return Err(Spake2pError::InvalidPoint);
    }
    let (x, y) = xy.split_at(SCALAR_LEN);
    let x = FieldBytes::try_from(x).map_err(|_| Spake2pError::InvalidPoint)?;
    let y = FieldBytes::try_from(y).map_err(|_| Spake2pError::InvalidPoint)?;
    let p: Option<AffinePoint> = AffinePoint::from_coordinates(&x, &y).into();
    match p {
        Some(p) if !bool::from(p.is_identity()) => Ok(p),
        _ => Err(Spake2pError::InvalidPoint),
    }
}

/// Encodes a non-identity affine point uncompressed.
fn encode_point(p: &AffinePoint) -> Result<[u8; POINT_LEN], Spake2pError> {
    if bool::from(p.is_identity()) {
        return Err(Spake2pError::DegeneratePoint);
    }
    let mut out = [0u8; POINT_LEN];
    out[0] = 0x04;
    out[1..1 + SCALAR_LEN].copy_from_slice(&p.x());
    out[1 + SCALAR_LEN..].copy_from_slice(&p.y());
    Ok(out)
}

/// The fixed point M (RFC 9383 §4 and Matter 1.3 §3.10), uncompressed.
/// Compressed: `02886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f`.
const M_BYTES: [u8; POINT_LEN] = [
    0x04, 0x88, 0x6e, 0x2f, 0x97, 0xac, 0xe4, 0x6e, 0x55, 0xba, 0x9d, 0xd7, 0x24, 0x25, 0x79, 0xf2,
    0x99, 0x3b, 0x64, 0xe1, 0x6e, 0xf3, 0xdc, 0xab, 0x95, 0xaf, 0xd4, 0x97, 0x33, 0x3d, 0x8f, 0xa1,
    0x2f, 0x5f, 0xf3, 0x55, 0x16, 0x3e, 0x43, 0xce, 0x22, 0x4e, 0x0b, 0x0e, 0x65, 0xff, 0x02, 0xac,
    0x8e, 0x5c, 0x7b, 0xe0, 0x94, 0x19, 0xc7, 0x85, 0xe0, 0xca, 0x54, 0x7d, 0x55, 0xa1, 0x2e, 0x2d,
    0x20,
];
/// The fixed point N, uncompressed.
/// Compressed: `03d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49`.
const N_BYTES: [u8; POINT_LEN] = [
    0x04, 0xd8, 0xbb, 0xd6, 0xc6, 0x39, 0xc6, 0x29, 0x37, 0xb0, 0x4d, 0x99, 0x7f, 0x38, 0xc3, 0x77,
    0x07, 0x19, 0xc6, 0x29, 0xd7, 0x01, 0x4d, 0x49, 0xa2, 0x4b, 0x4f, 0x98, 0xba, 0xa1, 0x29, 0x2b,
    0x49, 0x07, 0xd6, 0x0a, 0xa6, 0xbf, 0xad, 0xe4, 0x50, 0x08, 0xa6, 0x36, 0x33, 0x7f, 0x51, 0x68,
    0xc6, 0x4d, 0x9b, 0xd3, 0x60, 0x34, 0x80, 0x8c, 0xd5, 0x64, 0x49, 0x0b, 0x1e, 0x65, 0x6e, 0xdb,
    0xe7,
];

fn point_m() -> ProjectivePoint {
    // M_BYTES is a constant checked by `fixed_points_match_their_compressed_form`.
    decode_point(&M_BYTES).map_or(ProjectivePoint::IDENTITY, ProjectivePoint::from)
}

fn point_n() -> ProjectivePoint {
    decode_point(&N_BYTES).map_or(ProjectivePoint::IDENTITY, ProjectivePoint::from)
}

/// The SPAKE2+ verifier `(w0, L)` held by the commissionee, with `w0·M` and `w0·N` precomputed so
/// each handshake costs three point multiplications (`y·G` from the precomputed table, `y·(X−w0·M)`
/// and `y·L`). Zeroized on drop; `Debug` prints nothing secret.
pub struct Verifier {
    w0: Scalar,
    w0_bytes: [u8; SCALAR_LEN],
    l: ProjectivePoint,
    l_bytes: [u8; POINT_LEN],
    w0_m: ProjectivePoint,
    w0_n: ProjectivePoint,
}

impl Verifier {
    /// Derives the verifier from a passcode, salt and iteration count (PBKDF2 then `L = w1·G`).
    /// This is the slow step (PBKDF2); the device does it once per commissioning window.
    ///
    /// # Errors
    /// [`Spake2pError::InvalidPbkdfParameters`] for iterations or salt outside Matter's ranges.
    pub fn from_passcode(
        passcode: u32,
        salt: &[u8],
        iterations: u32,
    ) -> Result<Self, Spake2pError> {
        let secrets = ProverSecrets::from_passcode(passcode, salt, iterations)?;
        let l = ProjectivePoint::mul_by_generator(&*secrets.w1);
        Self::from_parts(*secrets.w0, l)
    }

    /// Builds the verifier from its serialized form `w0 (32, big-endian) || L (65, uncompressed)`,
    /// as `--verifier` supplies it (the CHIP SDK's serialized verifier layout).
    ///
    /// # Errors
    /// [`Spake2pError::InvalidVerifier`] for a wrong length, `w0 >= n`, `w0 = 0` or an `L` that is
    /// not a valid point.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Spake2pError> {
        if bytes.len() != VERIFIER_LEN {
            return Err(Spake2pError::InvalidVerifier);
        }
        let (w0, l) = bytes.split_at(SCALAR_LEN);
        let mut w0_arr = Zeroizing::new([0u8; SCALAR_LEN]);
        w0_arr.copy_from_slice(w0);
        let w0 = scalar_from_be(&w0_arr).ok_or(Spake2pError::InvalidVerifier)?;
        let l = decode_point(l).map_err(|_| Spake2pError::InvalidVerifier)?;
        Self::from_parts(w0, l.into())
    }

    fn from_parts(w0: Scalar, l: ProjectivePoint) -> Result<Self, Spake2pError> {
        if bool::from(w0.is_zero()) || bool::from(l.is_identity()) {
            return Err(Spake2pError::InvalidVerifier);
        }
        let w0_m = point_m() * w0;
        let w0_n = point_n() * w0;
        let mut w0_bytes = [0u8; SCALAR_LEN];
        w0_bytes.copy_from_slice(&w0.to_bytes());
        let l_bytes = encode_point(&l.to_affine()).map_err(|_| Spake2pError::InvalidVerifier)?;
        Ok(Self {
            w0,
            w0_bytes,
            l,
            l_bytes,
            w0_m,
            w0_n,
        })
    }

    /// The serialized verifier `w0 || L` (97 bytes), for `--verifier` and for tests.
    pub fn to_bytes(&self) -> Zeroizing<[u8; VERIFIER_LEN]> {
        let mut out = Zeroizing::new([0u8; VERIFIER_LEN]);
        out[..SCALAR_LEN].copy_from_slice(&self.w0_bytes);
        out[SCALAR_LEN..].copy_from_slice(&self.l_bytes);
        out
    }

    /// The verifier's answer to the prover's share `pA` (Pake1): picks `y`, computes
    /// `pB = y·G + w0·N`, `Z = y·(pA − w0·M)`, `V = y·L`, the transcript and the keys, and returns
    /// `pB` and `cB` (Pake2) plus the state that checks `cA` (Pake3). `context` is the PASE context
    /// hash (Matter) or the test vectors' context string; identities are empty in Matter.
    ///
    /// # Errors
    /// [`Spake2pError::InvalidPoint`] if `pa` is not a valid uncompressed point;
    /// [`Spake2pError::DegeneratePoint`] if `Z` came out as the identity.
    pub fn respond(
        &self,
        context: &[u8],
        pa: &[u8],
        rng: &mut dyn Rng,
    ) -> Result<(Pake2Values, ExpectConfirmation), Spake2pError> {
        let y = random_scalar(rng);
        self.respond_with(context, b"", b"", pa, &y)
    }

    /// [`Verifier::respond`] with a chosen `y` and identities (test vectors, benchmarks).
    pub(crate) fn respond_with(
        &self,
        context: &[u8],
        prover_id: &[u8],
        verifier_id: &[u8],
        pa: &[u8],
        y: &Scalar,
    ) -> Result<(Pake2Values, ExpectConfirmation), Spake2pError> {
        let (pb_bytes, z_bytes, v_bytes) = self.points(pa, y)?;
        let keys = KeySchedule::derive(&Transcript {
            context,
            prover_id,
            verifier_id,
            x: pa,
            y: &pb_bytes,
            z: &z_bytes[..],
            v: &v_bytes[..],
            w0: &self.w0_bytes,
        });
        let cb = hmac_sha256(&keys.kc_b[..], pa);
        let expected_ca = Zeroizing::new(hmac_sha256(&keys.kc_a[..], &pb_bytes));
        Ok((
            Pake2Values { pb: pb_bytes, cb },
            ExpectConfirmation {
                expected: expected_ca,
                ke: keys.ke.clone(),
            },
        ))
    }
}

impl Verifier {
    /// `pB = y·G + w0·N`, `Z = y·(pA − w0·M)`, `V = y·L`, encoded.
    fn points(&self, pa: &[u8], y: &Scalar) -> Result<Points, Spake2pError> {
        let x_point = decode_point(pa)?;
        let pb = ProjectivePoint::mul_by_generator(y) + self.w0_n;
        let z = (ProjectivePoint::from(x_point) - self.w0_m) * *y;
        let v = self.l * *y;
        // One field inversion for the three points instead of three.
        let mut affine = ProjectivePoint::batch_normalize(&[pb, z, v]);
        let pb_bytes = encode_point(&affine[0]);
        let z_bytes = encode_point(&affine[1]).map(Zeroizing::new);
        let v_bytes = encode_point(&affine[2]).map(Zeroizing::new);
        affine.zeroize();
        Ok((pb_bytes?, z_bytes?, v_bytes?))
    }
}

/// The encoded secret points `Z` and `V`.
type SecretPoints = (Zeroizing<[u8; POINT_LEN]>, Zeroizing<[u8; POINT_LEN]>);

/// An encoded share plus the encoded secret points `Z` and `V`.
type Points = (
    [u8; POINT_LEN],
    Zeroizing<[u8; POINT_LEN]>,
    Zeroizing<[u8; POINT_LEN]>,
);

impl Drop for Verifier {
    fn drop(&mut self) {
        self.w0.zeroize();
        self.w0_bytes.zeroize();
        self.l.zeroize();
        self.l_bytes.zeroize();
        self.w0_m.zeroize();
        self.w0_n.zeroize();
    }
}

impl ZeroizeOnDrop for Verifier {}

impl core::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Verifier(..)")
    }
}

/// What the verifier sends in Pake2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pake2Values {
    /// `pB = y·G + w0·N`, uncompressed.
    pub pb: [u8; POINT_LEN],
    /// `cB = HMAC(KcB, pA)`.
    pub cb: [u8; CONFIRM_LEN],
}

/// The verifier's state between Pake2 and Pake3: the expected `cA` and the secret it guards.
pub struct ExpectConfirmation {
    expected: Zeroizing<[u8; CONFIRM_LEN]>,
    ke: Zeroizing<[u8; KE_LEN]>,
}

impl ExpectConfirmation {
    /// Checks the prover's `cA` (Pake3) in constant time. On success returns the shared secret and
    /// the proof token; on failure the secret is dropped (and zeroized).
    ///
    /// # Errors
    /// [`Spake2pError::ConfirmationFailed`] if `ca` is not the expected value (any length).
    pub fn verify(self, ca: &[u8]) -> Result<(SharedSecret, KeyConfirmed), Spake2pError> {
        if bool::from(self.expected[..].ct_eq(ca)) {
            Ok((SharedSecret(self.ke.clone()), KeyConfirmed { _private: () }))
        } else {
            Err(Spake2pError::ConfirmationFailed)
        }
    }
}

impl core::fmt::Debug for ExpectConfirmation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ExpectConfirmation(..)")
    }
}

/// The prover's secrets `(w0, w1)`, derived from the passcode. Zeroized on drop.
pub struct ProverSecrets {
    w0: Zeroizing<Scalar>,
    w1: Zeroizing<Scalar>,
}

impl ProverSecrets {
    /// `w0 = w0s mod n`, `w1 = w1s mod n` from the PBKDF2 output.
    ///
    /// # Errors
    /// [`Spake2pError::InvalidPbkdfParameters`] for iterations or salt outside Matter's ranges.
    pub fn from_passcode(
        passcode: u32,
        salt: &[u8],
        iterations: u32,
    ) -> Result<Self, Spake2pError> {
        check_pbkdf_parameters(iterations, salt)?;
        let ws = pbkdf_w0s_w1s(passcode, salt, iterations);
        let (w0s, w1s) = ws.split_at(W0W1_PBKDF_LEN / 2);
        Ok(Self {
            w0: Zeroizing::new(reduce_40(w0s)),
            w1: Zeroizing::new(reduce_40(w1s)),
        })
    }

    /// The matching verifier (`L = w1·G`), e.g. for a test device.
    ///
    /// # Errors
    /// [`Spake2pError::InvalidVerifier`] only in the negligible case `w0 = 0` or `w1 = 0`.
    pub fn verifier(&self) -> Result<Verifier, Spake2pError> {
        Verifier::from_parts(*self.w0, ProjectivePoint::mul_by_generator(&*self.w1))
    }

    #[cfg(test)]
    fn from_scalars(w0: &[u8; 32], w1: &[u8; 32]) -> Option<Self> {
        Some(Self {
            w0: Zeroizing::new(scalar_from_be(w0)?),
            w1: Zeroizing::new(scalar_from_be(w1)?),
        })
    }
}

impl core::fmt::Debug for ProverSecrets {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ProverSecrets(..)")
    }
}

/// The prover between Pake1 and Pake2: its ephemeral `x` and the share `pA` it sent.
pub struct Prover {
    x: Zeroizing<Scalar>,
    pa: [u8; POINT_LEN],
}

impl Prover {
    /// Picks `x` and computes `pA = x·G + w0·M` (Pake1).
    ///
    /// # Errors
    /// [`Spake2pError::DegeneratePoint`] only in the negligible case `pA` = identity.
    pub fn start(
        secrets: &ProverSecrets,
        rng: &mut dyn Rng,
    ) -> Result<(Self, [u8; POINT_LEN]), Spake2pError> {
        let x = random_scalar(rng);
        Self::start_with(secrets, x)
    }

    fn start_with(
        secrets: &ProverSecrets,
        x: Zeroizing<Scalar>,
    ) -> Result<(Self, [u8; POINT_LEN]), Spake2pError> {
        let pa_point = ProjectivePoint::mul_by_generator(&*x) + point_m() * *secrets.w0;
        let pa = encode_point(&pa_point.to_affine())?;
        Ok((Self { x, pa }, pa))
    }

    /// Takes the verifier's `pB` and `cB` (Pake2): computes `Z = x·(pB − w0·N)`, `V = w1·(pB −
    /// w0·N)`, the keys, checks `cB` in constant time and returns `cA` (Pake3) with the shared secret
    /// and the proof token.
    ///
    /// # Errors
    /// [`Spake2pError::InvalidPoint`] for a bad `pb`, [`Spake2pError::ConfirmationFailed`] when `cb`
    /// does not match (wrong passcode or tampering).
    pub fn finish(
        self,
        secrets: &ProverSecrets,
        context: &[u8],
        pb: &[u8],
        cb: &[u8],
    ) -> Result<ProverFinished, Spake2pError> {
        self.finish_with(secrets, context, b"", b"", pb, cb)
    }

    fn finish_with(
        self,
        secrets: &ProverSecrets,
        context: &[u8],
        prover_id: &[u8],
        verifier_id: &[u8],
        pb: &[u8],
        cb: &[u8],
    ) -> Result<ProverFinished, Spake2pError> {
        let (z_bytes, v_bytes) = self.points(secrets, pb)?;
        let w0_bytes = Zeroizing::new(<[u8; SCALAR_LEN]>::from(secrets.w0.to_bytes()));
        let keys = KeySchedule::derive(&Transcript {
            context,
            prover_id,
            verifier_id,
            x: &self.pa,
            y: pb,
            z: &z_bytes[..],
            v: &v_bytes[..],
            w0: &w0_bytes[..],
        });
        let expected_cb = Zeroizing::new(hmac_sha256(&keys.kc_b[..], &self.pa));
        if !bool::from(expected_cb[..].ct_eq(cb)) {
            return Err(Spake2pError::ConfirmationFailed);
        }
        Ok(ProverFinished {
            ca: hmac_sha256(&keys.kc_a[..], pb),
            secret: SharedSecret(keys.ke.clone()),
            confirmed: KeyConfirmed { _private: () },
        })
    }
}

impl Prover {
    /// `Z = x·(pB − w0·N)`, `V = w1·(pB − w0·N)`, encoded.
    fn points(&self, secrets: &ProverSecrets, pb: &[u8]) -> Result<SecretPoints, Spake2pError> {
        let y_point = decode_point(pb)?;
        let mut t = ProjectivePoint::from(y_point) - point_n() * *secrets.w0;
        let z = t * *self.x;
        let v = t * *secrets.w1;
        t.zeroize();
        let mut affine = ProjectivePoint::batch_normalize(&[z, v]);
        let z_bytes = encode_point(&affine[0]).map(Zeroizing::new);
        let v_bytes = encode_point(&affine[1]).map(Zeroizing::new);
        affine.zeroize();
        Ok((z_bytes?, v_bytes?))
    }
}

impl core::fmt::Debug for Prover {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Prover(..)")
    }
}

/// The prover's result after a verified Pake2.
#[derive(Debug)]
pub struct ProverFinished {
    /// `cA = HMAC(KcA, pB)`, to send in Pake3.
    pub ca: [u8; CONFIRM_LEN],
    /// The shared secret `Ke`.
    pub secret: SharedSecret,
    /// Proof that the peer's confirmation was checked.
    pub confirmed: KeyConfirmed,
}

/// The SPAKE2+ shared secret `Ke` (16 bytes), input to the session key derivation
/// (`HKDF(Ke, "SessionKeys")`, Matter 1.3 §4.14.1.3). Zeroized on drop; `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedSecret(Zeroizing<[u8; KE_LEN]>);

impl SharedSecret {
    /// The secret bytes. Never log them.
    pub fn as_bytes(&self) -> &[u8; KE_LEN] {
        &self.0
    }
}

impl core::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SharedSecret(..)")
    }
}

/// Proof that the peer's SPAKE2+ confirmation value was checked and matched. It can only be made in
/// this module, is neither `Clone` nor `Copy`, and is required to build an established PASE outcome,
/// so a code path that skips the check cannot compile.
#[derive(Debug)]
pub struct KeyConfirmed {
    _private: (),
}

/// The SPAKE2+ transcript inputs (RFC 9383 §3.3 / draft-01 §3.3): each is appended to TT as
/// `u64 little-endian length || bytes`.
struct Transcript<'a> {
    context: &'a [u8],
    prover_id: &'a [u8],
    verifier_id: &'a [u8],
    x: &'a [u8],
    y: &'a [u8],
    z: &'a [u8],
    v: &'a [u8],
    w0: &'a [u8],
}

impl Transcript<'_> {
    /// TT = Context, idProver, idVerifier, M, N, X, Y, Z, V, w0, each length-prefixed.
    fn bytes(&self) -> Zeroizing<Vec<u8>> {
        let parts: [&[u8]; 10] = [
            self.context,
            self.prover_id,
            self.verifier_id,
            &M_BYTES,
            &N_BYTES,
            self.x,
            self.y,
            self.z,
            self.v,
            self.w0,
        ];
        let len = parts.iter().map(|p| 8 + p.len()).sum();
        let mut tt = Zeroizing::new(Vec::with_capacity(len));
        for p in parts {
            tt.extend_from_slice(&(p.len() as u64).to_le_bytes());
            tt.extend_from_slice(p);
        }
        tt
    }
}

/// The draft-01 key schedule: `Ka || Ke = SHA-256(TT)`, `KcA || KcB = HKDF(Ka, "ConfirmationKeys")`.
struct KeySchedule {
    #[cfg_attr(not(test), allow(dead_code))]
    ka: Zeroizing<[u8; 16]>,
    ke: Zeroizing<[u8; KE_LEN]>,
    kc_a: Zeroizing<[u8; 16]>,
    kc_b: Zeroizing<[u8; 16]>,
}

impl KeySchedule {
    fn derive(t: &Transcript<'_>) -> Self {
        let tt = t.bytes();
        let mut hash = Zeroizing::new([0u8; 32]);
        hash.copy_from_slice(&Sha256::digest(&tt[..]));
        let mut ka = Zeroizing::new([0u8; 16]);
        let mut ke = Zeroizing::new([0u8; KE_LEN]);
        ka.copy_from_slice(&hash[..16]);
        ke.copy_from_slice(&hash[16..]);
        let mut kc = Zeroizing::new([0u8; 32]);
        // HKDF-SHA256 can expand up to 255 * 32 bytes; 32 never fails.
        let _ = hkdf::Hkdf::<Sha256>::new(None, &ka[..]).expand(b"ConfirmationKeys", &mut kc[..]);
        let mut kc_a = Zeroizing::new([0u8; 16]);
        let mut kc_b = Zeroizing::new([0u8; 16]);
        kc_a.copy_from_slice(&kc[..16]);
        kc_b.copy_from_slice(&kc[16..]);
        Self { ka, ke, kc_a, kc_b }
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; CONFIRM_LEN] {
    // HMAC accepts keys of any length; this cannot fail.
    let mut out = [0u8; CONFIRM_LEN];
    if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) {
        mac.update(data);
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

/// Internals exposed for the benchmark (`benches/pase.rs`), which times the raw point
/// multiplications a responder handshake performs next to the handshake itself. Not a stable API.
#[doc(hidden)]
pub mod bench_support {
    use super::*;

    /// The inputs of the three multiplications [`Verifier::respond`] performs: `y·G` (precomputed
    /// table), `y·(X − w0·M)` and `y·L`, prepared outside the timed part.
    pub struct RawMultiplications {
        y: Zeroizing<Scalar>,
        t: ProjectivePoint,
        l: ProjectivePoint,
    }

    impl RawMultiplications {
        /// Prepares the operands from a verifier, a Pake1 share and a seed for `y`.
        pub fn new(verifier: &Verifier, pa: &[u8], seed: u64) -> Option<Self> {
            let mut rng = crate::rng::TestRng::new(seed);
            let y = random_scalar(&mut rng);
            let x = decode_point(pa).ok()?;
            Some(Self {
                y,
                t: ProjectivePoint::from(x) - verifier.w0_m,
                l: verifier.l,
            })
        }

        /// Runs the three multiplications; returns a value so nothing is optimised away.
        pub fn run(&self) -> [ProjectivePoint; 3] {
            [
                ProjectivePoint::mul_by_generator(&*self.y),
                self.t * *self.y,
                self.l * *self.y,
            ]
        }
    }
}

#[cfg(test)]
mod tests;
