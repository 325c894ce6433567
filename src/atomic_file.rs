//! Replacing a file whole: the bytes go to a temporary file beside the file's final
//! target (symbolic links are followed, so a link stays a link), which is then renamed
//! over it; a reader sees the old file or the new one, never half of one. The one writer
//! of every file retainctl replaces: snapshots, saved plans, apply reports, the
//! simulator's state.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Whether the new file must be on disk before [`write`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Flushed to disk, and the rename with its folder: for what a user or a server
    /// relies on after a crash (snapshots, plans, reports).
    Flushed,
    /// Renamed only: for the simulator's state, replaced after every request (a flush each
    /// would bound the simulator by the disk).
    Renamed,
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

/// Replaces the file at `path` (or the target of the links it is) with `bytes`, creating
/// its folder when needed.
pub fn write(path: &Path, bytes: &[u8], durability: Durability) -> Result<(), String> {
    let target = write_target(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".retainctl-")
        .tempfile_in(&dir)
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| match durability {
            Durability::Flushed => tmp.as_file().sync_all(),
            Durability::Renamed => Ok(()),
        })
        .map_err(|e| format!("cannot write {}: {e}", tmp.path().display()))?;
    tmp.persist(&target)
        .map_err(|e| format!("cannot replace {}: {}", target.display(), e.error))?;
    if durability == Durability::Flushed
        && let Ok(d) = std::fs::File::open(&dir)
    {
        // The rename itself reaches the disk with the folder.
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
        super::write(path, bytes, Durability::Flushed)
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
