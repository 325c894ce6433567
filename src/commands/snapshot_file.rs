//! The realtime snapshot of `plan/apply --snapshot`, a file or an object (`s3://…`).
//! A file is read bounded (a regular file, or a symbolic link to one, of at most
//! [`MAX_SNAPSHOT_BYTES`]; never a FIFO or a device, which could block or never end) and
//! written atomically through a symbolic link to its target (a temporary file beside the
//! target, flushed to disk, renamed over it), so that a server reading the link's target
//! sees the old file or the new one, never half. An object is read with its ETag and
//! written only if it is still as read (`crate::realtime::store`): a concurrent apply's
//! snapshot is never silently overwritten.

use std::path::{Path, PathBuf};

use crate::loader::{Unreadable, read_capped};
pub use crate::realtime::MAX_SNAPSHOT_BYTES;
use crate::realtime::store::{Fetched, SnapshotLocation, StoreError, block_on};

/// What a write must find to go ahead: what the read before it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// A file (written over whatever is there).
    File,
    /// No object was there.
    Absent,
    /// The object's ETag when read (`None`: the store gave none).
    Object(Option<String>),
}

/// The snapshot's text at `location` (`None` when there is none yet), and its version.
pub fn read_at(location: &SnapshotLocation) -> Result<(Option<String>, Version), ReadError> {
    let object = match location {
        SnapshotLocation::File(path) => return read(path).map(|text| (text, Version::File)),
        SnapshotLocation::Object(object) => object,
    };
    let io = |reason: String| {
        ReadError::Store(StoreError::Read {
            url: object.url.clone(),
            reason,
        })
    };
    match block_on(object.fetch(None, MAX_SNAPSHOT_BYTES)).map_err(io)? {
        Ok(Fetched::Read(read)) => {
            let text =
                String::from_utf8(read.bytes).map_err(|_| io("it is not UTF-8 text".into()))?;
            Ok((Some(text), Version::Object(read.etag)))
        }
        Ok(Fetched::Missing | Fetched::NotModified) => Ok((None, Version::Absent)),
        Err(e) => Err(ReadError::Store(e)),
    }
}

/// Writes `bytes` to `location`: a file atomically, an object only if it is still at
/// `version` (else an error saying another apply wrote it).
pub fn write_at(
    location: &SnapshotLocation,
    bytes: &[u8],
    version: &Version,
) -> Result<(), String> {
    match location {
        SnapshotLocation::File(path) => write(path, bytes),
        SnapshotLocation::Object(object) => {
            let expected = match version {
                Version::Object(Some(etag)) => Some(etag.as_str()),
                Version::Absent | Version::File | Version::Object(None) => None,
            };
            block_on(object.put(bytes.to_vec(), expected))?.map_err(|e| e.to_string())
        }
    }
}

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
    #[error("the realtime snapshot: {0}")]
    Store(StoreError),
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

/// Writes `bytes` to the snapshot at `path` atomically (through a symbolic link to its
/// target), flushed to disk before the rename.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    crate::atomic_file::write(path, bytes, crate::atomic_file::Durability::Flushed)
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
}
