//! Helpers shared by the integration tests: a temporary workspace with real PNGs, and
//! running the real binary.
#![allow(dead_code)]

pub mod world;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use retainctl::apple::image_rules::solid_png;

pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    /// A folder with `images/` holding valid and broken PNGs:
    /// hero.png (3840×160), check.png and star.png (1024×1024), alpha.png (1024×1024 RGBA),
    /// small.png (100×100), fake.png (not a PNG).
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let images = dir.path().join("images");
        std::fs::create_dir_all(&images).unwrap();
        std::fs::write(
            images.join("hero.png"),
            solid_png(3840, 160, [200, 40, 40], false),
        )
        .unwrap();
        std::fs::write(
            images.join("check.png"),
            solid_png(1024, 1024, [40, 200, 40], false),
        )
        .unwrap();
        std::fs::write(
            images.join("star.png"),
            solid_png(1024, 1024, [240, 200, 0], false),
        )
        .unwrap();
        std::fs::write(
            images.join("alpha.png"),
            solid_png(1024, 1024, [1, 2, 3], true),
        )
        .unwrap();
        std::fs::write(
            images.join("small.png"),
            solid_png(100, 100, [1, 2, 3], false),
        )
        .unwrap();
        std::fs::write(images.join("fake.png"), b"GIF89a not really").unwrap();
        Workspace { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs the binary in this folder.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_retainctl"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("RETAINCTL_BASE_URL")
            .output()
            .expect("run retainctl")
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A `retainctl sim` process on a free loopback port, killed when dropped.
pub struct SimProcess {
    pub child: Child,
    /// `http://127.0.0.1:PORT`, from the simulator's first line.
    pub url: String,
}

impl SimProcess {
    /// Runs `retainctl sim --listen 127.0.0.1:0 --public-key PUBLIC ARGS...`.
    pub fn spawn(public_key: &Path, args: &[&str]) -> SimProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_retainctl"))
            .args(["sim", "--listen", "127.0.0.1:0", "--public-key"])
            .arg(public_key)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start retainctl sim");
        let url = listening_url(&mut child, String::new);
        SimProcess { child, url }
    }
}

/// The address a just-started `sim` or `serve` prints on its first line (`listening on
/// URL`); a different first line fails the test with `context()` (e.g. the server's log).
pub fn listening_url(child: &mut Child, context: impl Fn() -> String) -> String {
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut first)
        .expect("read the first line");
    first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line was {first:?}; {}", context()))
        .to_string()
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether this run is CI's (`CI` set, as GitHub Actions and `.ci/run` do): a missing
/// tool then fails a test instead of skipping it.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The python the tests run tools from: `RETAINCTL_PYTHON`, else the repository's
/// `.venv` (which .ci/run creates); `None` when there is neither.
pub fn test_python() -> Option<String> {
    let explicit = std::env::var("RETAINCTL_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");
    explicit.or_else(|| Path::new(venv).exists().then(|| venv.to_string()))
}
