//! Where a realtime snapshot lives, and its one reader and writer ([`read_at`],
//! [`write_at`]): a file, or an object in an object store (`s3://bucket/key`, through the `object_store` crate and the standard
//! AWS environment: `AWS_REGION`, `AWS_ENDPOINT_URL`, credentials). An object is read with
//! its ETag (a reader polls with `If-None-Match`) and written with a conditional put
//! (`If-Match` the ETag read, or `If-None-Match: *` when there was none), so two writers
//! cannot silently overwrite each other. A file is read bounded (a regular file, or a
//! symbolic link to one, of at most [`MAX_SNAPSHOT_BYTES`]; never a FIFO or a device) and
//! written atomically through a symbolic link to its target, so a server reading it sees
//! the old file or the new one, never half.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use object_store::{ObjectStore, PutMode, PutOptions, UpdateVersion};

use super::MAX_SNAPSHOT_BYTES;
use crate::loader::{Unreadable, read_capped};

/// Runs an object store request (or any future) to its end from blocking code, outside
/// any runtime, on a runtime of its own.
pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> Result<T, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|runtime| runtime.block_on(future))
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// A snapshot's location, as `--snapshot` gives it.
#[derive(Clone)]
pub enum SnapshotLocation {
    File(PathBuf),
    Object(ObjectLocation),
}

/// An object of an object store.
#[derive(Clone)]
pub struct ObjectLocation {
    /// As given: `s3://bucket/key`.
    pub url: String,
    store: Arc<dyn ObjectStore>,
    key: object_store::path::Path,
}

impl std::fmt::Debug for SnapshotLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SnapshotLocation({self})")
    }
}

impl PartialEq for SnapshotLocation {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

/// Why a location cannot be used, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{url} is not an object URL retainctl reads: give `s3://BUCKET/KEY` (or a file path)")]
    BadUrl { url: String },
    #[error("{url}: the object store cannot be set up from the environment: {reason}")]
    Setup { url: String, reason: String },
    #[error("cannot read {url}: {reason}")]
    Read { url: String, reason: String },
    #[error("{url} is larger than {limit} bytes: it is not a snapshot apply wrote")]
    TooLarge { url: String, limit: u64 },
    #[error(
        "{url} changed since this run read it (another apply wrote it): nothing was overwritten; run again to apply over the newer snapshot"
    )]
    Conflict { url: String },
    #[error("cannot write {url}: {reason}")]
    Write { url: String, reason: String },
}

/// An object as read: its bytes, its version (ETag) and when it was written.
#[derive(Debug, Clone)]
pub struct ObjectRead {
    pub bytes: Vec<u8>,
    pub etag: Option<String>,
    pub written: Option<SystemTime>,
}

/// The answer to a conditional read.
#[derive(Debug)]
pub enum Fetched {
    /// The object still has the ETag given.
    NotModified,
    Missing,
    Read(ObjectRead),
}

impl SnapshotLocation {
    /// `s3://…` is an object, anything else a file path. Builds the store client from the
    /// process environment (no request is made).
    pub fn parse(text: &std::ffi::OsStr) -> Result<SnapshotLocation, StoreError> {
        SnapshotLocation::parse_with(text, std::env::vars())
    }

    /// [`SnapshotLocation::parse`] with the `AWS_*` variables given.
    pub fn parse_with(
        text: &std::ffi::OsStr,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<SnapshotLocation, StoreError> {
        let Some(url) = text.to_str().filter(|t| t.contains("://")) else {
            return Ok(SnapshotLocation::File(PathBuf::from(text)));
        };
        let bad = || StoreError::BadUrl {
            url: url.to_string(),
        };
        let rest = url.strip_prefix("s3://").ok_or_else(bad)?;
        let (bucket, key) = rest.split_once('/').ok_or_else(bad)?;
        if bucket.is_empty() || key.is_empty() || key.ends_with('/') {
            return Err(bad());
        }
        let key = object_store::path::Path::parse(key).map_err(|_| bad())?;
        let mut builder = object_store::aws::AmazonS3Builder::new();
        for (name, value) in vars {
            if !name.starts_with("AWS_") {
                continue;
            }
            // an endpoint given as http:// (a local S3 such as moto or minio) is meant
            if name == "AWS_ENDPOINT_URL" && value.starts_with("http://") {
                builder = builder.with_allow_http(true);
            }
            if let Ok(config) = name.to_ascii_lowercase().parse() {
                builder = builder.with_config(config, value);
            }
        }
        let store = builder
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| StoreError::Setup {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        Ok(SnapshotLocation::Object(ObjectLocation {
            url: url.to_string(),
            store: Arc::new(store),
            key,
        }))
    }

    /// `file`, or the object store's URL scheme (`s3`).
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::File(_) => "file",
            Self::Object(_) => "s3",
        }
    }

    /// The file, when the location is one.
    pub fn as_file(&self) -> Option<&std::path::Path> {
        match self {
            Self::File(path) => Some(path),
            Self::Object(_) => None,
        }
    }
}

impl std::fmt::Display for SnapshotLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Object(object) => f.write_str(&object.url),
        }
    }
}

impl ObjectLocation {
    /// Reads the object unless it still has ETag `unless` (a conditional GET), at most
    /// `limit` bytes.
    pub async fn fetch(&self, unless: Option<&str>, limit: u64) -> Result<Fetched, StoreError> {
        let options = object_store::GetOptions {
            if_none_match: unless.map(str::to_string),
            ..Default::default()
        };
        let result = match self.store.get_opts(&self.key, options).await {
            Ok(result) => result,
            Err(object_store::Error::NotModified { .. }) => return Ok(Fetched::NotModified),
            Err(object_store::Error::NotFound { .. }) => return Ok(Fetched::Missing),
            Err(e) => return Err(self.read_error(e)),
        };
        if result.meta.size > limit {
            return Err(StoreError::TooLarge {
                url: self.url.clone(),
                limit,
            });
        }
        let etag = result.meta.e_tag.clone();
        let written = Some(SystemTime::from(result.meta.last_modified));
        let bytes = result.bytes().await.map_err(|e| self.read_error(e))?;
        if bytes.len() as u64 > limit {
            return Err(StoreError::TooLarge {
                url: self.url.clone(),
                limit,
            });
        }
        Ok(Fetched::Read(ObjectRead {
            bytes: bytes.to_vec(),
            etag,
            written,
        }))
    }

    /// Writes `bytes` if the object is still as read: ETag `expected`, or absent when
    /// `None`. Another writer in between is [`StoreError::Conflict`].
    pub async fn put(&self, bytes: Vec<u8>, expected: Option<&str>) -> Result<(), StoreError> {
        let mode = match expected {
            Some(etag) => PutMode::Update(UpdateVersion {
                e_tag: Some(etag.to_string()),
                version: None,
            }),
            None => PutMode::Create,
        };
        let options = PutOptions {
            mode,
            ..Default::default()
        };
        match self.store.put_opts(&self.key, bytes.into(), options).await {
            Ok(_) => Ok(()),
            Err(
                object_store::Error::Precondition { .. }
                | object_store::Error::AlreadyExists { .. },
            ) => Err(StoreError::Conflict {
                url: self.url.clone(),
            }),
            Err(e) => Err(StoreError::Write {
                url: self.url.clone(),
                reason: e.to_string(),
            }),
        }
    }

    /// Writes `bytes` at `name` under this location's key, taken as a prefix
    /// (`s3://bucket/decisions` + `host/decisions-1.jsonl`), over whatever is there.
    pub async fn put_under(&self, name: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let key = object_store::path::Path::parse(format!("{}/{name}", self.key)).map_err(|e| {
            StoreError::Write {
                url: self.url.clone(),
                reason: e.to_string(),
            }
        })?;
        self.store
            .put_opts(&key, bytes.into(), PutOptions::default())
            .await
            .map(|_| ())
            .map_err(|e| StoreError::Write {
                url: format!("{}/{name}", self.url),
                reason: e.to_string(),
            })
    }

    fn read_error(&self, e: object_store::Error) -> StoreError {
        StoreError::Read {
            url: self.url.clone(),
            reason: e.to_string(),
        }
    }
}

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
