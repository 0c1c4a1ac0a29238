//! The CASE key schedule and crypto steps (Matter 1.3 §4.14.2): the operational IPK, the
//! destination identifier, the Sigma2/Sigma3 and resumption keys, the TBEData encryption
//! (AES-128-CCM, 16-byte MIC, fixed 13-byte nonces), the resumption MICs, ECDH and the ECDSA
//! signatures over TBSData.
//!
//! Labels and layouts, checked against the spec text, the CHIP SDK's `CASESession.cpp` and
//! matter.js' `CaseMessages.ts`/`CaseServer.ts`:
//! * operational IPK = HKDF(IKM = epoch key, salt = compressed fabric id, "GroupKey v1.0", 16)
//!   (§4.15.2.1, the operational group key derivation);
//! * destinationId = HMAC-SHA256(IPK, initiatorRandom || root public key || fabric id (LE64) ||
//!   node id (LE64)) (§4.14.2.2.1);
//! * S2K = HKDF(shared secret, IPK || responderRandom || responder eph. key || SHA-256(Sigma1),
//!   "Sigma2", 16); S3K = HKDF(shared secret, IPK || SHA-256(Sigma1 || Sigma2), "Sigma3", 16);
//! * S1RK / S2RK = HKDF(shared secret, initiatorRandom || resumptionId, "Sigma1_Resume" /
//!   "Sigma2_Resume", 16), MIC = CCM over nothing with nonce "NCASE_SigmaS1" / "NCASE_SigmaS2";
//! * TBEData2/3 nonces "NCASE_Sigma2N" / "NCASE_Sigma3N";
//! * session keys: salt IPK || SHA-256(Sigma1 || Sigma2 || Sigma3) with "SessionKeys", resumed:
//!   salt initiatorRandom || resumptionId (of Sigma1) with "SessionResumptionKeys"
//!   ([`crate::session::keys::SessionKeys::derive`] does the HKDF).

use hkdf::Hkdf;
use hmac::{KeyInit, Mac};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::{PublicKey, SecretKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{CaseError, RESUMPTION_ID_LEN, SHARED_SECRET_LEN};
use crate::rng::Rng;
use crate::session::keys::{CcmKey, MIC_LEN, NONCE_LEN};

/// HKDF info of S2K.
pub const SIGMA2_INFO: &[u8] = b"Sigma2";
/// HKDF info of S3K.
pub const SIGMA3_INFO: &[u8] = b"Sigma3";
/// HKDF info of S1RK.
pub const SIGMA1_RESUME_INFO: &[u8] = b"Sigma1_Resume";
/// HKDF info of S2RK.
pub const SIGMA2_RESUME_INFO: &[u8] = b"Sigma2_Resume";
/// Nonce of the initiator's resume MIC.
pub const RESUME1_NONCE: &[u8; NONCE_LEN] = b"NCASE_SigmaS1";
/// Nonce of the responder's resume MIC.
pub const RESUME2_NONCE: &[u8; NONCE_LEN] = b"NCASE_SigmaS2";
/// Nonce of TBEData2.
pub const TBE2_NONCE: &[u8; NONCE_LEN] = b"NCASE_Sigma2N";
/// Nonce of TBEData3.
pub const TBE3_NONCE: &[u8; NONCE_LEN] = b"NCASE_Sigma3N";
/// HKDF info of the operational group key (§4.15.2.1).
pub const GROUP_KEY_INFO: &[u8] = b"GroupKey v1.0";

/// Attempts at drawing a valid ephemeral scalar (a 256-bit draw is out of range with
/// probability about 2^-32; repeated failure means a broken random source).
const KEYGEN_ATTEMPTS: usize = 8;

type HmacSha256 = hmac::Hmac<Sha256>;

fn hkdf16(ikm: &[u8], salt: &[u8], info: &[u8]) -> Zeroizing<[u8; 16]> {
    let mut out = Zeroizing::new([0u8; 16]);
    // 16 bytes is far below HKDF-SHA256's 8160-byte limit: expand cannot fail.
    let _ = Hkdf::<Sha256>::new(Some(salt), ikm).expand(info, out.as_mut_slice());
    out
}

/// The operational IPK of a fabric from its epoch key (§4.15.2.1).
pub fn operational_ipk(
    epoch_key: &[u8; 16],
    compressed_fabric_id: &[u8; 8],
) -> Zeroizing<[u8; 16]> {
    hkdf16(epoch_key, compressed_fabric_id, GROUP_KEY_INFO)
}

/// The destination identifier of Sigma1 (§4.14.2.2.1).
pub fn destination_id(
    ipk: &[u8; 16],
    initiator_random: &[u8; 32],
    root_public_key: &[u8; 65],
    fabric_id: u64,
    node_id: u64,
) -> [u8; 32] {
    // HMAC takes keys of any length: new_from_slice cannot fail.
    let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(ipk) else {
        return [0; 32];
    };
    mac.update(initiator_random);
    mac.update(root_public_key);
    mac.update(&fabric_id.to_le_bytes());
    mac.update(&node_id.to_le_bytes());
    mac.finalize().into_bytes().into()
}

/// SHA-256 of the concatenated messages.
pub fn transcript_hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// S2K, the key of TBEData2.
pub fn sigma2_key(
    shared_secret: &[u8; SHARED_SECRET_LEN],
    ipk: &[u8; 16],
    responder_random: &[u8; 32],
    responder_eph_pub: &[u8; 65],
    sigma1: &[u8],
) -> Zeroizing<[u8; 16]> {
    let mut salt = Zeroizing::new(Vec::with_capacity(16 + 32 + 65 + 32));
    salt.extend_from_slice(ipk);
    salt.extend_from_slice(responder_random);
    salt.extend_from_slice(responder_eph_pub);
    salt.extend_from_slice(&transcript_hash(&[sigma1]));
    hkdf16(shared_secret, &salt, SIGMA2_INFO)
}

/// S3K, the key of TBEData3.
pub fn sigma3_key(
    shared_secret: &[u8; SHARED_SECRET_LEN],
    ipk: &[u8; 16],
    sigma1: &[u8],
    sigma2: &[u8],
) -> Zeroizing<[u8; 16]> {
    let mut salt = Zeroizing::new(Vec::with_capacity(48));
    salt.extend_from_slice(ipk);
    salt.extend_from_slice(&transcript_hash(&[sigma1, sigma2]));
    hkdf16(shared_secret, &salt, SIGMA3_INFO)
}

/// The session-key salt of a full handshake.
pub fn session_salt(
    ipk: &[u8; 16],
    sigma1: &[u8],
    sigma2: &[u8],
    sigma3: &[u8],
) -> Zeroizing<Vec<u8>> {
    let mut salt = Zeroizing::new(Vec::with_capacity(48));
    salt.extend_from_slice(ipk);
    salt.extend_from_slice(&transcript_hash(&[sigma1, sigma2, sigma3]));
    salt
}

/// initiatorRandom || resumptionId: the salt of the resumption keys and of a resumed session.
pub fn resumption_salt(
    initiator_random: &[u8; 32],
    resumption_id: &[u8; RESUMPTION_ID_LEN],
) -> Zeroizing<Vec<u8>> {
    let mut salt = Zeroizing::new(Vec::with_capacity(48));
    salt.extend_from_slice(initiator_random);
    salt.extend_from_slice(resumption_id);
    salt
}

/// Which resumption MIC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeMic {
    /// initiatorResumeMIC of Sigma1 (S1RK, "NCASE_SigmaS1").
    Sigma1,
    /// sigma2ResumeMIC of Sigma2Resume (S2RK, "NCASE_SigmaS2").
    Sigma2,
}

/// A resumption MIC: AES-CCM over an empty message with the resumption key (§4.14.2.2.4).
pub fn resume_mic(
    which: ResumeMic,
    shared_secret: &[u8; SHARED_SECRET_LEN],
    initiator_random: &[u8; 32],
    resumption_id: &[u8; RESUMPTION_ID_LEN],
) -> [u8; MIC_LEN] {
    let (info, nonce) = match which {
        ResumeMic::Sigma1 => (SIGMA1_RESUME_INFO, RESUME1_NONCE),
        ResumeMic::Sigma2 => (SIGMA2_RESUME_INFO, RESUME2_NONCE),
    };
    let key = hkdf16(
        shared_secret,
        &resumption_salt(initiator_random, resumption_id),
        info,
    );
    CcmKey::new(&key).encrypt(nonce, &[], &mut [])
}

/// Checks a resumption MIC in constant time.
pub fn verify_resume_mic(
    which: ResumeMic,
    shared_secret: &[u8; SHARED_SECRET_LEN],
    initiator_random: &[u8; 32],
    resumption_id: &[u8; RESUMPTION_ID_LEN],
    mic: &[u8; MIC_LEN],
) -> bool {
    use subtle::ConstantTimeEq;
    let expected = resume_mic(which, shared_secret, initiator_random, resumption_id);
    expected.ct_eq(mic).into()
}

/// Encrypts TBEData: ciphertext || MIC, no associated data.
pub fn tbe_encrypt(key: &[u8; 16], nonce: &[u8; NONCE_LEN], plaintext: &[u8]) -> Vec<u8> {
    let mut buf = plaintext.to_vec();
    let mic = CcmKey::new(key).encrypt(nonce, &[], &mut buf);
    buf.extend_from_slice(&mic);
    buf
}

/// Decrypts TBEData (ciphertext || MIC).
///
/// # Errors
/// [`CaseError::Decrypt`] when shorter than a MIC or the MIC does not verify.
pub fn tbe_decrypt(
    key: &[u8; 16],
    nonce: &[u8; NONCE_LEN],
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CaseError> {
    let split = data.len().checked_sub(MIC_LEN).ok_or(CaseError::Decrypt)?;
    let (ct, mic) = data.split_at(split);
    let mic: &[u8; MIC_LEN] = mic.try_into().map_err(|_| CaseError::Decrypt)?;
    let mut buf = Zeroizing::new(ct.to_vec());
    CcmKey::new(key)
        .decrypt(nonce, &[], &mut buf, mic)
        .map_err(|_| CaseError::Decrypt)?;
    Ok(buf)
}

/// A fresh P-256 private key from `rng` (ephemeral keys; test and fuzz fabrics).
///
/// # Errors
/// [`CaseError::KeyGeneration`] if `rng` keeps yielding out-of-range scalars.
pub fn generate_secret_key(rng: &mut dyn Rng) -> Result<SecretKey, CaseError> {
    for _ in 0..KEYGEN_ATTEMPTS {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill(bytes.as_mut());
        if let Ok(secret) = SecretKey::from_slice(bytes.as_ref()) {
            return Ok(secret);
        }
    }
    Err(CaseError::KeyGeneration)
}

/// An ephemeral ECDH key pair (zeroized on drop by p256).
pub struct EphemeralKey {
    secret: SecretKey,
    public: [u8; 65],
}

impl core::fmt::Debug for EphemeralKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("EphemeralKey(..)")
    }
}

impl EphemeralKey {
    /// A fresh key pair from `rng`.
    ///
    /// # Errors
    /// [`CaseError::KeyGeneration`] if `rng` keeps yielding out-of-range scalars.
    pub fn generate(rng: &mut dyn Rng) -> Result<Self, CaseError> {
        let secret = generate_secret_key(rng)?;
        let public = public_key_of(&secret);
        Ok(Self { secret, public })
    }

    /// The uncompressed public key.
    pub fn public(&self) -> &[u8; 65] {
        &self.public
    }

    /// ECDH with the peer's public key: the x coordinate of the shared point.
    ///
    /// # Errors
    /// [`CaseError::InvalidEphemeralKey`] if `peer` is not a valid P-256 point.
    pub fn agree(&self, peer: &[u8; 65]) -> Result<Zeroizing<[u8; SHARED_SECRET_LEN]>, CaseError> {
        let peer = PublicKey::from_sec1_bytes(peer).map_err(|_| CaseError::InvalidEphemeralKey)?;
        let shared = p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), peer.as_affine());
        let mut out = Zeroizing::new([0u8; SHARED_SECRET_LEN]);
        out.copy_from_slice(shared.raw_secret_bytes());
        Ok(out)
    }
}

/// The uncompressed public key of `key`.
pub fn public_key_of(key: &SecretKey) -> [u8; 65] {
    let sk = SigningKey::from(key);
    crate::cert::x509::public_key_bytes(sk.verifying_key())
}

/// ECDSA-SHA256 over `msg` with an operational key, raw r || s.
pub fn sign(key: &SecretKey, msg: &[u8]) -> [u8; 64] {
    let sk = SigningKey::from(key);
    let sig: Signature = sk.sign(msg);
    sig.to_bytes().into()
}

/// Verifies an ECDSA-SHA256 r || s signature with a NOC public key.
///
/// # Errors
/// [`CaseError::BadSignature`].
pub fn verify(public_key: &[u8; 65], msg: &[u8], signature: &[u8; 64]) -> Result<(), CaseError> {
    let vk = VerifyingKey::from_sec1_bytes(public_key).map_err(|_| CaseError::BadSignature)?;
    let sig = Signature::from_slice(signature).map_err(|_| CaseError::BadSignature)?;
    vk.verify(msg, &sig).map_err(|_| CaseError::BadSignature)
}
