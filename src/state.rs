//! The device's identity in the state folder: the values a device keeps for life, on top of
//! [`crate::store`] (files) and beside the node's own records (fabrics, ACL: `fabric::persist`).
//!
//! - UniqueID (Basic Information, Matter 1.3 §11.1.5.19): random at first start, then the same
//!   on every start, as the spec requires of a persistent identifier.
//! - The setup values the user let us generate (passcode, discriminator, PBKDF2 salt): a device's
//!   pairing codes are printed on its label and must not change between runs, so the first run's
//!   random values are kept and reused. A value given on the command line is used as given and
//!   not stored.
//!
//! - The attestation credentials: `--dac/--pai/--dac-key/--cd` when given (checked, not stored),
//!   otherwise development credentials issued at first start under the CSA's test PAI (a DAC
//!   and key of this device's own, and a Certification Declaration signed with the test CD key)
//!   and kept; issued anew when the vendor or product id changes.
//!
//! The identity record is TLV `{0: version, 1: unique id, 2: passcode?, 3: discriminator?, 4:
//! salt?}`, the attestation record `{0: version, 1: vendor id, 2: product id, 3: credentials}`.
//! Both hold secrets (the passcode, the DAC key): the store writes them owner-only and reads them
//! into zeroizing buffers.

use thiserror::Error;
use tracing::{debug, info};
use zeroize::Zeroizing;

use crate::attestation::{dev, CredentialsError, DeviceCredentials};
use crate::config::{Config, Credentials, Salt};
use crate::fabric::{LoadError, NodeState, Record, RecordKind};
use crate::rng::Rng;
use crate::setup_payload::{Discriminator, Passcode};
use crate::store::{Store, StoreError};
use crate::tlv::{Tag, TlvError, TlvReader, TlvWriter};

/// The identity record's name in the state folder.
pub const IDENTITY_RECORD: &str = "identity";
/// The development attestation credentials' record.
pub const ATTESTATION_RECORD: &str = "attestation";
/// The device type the development Certification Declaration names: Root Node (Matter 1.3 Device
/// Library §2.1), until an application endpoint exists.
pub const DEV_CD_DEVICE_TYPE: u32 = 0x0016;
const VERSION: u8 = 1;
/// UniqueID length: 16 random bytes as 32 hex digits (the spec allows up to 32 characters).
const UNIQUE_ID_BYTES: usize = 16;

/// Why the identity cannot be loaded or kept.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StateError {
    /// The state folder failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The record is intact on disk (its checksum holds) but its content is not an identity
    /// this version understands. Not reset silently: the pairing codes would change.
    #[error(
        "the identity record in the state folder cannot be read ({0}); move it away or run \
         `matter-ble factory-reset` to start as a new device"
    )]
    Corrupt(String),
    /// The `--dac`/`--pai`/`--dac-key`/`--cd` files do not make valid credentials.
    #[error("attestation credentials: {0}")]
    Credentials(#[from] CredentialsError),
    /// The credentials are for another vendor or product than the device announces.
    #[error(
        "the DAC is for vendor 0x{dac_vendor:04X} product 0x{dac_product:04X}, but the device \
         announces vendor 0x{vendor:04X} product 0x{product:04X} (--vendor-id, --product-id): \
         commissioners reject that"
    )]
    CredentialsMismatch {
        /// The DAC's vendor id.
        dac_vendor: u16,
        /// The DAC's product id.
        dac_product: u16,
        /// --vendor-id.
        vendor: u16,
        /// --product-id.
        product: u16,
    },
    /// Development credentials could not be issued (the random source failed).
    #[error("issuing development attestation credentials: {0}")]
    Issue(String),
    /// The attestation record is intact but does not decode.
    #[error(
        "the attestation record in the state folder cannot be read ({0}); run `matter-ble \
         factory-reset`, or remove the record `attestation` to have new development \
         credentials issued"
    )]
    CorruptAttestation(String),
    /// A node record (fabrics, ACL, ...) is intact on disk but does not decode.
    #[error(
        "{0} in the state folder; it is left as it is: restore a backup of the folder, or run \
         `matter-ble factory-reset` to start as a new device (fabrics are then lost)"
    )]
    NodeRecord(#[from] LoadError),
}

/// What the identity record holds.
#[derive(Clone, PartialEq, Eq)]
struct Stored {
    unique_id: String,
    passcode: Option<u32>,
    discriminator: Option<u16>,
    salt: Option<Vec<u8>>,
}

impl core::fmt::Debug for Stored {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Stored")
            .field("unique_id", &self.unique_id)
            .field("passcode", &self.passcode.map(|_| "<kept>"))
            .field("discriminator", &self.discriminator)
            .field("salt", &self.salt.as_ref().map(Vec::len))
            .finish()
    }
}

impl Stored {
    fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut buf = Zeroizing::new(Vec::new());
        let mut w = TlvWriter::new(&mut buf);
        // An unlimited writer fails only on unbalanced containers; these are balanced.
        let _ = (|| -> Result<(), TlvError> {
            w.start_struct(Tag::Anonymous)?;
            w.u8(Tag::Context(0), VERSION)?;
            w.utf8(Tag::Context(1), &self.unique_id)?;
            if let Some(p) = self.passcode {
                w.u32(Tag::Context(2), p)?;
            }
            if let Some(d) = self.discriminator {
                w.u16(Tag::Context(3), d)?;
            }
            if let Some(s) = &self.salt {
                w.octets(Tag::Context(4), s)?;
            }
            w.end_container()
        })();
        buf
    }

    fn decode(bytes: &[u8]) -> Result<Self, StateError> {
        let bad = |e: TlvError| StateError::Corrupt(e.to_string());
        let s = TlvReader::new(bytes).read_struct().map_err(bad)?;
        let version = s.u8(0).map_err(bad)?;
        if version != VERSION {
            return Err(StateError::Corrupt(format!("unknown version {version}")));
        }
        let unique_id = s.get::<&str>(1).map_err(bad)?.to_owned();
        if unique_id.is_empty() || unique_id.len() > 32 {
            return Err(StateError::Corrupt("UniqueID length".into()));
        }
        let passcode = s.opt_u32(2).map_err(bad)?;
        if let Some(p) = passcode {
            Passcode::new(p).map_err(|e| StateError::Corrupt(e.to_string()))?;
        }
        let discriminator = s.opt_u16(3).map_err(bad)?;
        if let Some(d) = discriminator {
            Discriminator::new(d).map_err(|e| StateError::Corrupt(e.to_string()))?;
        }
        let salt = s.opt::<&[u8]>(4).map_err(bad)?.map(<[u8]>::to_vec);
        if let Some(salt) = &salt {
            Salt::new(salt.clone()).map_err(|e| StateError::Corrupt(e.to_string()))?;
        }
        Ok(Self {
            unique_id,
            passcode,
            discriminator,
            salt,
        })
    }
}

/// The device's identity for this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Basic Information UniqueID.
    pub unique_id: String,
}

/// Loads the identity (creating it at first start) and puts the kept setup values into
/// `config` where the user left them to be generated; newly generated ones are stored.
/// Afterwards `config.generated.kept` says whether generated values are the kept ones.
///
/// # Errors
/// [`StateError`]: the folder failed, or the record does not decode.
pub fn apply_identity(
    store: &mut Store,
    config: &mut Config,
    rng: &mut dyn Rng,
) -> Result<Identity, StateError> {
    let loaded = match store.read(IDENTITY_RECORD)? {
        Some(bytes) => Some(Stored::decode(&bytes)?),
        None => None,
    };
    let mut stored = loaded.clone().unwrap_or_else(|| {
        let mut id = [0u8; UNIQUE_ID_BYTES];
        rng.fill(&mut id);
        Stored {
            unique_id: id.iter().map(|b| format!("{b:02X}")).collect(),
            passcode: None,
            discriminator: None,
            salt: None,
        }
    });
    if config.generated.passcode {
        if let Credentials::Passcode(generated) = &config.credentials {
            match stored.passcode.and_then(|p| Passcode::new(p).ok()) {
                Some(kept) => config.credentials = Credentials::Passcode(kept),
                None => stored.passcode = Some(generated.value()),
            }
        }
    }
    if config.generated.discriminator {
        match stored
            .discriminator
            .and_then(|d| Discriminator::new(d).ok())
        {
            Some(kept) => {
                config.discriminator = kept;
                // The default BLE name follows the discriminator ("MATTER-3840").
                if config.device_name_is_default {
                    config.device_name = crate::config::default_device_name(kept);
                }
            }
            None => stored.discriminator = Some(config.discriminator.value()),
        }
    }
    if config.generated.salt {
        match stored.salt.clone().and_then(|s| Salt::new(s).ok()) {
            Some(kept) => config.pbkdf.salt = kept,
            None => stored.salt = Some(config.pbkdf.salt.as_bytes().to_vec()),
        }
    }
    if loaded.as_ref() != Some(&stored) {
        store.write(IDENTITY_RECORD, &stored.encode())?;
        if loaded.is_none() {
            info!(dir = %store.dir().display(), "new device identity created in the state folder");
        } else {
            debug!("identity record updated");
        }
    }
    config.generated.kept =
        config.generated.passcode || config.generated.discriminator || config.generated.salt;
    Ok(Identity {
        unique_id: stored.unique_id,
    })
}

/// The node's records (fabrics, ACL, writable attributes) from the state folder; `None` when
/// none is there (a factory-new device).
///
/// # Errors
/// [`StateError::Store`] (a damaged file), [`StateError::NodeRecord`] (a record that does not
/// decode): never a silent reset, which would lose the fabrics.
pub fn load_node_state(store: &Store) -> Result<Option<NodeState>, StateError> {
    let mut records = Vec::new();
    for kind in RecordKind::ALL {
        if let Some(bytes) = store.read(kind.name())? {
            records.push((kind, bytes));
        }
    }
    if records.is_empty() {
        return Ok(None);
    }
    let state = NodeState::default().load(records.iter().map(|(k, b)| (*k, b.as_slice())))?;
    debug!(
        records = records.len(),
        fabrics = state.fabrics.len(),
        "node state loaded"
    );
    Ok(Some(state))
}

/// Writes one node record.
///
/// # Errors
/// [`StateError::Store`].
pub fn save_node_record(store: &mut Store, record: &Record) -> Result<(), StateError> {
    store.write(record.kind.name(), &record.bytes)?;
    debug!(record = %record.kind, "node record written");
    Ok(())
}

/// The attestation credentials for this run.
pub struct Attestation {
    /// The credentials.
    pub credentials: DeviceCredentials,
    /// Development credentials (the test PAI): commissioners accept them only in a development
    /// or test mode.
    pub development: bool,
    /// Issued at this start (first start, or the vendor/product id changed).
    pub issued_now: bool,
}

impl core::fmt::Debug for Attestation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Attestation")
            .field("vendor_id", &self.credentials.vendor_id())
            .field("product_id", &self.credentials.product_id())
            .field("development", &self.development)
            .field("issued_now", &self.issued_now)
            .finish_non_exhaustive()
    }
}

/// The device's attestation credentials: from the `--dac`... files when given, else the kept
/// development ones (issued now if missing or made for other ids).
///
/// # Errors
/// [`StateError`]: bad credential files, ids that do not match, a corrupt record, the store.
pub fn attestation(
    store: &mut Store,
    config: &Config,
    rng: &mut dyn Rng,
) -> Result<Attestation, StateError> {
    if let Some(files) = &config.attestation {
        let credentials = DeviceCredentials::from_files(
            files.dac.as_bytes(),
            files.pai.as_bytes(),
            files.dac_key.as_bytes(),
            files.cd.as_bytes(),
        )?;
        if credentials.vendor_id() != config.vendor_id
            || credentials.product_id() != config.product_id
        {
            return Err(StateError::CredentialsMismatch {
                dac_vendor: credentials.vendor_id(),
                dac_product: credentials.product_id(),
                vendor: config.vendor_id,
                product: config.product_id,
            });
        }
        return Ok(Attestation {
            development: credentials.is_development(),
            credentials,
            issued_now: false,
        });
    }
    if let Some(bytes) = store.read(ATTESTATION_RECORD)? {
        let bad = |e: &dyn core::fmt::Display| StateError::CorruptAttestation(e.to_string());
        let s = TlvReader::new(&bytes).read_struct().map_err(|e| bad(&e))?;
        if s.u8(0).map_err(|e| bad(&e))? != VERSION {
            return Err(bad(&"unknown version"));
        }
        let (vid, pid) = (
            s.u16(1).map_err(|e| bad(&e))?,
            s.u16(2).map_err(|e| bad(&e))?,
        );
        let creds = s.get::<&[u8]>(3).map_err(|e| bad(&e))?;
        if (vid, pid) == (config.vendor_id, config.product_id) {
            let credentials = DeviceCredentials::from_bytes(creds).map_err(|e| bad(&e))?;
            return Ok(Attestation {
                credentials,
                development: true,
                issued_now: false,
            });
        }
        info!(
            old_vendor = vid,
            old_product = pid,
            "vendor or product id changed: issuing new development attestation credentials"
        );
    }
    let credentials =
        dev::development_credentials(config.vendor_id, config.product_id, DEV_CD_DEVICE_TYPE, rng)
            .map_err(|e| StateError::Issue(e.to_string()))?;
    let inner = credentials.to_bytes();
    let mut record = Zeroizing::new(Vec::with_capacity(inner.len() + 16));
    let mut w = TlvWriter::new(&mut record);
    // Reserved up front and balanced: the unlimited writer cannot fail or reallocate.
    let _ = (|| -> Result<(), TlvError> {
        w.start_struct(Tag::Anonymous)?;
        w.u8(Tag::Context(0), VERSION)?;
        w.u16(Tag::Context(1), config.vendor_id)?;
        w.u16(Tag::Context(2), config.product_id)?;
        w.octets(Tag::Context(3), &inner)?;
        w.end_container()
    })();
    store.write(ATTESTATION_RECORD, &record)?;
    info!("development attestation credentials issued and kept in the state folder");
    Ok(Attestation {
        credentials,
        development: true,
        issued_now: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Cli, Config};
    use crate::rng::TestRng;
    use clap::Parser;

    fn config(args: &[&str], seed: u64) -> Config {
        let mut argv = vec!["matter-ble"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).expect("args");
        Config::from_args(cli.args, &mut TestRng::new(seed)).expect("config")
    }

    fn temp_store(tag: &str) -> (std::path::PathBuf, Store) {
        let dir = std::env::temp_dir().join(format!("mb-state-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).expect("store");
        (dir, store)
    }

    #[test]
    fn generated_values_are_kept_and_reused() {
        let (dir, mut store) = temp_store("keep");
        let mut first = config(&[], 1);
        let id1 = apply_identity(&mut store, &mut first, &mut TestRng::new(9)).expect("first");
        assert!(first.generated.kept);
        let mut second = config(&[], 2); // other random values this time
        assert_ne!(second.passcode(), first.passcode());
        let id2 = apply_identity(&mut store, &mut second, &mut TestRng::new(10)).expect("second");
        assert_eq!(id1, id2, "UniqueID changes between runs");
        assert_eq!(second.passcode(), first.passcode());
        assert_eq!(second.discriminator, first.discriminator);
        assert_eq!(second.pbkdf.salt, first.pbkdf.salt);
        assert_eq!(second.device_name, first.device_name);
        assert_eq!(id1.unique_id.len(), 32);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn explicit_values_win_and_are_not_stored() {
        let (dir, mut store) = temp_store("explicit");
        let mut c = config(&["--passcode", "20202021", "--discriminator", "3840"], 3);
        apply_identity(&mut store, &mut c, &mut TestRng::new(1)).expect("apply");
        assert_eq!(c.passcode().map(Passcode::value), Some(20_202_021));
        assert_eq!(c.discriminator.value(), 3840);
        // A later run without flags gets fresh random values, kept from then on.
        let mut later = config(&[], 4);
        let generated = later.passcode().map(Passcode::value);
        apply_identity(&mut store, &mut later, &mut TestRng::new(2)).expect("later");
        assert_eq!(later.passcode().map(Passcode::value), generated);
        let mut again = config(&[], 5);
        apply_identity(&mut store, &mut again, &mut TestRng::new(3)).expect("again");
        assert_eq!(again.passcode().map(Passcode::value), generated);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_bad_record_is_reported_not_reset() {
        let (dir, mut store) = temp_store("bad");
        for bytes in [
            &b"\x15\x24\x00\x07\x18"[..],             // version 7
            &b"\x15\x24\x00\x01\x18"[..],             // no UniqueID
            &b"\x15\x24\x00\x01\x2c\x01\x00\x18"[..], // empty UniqueID
            &b"\x15\x24\x00\x01\x2c\x01\x01A\x26\x02\x00\x00\x00\x00\x18"[..], // passcode 0
            &b"garbage"[..],
        ] {
            store.write(IDENTITY_RECORD, bytes).expect("write");
            let mut c = config(&[], 6);
            let e = apply_identity(&mut store, &mut c, &mut TestRng::new(4))
                .expect_err("corrupt identity accepted");
            assert!(matches!(e, StateError::Corrupt(_)), "{e}");
            assert!(e.to_string().contains("factory-reset"), "{e}");
            // The record is still there, untouched.
            assert_eq!(
                store
                    .read(IDENTITY_RECORD)
                    .expect("read")
                    .as_deref()
                    .map(|v| v.as_slice()),
                Some(bytes)
            );
        }
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn development_credentials_are_issued_once_and_follow_the_ids() {
        let (dir, mut store) = temp_store("att");
        let c = config(&["--product-id", "0x8002"], 7);
        let a = attestation(&mut store, &c, &mut TestRng::new(1)).expect("issue");
        assert!(a.issued_now && a.development);
        assert_eq!(
            (a.credentials.vendor_id(), a.credentials.product_id()),
            (0xFFF1, 0x8002)
        );
        let b = attestation(&mut store, &c, &mut TestRng::new(2)).expect("kept");
        assert!(!b.issued_now);
        assert_eq!(
            a.credentials.dac_der(),
            b.credentials.dac_der(),
            "DAC changed"
        );
        // Another product id: a new DAC for it.
        let c2 = config(&["--product-id", "0x8003"], 8);
        let n = attestation(&mut store, &c2, &mut TestRng::new(3)).expect("reissue");
        assert!(n.issued_now);
        assert_eq!(n.credentials.product_id(), 0x8003);
        // A damaged record is reported, not replaced.
        store
            .write(ATTESTATION_RECORD, b"\x15\x24\x00\x01\x18")
            .expect("write");
        let e = attestation(&mut store, &c2, &mut TestRng::new(4)).expect_err("corrupt");
        assert!(matches!(e, StateError::CorruptAttestation(_)), "{e}");
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn node_records_round_trip_and_damage_is_reported() {
        let (dir, mut store) = temp_store("node");
        assert!(load_node_state(&store).expect("empty").is_none());
        let mut state = NodeState::default();
        state.info.node_label = "Kitchen".into();
        for r in state.take_records() {
            save_node_record(&mut store, &r).expect("save");
        }
        let loaded = load_node_state(&store).expect("load").expect("some");
        assert_eq!(loaded.info.node_label, "Kitchen");
        store
            .write(RecordKind::Acl.name(), b"\x15\x24\x00\x09\x18")
            .expect("write");
        let e = load_node_state(&store).expect_err("bad record");
        assert!(matches!(e, StateError::NodeRecord(_)), "{e}");
        assert!(e.to_string().contains("acl"), "{e}");
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn record_round_trips() {
        let s = Stored {
            unique_id: "00112233445566778899AABBCCDDEEFF".into(),
            passcode: Some(20_202_021),
            discriminator: Some(3840),
            salt: Some(vec![7; 16]),
        };
        assert_eq!(Stored::decode(&s.encode()).expect("decode"), s);
        assert!(!format!("{s:?}").contains("20202021"), "passcode in Debug");
    }
}
