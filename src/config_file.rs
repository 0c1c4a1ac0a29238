//! `--config FILE`: device settings from a TOML file, the same keys as the long flags.
//!
//! ```toml
//! # /etc/matter-ble.toml
//! passcode-file = "/etc/matter-ble.passcode"
//! discriminator = 3840
//! vendor-id = "0xFFF1"
//! product-name = "Porch light"
//! transport = "ble"
//! ```
//! The file is turned into command-line arguments placed before the real ones, so every value
//! goes through the flag's own parser and error message, and a flag given on the command line
//! replaces the same key of the file. Unknown keys, tables and arrays are errors naming the file
//! and the key: a typo must not be silently ignored.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why the config file cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigFileError {
    /// The file cannot be read.
    #[error("config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML.
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A key that is not a device flag.
    #[error("config file {path}: unknown key {key:?} (keys are the long flags without --, e.g. product-id)")]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
    },
    /// A value of a type no flag takes.
    #[error("config file {path}: key {key:?} must be a string, a number or true/false")]
    BadValue {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
    },
    /// `--config` without a path.
    #[error("--config needs a path")]
    MissingPath,
}

/// A flag the file may set: its long name and whether it takes a value (false: a switch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagSpec {
    /// Long name without `--`.
    pub name: String,
    /// Takes a value.
    pub takes_value: bool,
}

/// The command-line arguments with the file's settings inserted after the program name.
/// `flags` are the flags the file may set (the binary passes its clap definition's long flags,
/// without `config` itself). Without `--config` the arguments come back unchanged.
///
/// # Errors
/// As [`ConfigFileError`].
pub fn expand(args: Vec<OsString>, flags: &[FlagSpec]) -> Result<Vec<OsString>, ConfigFileError> {
    let Some(path) = config_path(&args)? else {
        return Ok(args);
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigFileError::Read {
        path: path.clone(),
        source,
    })?;
    let from_file = file_args(&path, &text, flags, &args)?;
    let mut out = Vec::with_capacity(args.len() + from_file.len());
    let mut rest = args.into_iter();
    if let Some(program) = rest.next() {
        out.push(program);
    }
    out.extend(from_file.into_iter().map(OsString::from));
    out.extend(rest);
    Ok(out)
}

/// The path after `--config` (or in `--config=PATH`), if any; the last one wins, as for flags.
fn config_path(args: &[OsString]) -> Result<Option<PathBuf>, ConfigFileError> {
    let mut path = None;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let Some(s) = a.to_str() else { continue };
        if s == "--" {
            break;
        }
        if s == "--config" {
            path = Some(PathBuf::from(
                it.next().ok_or(ConfigFileError::MissingPath)?,
            ));
        } else if let Some(p) = s.strip_prefix("--config=") {
            if p.is_empty() {
                return Err(ConfigFileError::MissingPath);
            }
            path = Some(PathBuf::from(p));
        }
    }
    Ok(path)
}

/// Whether `--name` (or `--name=...`) is on the command line.
fn on_command_line(args: &[OsString], name: &str) -> bool {
    let flag = format!("--{name}");
    let with_value = format!("--{name}=");
    args.iter()
        .skip(1)
        .filter_map(|a| a.to_str())
        .take_while(|a| *a != "--")
        .any(|a| a == flag || a.starts_with(&with_value))
}

fn file_args(
    path: &Path,
    text: &str,
    flags: &[FlagSpec],
    args: &[OsString],
) -> Result<Vec<String>, ConfigFileError> {
    let table: toml::Table =
        text.parse()
            .map_err(|e: toml::de::Error| ConfigFileError::Syntax {
                path: path.to_path_buf(),
                message: e.to_string().trim_end().to_owned(),
            })?;
    let mut out = Vec::new();
    for (key, value) in &table {
        let spec =
            flags
                .iter()
                .find(|f| f.name == *key)
                .ok_or_else(|| ConfigFileError::UnknownKey {
                    path: path.to_path_buf(),
                    key: key.clone(),
                })?;
        // The command line replaces the file's value (and its conflicts are the user's to see).
        if on_command_line(args, key) {
            continue;
        }
        let bad = || ConfigFileError::BadValue {
            path: path.to_path_buf(),
            key: key.clone(),
        };
        match (value, spec.takes_value) {
            (toml::Value::Boolean(true), false) => out.push(format!("--{key}")),
            (toml::Value::Boolean(false), false) => {}
            (toml::Value::String(s), true) => out.push(format!("--{key}={s}")),
            (toml::Value::Integer(i), true) => out.push(format!("--{key}={i}")),
            (toml::Value::Boolean(b), true) => out.push(format!("--{key}={b}")),
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> Vec<FlagSpec> {
        ["passcode", "product-id", "product-name", "transport"]
            .iter()
            .map(|n| FlagSpec {
                name: (*n).into(),
                takes_value: true,
            })
            .chain([FlagSpec {
                name: "quiet".into(),
                takes_value: false,
            }])
            .collect()
    }

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn with_file(text: &str, argv: &[&str]) -> Result<Vec<OsString>, ConfigFileError> {
        // One folder per call: tests run in parallel, and a name derived from the inputs made
        // two tests with equally long inputs share (and delete) one folder.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("mb-config-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let file = dir.join("c.toml");
        std::fs::write(&file, text).expect("write");
        let mut full = vec!["matter-ble".to_string()];
        full.push(format!("--config={}", file.display()));
        full.extend(argv.iter().map(|s| (*s).to_string()));
        let r = expand(full.iter().map(OsString::from).collect(), &specs());
        let _ = std::fs::remove_dir_all(&dir);
        r
    }

    #[test]
    fn without_config_args_are_unchanged() {
        let a = os(&["matter-ble", "--passcode", "20202021"]);
        assert_eq!(expand(a.clone(), &specs()).expect("ok"), a);
    }

    #[test]
    fn file_values_come_first_and_command_line_wins() {
        let out = with_file(
            "product-id = \"0x8002\"\npasscode = 20202021\nquiet = true\n",
            &["--passcode", "12341234"],
        )
        .expect("ok");
        let s: Vec<String> = out.iter().map(|a| a.to_string_lossy().into()).collect();
        assert_eq!(s[0], "matter-ble");
        assert!(s.contains(&"--product-id=0x8002".to_string()), "{s:?}");
        assert!(s.contains(&"--quiet".to_string()), "{s:?}");
        // passcode is on the command line: the file's is dropped.
        assert!(!s.iter().any(|a| a == "--passcode=20202021"), "{s:?}");
        assert_eq!(s.last().map(String::as_str), Some("12341234"));
    }

    #[test]
    fn errors_name_the_file_and_key() {
        let e = with_file("prodcut-id = 1\n", &[]).expect_err("unknown key");
        assert!(
            matches!(&e, ConfigFileError::UnknownKey { key, .. } if key == "prodcut-id"),
            "{e}"
        );
        assert!(e.to_string().contains("c.toml"), "{e}");
        let e = with_file("passcode = [1]\n", &[]).expect_err("array");
        assert!(matches!(e, ConfigFileError::BadValue { .. }), "{e}");
        let e = with_file("quiet = \"yes\"\n", &[]).expect_err("switch given a string");
        assert!(matches!(e, ConfigFileError::BadValue { .. }), "{e}");
        let e = with_file("passcode = \n", &[]).expect_err("syntax");
        assert!(matches!(e, ConfigFileError::Syntax { .. }), "{e}");
        assert!(matches!(
            expand(os(&["matter-ble", "--config"]), &specs()),
            Err(ConfigFileError::MissingPath)
        ));
        let e = expand(
            os(&["matter-ble", "--config", "/nonexistent/matter-ble.toml"]),
            &specs(),
        )
        .expect_err("missing file");
        assert!(matches!(e, ConfigFileError::Read { .. }), "{e}");
    }

    #[test]
    fn false_switch_is_left_out_and_after_double_dash_is_not_a_flag() {
        let out = with_file("quiet = false\n", &[]).expect("ok");
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(!on_command_line(
            &os(&["x", "--", "--passcode"]),
            "passcode"
        ));
        assert!(on_command_line(&os(&["x", "--passcode=1"]), "passcode"));
    }
}
