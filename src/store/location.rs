//! Where the state folder is when `--state-dir` is not given. The rule, first match wins:
//!
//! 1. `--state-dir DIR`;
//! 2. `$STATE_DIRECTORY`, which systemd sets for a unit with `StateDirectory=matter-ble`
//!    (`/var/lib/matter-ble` for the system service; with several `StateDirectory=` entries it
//!    holds them all, colon-separated, and the first is ours);
//! 3. `$XDG_STATE_HOME/matter-ble` (XDG Base Directory Specification 0.8: state that should
//!    persist between restarts, such as our fabrics and counters);
//! 4. `$HOME/.local/state/matter-ble`, that specification's default for `$XDG_STATE_HOME`.
//!
//! Empty and relative values of the variables are ignored, as the XDG specification asks. The
//! environment is passed in ([`StateEnv`]), so the rule is tested without touching the process's
//! environment.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use super::StoreError;

/// The folder name under the user's state directory.
pub const APP_DIR: &str = "matter-ble";

/// The environment variables the default location depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateEnv {
    /// `$STATE_DIRECTORY` (systemd's `StateDirectory=`).
    pub state_directory: Option<OsString>,
    /// `$XDG_STATE_HOME`.
    pub xdg_state_home: Option<OsString>,
    /// `$HOME`.
    pub home: Option<OsString>,
}

impl StateEnv {
    /// The values of this process's environment.
    pub fn from_process() -> Self {
        Self {
            state_directory: std::env::var_os("STATE_DIRECTORY"),
            xdg_state_home: std::env::var_os("XDG_STATE_HOME"),
            home: std::env::var_os("HOME"),
        }
    }
}

/// Which rule chose the folder (for the start-up log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateDirSource {
    /// `--state-dir`.
    Flag,
    /// `$STATE_DIRECTORY`.
    Systemd,
    /// `$XDG_STATE_HOME`.
    XdgStateHome,
    /// `$HOME/.local/state`.
    Home,
}

impl fmt::Display for StateDirSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Flag => "--state-dir",
            Self::Systemd => "$STATE_DIRECTORY from systemd's StateDirectory=",
            Self::XdgStateHome => "$XDG_STATE_HOME",
            Self::Home => "the default under $HOME",
        })
    }
}

/// The chosen folder and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    /// The folder.
    pub path: PathBuf,
    /// The rule that chose it.
    pub source: StateDirSource,
}

/// Applies the rule in the module documentation.
///
/// # Errors
/// [`StoreError::NoStateDir`] when no flag is given and none of the variables is usable.
pub fn resolve_state_dir(flag: Option<&Path>, env: &StateEnv) -> Result<StateDir, StoreError> {
    if let Some(p) = flag {
        return Ok(StateDir {
            path: p.to_path_buf(),
            source: StateDirSource::Flag,
        });
    }
    // systemd joins several StateDirectory= paths with ':'; the first is the unit's own.
    if let Some(first) = env
        .state_directory
        .as_ref()
        .and_then(|v| v.to_str())
        .and_then(|v| v.split(':').next())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        return Ok(StateDir {
            path: first,
            source: StateDirSource::Systemd,
        });
    }
    if let Some(xdg) = usable(env.xdg_state_home.as_ref()) {
        return Ok(StateDir {
            path: xdg.join(APP_DIR),
            source: StateDirSource::XdgStateHome,
        });
    }
    if let Some(home) = usable(env.home.as_ref()) {
        return Ok(StateDir {
            path: home.join(".local").join("state").join(APP_DIR),
            source: StateDirSource::Home,
        });
    }
    Err(StoreError::NoStateDir)
}

/// An absolute, non-empty path from a variable.
fn usable(value: Option<&OsString>) -> Option<PathBuf> {
    value.map(PathBuf::from).filter(|p| p.is_absolute())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(state: Option<&str>, xdg: Option<&str>, home: Option<&str>) -> StateEnv {
        StateEnv {
            state_directory: state.map(OsString::from),
            xdg_state_home: xdg.map(OsString::from),
            home: home.map(OsString::from),
        }
    }

    fn resolve(flag: Option<&str>, e: &StateEnv) -> Option<(String, StateDirSource)> {
        resolve_state_dir(flag.map(Path::new), e)
            .ok()
            .map(|d| (d.path.to_string_lossy().into_owned(), d.source))
    }

    #[test]
    fn first_usable_rule_wins() {
        use StateDirSource::*;
        let all = env(
            Some("/var/lib/matter-ble"),
            Some("/x/state"),
            Some("/home/u"),
        );
        let s = |p: &str, src| Some((p.to_owned(), src));
        assert_eq!(resolve(Some("rel/dir"), &all), s("rel/dir", Flag));
        assert_eq!(resolve(None, &all), s("/var/lib/matter-ble", Systemd));
        assert_eq!(
            resolve(None, &env(None, Some("/x/state"), Some("/home/u"))),
            s("/x/state/matter-ble", XdgStateHome)
        );
        assert_eq!(
            resolve(None, &env(None, None, Some("/home/u"))),
            s("/home/u/.local/state/matter-ble", Home)
        );
        assert_eq!(resolve(None, &env(None, None, None)), None);
        assert!(matches!(
            resolve_state_dir(None, &StateEnv::default()),
            Err(StoreError::NoStateDir)
        ));
    }

    #[test]
    fn empty_relative_and_multiple_values() {
        use StateDirSource::*;
        let s = |p: &str, src| Some((p.to_owned(), src));
        // Several StateDirectory= entries: the first.
        assert_eq!(
            resolve(None, &env(Some("/var/lib/a:/var/lib/b"), None, None)),
            s("/var/lib/a", Systemd)
        );
        // Empty and relative values are skipped (XDG Base Directory Specification: "If an
        // implementation encounters a relative path in any of these variables it should
        // consider the path invalid and ignore it").
        assert_eq!(
            resolve(None, &env(Some(""), Some(""), Some("/h"))),
            s("/h/.local/state/matter-ble", Home)
        );
        assert_eq!(
            resolve(None, &env(Some("lib/x"), Some("state"), Some("/h"))),
            s("/h/.local/state/matter-ble", Home)
        );
        assert_eq!(resolve(None, &env(None, None, Some(""))), None);
        assert_eq!(resolve(None, &env(None, None, Some("home"))), None);
        // The flag wins even over systemd's variable.
        assert_eq!(
            resolve(Some("/srv/x"), &env(Some("/var/lib/m"), None, None)),
            s("/srv/x", Flag)
        );
    }
}
