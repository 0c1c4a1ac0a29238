//! The store on a real folder: round trips, name rules, every kind of damage reported with the
//! file's name, stale temporary files, the lock, modes, factory reset.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

/// A fresh folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "matter-ble-store-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        Self(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn open(dir: &Path) -> Store {
    Store::open(dir).unwrap_or_else(|e| panic!("{e}"))
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p)
        .unwrap_or_else(|e| panic!("{e}"))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn round_trip_overwrite_remove_and_names() {
    let t = TempDir::new("rt");
    let dir = t.path().join("nested").join("state");
    let mut s = open(&dir);
    assert_eq!(s.dir(), dir.as_path());
    assert_eq!(s.read("fabric-1").ok().flatten(), None);
    s.write("fabric-1", b"noc bytes")
        .unwrap_or_else(|e| panic!("{e}"));
    s.write("acl.1", b"").unwrap_or_else(|e| panic!("{e}"));
    let big: Vec<u8> = (0..MAX_RECORD_LEN).map(|i| i as u8).collect();
    s.write("big", &big).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.read("fabric-1").ok().flatten().as_deref().map(|v| &v[..]),
        Some(&b"noc bytes"[..])
    );
    assert_eq!(s.read("acl.1").ok().flatten().map(|v| v.len()), Some(0));
    assert!(s.read("big").ok().flatten().is_some_and(|v| *v == big));
    s.write("fabric-1", b"a longer replacement")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.read("fabric-1").ok().flatten().as_deref().map(|v| &v[..]),
        Some(&b"a longer replacement"[..])
    );
    assert_eq!(
        s.names().ok(),
        Some(vec!["acl.1".into(), "big".into(), "fabric-1".into()])
    );
    assert!(matches!(s.remove("acl.1"), Ok(true)));
    assert!(matches!(s.remove("acl.1"), Ok(false)));
    assert!(matches!(
        s.write("huge", &vec![0; MAX_RECORD_LEN + 1]),
        Err(StoreError::TooLarge { len, .. }) if len == MAX_RECORD_LEN + 1
    ));
    // Survives closing and reopening; no temporary files are left.
    drop(s);
    let s = open(&dir);
    assert_eq!(s.names().ok(), Some(vec!["big".into(), "fabric-1".into()]));
    let entries: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert_eq!(entries, vec![LOCK_FILE.to_owned()]);
}

#[test]
fn modes_are_private() {
    let t = TempDir::new("mode");
    let mut s = open(t.path());
    s.write("key", b"secret").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mode(t.path()), 0o700);
    assert_eq!(mode(&t.path().join("key")), 0o600);
    assert_eq!(mode(&t.path().join(LOCK_FILE)), 0o600);
    drop(s);
    // A folder opened up (systemd's StateDirectory= default is 0755) is narrowed again.
    fs::set_permissions(t.path(), fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    let _s = open(t.path());
    assert_eq!(mode(t.path()), 0o700);
}

#[test]
fn names_are_checked() {
    let t = TempDir::new("names");
    let mut s = open(t.path());
    let long = "a".repeat(MAX_NAME_LEN + 1);
    for bad in [
        "",
        ".",
        "..",
        ".hidden",
        ".tmp-x",
        ".matter-ble.lock",
        "a/b",
        "../x",
        "/etc/passwd",
        "a\\b",
        "-rf",
        "_x",
        "sp ace",
        "nul\0",
        "é",
        "new\nline",
        long.as_str(),
    ] {
        assert!(
            matches!(check_name(bad), Err(StoreError::InvalidName { .. })),
            "{bad:?}"
        );
        assert!(matches!(
            s.write(bad, b"x"),
            Err(StoreError::InvalidName { .. })
        ));
        assert!(matches!(s.read(bad), Err(StoreError::InvalidName { .. })));
        assert!(matches!(s.remove(bad), Err(StoreError::InvalidName { .. })));
    }
    for good in [
        "a",
        "fabric-1",
        "node_1.noc",
        "0",
        &"z".repeat(MAX_NAME_LEN),
    ] {
        assert!(check_name(good).is_ok(), "{good:?}");
    }
    let msg = check_name("a/b")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("\"a/b\"") && msg.contains("path separator"),
        "{msg}"
    );
}

/// Damages the file of record "rec" with `edit` and checks the read names the file and the fault.
fn damaged(edit: impl FnOnce(&mut Vec<u8>), expect: impl FnOnce(&RecordFault) -> bool) {
    let t = TempDir::new("corrupt");
    let mut s = open(t.path());
    s.write("rec", b"some record payload")
        .unwrap_or_else(|e| panic!("{e}"));
    let file = t.path().join("rec");
    let mut bytes = fs::read(&file).unwrap_or_else(|e| panic!("{e}"));
    edit(&mut bytes);
    fs::write(&file, &bytes).unwrap_or_else(|e| panic!("{e}"));
    let err = match s.read("rec") {
        Err(e) => e,
        Ok(v) => panic!("damage not reported: {:?}", v.map(|v| v.len())),
    };
    let msg = err.to_string();
    assert!(msg.contains(&file.display().to_string()), "{msg}");
    assert!(msg.contains("factory-reset"), "{msg}");
    match &err {
        StoreError::Corrupt { path, fault } => {
            assert_eq!(path, &file);
            assert!(expect(fault), "{fault:?}");
        }
        other => panic!("{other:?}"),
    }
    // Reported again, not reset: the file is untouched and still listed.
    assert_eq!(fs::read(&file).ok(), Some(bytes));
    assert!(matches!(s.read("rec"), Err(StoreError::Corrupt { .. })));
    assert_eq!(s.names().ok(), Some(vec!["rec".to_owned()]));
    // Reopening keeps it too.
    drop(s);
    let s = open(t.path());
    assert!(matches!(s.read("rec"), Err(StoreError::Corrupt { .. })));
}

#[test]
fn damage_is_reported_with_the_file_name() {
    damaged(|b| b.clear(), |f| *f == RecordFault::Truncated { len: 0 });
    damaged(
        |b| b.truncate(10),
        |f| *f == RecordFault::Truncated { len: 10 },
    );
    damaged(
        |b| b.truncate(20),
        |f| {
            matches!(
                f,
                RecordFault::LengthMismatch {
                    announced: 19,
                    actual: 4
                }
            )
        },
    );
    damaged(
        |b| b.extend_from_slice(b"junk"),
        |f| matches!(f, RecordFault::LengthMismatch { .. }),
    );
    damaged(|b| b[1] = b'X', |f| *f == RecordFault::BadMagic);
    damaged(
        |b| b[6] = 9,
        |f| *f == RecordFault::UnsupportedVersion { found: 9 },
    );
    damaged(
        |b| b[12] ^= 0xFF,
        |f| matches!(f, RecordFault::Checksum { .. }),
    );
    damaged(
        |b| {
            if let Some(x) = b.last_mut() {
                *x ^= 0x10
            }
        },
        |f| matches!(f, RecordFault::Checksum { .. }),
    );
    damaged(
        |b| b[8..12].copy_from_slice(&u32::MAX.to_le_bytes()),
        |f| matches!(f, RecordFault::Oversized { .. }),
    );
}

#[test]
fn a_record_copied_under_another_name_is_reported() {
    let t = TempDir::new("copy");
    let mut s = open(t.path());
    s.write("fabric-1", b"one")
        .unwrap_or_else(|e| panic!("{e}"));
    fs::copy(t.path().join("fabric-1"), t.path().join("fabric-2"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        s.read("fabric-2"),
        Err(StoreError::Corrupt {
            fault: RecordFault::Checksum { .. },
            ..
        })
    ));
}

#[test]
fn stale_temp_files_are_removed_at_open() {
    let t = TempDir::new("stale");
    let mut s = open(t.path());
    s.write("rec", b"old").unwrap_or_else(|e| panic!("{e}"));
    drop(s);
    // What a crash between create and rename leaves: a half-written temporary file.
    let temp = t.path().join(format!("{TEMP_PREFIX}rec"));
    fs::write(&temp, b"MBLEST\x01\x00\xff").unwrap_or_else(|e| panic!("{e}"));
    fs::write(t.path().join(".tmp-other"), b"").unwrap_or_else(|e| panic!("{e}"));
    let s = open(t.path());
    assert!(!temp.exists());
    assert!(!t.path().join(".tmp-other").exists());
    assert_eq!(
        s.read("rec").ok().flatten().as_deref().map(|v| &v[..]),
        Some(&b"old"[..])
    );
    assert_eq!(s.names().ok(), Some(vec!["rec".to_owned()]));
}

#[test]
fn a_second_store_on_the_same_folder_is_refused() {
    let t = TempDir::new("lock");
    let first = open(t.path());
    let err = Store::open(t.path()).err();
    let msg = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(matches!(err, Some(StoreError::Locked { .. })), "{err:?}");
    assert!(msg.contains(&t.path().display().to_string()), "{msg}");
    assert!(msg.contains("another running matter-ble"), "{msg}");
    // Through another spelling of the same path too.
    let other_spelling = t
        .path()
        .join(".")
        .join("..")
        .join(t.path().file_name().unwrap_or_default());
    assert!(matches!(
        Store::open(other_spelling),
        Err(StoreError::Locked { .. })
    ));
    drop(first);
    let _again = open(t.path());
}

#[test]
fn foreign_folders_and_files_are_refused() {
    let t = TempDir::new("foreign");
    fs::create_dir_all(t.path()).unwrap_or_else(|e| panic!("{e}"));
    // A folder of someone else's files (a typo such as --state-dir ~) is never used.
    fs::write(t.path().join("notes.txt"), b"mine").unwrap_or_else(|e| panic!("{e}"));
    let err = Store::open(t.path()).err();
    assert!(
        matches!(&err, Some(StoreError::NotAStateFolder { example, .. }) if example == "notes.txt"),
        "{err:?}"
    );
    assert!(t.path().join("notes.txt").exists());
    assert!(!t.path().join(LOCK_FILE).exists());
    // A file where the folder should be.
    let file = t.path().join("notes.txt");
    assert!(matches!(
        Store::open(&file),
        Err(StoreError::NotADirectory(p)) if p == file
    ));
    // Records restored from a backup without the dot files are accepted.
    let u = TempDir::new("restore");
    let mut s = open(u.path());
    s.write("fabric-1", b"x").unwrap_or_else(|e| panic!("{e}"));
    drop(s);
    fs::remove_file(u.path().join(LOCK_FILE)).unwrap_or_else(|e| panic!("{e}"));
    let s = open(u.path());
    assert_eq!(
        s.read("fabric-1").ok().flatten().map(|v| v.to_vec()),
        Some(b"x".to_vec())
    );
}

#[test]
fn factory_reset_clears_records_and_keeps_the_lock() {
    let t = TempDir::new("reset");
    let mut s = open(t.path());
    for n in ["b", "a", "c"] {
        s.write(n, n.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    }
    fs::write(t.path().join("c"), b"damaged").unwrap_or_else(|e| panic!("{e}"));
    fs::write(t.path().join(".tmp-a"), b"").unwrap_or_else(|e| panic!("{e}"));
    fs::create_dir(t.path().join("sub")).unwrap_or_else(|e| panic!("{e}"));
    let report = s.factory_reset().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        report,
        ResetReport {
            removed: vec!["a".into(), "b".into(), "c".into()],
            temp_files: 1,
            left: vec!["sub".into()],
        }
    );
    assert_eq!(s.names().ok(), Some(vec![]));
    assert!(t.path().join(LOCK_FILE).exists());
    assert!(matches!(
        Store::open(t.path()),
        Err(StoreError::Locked { .. })
    ));
    // Still usable.
    s.write("a", b"new").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.names().ok(), Some(vec!["a".into()]));
}

#[test]
fn symbolic_links_are_not_records() {
    let t = TempDir::new("link");
    let mut s = open(t.path());
    s.write("real", b"x").unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(t.path().join("real"), t.path().join("alias"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.names().ok(), Some(vec!["real".to_owned()]));
    let report = s.factory_reset().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.left, vec!["alias".to_owned()]);
}
