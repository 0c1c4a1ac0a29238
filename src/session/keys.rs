//! Session key derivation and the AES-128-CCM message protection of secure sessions
//! (Matter 1.3 §4.7.2 "Security Processing", §4.8.1 "Session key derivation" via §3.8 HKDF,
//! §3.6 "Data Confidentiality and Integrity": CCM with a 16-byte MIC and 13-byte nonce).

use aes::Aes128;
use ccm::aead::AeadInOut;
use ccm::consts::{U13, U16};
use ccm::{Ccm, KeyInit};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

/// AES-128-CCM as Matter uses it: 16-byte tag, 13-byte nonce.
type Aes128Ccm = Ccm<Aes128, U16, U13>;

/// Length of the CCM MIC appended to every secured message.
pub const MIC_LEN: usize = 16;
/// Length of the CCM nonce.
pub const NONCE_LEN: usize = 13;
/// Length of a symmetric session key.
pub const KEY_LEN: usize = 16;

/// HKDF info for a new session (PASE and CASE).
const SESSION_KEYS_INFO: &[u8] = b"SessionKeys";
/// HKDF info for a resumed CASE session.
const SESSION_RESUMPTION_KEYS_INFO: &[u8] = b"SessionResumptionKeys";

/// The three keys HKDF yields: I2R || R2I || AttestationChallenge. Zeroized on drop.
pub struct SessionKeys {
    /// Initiator-to-responder key.
    pub i2r: Zeroizing<[u8; KEY_LEN]>,
    /// Responder-to-initiator key.
    pub r2i: Zeroizing<[u8; KEY_LEN]>,
    /// Attestation challenge (used by commissioning's attestation and CSR requests).
    pub attestation_challenge: Zeroizing<[u8; KEY_LEN]>,
}

impl core::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

impl SessionKeys {
    /// `HKDF-SHA256(salt, ikm = shared secret, info = "SessionKeys" or "SessionResumptionKeys",
    /// 48 bytes)`. PASE uses an empty salt and Ke as the shared secret.
    pub fn derive(shared_secret: &[u8], salt: &[u8], is_resumption: bool) -> Self {
        let info = if is_resumption {
            SESSION_RESUMPTION_KEYS_INFO
        } else {
            SESSION_KEYS_INFO
        };
        let mut okm = Zeroizing::new([0u8; 3 * KEY_LEN]);
        // An empty salt is HKDF's default salt (a zero block), so `None` and `Some(&[])` agree.
        let hk = Hkdf::<Sha256>::new(Some(salt), shared_secret);
        // 48 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
        if hk.expand(info, okm.as_mut_slice()).is_err() {
            unreachable!("HKDF-SHA256 expand of 48 bytes");
        }
        let mut keys = Self {
            i2r: Zeroizing::new([0; KEY_LEN]),
            r2i: Zeroizing::new([0; KEY_LEN]),
            attestation_challenge: Zeroizing::new([0; KEY_LEN]),
        };
        keys.i2r.copy_from_slice(&okm[..KEY_LEN]);
        keys.r2i.copy_from_slice(&okm[KEY_LEN..2 * KEY_LEN]);
        keys.attestation_challenge
            .copy_from_slice(&okm[2 * KEY_LEN..]);
        keys
    }
}

/// The CCM nonce: security flags || message counter (LE) || source node id (LE)
/// (Matter 1.3 §4.7.2.1 "Nonce"). PASE sessions use node id 0 (unspecified).
pub fn nonce(security_flags: u8, message_counter: u32, source_node_id: u64) -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    n[0] = security_flags;
    n[1..5].copy_from_slice(&message_counter.to_le_bytes());
    n[5..].copy_from_slice(&source_node_id.to_le_bytes());
    n
}

/// One direction's AES-128-CCM key schedule. The expanded key is zeroized on drop (the `aes`
/// crate's `zeroize` feature).
pub struct CcmKey(Aes128Ccm);

impl core::fmt::Debug for CcmKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CcmKey(..)")
    }
}

/// The MIC did not verify (or the input was shorter than a MIC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MicError;

impl CcmKey {
    /// A key schedule for `key`.
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        Self(Aes128Ccm::new(key.into()))
    }

    /// Encrypts `buf` in place and returns the MIC.
    pub fn encrypt(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> [u8; MIC_LEN] {
        // CCM with a 13-byte nonce has a 2-byte length field: up to 65535 bytes, more than any
        // Matter message (at most 1280 bytes over UDP, less over BTP). Callers check the length.
        match self.0.encrypt_inout_detached(nonce.into(), aad, buf.into()) {
            Ok(tag) => tag.into(),
            Err(_) => unreachable!("CCM input longer than 65535 bytes"),
        }
    }

    /// Decrypts `buf` in place and checks `mic`. On failure the `ccm` crate zeroes `buf`, so
    /// unauthenticated plaintext never escapes; callers decrypt a copy.
    ///
    /// # Errors
    /// [`MicError`] when the MIC does not match.
    pub fn decrypt(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        mic: &[u8; MIC_LEN],
    ) -> Result<(), MicError> {
        self.0
            .decrypt_inout_detached(nonce.into(), aad, buf.into(), mic.into())
            .map_err(|_| MicError)
    }
}

/// Largest plaintext [`CcmKey::encrypt`] accepts.
pub const MAX_CCM_INPUT: usize = 0xFFFF;

#[cfg(test)]
mod tests {
    use hex_literal::hex;

    use super::*;

    /// CHIP SDK src/transport/tests/TestSessionManagerDispatch.cpp, "secure pase message (short
    /// payload)": key, nonce, AAD = the 8-byte header, plaintext protocol header + payload, and
    /// the ciphertext + MIC as CHIP sends it.
    #[test]
    fn chip_dispatch_vector_encrypts_and_decrypts() {
        let key = CcmKey::new(&hex!("5eded244e5532b3cdc23409dbad052d2"));
        let n = nonce(0x00, 12345, 0);
        assert_eq!(n, hex!("00393000000000000000000000"));
        let aad = hex!("00b80b0039300000");
        let mut buf = hex!("0564ee0e207d1122334455");
        let mic = key.encrypt(&n, &aad, &mut buf);
        assert_eq!(buf, hex!("5a989ae42e8d0f7f885dfb"));
        assert_eq!(mic, hex!("2faa8949cf730a5728e0354610a0c4a7"));
        key.decrypt(&n, &aad, &mut buf, &mic).unwrap();
        assert_eq!(buf, hex!("0564ee0e207d1122334455"));

        // "wrong MIC" variant of the same vector: the last MIC byte differs.
        let mut ct = hex!("5a989ae42e8d0f7f885dfb");
        let bad = hex!("2faa8949cf730a5728e0354610a0c4aa");
        assert_eq!(key.decrypt(&n, &aad, &mut ct, &bad), Err(MicError));
        assert_eq!(ct, [0u8; 11], "no unauthenticated plaintext left behind");
    }

    /// Same file, "secure pase message (no payload)": only the 6-byte protocol header.
    #[test]
    fn chip_dispatch_vector_no_payload() {
        let key = CcmKey::new(&hex!("5eded244e5532b3cdc23409dbad052d2"));
        let n = nonce(0x00, 12345, 0);
        let mut buf = hex!("0564ee0e207d");
        let mic = key.encrypt(&n, &hex!("00b80b0039300000"), &mut buf);
        assert_eq!(buf, hex!("5a989ae42e8d"));
        assert_eq!(mic, hex!("847f535c3007e6150cd65867f2b817db"));
    }

    /// Same file, "secure group message (no privacy)": a nonce with a group security flag and
    /// a source node id, and an 18-byte AAD.
    #[test]
    fn chip_dispatch_group_vector() {
        let key = CcmKey::new(&hex!("ca92d7a0942d1a511a0e26ad074f4c2f"));
        let n = nonce(0x01, 0x1234_5678, 1);
        assert_eq!(n, hex!("01785634120100000000000000"));
        let aad = hex!("067ddb01785634120100000000000000 0200");
        let mut buf = hex!("0164ee0e207d");
        let mic = key.encrypt(&n, &aad, &mut buf);
        assert_eq!(buf, hex!("65c767bc6cda"));
        assert_eq!(mic, hex!("0106c9801323900e9b3ce6d4bb0327d6"));
    }

    #[test]
    fn key_derivation_splits_48_bytes_and_resumption_differs() {
        let a = SessionKeys::derive(&[7u8; 16], &[], false);
        let b = SessionKeys::derive(&[7u8; 16], &[], true);
        assert_ne!(*a.i2r, *a.r2i);
        assert_ne!(*a.i2r, *b.i2r);
        // Independent HKDF-SHA256 computation (RFC 5869 construction by hand with HMAC).
        use hmac::Mac;
        type H = hmac::Hmac<Sha256>;
        let mut ext = <H as hmac::KeyInit>::new_from_slice(&[0u8; 32]).unwrap();
        ext.update(&[7u8; 16]);
        let prk = ext.finalize().into_bytes();
        let mut t1 = <H as hmac::KeyInit>::new_from_slice(&prk).unwrap();
        t1.update(b"SessionKeys");
        t1.update(&[1]);
        let t1 = t1.finalize().into_bytes();
        assert_eq!(&a.i2r[..], &t1[..16]);
        assert_eq!(&a.r2i[..], &t1[16..32]);
        let mut t2 = <H as hmac::KeyInit>::new_from_slice(&prk).unwrap();
        t2.update(&t1);
        t2.update(b"SessionKeys");
        t2.update(&[2]);
        let t2 = t2.finalize().into_bytes();
        assert_eq!(&a.attestation_challenge[..], &t2[..16]);
    }
}
