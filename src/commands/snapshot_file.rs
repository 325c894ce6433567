//! The realtime snapshot file of `plan/apply --snapshot`: read bounded (a regular file, or
//! a symbolic link to one, of at most [`MAX_SNAPSHOT_BYTES`]; never a FIFO or a device,
//! which could block or never end), written atomically through a symbolic link to its
//! target (a temporary file beside the target, flushed to disk, renamed over it), so that
//! a server reading the link's target sees the old file or the new one, never half.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::loader::{Unreadable, read_capped};
pub use crate::realtime::MAX_SNAPSHOT_BYTES;

/// Why the snapshot file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(
        "the realtime snapshot {0} is not a regular file (a folder, a FIFO or a device): give the path of the JSON file `retainctl serve` reads"
    )]
    NotAFile(PathBuf),
    #[error(
        "the realtime snapshot {path} is larger than {limit} bytes ({size}): it is not a snapshot apply wrote; move it away to start a new one"
    )]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("cannot read the realtime snapshot {path}: {reason}")]
    Io { path: PathBuf, reason: String },
}

/// The text of the snapshot at `path`, `None` when there is no file.
pub fn read(path: &Path) -> Result<Option<String>, ReadError> {
    // Follows symbolic links: a link to a regular file is that file.
    let bytes = match read_capped(path, MAX_SNAPSHOT_BYTES) {
        Ok(bytes) => bytes,
        Err(Unreadable::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(Unreadable::NotRegular(_)) => return Err(ReadError::NotAFile(path.to_path_buf())),
        Err(Unreadable::TooLarge { size, max }) => {
            return Err(ReadError::TooLarge {
                path: path.to_path_buf(),
                size,
                limit: max,
            });
        }
        Err(Unreadable::Io(e)) => {
            return Err(ReadError::Io {
                path: path.to_path_buf(),
                reason: e.to_string(),
            });
        }
    };
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| ReadError::Io {
            path: path.to_path_buf(),
            reason: "it is not UTF-8 text".into(),
        })
}

/// The file a write to `path` must replace: `path`, or the final target of the symbolic
/// links it is (relative targets resolved from each link's folder).
fn write_target(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

/// Writes `bytes` to the snapshot at `path` atomically (through a symbolic link to its
/// target), flushed to disk before the rename.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let target = write_target(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".retainctl-snapshot-")
        .tempfile_in(&dir)
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| format!("cannot write {}: {e}", tmp.path().display()))?;
    tmp.persist(&target)
        .map_err(|e| format!("cannot replace {}: {}", target.display(), e.error))?;
    // The rename itself reaches the disk with the folder.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files_and_links_to_them_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.json");
        assert!(read(&file).unwrap().is_none());
        std::fs::write(&file, "{}").unwrap();
        assert_eq!(read(&file).unwrap().as_deref(), Some("{}"));
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink("s.json", &link).unwrap();
        assert_eq!(read(&link).unwrap().as_deref(), Some("{}"));
        assert!(matches!(read(dir.path()), Err(ReadError::NotAFile(_))));
        assert!(matches!(
            read(Path::new("/dev/zero")),
            Err(ReadError::NotAFile(_))
        ));
        let fifo = dir.path().join("fifo.json");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        assert!(matches!(read(&fifo), Err(ReadError::NotAFile(_))));
    }

    #[test]
    fn a_file_over_the_cap_is_refused_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big.json");
        let f = std::fs::File::create(&file).unwrap();
        f.set_len(MAX_SNAPSHOT_BYTES + 1).unwrap();
        let err = read(&file).unwrap_err();
        assert!(matches!(err, ReadError::TooLarge { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("big.json is larger than 16777216 bytes")
        );
        f.set_len(MAX_SNAPSHOT_BYTES).unwrap();
        assert_eq!(
            read(&file).unwrap().unwrap().len() as u64,
            MAX_SNAPSHOT_BYTES
        );
    }

    #[test]
    fn writes_through_a_symbolic_link_to_its_target() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("live")).unwrap();
        let target = dir.path().join("live/s.json");
        std::fs::write(&target, "old").unwrap();
        let link = dir.path().join("s.json");
        std::os::unix::fs::symlink("live/s.json", &link).unwrap();
        write(&link, b"new").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink(),
            "the link was replaced"
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        // A plain path, and one whose folder does not exist yet.
        write(&dir.path().join("a/b.json"), b"x").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a/b.json")).unwrap(),
            "x"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("live"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, vec![std::ffi::OsString::from("s.json")]);
    }
}
