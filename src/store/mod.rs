//! The persistent state folder: named records (fabrics, certificates, operational keys, ACLs,
//! writable attributes, counter high-water marks) that survive a restart. Shell side (it does
//! file IO); the core hands it bytes and gets bytes back.
//!
//! # Guarantees
//! - **One process per folder.** [`Store::open`] takes an exclusive lock on the folder's
//!   [`LOCK_FILE`] (`flock`, released by the kernel when the process ends, even by `kill -9`);
//!   a second instance gets [`StoreError::Locked`].
//! - **Atomic records.** [`Store::write`] writes a temporary file in the same folder, fsyncs it,
//!   renames it over the record and fsyncs the folder: after a crash, `kill -9` or power loss at
//!   any moment the record is the old or the new version, never a mix (POSIX `rename` replaces
//!   the target atomically; the fsyncs order the data before the name change on disk).
//!   Temporary files left by a crash are removed at the next open.
//! - **Damage is reported, never repaired.** Each file carries a header with a length and a
//!   checksum ([`record`]); a damaged or truncated file gives [`StoreError::Corrupt`] naming the
//!   file, and is left in place for the user to inspect or restore.
//! - **Secrets stay private.** The folder is mode 0700 and every file 0600; read results are
//!   [`Zeroizing`] and writes do not copy the payload.
//!
//! # Folder layout
//! ```text
//!  <dir>/.matter-ble.lock     the lock (empty); its presence marks a matter-ble state folder
//!  <dir>/<name>               one record per file (names: see check_name)
//!  <dir>/.tmp-<name>          a write in progress
//! ```

mod error;
pub mod location;
pub mod record;
#[cfg(test)]
mod tests;

use std::fs::{self, DirBuilder, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tracing::{debug, info, warn};
use zeroize::Zeroizing;

pub use error::StoreError;
pub use location::{resolve_state_dir, StateDir, StateDirSource, StateEnv};
pub use record::RecordFault;

/// The lock file's name. A dot file, so it can never be a record name.
pub const LOCK_FILE: &str = ".matter-ble.lock";
/// Prefix of temporary files (a dot file too).
pub const TEMP_PREFIX: &str = ".tmp-";
/// The longest record name, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// The largest record payload, in bytes.
pub const MAX_RECORD_LEN: usize = record::MAX_PAYLOAD_LEN;

/// Checks a record name: 1 to [`MAX_NAME_LEN`] bytes of ASCII letters, digits, `-`, `_` and `.`,
/// starting with a letter or digit. So a name is always one plain file in the folder: no path
/// separators, no `.`/`..`, no dot files (which hold the lock and temporary files), nothing a
/// shell or another file system would treat specially.
///
/// # Errors
/// [`StoreError::InvalidName`] naming the rule broken.
pub fn check_name(name: &str) -> Result<(), StoreError> {
    let fail = |reason| {
        Err(StoreError::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    match name.bytes().next() {
        None => return fail("it is empty"),
        Some(b'.') => return fail("it starts with a dot"),
        Some(b) if !b.is_ascii_alphanumeric() => {
            return fail("it must start with a letter or digit")
        }
        Some(_) => {}
    }
    if name.len() > MAX_NAME_LEN {
        return fail("it is longer than 64 bytes");
    }
    if name.contains('/') || name.contains('\\') {
        return fail("it contains a path separator");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return fail("only ASCII letters, digits, '-', '_' and '.' are allowed");
    }
    Ok(())
}

/// An open state folder, locked for this process until dropped.
pub struct Store {
    dir: PathBuf,
    /// The folder itself, kept open to fsync it after renames and removals.
    dir_handle: File,
    /// Holds the exclusive lock; the kernel releases it when the file is closed.
    _lock: File,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

/// What [`Store::factory_reset`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResetReport {
    /// The records removed, sorted by name.
    pub removed: Vec<String>,
    /// Temporary files removed.
    pub temp_files: usize,
    /// Entries left because they are not records (sub-folders, names outside the rules).
    pub left: Vec<String>,
}

impl Store {
    /// Opens (creating it with mode 0700 if needed) and locks the state folder `dir`, and removes
    /// temporary files a crash left behind.
    ///
    /// An existing folder is used only if it is a matter-ble state folder (it holds the
    /// [`LOCK_FILE`]), is empty, or holds nothing but matter-ble record and temporary files.
    ///
    /// # Errors
    /// [`StoreError::Locked`] when another process holds the lock, [`StoreError::NotADirectory`],
    /// [`StoreError::NotAStateFolder`], [`StoreError::Io`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        // Absolute, so messages and logs name the folder unambiguously.
        let dir =
            std::path::absolute(dir.as_ref()).map_err(StoreError::io("resolve", dir.as_ref()))?;
        let lock_path = dir.join(LOCK_FILE);
        match fs::metadata(&dir) {
            Ok(m) if m.is_dir() => {
                if !lock_path.exists() {
                    check_foreign_entries(&dir)?;
                }
                tighten_mode(&dir, &m);
            }
            Ok(_) => return Err(StoreError::NotADirectory(dir)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&dir)
                    .map_err(StoreError::io("create the folder", &dir))?;
                // The new folder's entry must reach the disk too.
                if let Some(parent) = dir.parent() {
                    sync_dir(parent)?;
                }
                info!(dir = %dir.display(), "created the state folder");
            }
            Err(e) => return Err(StoreError::io("inspect", &dir)(e)),
        }
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(StoreError::io("open the lock file", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    dir,
                    lock: lock_path,
                })
            }
            Err(TryLockError::Error(e)) => return Err(StoreError::io("lock", &lock_path)(e)),
        }
        let dir_handle = File::open(&dir).map_err(StoreError::io("open the folder", &dir))?;
        let store = Self {
            dir,
            dir_handle,
            _lock: lock,
        };
        let stale = store.remove_temp_files()?;
        if stale > 0 {
            info!(
                dir = %store.dir.display(),
                "removed {stale} unfinished write(s) left by an earlier crash"
            );
        }
        debug!(dir = %store.dir.display(), "state folder open and locked");
        Ok(store)
    }

    /// The folder (absolute).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds record `name` (which must be valid).
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Replaces (or creates) record `name` with `payload`, atomically: a reader, or the next
    /// start after a crash, sees the old or the new record, never a mix.
    ///
    /// # Errors
    /// [`StoreError::InvalidName`], [`StoreError::TooLarge`], [`StoreError::Io`] (the old record is
    /// then unchanged).
    pub fn write(&mut self, name: &str, payload: &[u8]) -> Result<(), StoreError> {
        check_name(name)?;
        if payload.len() > MAX_RECORD_LEN {
            return Err(StoreError::TooLarge {
                name: name.to_owned(),
                len: payload.len(),
            });
        }
        let temp = self.dir.join(format!("{TEMP_PREFIX}{name}"));
        let result = self.write_temp(&temp, name, payload).and_then(|()| {
            fs::rename(&temp, self.path(name)).map_err(StoreError::io("rename", &temp))
        });
        if result.is_err() {
            // Best effort: a leftover is removed at the next open anyway.
            let _ = fs::remove_file(&temp);
            return result;
        }
        self.sync()?;
        debug!(record = name, len = payload.len(), "record written");
        Ok(())
    }

    fn write_temp(&self, temp: &Path, name: &str, payload: &[u8]) -> Result<(), StoreError> {
        // A leftover of a failed write in this process; create_new then guarantees the file is
        // ours with mode 0600.
        match fs::remove_file(temp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io("remove", temp)(e)),
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(temp)
            .map_err(StoreError::io("create", temp))?;
        // Header and payload in two writes, so the payload is not copied into another buffer.
        file.write_all(&record::header(name, payload))
            .and_then(|()| file.write_all(payload))
            .map_err(StoreError::io("write", temp))?;
        file.sync_all().map_err(StoreError::io("fsync", temp))
    }

    /// Reads record `name`: `None` if there is none.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] (naming the file) when the file is damaged or truncated,
    /// [`StoreError::InvalidName`], [`StoreError::Io`].
    pub fn read(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        check_name(name)?;
        let path = self.path(name);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io("open", &path)(e)),
        };
        let limit = (record::HEADER_LEN + MAX_RECORD_LEN + 1) as u64;
        let len = file
            .metadata()
            .map_err(StoreError::io("inspect", &path))?
            .len();
        // Room for the whole file up front, so the buffer holding the secret never grows (a
        // reallocation would leave an unzeroized copy behind).
        let capacity = usize::try_from(len.min(limit)).unwrap_or(0) + 1;
        let mut bytes = Zeroizing::new(Vec::with_capacity(capacity));
        file.take(limit)
            .read_to_end(&mut bytes)
            .map_err(StoreError::io("read", &path))?;
        let payload = record::verify(name, &bytes).map_err(|fault| StoreError::Corrupt {
            path: path.clone(),
            fault,
        })?;
        // Shift the payload to the front in place; Zeroizing wipes the whole capacity on drop.
        bytes.truncate(payload.end);
        bytes.drain(..payload.start);
        Ok(Some(bytes))
    }

    /// Removes record `name`; `false` if there was none.
    ///
    /// # Errors
    /// [`StoreError::InvalidName`], [`StoreError::Io`].
    pub fn remove(&mut self, name: &str) -> Result<bool, StoreError> {
        check_name(name)?;
        let path = self.path(name);
        match fs::remove_file(&path) {
            Ok(()) => {
                self.sync()?;
                debug!(record = name, "record removed");
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io("remove", &path)(e)),
        }
    }

    /// The names of the records present (including damaged ones), sorted.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the folder cannot be listed.
    pub fn names(&self) -> Result<Vec<String>, StoreError> {
        let mut names = Vec::new();
        for entry in self.entries()? {
            if let Entry::Record(name) = entry {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Removes every record and temporary file; the folder and its lock stay (the lock is still
    /// held). Entries that are not records are left and listed in the report.
    ///
    /// # Errors
    /// [`StoreError::Io`]; the records removed before the failure stay removed.
    pub fn factory_reset(&mut self) -> Result<ResetReport, StoreError> {
        let mut report = ResetReport::default();
        for entry in self.entries()? {
            match entry {
                Entry::Record(name) => {
                    let path = self.path(&name);
                    fs::remove_file(&path).map_err(StoreError::io("remove", &path))?;
                    report.removed.push(name);
                }
                Entry::Temp(name) => {
                    let path = self.dir.join(&name);
                    fs::remove_file(&path).map_err(StoreError::io("remove", &path))?;
                    report.temp_files += 1;
                }
                Entry::Lock => {}
                Entry::Other(name) => report.left.push(name),
            }
        }
        self.sync()?;
        report.removed.sort();
        report.left.sort();
        if !report.left.is_empty() {
            warn!(
                dir = %self.dir.display(),
                "factory reset left entries that are not records: {:?}", report.left
            );
        }
        info!(
            dir = %self.dir.display(),
            records = report.removed.len(),
            "factory reset: state cleared"
        );
        Ok(report)
    }

    fn remove_temp_files(&self) -> Result<usize, StoreError> {
        let mut count = 0;
        for entry in self.entries()? {
            if let Entry::Temp(name) = entry {
                let path = self.dir.join(&name);
                fs::remove_file(&path).map_err(StoreError::io("remove", &path))?;
                count += 1;
            }
        }
        if count > 0 {
            self.sync()?;
        }
        Ok(count)
    }

    /// Flushes the folder's entries (renames, removals) to disk.
    fn sync(&self) -> Result<(), StoreError> {
        self.dir_handle
            .sync_all()
            .map_err(StoreError::io("fsync", &self.dir))
    }

    fn entries(&self) -> Result<Vec<Entry>, StoreError> {
        list(&self.dir)
    }
}

/// One entry of the folder, classified.
enum Entry {
    Lock,
    Temp(String),
    Record(String),
    Other(String),
}

fn list(dir: &Path) -> Result<Vec<Entry>, StoreError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(StoreError::io("list", dir))? {
        let entry = entry.map_err(StoreError::io("list", dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // file_type does not follow symbolic links: a link is never taken for a record.
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        out.push(if name == LOCK_FILE {
            Entry::Lock
        } else if is_file && name.starts_with(TEMP_PREFIX) {
            Entry::Temp(name)
        } else if is_file && check_name(&name).is_ok() {
            Entry::Record(name)
        } else {
            Entry::Other(name)
        });
    }
    Ok(out)
}

/// Refuses a folder without the lock file unless all it holds is matter-ble's own files (empty,
/// or records copied back from a backup without the dot files).
fn check_foreign_entries(dir: &Path) -> Result<(), StoreError> {
    for entry in list(dir)? {
        let foreign = match entry {
            Entry::Lock | Entry::Temp(_) => None,
            Entry::Record(name) => (!starts_with_magic(&dir.join(&name))).then_some(name),
            Entry::Other(name) => Some(name),
        };
        if let Some(example) = foreign {
            return Err(StoreError::NotAStateFolder {
                dir: dir.to_path_buf(),
                example,
            });
        }
    }
    Ok(())
}

fn starts_with_magic(path: &Path) -> bool {
    let mut magic = [0u8; record::MAGIC.len()];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == record::MAGIC
}

/// A state folder open to group or others (systemd creates StateDirectory= folders 0755 unless
/// told otherwise) is narrowed to 0700: the files are 0600 anyway, but their names and sizes
/// tell how many fabrics the device has.
fn tighten_mode(dir: &Path, meta: &fs::Metadata) {
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        match fs::set_permissions(dir, fs::Permissions::from_mode(mode & 0o700)) {
            Ok(()) => debug!(dir = %dir.display(), "state folder narrowed to mode 0700"),
            Err(e) => warn!(
                dir = %dir.display(),
                "the state folder is accessible to other users (mode {:o}) and cannot be \
                 narrowed: {e}",
                mode & 0o777
            ),
        }
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StoreError::io("fsync", dir))
}
