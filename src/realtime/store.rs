//! Where a realtime snapshot lives, and its one reader and writer: a file, or an object in
//! an object store (`s3://bucket/key`, through the `object_store` crate and the standard
//! AWS environment: `AWS_REGION`, `AWS_ENDPOINT_URL`, credentials). An object is read with
//! its ETag (a reader polls with `If-None-Match`) and written with a conditional put
//! (`If-Match` the ETag read, or `If-None-Match: *` when there was none), so two writers
//! cannot silently overwrite each other.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use object_store::{ObjectStore, PutMode, PutOptions, UpdateVersion};

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

    fn read_error(&self, e: object_store::Error) -> StoreError {
        StoreError::Read {
            url: self.url.clone(),
            reason: e.to_string(),
        }
    }
}
