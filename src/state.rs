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
//! The record is TLV `{0: version, 1: unique id, 2: passcode?, 3: discriminator?, 4: salt?}`; it
//! holds the passcode, so it is written with the store's owner-only permissions and read into a
//! zeroizing buffer.

use thiserror::Error;
use tracing::{debug, info};
use zeroize::Zeroizing;

use crate::config::{Config, Credentials, Salt};
use crate::rng::Rng;
use crate::setup_payload::{Discriminator, Passcode};
use crate::store::{Store, StoreError};
use crate::tlv::{Tag, TlvError, TlvReader, TlvWriter};

/// The record's name in the state folder.
pub const IDENTITY_RECORD: &str = "identity";
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
