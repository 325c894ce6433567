//! Broken manifests, images and environments: each a clear error, exit 1, no panic.
//! Every file under tests/corpus/manifests/ says on its first line what it must produce.

use std::path::Path;
use std::process::Command;

use crate::common::world::{World, text};

#[test]
fn every_broken_manifest_in_the_corpus_is_a_clear_error() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/manifests");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 15);
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        let expect = source
            .lines()
            .next()
            .unwrap()
            .strip_prefix("# expect: ")
            .expect("first line: # expect: ...");
        let out = Command::new(env!("CARGO_BIN_EXE_retainctl"))
            .arg("validate")
            .arg(&file)
            .output()
            .unwrap();
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{}: {all}", file.display());
        assert!(
            all.contains(expect),
            "{}: expected `{expect}` in:\n{all}",
            file.display()
        );
        assert!(
            all.contains(&format!("{}:", file.display())),
            "{}: names the file",
            file.display()
        );
        assert!(!all.contains("panicked"), "{}", file.display());
    }
}

#[test]
fn binary_and_non_utf8_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bin.yaml");
    std::fs::write(&file, [0xff, 0xfe, 0x00, 0x41, 0x80]).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("bin.yaml:1:1: error: the file is not UTF-8 text"),
        "{}",
        text(&out)
    );
}

#[test]
fn an_unreadable_folder_is_reported() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::write(locked.join("app.yaml"), "apiVersion: retainctl/v1\n").unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let readable_anyway = std::fs::read_dir(&locked).is_ok(); // root reads everything
    let out = Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .arg("validate")
        .arg(&locked)
        .output()
        .unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!text(&out).contains("panicked"));
    if !readable_anyway {
        assert!(
            text(&out).contains("error: cannot read folder"),
            "{}",
            text(&out)
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .args(["validate", "no/such/folder"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("no/such/folder:1:1: error: no such file or folder"),
        "{}",
        text(&out)
    );
}

fn plan_with_key_env(w: &World, vars: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = w.command(&["plan", "--env", "sandbox", "app.yaml"]);
    cmd.env_remove("RETAINCTL_PRIVATE_KEY")
        .env_remove("RETAINCTL_PRIVATE_KEY_FILE");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// An Ed25519 key in PKCS#8 PEM: the fixed prefix of RFC 8410 and 32 random bytes.
fn ed25519_pem() -> String {
    use base64::Engine;
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend(rand::random::<[u8; 32]>());
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!(
        "-----BEGIN {0}-----\n{b64}\n-----END {0}-----\n",
        "PRIVATE KEY"
    )
}

#[test]
fn broken_credentials_are_clear_errors() {
    let w = World::new("sandbox");
    let out = plan_with_key_env(
        &w,
        &[("RETAINCTL_PRIVATE_KEY_FILE", "/nonexistent/AuthKey_X.p8")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains(
            "cannot read the private key file named by RETAINCTL_PRIVATE_KEY_FILE: no such file"
        ),
        "{}",
        text(&out)
    );
    assert!(
        !text(&out).contains("AuthKey_X"),
        "the path is the variable's value: never printed"
    );

    let garbled = format!(
        "-----BEGIN {0}-----\nnot base64 at all\n-----END {0}-----\n",
        "PRIVATE KEY"
    );
    let out = plan_with_key_env(&w, &[("RETAINCTL_PRIVATE_KEY", &garbled)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains(
            "the private key from RETAINCTL_PRIVATE_KEY is not a PKCS#8 P-256 private key"
        ),
        "{}",
        text(&out)
    );

    let ed = ed25519_pem();
    let out = plan_with_key_env(&w, &[("RETAINCTL_PRIVATE_KEY", &ed)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("is not a PKCS#8 P-256 private key"),
        "{}",
        text(&out)
    );
    assert!(
        !text(&out).contains(ed.lines().nth(1).unwrap()),
        "the key is never echoed"
    );

    let out = plan_with_key_env(&w, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("no private key: set RETAINCTL_PRIVATE_KEY to the PEM text or RETAINCTL_PRIVATE_KEY_FILE"), "{}", text(&out));
}

// ---------------------------------------------------------------------------------------
// Hostile files from a pull request (issue #12, items 4–7): PNG bombs, FIFOs, devices,
// huge sparse files, paths out of the tree, symbolic-link loops, byte order marks, NULs.
// Files that cannot be committed are made here, at test time.

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// A valid app whose one FULL_SIZE image is `file` (its value stands at line 6, column 17).
fn hostile_manifest(file: &str) -> String {
    format!(
        "\
apiVersion: retainctl/v1
app:
  bundleId: com.example.hostile
  locales: [en-US]
images:
  hero: {{ file: {file}, size: FULL_SIZE }}
messages:
  stay:
    localizations:
      en-US:
        header: Stay
        body: Keep your plan.
        image: {{ ref: hero, altText: A person }}
"
    )
}

/// Runs a command with stdin closed, killing it after `limit`: a hang is a failure, not a
/// test that never ends.
fn run_bounded(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("NO_COLOR", "1")
        .env_remove("RETAINCTL_BASE_URL")
        .spawn()
        .unwrap();
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut v = vec![];
        std::io::Read::read_to_end(&mut out_pipe, &mut v).ok();
        v
    });
    let err_thread = std::thread::spawn(move || {
        let mut v = vec![];
        std::io::Read::read_to_end(&mut err_pipe, &mut v).ok();
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            panic!("{cmd:?} still ran after {limit:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_thread.join().unwrap(),
        stderr: err_thread.join().unwrap(),
    }
}

const LIMIT: Duration = Duration::from_secs(60);

/// `retainctl ARGS` in `dir`, bounded in time.
fn retainctl(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_retainctl"));
    cmd.args(args).current_dir(dir);
    run_bounded(cmd, LIMIT)
}

/// Asserts exit 1 and that `expected` is one of the output's lines, for both `validate` and
/// `ids` on `target` (relative to `dir`).
fn refused_by_validate_and_ids(dir: &Path, target: &str, expected: &str) {
    for command in ["validate", "ids"] {
        let out = retainctl(dir, &[command, target]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{command} {target}: {all}");
        assert!(
            all.lines().any(|l| l == expected),
            "{command} {target}: expected the line\n{expected}\nin:\n{all}"
        );
        assert!(!all.contains("panicked"), "{all}");
    }
}

fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

/// CRC-32 of a PNG chunk's type and data.
fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// A ~100-byte PNG whose header declares 65535×65535 RGBA at 16 bits (25.8 GB decoded).
fn png_bomb() -> Vec<u8> {
    let mut png = retainctl::apple::image_rules::solid_png(1, 1, [0, 0, 0], false);
    png[16..20].copy_from_slice(&65535u32.to_be_bytes());
    png[20..24].copy_from_slice(&65535u32.to_be_bytes());
    png[24] = 16;
    png[25] = 6;
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

fn tempdir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().canonicalize().unwrap();
    (dir, real)
}

#[test]
fn a_png_header_declaring_65535_squared_is_a_size_error_not_an_abort() {
    let (_guard, dir) = tempdir();
    let bomb = png_bomb();
    assert!(bomb.len() < 120);
    std::fs::write(dir.join("bomb.png"), bomb).unwrap();
    std::fs::write(dir.join("app.yaml"), hostile_manifest("bomb.png")).unwrap();
    refused_by_validate_and_ids(
        &dir,
        "app.yaml",
        "app.yaml:6:17: error: image file `bomb.png` is 65535×65535; a FULL_SIZE image is 3840 wide and 160–2160 high",
    );
}

#[test]
fn an_image_that_is_a_fifo_is_refused_without_hanging() {
    let (_guard, dir) = tempdir();
    mkfifo(&dir.join("pipe.png"));
    std::fs::write(dir.join("app.yaml"), hostile_manifest("pipe.png")).unwrap();
    refused_by_validate_and_ids(
        &dir,
        "app.yaml",
        "app.yaml:6:17: error: image file `pipe.png` is not a regular file (a FIFO)",
    );
}

#[test]
fn a_huge_sparse_image_is_refused_from_its_size_before_reading() {
    let (_guard, dir) = tempdir();
    let file = std::fs::File::create(dir.join("huge.png")).unwrap();
    file.set_len(100 << 30).unwrap(); // 100 GiB, sparse: no disk used
    std::fs::write(dir.join("app.yaml"), hostile_manifest("huge.png")).unwrap();
    refused_by_validate_and_ids(
        &dir,
        "app.yaml",
        &format!(
            "app.yaml:6:17: error: image file `huge.png` is 107374182400 bytes; image files are at most {} bytes",
            retainctl::apple::image_rules::MAX_IMAGE_FILE_BYTES
        ),
    );
}

#[test]
fn image_paths_may_not_leave_the_folder_being_validated() {
    let (_guard, dir) = tempdir();
    let apps = dir.join("a/b");
    std::fs::create_dir_all(&apps).unwrap();
    let root = apps.display();
    std::fs::write(apps.join("app.yaml"), hostile_manifest("../../etc/passwd")).unwrap();
    refused_by_validate_and_ids(
        &dir,
        "a/b",
        &format!(
            "a/b/app.yaml:6:17: error: image file `../../etc/passwd` is outside the folder being validated, {root}"
        ),
    );
    std::fs::write(apps.join("app.yaml"), hostile_manifest("/etc/passwd")).unwrap();
    refused_by_validate_and_ids(
        &dir,
        "a/b/app.yaml",
        "a/b/app.yaml:6:17: error: image file `/etc/passwd` is an absolute path",
    );
    // /dev/zero, absolute or through a link inside the tree, is never read.
    std::fs::write(apps.join("app.yaml"), hostile_manifest("/dev/zero")).unwrap();
    refused_by_validate_and_ids(
        &dir,
        "a/b/app.yaml",
        "a/b/app.yaml:6:17: error: image file `/dev/zero` is an absolute path",
    );
    std::os::unix::fs::symlink("/dev/zero", apps.join("zero.png")).unwrap();
    std::fs::write(apps.join("app.yaml"), hostile_manifest("zero.png")).unwrap();
    refused_by_validate_and_ids(
        &dir,
        "a/b",
        &format!(
            "a/b/app.yaml:6:17: error: image file `zero.png` resolves, through a symbolic link, to a file outside the folder being validated, {root}"
        ),
    );
}

#[test]
fn inside_a_git_work_tree_image_paths_may_use_the_whole_tree_but_not_leave_it() {
    let (_guard, dir) = tempdir();
    let repo = dir.join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(repo.join("apps")).unwrap();
    std::fs::create_dir_all(repo.join("shared")).unwrap();
    std::fs::write(
        repo.join("shared/hero.png"),
        retainctl::apple::image_rules::solid_png(3840, 160, [9, 9, 9], false),
    )
    .unwrap();
    std::fs::write(dir.join("outside.png"), b"not read").unwrap();
    std::fs::write(
        repo.join("apps/app.yaml"),
        hostile_manifest("../shared/hero.png"),
    )
    .unwrap();
    let out = retainctl(&repo, &["validate", "apps"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    std::fs::write(
        repo.join("apps/app.yaml"),
        hostile_manifest("../../outside.png"),
    )
    .unwrap();
    refused_by_validate_and_ids(
        &repo,
        "apps",
        &format!(
            "apps/app.yaml:6:17: error: image file `../../outside.png` is outside the git work tree {}",
            repo.display()
        ),
    );
}

#[test]
fn symlink_loops_in_a_folder_do_not_make_discovery_run_forever() {
    let w = crate::common::Workspace::new();
    w.write("app.yaml", &hostile_manifest("images/hero.png"));
    std::os::unix::fs::symlink(".", w.path().join("a")).unwrap();
    std::os::unix::fs::symlink(".", w.path().join("b")).unwrap();
    let out = retainctl(w.path(), &["validate", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("1 file, 1 app valid: 0 errors, 0 warnings"),
        "{}",
        text(&out)
    );
    let out = retainctl(w.path(), &["ids", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_utf8_byte_order_mark_is_accepted_named_or_found() {
    let w = crate::common::Workspace::new();
    let with_bom = format!("\u{feff}{}", hostile_manifest("images/hero.png"));
    w.write("app.yaml", &with_bom);
    for target in ["app.yaml", "."] {
        let out = retainctl(w.path(), &["validate", target]);
        assert_eq!(out.status.code(), Some(0), "{target}: {}", text(&out));
        assert!(
            text(&out).contains("1 file, 1 app valid: 0 errors, 0 warnings"),
            "{target}: {}",
            text(&out)
        );
    }
    let out = retainctl(w.path(), &["ids", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout_of(&out).starts_with("com.example.hostile\timage\thero\tFULL_SIZE\t"));
}

fn stdout_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn yaml_files_that_look_like_manifests_are_never_dropped_silently() {
    let w = crate::common::Workspace::new();
    w.write("ok/app.yaml", &hostile_manifest("../images/hero.png"));
    // A quoted key is still the declaration: the file is a manifest.
    let quoted = hostile_manifest("../images/hero.png")
        .replace("apiVersion:", "\"apiVersion\":")
        .replace("com.example.hostile", "com.example.quoted");
    w.write("quoted/app.yaml", &quoted);
    let out = retainctl(w.path(), &["validate", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("2 files, 2 apps valid: 0 errors, 0 warnings"),
        "{}",
        text(&out)
    );
    // A declaration with a typo: a warning names the file and the line.
    w.write(
        "typo/app.yaml",
        "# the app\napiversion: retainctl/v1\napp: {bundleId: com.example.typo, locales: [en-US]}\n",
    );
    // Only a mention, as in a workflow that greps for manifests: not a manifest, no warning.
    w.write(
        "ci/workflow.yml",
        "run: grep -rl '^apiVersion: retainctl/' retention\n",
    );
    // Latin-1 bytes in a manifest: an error at the byte, not a file left out.
    let mut latin1 = hostile_manifest("../images/hero.png")
        .replace("com.example.hostile", "com.example.latin")
        .into_bytes();
    let at = latin1.windows(4).position(|w| w == b"Stay").unwrap();
    latin1.splice(at..at + 4, *b"S\xe9jour");
    std::fs::create_dir_all(w.path().join("latin")).unwrap();
    std::fs::write(w.path().join("latin/app.yaml"), latin1).unwrap();
    // A FIFO named like a manifest: a warning, and no hang.
    mkfifo(&w.path().join("pipe.yaml"));
    let out = retainctl(w.path(), &["validate", "."]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    for line in [
        "./typo/app.yaml:2:1: warning: skipped: this line looks like a manifest's `apiVersion` but is not `apiVersion: retainctl/v1`",
        "./latin/app.yaml:11:18: error: the file is not UTF-8 text (byte 0xe9)",
        "./pipe.yaml:1:1: warning: skipped: the file is not a regular file (a FIFO)",
        "3 files, 2 apps valid: 1 error, 2 warnings",
    ] {
        assert!(
            all.lines().any(|l| l == line),
            "expected the line\n{line}\nin:\n{all}"
        );
    }
    // Named explicitly, the FIFO is an error, not a hang.
    refused_by_validate_and_ids(
        w.path(),
        "pipe.yaml",
        "pipe.yaml:1:1: error: cannot read file: it is not a regular file (a FIFO)",
    );
}

#[test]
fn a_huge_sparse_manifest_is_refused_before_reading() {
    let (_guard, dir) = tempdir();
    let file = std::fs::File::create(dir.join("big.yaml")).unwrap();
    file.set_len(100 << 30).unwrap();
    refused_by_validate_and_ids(
        &dir,
        "big.yaml",
        &format!(
            "big.yaml:1:1: error: cannot read file: it is 107374182400 bytes, more than the {} bytes allowed",
            retainctl::loader::MAX_MANIFEST_BYTES
        ),
    );
    // A device named as the manifest is never read (it would be read until memory ran out).
    refused_by_validate_and_ids(
        &dir,
        "/dev/zero",
        "/dev/zero:1:1: error: cannot read file: it is not a regular file (a character device)",
    );
}

/// Every hostile file at once, in one folder tree.
fn hostile_corpus(dir: &Path) {
    let app = |name: &str, image: &str| {
        let folder = dir.join(name);
        std::fs::create_dir_all(&folder).unwrap();
        let text =
            hostile_manifest(image).replace("com.example.hostile", &format!("com.example.{name}"));
        std::fs::write(folder.join("app.yaml"), text).unwrap();
        folder
    };
    let bomb = app("bomb", "bomb.png");
    std::fs::write(bomb.join("bomb.png"), png_bomb()).unwrap();
    let fifo = app("fifo", "pipe.png");
    mkfifo(&fifo.join("pipe.png"));
    let huge = app("huge", "huge.png");
    std::fs::File::create(huge.join("huge.png"))
        .unwrap()
        .set_len(100 << 30)
        .unwrap();
    app("absolute", "/dev/zero");
    let link = app("link", "zero.png");
    std::os::unix::fs::symlink("/dev/zero", link.join("zero.png")).unwrap();
    app("escape", "../../../../../../etc/passwd");
    let bom = app("bom", "../bomb/bomb.png");
    let text = std::fs::read_to_string(bom.join("app.yaml")).unwrap();
    std::fs::write(bom.join("app.yaml"), format!("\u{feff}{text}")).unwrap();
    let nul = app("nul", "x.png");
    std::fs::write(nul.join("app.yaml"), "apiVersion: retainctl/v1\napp:\0\n").unwrap();
    std::os::unix::fs::symlink(".", dir.join("loop-a")).unwrap();
    std::os::unix::fs::symlink(".", dir.join("loop-b")).unwrap();
    mkfifo(&dir.join("pipe.yaml"));
    std::fs::File::create(dir.join("big.yaml"))
        .unwrap()
        .set_len(100 << 30)
        .unwrap();
}

/// The address-space cap for each run: room for the runtime's threads and arenas and for
/// decoding a real image, far below what any of the hostile files would make it allocate.
const ADDRESS_SPACE: &str = "--as=1073741824";

#[test]
fn every_offline_command_survives_the_hostile_corpus_under_a_memory_cap() {
    use std::io::Write;
    if Command::new("prlimit").arg("--version").output().is_err() {
        writeln!(
            std::io::stderr(),
            "SKIPPED every_offline_command_survives_the_hostile_corpus_under_a_memory_cap: \
             `prlimit` (util-linux) is not installed; install util-linux to run it"
        )
        .unwrap();
        return;
    }
    let (_guard, dir) = tempdir();
    let corpus = dir.join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    hostile_corpus(&corpus);
    let under_cap = |dir: &Path, args: &[&str]| {
        let mut cmd = Command::new("prlimit");
        cmd.arg(ADDRESS_SPACE)
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_retainctl"))
            .args(args)
            .current_dir(dir)
            // Address space used by threads and malloc arenas grows with the core count:
            // pin both so that the cap means the same on a 2-core laptop and a 64-core CI.
            .env("TOKIO_WORKER_THREADS", "2")
            .env("MALLOC_ARENA_MAX", "2");
        run_bounded(cmd, LIMIT)
    };
    // The cap leaves room for honest work: a valid app passes under it.
    let w = crate::common::Workspace::new();
    w.write("app.yaml", &hostile_manifest("images/hero.png"));
    let out = under_cap(w.path(), &["plan", "--env", "local", "app.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for args in [
        &["validate", "corpus"][..],
        &["ids", "corpus"],
        &["plan", "--env", "local", "corpus"],
    ] {
        let out = under_cap(&dir, args);
        let all = text(&out);
        // 1: errors reported. Not 101 (panic), not 134 (abort), not killed by a signal.
        assert_eq!(out.status.code(), Some(1), "{args:?}: {all}");
        assert!(!all.contains("panicked"), "{args:?}: {all}");
        assert!(!all.contains("memory allocation"), "{args:?}: {all}");
        for name in ["bomb", "fifo", "huge", "absolute", "link", "escape", "nul"] {
            assert!(
                all.contains(&format!("corpus/{name}/app.yaml:")),
                "{args:?}: {name} reported in:\n{all}"
            );
        }
    }
}
