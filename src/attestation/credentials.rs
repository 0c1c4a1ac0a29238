//! The device's attestation credentials as one value: DAC, PAI, DAC private key and CD.
//!
//! Two ways in: [`DeviceCredentials::from_files`] takes the contents of the `--dac`, `--pai`,
//! `--dac-key` and `--cd` files (PEM or DER; keys as SEC1 `EC PRIVATE KEY` or PKCS#8
//! `PRIVATE KEY`) and checks that they belong together; [`DeviceCredentials::from_bytes`]
//! reads what [`DeviceCredentials::to_bytes`] persisted (a versioned TLV structure), e.g. the
//! development DAC issued at first start. The key is zeroized when dropped.

use p256::pkcs8::DecodePrivateKey;
use p256::SecretKey;
use thiserror::Error;
use tracing::debug;
use zeroize::Zeroizing;

use super::cd::CertificationDeclaration;
use super::dac::{verify_dac, DacInfo};
use super::der::{self, DerReader};
use super::elements::{sign_attestation, sign_nocsr, AttestationElements, NocsrElements};
use super::key::{AttestationKey, PublicKey};
use super::pem::{self, Input, PemProblem};
use super::x509::oid;
use super::{AttestationError, NONCE_LEN, SIGNATURE_LEN};
use crate::tlv::{Tag, TlvReader, TlvWriter};

/// Version of the persisted form written by [`DeviceCredentials::to_bytes`].
pub const PERSISTED_VERSION: u8 = 1;

const TAG_VERSION: u8 = 0;
const TAG_DAC: u8 = 1;
const TAG_PAI: u8 = 2;
const TAG_DAC_KEY: u8 = 3;
const TAG_CD: u8 = 4;

/// Which credential file a [`CredentialsError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialFile {
    /// `--dac`.
    Dac,
    /// `--pai`.
    Pai,
    /// `--dac-key`.
    DacKey,
    /// `--cd`.
    Cd,
    /// The persisted credentials.
    Persisted,
}

impl std::fmt::Display for CredentialFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Dac => "DAC certificate (--dac)",
            Self::Pai => "PAI certificate (--pai)",
            Self::DacKey => "DAC private key (--dac-key)",
            Self::Cd => "certification declaration (--cd)",
            Self::Persisted => "stored attestation credentials",
        })
    }
}

/// Credentials that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The file is neither DER nor PEM text.
    #[error("{file}: neither DER nor PEM")]
    NotPemOrDer {
        /// The file.
        file: CredentialFile,
    },
    /// A PEM block is malformed.
    #[error("{file}: malformed PEM: {reason}")]
    MalformedPem {
        /// The file.
        file: CredentialFile,
        /// The decoder's complaint.
        reason: String,
    },
    /// The PEM label is not one this file may have.
    #[error("{file}: PEM label \"{found}\" where {expected} was expected")]
    WrongPemLabel {
        /// The file.
        file: CredentialFile,
        /// The label found.
        found: String,
        /// The label(s) accepted.
        expected: &'static str,
    },
    /// More than one certificate or key where one is expected.
    #[error("{file}: {count} PEM blocks of the expected kind; give exactly one")]
    MultipleBlocks {
        /// The file.
        file: CredentialFile,
        /// How many there were.
        count: usize,
    },
    /// The private key is encrypted (PKCS#8 `ENCRYPTED PRIVATE KEY`).
    #[error("{file}: encrypted private keys are not supported; decrypt it first (e.g. openssl pkcs8 -in key.pem -out plain.pem)")]
    EncryptedKey {
        /// The file.
        file: CredentialFile,
    },
    /// The key is not an elliptic-curve key.
    #[error("{file}: not an elliptic-curve (EC) private key")]
    NotEcKey {
        /// The file.
        file: CredentialFile,
    },
    /// The key is an EC key on another curve than P-256 (prime256v1).
    #[error("{file}: the key is not on the P-256 (prime256v1) curve Matter requires")]
    NotP256 {
        /// The file.
        file: CredentialFile,
    },
    /// The key could not be decoded.
    #[error("{file}: malformed private key")]
    MalformedKey {
        /// The file.
        file: CredentialFile,
    },
    /// The private key does not belong to the DAC.
    #[error("the DAC private key does not match the DAC certificate's public key")]
    KeyMismatch,
    /// A certificate or the CD is malformed or breaks a Matter rule.
    #[error("{file}: {source}")]
    Invalid {
        /// The file.
        file: CredentialFile,
        /// What is wrong.
        source: AttestationError,
    },
    /// The CD does not cover the DAC's vendor/product id.
    #[error("the certification declaration does not cover the DAC: {0}")]
    CdMismatch(&'static str),
    /// The persisted form is of an unknown version.
    #[error("stored attestation credentials have version {0}; this program reads version {PERSISTED_VERSION}")]
    UnsupportedVersion(u8),
}

/// A device's attestation credentials, checked to belong together.
#[derive(Clone)]
pub struct DeviceCredentials {
    dac_der: Vec<u8>,
    pai_der: Vec<u8>,
    dac_key: AttestationKey,
    cd_der: Vec<u8>,
    dac: DacInfo,
}

impl DeviceCredentials {
    /// Credentials from their parts (DER), checked: the DAC follows the DAC profile and was
    /// issued by the PAI, the key is the DAC's, and the CD (CMS structure and content; its
    /// signature is the commissioner's to check) covers the DAC's vendor and product id.
    ///
    /// # Errors
    /// [`CredentialsError::Invalid`], [`CredentialsError::KeyMismatch`],
    /// [`CredentialsError::CdMismatch`].
    pub fn new(
        dac_der: Vec<u8>,
        pai_der: Vec<u8>,
        dac_key: AttestationKey,
        cd_der: Vec<u8>,
    ) -> Result<Self, CredentialsError> {
        let dac = verify_dac(&dac_der, &pai_der).map_err(|source| CredentialsError::Invalid {
            file: CredentialFile::Dac,
            source,
        })?;
        if dac.public_key != dac_key.public_key() {
            return Err(CredentialsError::KeyMismatch);
        }
        let cd = CertificationDeclaration::decode_unverified(&cd_der).map_err(|source| {
            CredentialsError::Invalid {
                file: CredentialFile::Cd,
                source,
            }
        })?;
        check_cd_covers(&cd, &dac)?;
        debug!(
            vendor_id = dac.vendor_id,
            product_id = dac.product_id,
            "attestation credentials loaded"
        );
        Ok(Self {
            dac_der,
            pai_der,
            dac_key,
            cd_der,
            dac,
        })
    }

    /// Credentials from the contents of the `--dac`, `--pai`, `--dac-key` and `--cd` files.
    /// Certificates and the CD may be DER or PEM (`CERTIFICATE`; the CD also `CMS` or
    /// `PKCS7`); the key DER or PEM, SEC1 (`EC PRIVATE KEY`) or PKCS#8 (`PRIVATE KEY`).
    ///
    /// # Errors
    /// A [`CredentialsError`] naming the file and the problem.
    pub fn from_files(
        dac: &[u8],
        pai: &[u8],
        dac_key: &[u8],
        cd: &[u8],
    ) -> Result<Self, CredentialsError> {
        let dac_der = certificate(dac, CredentialFile::Dac)?;
        let pai_der = certificate(pai, CredentialFile::Pai)?;
        let key = private_key(dac_key, CredentialFile::DacKey)?;
        let cd_der = one_block(cd, CredentialFile::Cd, &["CMS", "PKCS7"], "CMS or PKCS7")?;
        Self::new(dac_der.to_vec(), pai_der.to_vec(), key, cd_der.to_vec())
    }

    /// The persisted form: a TLV structure {0: version, 1: DAC, 2: PAI, 3: DAC key scalar,
    /// 4: CD}. Zeroized on drop, since it holds the private key.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        // Reserve everything up front so no reallocation leaves a copy of the key behind.
        let cap = self.dac_der.len() + self.pai_der.len() + self.cd_der.len() + 64;
        let mut buf = Zeroizing::new(Vec::with_capacity(cap));
        let key = self.dac_key.to_scalar();
        let mut w = TlvWriter::new(&mut buf);
        let r = (|| {
            w.start_struct(Tag::Anonymous)?;
            w.u8(Tag::Context(TAG_VERSION), PERSISTED_VERSION)?;
            w.octets(Tag::Context(TAG_DAC), &self.dac_der)?;
            w.octets(Tag::Context(TAG_PAI), &self.pai_der)?;
            w.octets(Tag::Context(TAG_DAC_KEY), key.as_ref())?;
            w.octets(Tag::Context(TAG_CD), &self.cd_der)?;
            w.end_container()
        })();
        // An unlimited writer only fails on misuse of containers, which the code above avoids.
        debug_assert!(r.is_ok());
        buf
    }

    /// Reads [`DeviceCredentials::to_bytes`] output and re-checks it as [`DeviceCredentials::new`] does.
    ///
    /// # Errors
    /// [`CredentialsError::UnsupportedVersion`], [`CredentialsError::Invalid`] for a malformed
    /// structure, or a consistency error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CredentialsError> {
        let invalid = |source| CredentialsError::Invalid {
            file: CredentialFile::Persisted,
            source,
        };
        let tlv = |e| {
            invalid(AttestationError::Tlv {
                what: "stored credentials",
                source: e,
            })
        };
        let s = TlvReader::new(bytes).read_struct().map_err(tlv)?;
        let version = s.u8(TAG_VERSION).map_err(tlv)?;
        if version != PERSISTED_VERSION {
            return Err(CredentialsError::UnsupportedVersion(version));
        }
        let key =
            AttestationKey::from_scalar(s.octets(TAG_DAC_KEY).map_err(tlv)?).map_err(invalid)?;
        Self::new(
            s.octets(TAG_DAC).map_err(tlv)?.to_vec(),
            s.octets(TAG_PAI).map_err(tlv)?.to_vec(),
            key,
            s.octets(TAG_CD).map_err(tlv)?.to_vec(),
        )
    }

    /// The DAC, DER (CertificateChainRequest with DACCertificate).
    pub fn dac_der(&self) -> &[u8] {
        &self.dac_der
    }

    /// The PAI, DER (CertificateChainRequest with PAICertificate).
    pub fn pai_der(&self) -> &[u8] {
        &self.pai_der
    }

    /// The Certification Declaration, CMS DER.
    pub fn cd_der(&self) -> &[u8] {
        &self.cd_der
    }

    /// The DAC private key.
    pub fn dac_key(&self) -> &AttestationKey {
        &self.dac_key
    }

    /// The DAC's public key.
    pub fn dac_public_key(&self) -> PublicKey {
        self.dac.public_key
    }

    /// The DAC's vendor id.
    pub fn vendor_id(&self) -> u16 {
        self.dac.vendor_id
    }

    /// The DAC's product id.
    pub fn product_id(&self) -> u16 {
        self.dac.product_id
    }

    /// True if the PAI is the published development PAI: these are test credentials that only
    /// commissioners in development/test mode accept.
    pub fn is_development(&self) -> bool {
        self.pai_der == super::dev::DEV_PAI_CERT
    }

    /// The AttestationResponse fields for an AttestationRequest's nonce: (AttestationElements,
    /// AttestationSignature). `timestamp` is Matter-epoch seconds, 0 without a time source.
    ///
    /// # Errors
    /// As [`sign_attestation`].
    pub fn attestation_response(
        &self,
        attestation_nonce: &[u8; NONCE_LEN],
        timestamp: u32,
        challenge: &[u8],
    ) -> Result<(Vec<u8>, [u8; SIGNATURE_LEN]), AttestationError> {
        let e = AttestationElements::new(self.cd_der.clone(), *attestation_nonce, timestamp);
        sign_attestation(&e, challenge, &self.dac_key)
    }

    /// The CSRResponse fields for a CSR and CSRRequest's nonce: (NOCSRElements,
    /// AttestationSignature).
    ///
    /// # Errors
    /// As [`sign_nocsr`].
    pub fn csr_response(
        &self,
        csr_der: &[u8],
        csr_nonce: &[u8; NONCE_LEN],
        challenge: &[u8],
    ) -> Result<(Vec<u8>, [u8; SIGNATURE_LEN]), AttestationError> {
        sign_nocsr(
            &NocsrElements::new(csr_der.to_vec(), *csr_nonce),
            challenge,
            &self.dac_key,
        )
    }
}

impl std::fmt::Debug for DeviceCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCredentials")
            .field("vendor_id", &format_args!("0x{:04X}", self.dac.vendor_id))
            .field("product_id", &format_args!("0x{:04X}", self.dac.product_id))
            .field("dac_len", &self.dac_der.len())
            .field("pai_len", &self.pai_der.len())
            .field("cd_len", &self.cd_der.len())
            .field("development", &self.is_development())
            .finish_non_exhaustive()
    }
}

/// The CD must name the DAC's vendor and product (Matter 1.3 §6.2.3.1 / §6.3.1: through
/// dac_origin_* when present, else vendor_id and product_id_array).
fn check_cd_covers(cd: &CertificationDeclaration, dac: &DacInfo) -> Result<(), CredentialsError> {
    match cd.dac_origin {
        Some((vid, pid)) => {
            if vid != dac.vendor_id || pid != dac.product_id {
                return Err(CredentialsError::CdMismatch(
                    "dac_origin ids differ from the DAC's",
                ));
            }
        }
        None => {
            if cd.vendor_id != dac.vendor_id {
                return Err(CredentialsError::CdMismatch(
                    "vendor_id differs from the DAC's",
                ));
            }
            if !cd.product_ids.contains(&dac.product_id) {
                return Err(CredentialsError::CdMismatch(
                    "the DAC's product id is not in product_id_array",
                ));
            }
        }
    }
    Ok(())
}

fn certificate(input: &[u8], file: CredentialFile) -> Result<Zeroizing<Vec<u8>>, CredentialsError> {
    one_block(input, file, &["CERTIFICATE"], "CERTIFICATE")
}

/// The single block with one of `labels` (or the raw DER).
fn one_block(
    input: &[u8],
    file: CredentialFile,
    labels: &[&str],
    expected: &'static str,
) -> Result<Zeroizing<Vec<u8>>, CredentialsError> {
    match decode(input, file)? {
        Input::Der(d) => Ok(d),
        Input::Pem(blocks) => {
            let matching: Vec<_> = blocks
                .into_iter()
                .filter(|b| labels.contains(&b.label.as_str()))
                .collect();
            pick_one(matching, file, expected, input)
        }
    }
}

fn pick_one(
    mut blocks: Vec<pem::Block>,
    file: CredentialFile,
    expected: &'static str,
    input: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CredentialsError> {
    match blocks.len() {
        1 => Ok(blocks.remove(0).der),
        0 => {
            // Name the first label found, so "wrong file given" is obvious.
            let found = match pem::decode(input) {
                Ok(Input::Pem(b)) => b
                    .into_iter()
                    .map(|b| b.label)
                    .find(|l| l != "EC PARAMETERS")
                    .unwrap_or_default(),
                _ => String::new(),
            };
            Err(CredentialsError::WrongPemLabel {
                file,
                found,
                expected,
            })
        }
        count => Err(CredentialsError::MultipleBlocks { file, count }),
    }
}

fn decode(input: &[u8], file: CredentialFile) -> Result<Input, CredentialsError> {
    pem::decode(input).map_err(|p| match p {
        PemProblem::NotPemOrDer => CredentialsError::NotPemOrDer { file },
        PemProblem::Malformed(reason) => CredentialsError::MalformedPem { file, reason },
    })
}

/// A P-256 private key from the contents of a key file (SEC1 or PKCS#8, DER or PEM).
///
/// # Errors
/// As [`DeviceCredentials::from_files`] for the key.
pub fn key_from_file(input: &[u8]) -> Result<AttestationKey, CredentialsError> {
    private_key(input, CredentialFile::DacKey)
}

fn private_key(input: &[u8], file: CredentialFile) -> Result<AttestationKey, CredentialsError> {
    let (der_bytes, format) = match decode(input, file)? {
        Input::Der(d) => (d, None),
        Input::Pem(blocks) => {
            if blocks.iter().any(|b| b.label == "ENCRYPTED PRIVATE KEY") {
                return Err(CredentialsError::EncryptedKey { file });
            }
            let keys: Vec<_> = blocks
                .into_iter()
                .filter(|b| b.label == "EC PRIVATE KEY" || b.label == "PRIVATE KEY")
                .collect();
            let format = keys.first().map(|b| b.label == "PRIVATE KEY");
            (
                pick_one(keys, file, "EC PRIVATE KEY or PRIVATE KEY", input)?,
                format,
            )
        }
    };
    let pkcs8 = match format {
        Some(p) => p,
        // DER: PKCS#8 starts with INTEGER 0 then an AlgorithmIdentifier; SEC1 with INTEGER 1.
        None => classify_der_key(&der_bytes).ok_or(CredentialsError::MalformedKey { file })?,
    };
    check_key_curve(&der_bytes, pkcs8, file)?;
    let sk = if pkcs8 {
        SecretKey::from_pkcs8_der(&der_bytes)
            .map_err(|_| CredentialsError::MalformedKey { file })?
    } else {
        SecretKey::from_sec1_der(&der_bytes).map_err(|_| CredentialsError::MalformedKey { file })?
    };
    let scalar = Zeroizing::new(sk.to_bytes());
    AttestationKey::from_scalar(scalar.as_slice())
        .map_err(|_| CredentialsError::MalformedKey { file })
}

/// Some(true) for PKCS#8, Some(false) for SEC1, None for neither.
fn classify_der_key(d: &[u8]) -> Option<bool> {
    let outer = der::single(d, der::SEQUENCE, "private key").ok()?;
    let mut r = DerReader::new(outer.value, "private key");
    match r.expect(der::INTEGER).ok()? {
        [0] => Some(true),
        [1] => Some(false),
        _ => None,
    }
}

/// Gives the typed "not EC" / "not P-256" errors before the generic decoder would just fail.
fn check_key_curve(d: &[u8], pkcs8: bool, file: CredentialFile) -> Result<(), CredentialsError> {
    let malformed = || CredentialsError::MalformedKey { file };
    let outer = der::single(d, der::SEQUENCE, "private key").map_err(|_| malformed())?;
    let mut r = DerReader::new(outer.value, "private key");
    r.expect(der::INTEGER).map_err(|_| malformed())?;
    if pkcs8 {
        // PrivateKeyInfo: version, AlgorithmIdentifier { algorithm, parameters }, privateKey.
        let mut alg = r.nested(der::SEQUENCE).map_err(|_| malformed())?;
        if alg.expect(der::OID).map_err(|_| malformed())? != oid::EC_PUBLIC_KEY {
            return Err(CredentialsError::NotEcKey { file });
        }
        match alg.read() {
            Ok(p) if p.tag == der::OID && p.value == oid::PRIME256V1 => Ok(()),
            _ => Err(CredentialsError::NotP256 { file }),
        }
    } else {
        // ECPrivateKey: version 1, privateKey OCTET STRING, [0] parameters (optional), [1] key.
        let k = r.expect(der::OCTET_STRING).map_err(|_| malformed())?;
        if let Some(params) = r.optional(0xa0).map_err(|_| malformed())? {
            let p = der::single(params.value, der::OID, "private key")
                .map_err(|_| CredentialsError::NotP256 { file })?;
            if p.value != oid::PRIME256V1 {
                return Err(CredentialsError::NotP256 { file });
            }
        }
        if k.len() != 32 {
            return Err(CredentialsError::NotP256 { file });
        }
        Ok(())
    }
}
