//! Development attestation credentials: the CSA / CHIP SDK published test chain for vendor
//! 0xFFF1, and per-device credentials issued under it.
//!
//! Sources (project-chip/connectedhomeip, published test data):
//! - `dev/paa/Chip-Test-PAA-FFF1-Cert.der`: `credentials/development/paa-root-certs/
//!   Chip-Test-PAA-FFF1-Cert.pem` ("Matter Test PAA", VID FFF1), converted to DER. The folder
//!   `src/attestation/dev/paa` is a trust store the CHIP Python controller can load
//!   (`paaTrustStorePath`), see [`PAA_TRUST_STORE_DIR`].
//! - `dev/Matter-Dev-PAI-FFF1-noPID-Cert.der` and `-PrivateKey.bin`: `kDevelopmentPAI_Cert_FFF1`
//!   and `kDevelopmentPAI_PrivateKey_FFF1` of `src/credentials/examples/ExamplePAI.cpp`
//!   ("Matter Dev PAI 0xFFF1 no PID", issued by the test PAA above, no product id so a DAC
//!   under it may carry any product id).
//! - `dev/Chip-Test-CD-Signing-Cert.der` / `-Key.pem`: `credentials/test/
//!   certification-declaration/Chip-Test-CD-Signing-{Cert,Key}.pem` ("Matter Test CD Signing
//!   Authority", subject key id 62FA8233...), the CD signer CHIP's verifier trusts in test mode.
//!
//! These keys are public: anything signed with them proves nothing outside development.

use super::cd::{CdSigner, CertificationDeclaration};
use super::credentials::{CredentialsError, DeviceCredentials};
use super::dac::{issue_dac, DacRequest};
use super::key::AttestationKey;
use super::x509::KEY_ID_LEN;
use super::AttestationError;
use crate::rng::Rng;

/// The test PAA (DER), for commissioners' trust stores in tests.
pub const TEST_PAA_CERT: &[u8] = include_bytes!("dev/paa/Chip-Test-PAA-FFF1-Cert.der");
/// The development PAI without product id (DER).
pub const DEV_PAI_CERT: &[u8] = include_bytes!("dev/Matter-Dev-PAI-FFF1-noPID-Cert.der");
/// The test CD signing certificate (DER).
pub const TEST_CD_SIGNING_CERT: &[u8] = include_bytes!("dev/Chip-Test-CD-Signing-Cert.der");
/// The vendor id of the development PAI.
pub const DEV_VENDOR_ID: u16 = 0xFFF1;
/// The folder (relative to the crate root) holding the test PAA in DER, for a commissioner's
/// PAA trust store.
pub const PAA_TRUST_STORE_DIR: &str = "src/attestation/dev/paa";
/// The subject key id of the test CD signing certificate.
pub const TEST_CD_SIGNER_KEY_ID: [u8; KEY_ID_LEN] = [
    0x62, 0xfa, 0x82, 0x33, 0x59, 0xac, 0xfa, 0xa9, 0x96, 0x3e, 0x1c, 0xfa, 0x14, 0x0a, 0xdd, 0xf5,
    0x04, 0xf3, 0x71, 0x60,
];

const DEV_PAI_KEY: &[u8; 32] = include_bytes!("dev/Matter-Dev-PAI-FFF1-noPID-PrivateKey.bin");
const TEST_CD_SIGNING_KEY_PEM: &[u8] = include_bytes!("dev/Chip-Test-CD-Signing-Key.pem");

/// The development PAI's private key.
///
/// # Errors
/// Never for the embedded key; the `Result` guards against a corrupted build.
pub fn dev_pai_key() -> Result<AttestationKey, AttestationError> {
    AttestationKey::from_scalar(DEV_PAI_KEY)
}

/// The test CD signing key.
///
/// # Errors
/// As [`dev_pai_key`].
pub fn test_cd_signing_key() -> Result<AttestationKey, AttestationError> {
    super::credentials::key_from_file(TEST_CD_SIGNING_KEY_PEM)
        .map_err(|_| AttestationError::Invalid("embedded CD signing key"))
}

/// The test CD signer, as a commissioner in test mode trusts it.
///
/// # Errors
/// As [`dev_pai_key`].
pub fn test_cd_signer() -> Result<CdSigner, AttestationError> {
    CdSigner::from_certificate(TEST_CD_SIGNING_CERT)
}

/// Issues development credentials for a device: a fresh DAC key and DAC under the development
/// PAI, and a development/test CD signed with the test CD key.
///
/// With `vendor_id` 0xFFF1 the DAC and CD carry it directly. For another (test) vendor id the
/// DAC still carries 0xFFF1 (the PAI's) and the CD names the DAC's ids as its dac_origin
/// (Matter 1.3 §6.3.1), so the product can announce its own vendor id.
///
/// # Errors
/// Key generation failure, or an inconsistent result (a bug).
pub fn development_credentials(
    vendor_id: u16,
    product_id: u16,
    device_type_id: u32,
    rng: &mut dyn Rng,
) -> Result<DeviceCredentials, AttestationError> {
    let pai_key = dev_pai_key()?;
    let (dac, dac_key) = issue_dac(
        &DacRequest::new(DEV_VENDOR_ID, product_id),
        DEV_PAI_CERT,
        &pai_key,
        rng,
    )?;
    let mut cd = CertificationDeclaration::development(vendor_id, product_id, device_type_id);
    if vendor_id != DEV_VENDOR_ID {
        cd.dac_origin = Some((DEV_VENDOR_ID, product_id));
    }
    let cd_der = cd.sign(&test_cd_signing_key()?, &TEST_CD_SIGNER_KEY_ID)?;
    DeviceCredentials::new(dac, DEV_PAI_CERT.to_vec(), dac_key, cd_der).map_err(|e| match e {
        CredentialsError::Invalid { source, .. } => source,
        _ => AttestationError::Invalid("development credentials"),
    })
}
