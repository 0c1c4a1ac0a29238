//! Why the state folder or one of its records cannot be used ([`StoreError`]). Every variant
//! names the folder or file, so the user knows where to look.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use super::record::RecordFault;

/// A state folder or record operation that failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process holds the folder's lock.
    #[error(
        "the state folder {} is in use by another running matter-ble (it holds the lock on \
         {}): stop that instance first, or give this one another folder with --state-dir",
        .dir.display(), .lock.display()
    )]
    Locked {
        /// The folder.
        dir: PathBuf,
        /// Its lock file.
        lock: PathBuf,
    },
    /// The path exists and is not a folder.
    #[error("the state folder {} exists and is not a folder", .0.display())]
    NotADirectory(PathBuf),
    /// The folder holds files matter-ble did not write, so it is not used (a factory reset
    /// there would delete them).
    #[error(
        "refusing to use {} as the state folder: it already holds files that matter-ble did not \
         write (for example {:?}); choose an empty or new folder with --state-dir",
        .dir.display(), .example
    )]
    NotAStateFolder {
        /// The folder.
        dir: PathBuf,
        /// One of the foreign entries.
        example: String,
    },
    /// A record file whose content is damaged. It is left as it is.
    #[error(
        "state file {} is damaged: {fault}. It was left untouched: restore it from a backup, or \
         clear all state with `matter-ble factory-reset`",
        .path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        fault: RecordFault,
    },
    /// A record name outside the rules of [`super::check_name`].
    #[error("{name:?} is not a valid record name: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// A payload larger than [`super::MAX_RECORD_LEN`].
    #[error("record {name:?} is {len} bytes long: at most {max} bytes fit in a record", max = super::MAX_RECORD_LEN)]
    TooLarge {
        /// The record's name.
        name: String,
        /// The payload's length.
        len: usize,
    },
    /// No `--state-dir` and no environment variable to derive a default from.
    #[error(
        "no state folder: none of $STATE_DIRECTORY, $XDG_STATE_HOME or $HOME is set to an \
         absolute path; pass --state-dir"
    )]
    NoStateDir,
    /// An IO operation on a file of the folder failed.
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        /// What was being done ("create", "read", "rename", ...).
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
}

impl StoreError {
    /// An [`StoreError::Io`] maker for `map_err`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}
