//! Where a realtime snapshot lives: a file, or an object in an object store
//! (`s3://bucket/key`). The one place that names a snapshot's location; reading and
//! writing it happen in the layers that own them (serve reads, apply writes).

use std::path::PathBuf;

/// A snapshot's location, as `--snapshot` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotLocation {
    File(PathBuf),
}

impl SnapshotLocation {
    /// `file`, or the object store's URL scheme (`s3`, …).
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::File(_) => "file",
        }
    }

    /// The file, when the location is one.
    pub fn as_file(&self) -> Option<&std::path::Path> {
        match self {
            Self::File(path) => Some(path),
        }
    }
}

impl std::fmt::Display for SnapshotLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
        }
    }
}
