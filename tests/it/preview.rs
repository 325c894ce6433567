//! `retainctl preview`, `plan --previews` and `validate`'s fit warnings, looked at from
//! outside: tesseract reads the words back from a rendered page, headless Chromium opens
//! the gallery and finds every picture loaded (and a missing one broken), the plan draws
//! only what changed, and bad input gets an error naming what and where. Tesseract and
//! Chromium come from Debian (`.ci/run` installs them); without them the tests that need
//! them say they skipped, and under CI they fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Workspace, stderr, stdout, under_ci};

const MANIFEST: &str = "\
apiVersion: retainctl/v1
app:
  bundleId: com.example.preview
  locales: [en-US, ar-SA, ja]
images:
  hero: { file: images/hero.png, size: FULL_SIZE }
  check: { file: images/check.png, size: BULLET_POINT }
messages:
  stay:
    headerPosition: ABOVE_IMAGE
    localizations:
      en-US:
        header: Wonderful reasons to stay
        body: Keep every photo safely backed up forever.
        image: { ref: hero, altText: A hero picture }
        bulletPoints:
          - { text: Unlimited storage, image: check, altText: check mark }
      ar-SA:
        header: ابق معنا
        body: احتفظ بصورك
        image: { ref: hero, altText: صورة }
      ja:
        header: お待ちください
        body: 3か月間半額
        image: { ref: hero, altText: 画像 }
  offer:
    kind: promotional-offer
    localizations:
      en-US: { header: Half price, body: Three months at half price. }
";

fn workspace() -> Workspace {
    let ws = Workspace::new();
    ws.write("app.yaml", MANIFEST);
    ws
}

/// A Debian tool the test needs: its path, or `None` (skipped) outside CI.
fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            !under_ci(),
            "{name} is not installed: .ci/run installs it with apt-get"
        );
        eprintln!("skipped: {name} is not installed");
    }
    found
}

fn ocr(tesseract: &Path, png: &Path) -> String {
    let out = Command::new(tesseract)
        .arg(png)
        .arg("stdout")
        .output()
        .expect("run tesseract");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

/// Opens `page` in headless Chromium through a probe page that counts the gallery's
/// pictures that loaded and those that did not; returns (loaded, broken).
fn images_in_chromium(chromium: &Path, gallery: &Path, screenshot: &Path) -> (usize, usize) {
    let probe = gallery.join("probe.html");
    std::fs::write(
        &probe,
        "<!doctype html><html><body><iframe id=g src=\"index.html\" width=1200 height=900></iframe><pre id=out>waiting</pre>\
         <script>document.getElementById('g').onload = () => {\
           const imgs = [...document.getElementById('g').contentDocument.images];\
           const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;\
           document.getElementById('out').textContent = 'loaded=' + ok + ' broken=' + (imgs.length - ok);\
         };</script></body></html>",
    )
    .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--allow-file-access-from-files",
        "--virtual-time-budget=10000",
    ];
    let dom = Command::new(chromium)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", probe.display()))
        .output()
        .expect("run chromium");
    let text = stdout(&dom);
    let shot = Command::new(chromium)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg("--window-size=1280,1600")
        .arg(format!("file://{}", gallery.join("index.html").display()))
        .output()
        .expect("run chromium");
    assert!(shot.status.success(), "{}", stderr(&shot));
    std::fs::remove_file(&probe).unwrap();
    let counts = text
        .split("loaded=")
        .nth(1)
        .unwrap_or_else(|| panic!("the probe did not report: {text}\n{}", stderr(&dom)));
    let number = |s: &str| -> usize {
        s.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap()
    };
    let broken = counts.split("broken=").nth(1).unwrap();
    (number(counts), number(broken))
}

#[test]
fn the_gallery_shows_every_page_and_ocr_reads_the_words_back() {
    let ws = workspace();
    let out = ws.run(&["preview", ".", "--out", "gallery"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "Drew 8 pictures of 4 localizations into gallery/index.html (0 warnings)\n",
        "{}",
        stderr(&out)
    );
    let pages = ws.path().join("gallery/com.example.preview");
    for name in [
        "stay/en-US.light.png",
        "stay/en-US.dark.png",
        "stay/ar-SA.light.png",
        "stay/ja.dark.png",
        "offer/en-US.light.png",
    ] {
        assert!(pages.join(name).is_file(), "{name}");
    }
    let html = std::fs::read_to_string(ws.path().join("gallery/index.html")).unwrap();
    assert_eq!(html.matches("<img ").count(), 8);

    if let Some(tesseract) = tool("tesseract") {
        let words = ocr(&tesseract, &pages.join("stay/en-US.light.png"));
        for word in [
            "Wonderful",
            "reasons",
            "photo",
            "forever",
            "Unlimited",
            "Cancel Subscription",
        ] {
            assert!(words.contains(word), "OCR missed {word:?} in: {words}");
        }
        let offer = ocr(&tesseract, &pages.join("offer/en-US.dark.png"));
        assert!(offer.contains("Half price"), "{offer}");
        assert!(offer.contains("App Store adds the offer"), "{offer}");
        assert!(!offer.contains("Wonderful"), "{offer}");
    }

    if let Some(chromium) = tool("chromium") {
        let gallery = ws.path().join("gallery");
        let shot = ws.path().join("gallery.png");
        assert_eq!(images_in_chromium(&chromium, &gallery, &shot), (8, 0));
        let screenshot = std::fs::read(&shot).unwrap();
        assert!(screenshot.starts_with(b"\x89PNG") && screenshot.len() > 10_000);
        // The probe sees a picture that is not there.
        std::fs::remove_file(pages.join("stay/ja.light.png")).unwrap();
        assert_eq!(images_in_chromium(&chromium, &gallery, &shot), (7, 1));
    }
}

#[test]
fn filters_choose_what_is_drawn_and_a_second_run_replaces_the_gallery() {
    let ws = workspace();
    let out = ws.run(&[
        "preview",
        "--out",
        "g",
        "--message",
        "offer",
        "--appearance",
        "dark",
    ]);
    assert_eq!(
        stdout(&out),
        "Drew 1 picture of 1 localization into g/index.html (0 warnings)\n",
        "{}",
        stderr(&out)
    );
    let out = ws.run(&["preview", "--out", "g", "--locale", "ja", "--scale", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!ws.path().join("g/com.example.preview/offer").exists());
    let ja = ws.path().join("g/com.example.preview/stay/ja.light.png");
    let size = retainctl::apple::image_rules::inspect(&std::fs::read(ja).unwrap()).unwrap();
    assert_eq!(size.width, 786);

    let out = ws.run(&["preview", "--out", "g", "--app", "com.example.other"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--app com.example.other matches nothing in the manifests"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_folders_and_fonts_are_named_and_nothing_is_half_written() {
    let ws = workspace();
    // Someone else's folder is never replaced.
    ws.write("mine/notes.txt", "keep me");
    let out = ws.run(&["preview", "--out", "mine"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("mine exists and is not a gallery retainctl wrote"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(ws.path().join("mine/notes.txt")).unwrap(),
        "keep me"
    );
    // A folder that cannot be made.
    ws.write("file", "x");
    let out = ws.run(&["preview", "--out", "file/gallery"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("file"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    // A font folder that does not exist: refused before anything is drawn.
    let out = ws.run(&["preview", "--out", "g", "--fonts", "no-such-fonts"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("font folder no-such-fonts does not exist or is not a folder"),
        "{}",
        stderr(&out)
    );
    assert!(!ws.path().join("g").exists());
    // A path that climbs back (`new/..` is this very folder) is refused, and nothing of
    // the folder is touched.
    for climbing in ["new/..", "."] {
        let out = ws.run(&["preview", "--out", climbing]);
        assert_eq!(out.status.code(), Some(1), "{climbing}");
        assert!(
            stderr(&out).contains("give the gallery folder a name of its own, without `.` or `..`"),
            "{climbing}: {}",
            stderr(&out)
        );
        assert!(ws.path().join("app.yaml").is_file());
        assert!(ws.path().join("mine/notes.txt").is_file());
    }
    // A link is not followed, nor replaced.
    std::os::unix::fs::symlink(ws.path().join("mine"), ws.path().join("link")).unwrap();
    let out = ws.run(&["preview", "--out", "link"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("link is a symbolic link"),
        "{}",
        stderr(&out)
    );
    // From inside an earlier gallery, it is not replaced under our feet.
    let out = ws.run(&["preview", "--out", "g"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let inside = Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .args(["preview", "..", "--out", "../g"])
        .current_dir(ws.path().join("g"))
        .output()
        .unwrap();
    assert_eq!(inside.status.code(), Some(1));
    assert!(
        stderr(&inside).contains("holds the current folder"),
        "{}",
        stderr(&inside)
    );
    assert!(ws.path().join("g/index.html").is_file());
    // No leftovers of unfinished galleries beside the folders.
    let hidden: Vec<String> = std::fs::read_dir(ws.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-") || n.contains(".old-"))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}

/// Keys too long for a file name once made safe, and keys that differ only in case, get
/// files of their own.
#[test]
fn every_key_gets_a_file_of_its_own() {
    let ws = workspace();
    let long_key = "とても長いメッセージのキーとても長いメッセージのキーとても長いメッセージ";
    let manifest = MANIFEST.replace("  offer:\n", &format!("  {long_key}:\n    localizations:\n      en-US: {{ header: Long, body: Long key. }}\n  Stay:\n    localizations:\n      en-US: {{ header: Upper, body: Upper case. }}\n  offer:\n"));
    ws.write("app.yaml", &manifest);
    let out = ws.run(&[
        "preview",
        "--out",
        "g",
        "--locale",
        "en-US",
        "--appearance",
        "light",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let files = walk(&ws.path().join("g"));
    let pngs: Vec<&String> = files.iter().filter(|f| f.ends_with(".png")).collect();
    assert_eq!(pngs.len(), 4, "{files:?}");
    assert!(
        pngs.iter()
            .all(|f| f.split('/').all(|part| part.len() <= 100)),
        "{pngs:?}"
    );
    assert!(pngs.iter().any(|f| f.contains("/Stay~")), "{pngs:?}");
    assert!(pngs.iter().any(|f| f.contains("/stay/")), "{pngs:?}");
}

#[test]
fn a_script_no_font_covers_is_a_warning_at_its_field() {
    let ws = workspace();
    // Only the embedded Noto Sans: it has no Japanese and no Arabic.
    let out = ws.run(&[
        "preview",
        "--out",
        "g",
        "--no-system-fonts",
        "--locale",
        "ja",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    // preview points at the localization; validate (below) at the field itself.
    assert!(
        err.contains(
            "./app.yaml:23:15: warning: message `stay` (ja): no font has `お` (U+304A), `待` (U+5F85), `ち` (U+3061) and 4 more characters in the header; the preview draws a box"
        ),
        "{err}"
    );
    assert!(
        err.contains("./app.yaml:23:15: warning: message `stay` (ja): no font has `か` (U+304B), `月` (U+6708), `間` (U+9593) and 2 more characters in the body"),
        "{err}"
    );
    assert!(stdout(&out).ends_with("(2 warnings)\n"), "{}", stdout(&out));
    let out = ws.run(&["validate", "--no-system-fonts"]);
    assert!(out.status.success(), "{}", stdout(&out));
    let text = stdout(&out);
    for expected in [
        "./app.yaml:23:17: warning: message `stay` (ja): no font has `お` (U+304A)",
        "./app.yaml:24:15: warning: message `stay` (ja): no font has `か` (U+304B)",
        "./app.yaml:19:17: warning: message `stay` (ar-SA): no font has `ا` (U+0627)",
    ] {
        assert!(text.contains(expected), "{expected}\n{text}");
    }
    // With the machine's fonts (CI installs Noto for every script), nothing is missing.
    if under_ci() {
        let out = ws.run(&["validate"]);
        assert!(stdout(&out).ends_with(", 0 warnings\n"), "{}", stdout(&out));
    }
}

#[test]
fn validate_warns_where_text_takes_more_lines_than_the_page_shows() {
    let ws = workspace();
    let long = MANIFEST.replace(
        "{ text: Unlimited storage,",
        "{ text: MAXIMUM MEMORY FOR WORKOUTS AND MOMENTS AND MEMORIES WITH MOM W,",
    );
    ws.write("app.yaml", &long);
    let out = ws.run(&["validate"]);
    assert!(out.status.success(), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "./app.yaml:17:21: warning: message `stay` (en-US): the bullet point 1 takes 3 lines on the page, which shows 2"
        ),
        "{text}"
    );
    assert!(text.ends_with("0 errors, 1 warning\n"), "{text}");
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
}

#[test]
fn plan_previews_draws_only_what_changed_before_and_after() {
    let ws = workspace();
    git(ws.path(), &["init", "-q"]);
    std::fs::write(ws.path().join(".gitignore"), ".retainctl/\nprev/\n").unwrap();
    git(ws.path(), &["add", "-A"]);
    git(ws.path(), &["commit", "-qm", "base"]);
    let out = ws.run(&["apply", "--env", "local", "."]);
    assert!(out.status.success(), "{}", stderr(&out));
    ws.write(
        "app.yaml",
        &MANIFEST.replace(
            "body: Three months at half price.",
            "body: Six months at half price.",
        ),
    );
    let out = ws.run(&[
        "plan",
        "--env",
        "local",
        "--base",
        "HEAD",
        "--previews",
        "prev",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let previews = &plan["previews"];
    assert_eq!(previews["folder"], "prev");
    let list = previews["localizations"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{previews:#}");
    assert_eq!(list[0]["messageKey"], "offer");
    assert_eq!(list[0]["change"], "changed");
    assert_eq!(
        list[0]["sideBySide"],
        "com.example.preview/offer/en-US.compare.png"
    );
    let mut files: Vec<String> = walk(&ws.path().join("prev"));
    files.sort();
    assert_eq!(
        files,
        [
            ".retainctl-gallery",
            "com.example.preview/offer/en-US.after.dark.png",
            "com.example.preview/offer/en-US.after.light.png",
            "com.example.preview/offer/en-US.before.dark.png",
            "com.example.preview/offer/en-US.before.light.png",
            "com.example.preview/offer/en-US.compare.png",
            "index.html",
        ]
    );
    if let Some(tesseract) = tool("tesseract") {
        let words = ocr(
            &tesseract,
            &ws.path()
                .join("prev/com.example.preview/offer/en-US.compare.png"),
        );
        for w in ["BEFORE", "AFTER", "Three months", "Six months"] {
            assert!(words.contains(w), "OCR missed {w:?} in: {words}");
        }
    }
    let out = ws.run(&[
        "plan",
        "--env",
        "local",
        "--previews",
        "prev",
        "--previews-url",
        "https://example.test/previews/",
        "--format",
        "markdown",
    ]);
    let md = stdout(&out);
    assert!(
        md.contains("1 changed localization, before and after"),
        "{md}"
    );
    assert!(
        md.contains(
            "<img src=\"https://example.test/previews/com.example.preview/offer/en-US.compare.png\""
        ),
        "{md}"
    );
    // Without --base there is no before: the message is drawn as new.
    assert!(md.contains("(new)"), "{md}");
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = vec![];
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(dir).unwrap();
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    out
}
