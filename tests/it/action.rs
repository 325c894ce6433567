//! The GitHub Action's scripts (`action/`) against a local fake of GitHub's REST API on
//! loopback: the plan comment is created, then updated in place; the marker is found on a
//! later page of comments; a token without `pull-requests: write` gets a clear error and
//! the token never appears in the output. The apply report script writes the job summary
//! and outputs also when apply failed. Needs node (on GitHub's runners and under CI here);
//! without it the tests say they skipped, and under CI they fail.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use serde_json::{Value, json};

const GOOD: &str = "ghs_good_token_123";
const READ_ONLY: &str = "ghs_read_only_456";
const PER_PAGE: usize = 2;

#[derive(Default)]
struct Fake {
    /// id → body, in creation order.
    comments: BTreeMap<u64, String>,
    next_id: u64,
    /// "METHOD /path" of every request.
    log: Vec<String>,
    addr: String,
}

type Shared = Arc<Mutex<Fake>>;

fn token(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string()
}

fn refuse_writes(headers: &HeaderMap) -> Option<Response> {
    match token(headers).as_str() {
        GOOD => None,
        READ_ONLY => Some(
            (
                StatusCode::FORBIDDEN,
                axum::Json(json!({"message": "Resource not accessible by integration",
                    "documentation_url": "https://docs.github.com/rest/issues/comments"})),
            )
                .into_response(),
        ),
        _ => Some(
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"message": "Bad credentials"})),
            )
                .into_response(),
        ),
    }
}

async fn list(
    State(fake): State<Shared>,
    UrlPath((owner, repo, number)): UrlPath<(String, String, u64)>,
    Query(q): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if token(&headers) != GOOD && token(&headers) != READ_ONLY {
        return (StatusCode::UNAUTHORIZED, "{}").into_response();
    }
    let mut fake = fake.lock().unwrap();
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    fake.log.push(format!(
        "GET /repos/{owner}/{repo}/issues/{number}/comments page={page}"
    ));
    let all: Vec<Value> = fake
        .comments
        .iter()
        .map(|(id, body)| json!({"id": id, "body": body}))
        .collect();
    let slice: Vec<Value> = all
        .iter()
        .skip((page - 1) * PER_PAGE)
        .take(PER_PAGE)
        .cloned()
        .collect();
    let mut response = axum::Json(slice).into_response();
    if page * PER_PAGE < all.len() {
        let link = format!(
            "<http://{}/repos/{owner}/{repo}/issues/{number}/comments?per_page=100&page={}>; rel=\"next\", <http://{}/x?page=99>; rel=\"last\"",
            fake.addr,
            page + 1,
            fake.addr
        );
        response.headers_mut().insert("link", link.parse().unwrap());
    }
    response
}

async fn create(
    State(fake): State<Shared>,
    UrlPath((owner, repo, number)): UrlPath<(String, String, u64)>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let mut fake = fake.lock().unwrap();
    fake.log.push(format!(
        "POST /repos/{owner}/{repo}/issues/{number}/comments"
    ));
    if let Some(refused) = refuse_writes(&headers) {
        return refused;
    }
    fake.next_id += 1;
    let id = 1000 + fake.next_id;
    fake.comments
        .insert(id, body["body"].as_str().unwrap_or_default().to_string());
    (StatusCode::CREATED, axum::Json(json!({"id": id}))).into_response()
}

async fn update(
    State(fake): State<Shared>,
    UrlPath((owner, repo, id)): UrlPath<(String, String, u64)>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let mut fake = fake.lock().unwrap();
    fake.log
        .push(format!("PATCH /repos/{owner}/{repo}/issues/comments/{id}"));
    if let Some(refused) = refuse_writes(&headers) {
        return refused;
    }
    match fake.comments.get_mut(&id) {
        Some(c) => {
            *c = body["body"].as_str().unwrap_or_default().to_string();
            axum::Json(json!({"id": id})).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": "Not Found"})),
        )
            .into_response(),
    }
}

/// The fake API on a free loopback port, served from a thread of its own.
fn start() -> (Shared, String) {
    let fake: Shared = Arc::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let state = fake.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            state.lock().unwrap().addr = addr.clone();
            let app = Router::new()
                .route(
                    "/repos/{owner}/{repo}/issues/{number}/comments",
                    get(list).post(create),
                )
                .route("/repos/{owner}/{repo}/issues/comments/{id}", patch(update))
                .with_state(state);
            tx.send(addr).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    (fake, format!("http://{addr}"))
}

/// `node` when present; None (skip) outside CI, a failure under CI.
fn node() -> Option<&'static str> {
    let found = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "node is needed under CI for tests/it/action.rs"
        );
        eprintln!("skipped: node is not installed");
        return None;
    }
    Some("node")
}

fn script(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("action")
        .join(name)
}

fn comment(api: &str, token: &str, plan: &Path) -> Output {
    Command::new("node")
        .arg(script("comment.js"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GITHUB_TOKEN", token)
        .env("GITHUB_API_URL", api)
        .env("GITHUB_SERVER_URL", "https://github.example")
        .env("GITHUB_REPOSITORY", "acme/retention")
        .env("GITHUB_RUN_ID", "4242")
        .env("COMMIT_SHA", "0123456789abcdef0123456789abcdef01234567")
        .env("PR_NUMBER", "7")
        .env("PLAN_FILE", plan)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn marked(fake: &Shared) -> Vec<(u64, String)> {
    fake.lock()
        .unwrap()
        .comments
        .iter()
        .filter(|(_, b)| b.starts_with("<!-- retainctl:plan -->"))
        .map(|(id, b)| (*id, b.clone()))
        .collect()
}

#[test]
fn plan_comment_is_created_then_updated_in_place_across_pages() {
    if node().is_none() {
        return;
    }
    let (fake, api) = start();
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.md");
    // Other people's comments first, so that ours lands on page 2 (2 per page here).
    for (i, body) in ["LGTM", "please check the German copy", "<!-- other-bot -->"]
        .iter()
        .enumerate()
    {
        fake.lock()
            .unwrap()
            .comments
            .insert(i as u64 + 1, body.to_string());
    }

    std::fs::write(
        &plan,
        "<!-- retainctl:plan -->\n## retainctl plan\n1 to upload\n",
    )
    .unwrap();
    let first = comment(&api, GOOD, &plan);
    assert!(first.status.success(), "{}", text(&first));
    assert!(
        text(&first).contains("created the plan comment"),
        "{}",
        text(&first)
    );
    let mine = marked(&fake);
    assert_eq!(mine.len(), 1, "{mine:?}");
    let (id, body) = &mine[0];
    assert!(body.contains("1 to upload"), "{body}");
    assert!(body.contains("commit 0123456789ab"), "{body}");
    assert!(
        body.contains("https://github.example/acme/retention/actions/runs/4242"),
        "{body}"
    );

    std::fs::write(
        &plan,
        "<!-- retainctl:plan -->\n## retainctl plan\nno changes\n",
    )
    .unwrap();
    let second = comment(&api, GOOD, &plan);
    assert!(second.status.success(), "{}", text(&second));
    let mine = marked(&fake);
    assert_eq!(mine.len(), 1, "one plan comment, updated: {mine:?}");
    assert_eq!(mine[0].0, *id, "the same comment");
    assert!(mine[0].1.contains("no changes") && !mine[0].1.contains("1 to upload"));
    let log = fake.lock().unwrap().log.clone();
    assert!(
        log.iter().any(|l| l.ends_with("page=2")),
        "followed the Link header: {log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with(&format!("PATCH /repos/acme/retention/issues/comments/{id}")))
    );
    assert_eq!(
        log.iter().filter(|l| l.starts_with("POST")).count(),
        1,
        "{log:?}"
    );
    assert_eq!(
        fake.lock().unwrap().comments.len(),
        4,
        "others' comments untouched"
    );
}

#[test]
fn a_token_without_pull_request_write_is_reported_clearly() {
    if node().is_none() {
        return;
    }
    let (fake, api) = start();
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.md");
    std::fs::write(&plan, "<!-- retainctl:plan -->\nplan\n").unwrap();
    let out = comment(&api, READ_ONLY, &plan);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("::error"), "{said}");
    assert!(said.contains("403"), "{said}");
    assert!(said.contains("pull-requests: write"), "{said}");
    assert!(
        said.contains("Resource not accessible by integration"),
        "{said}"
    );
    assert!(!said.contains(READ_ONLY), "the token never appears: {said}");
    assert!(marked(&fake).is_empty());
}

fn apply_report(
    dir: &Path,
    code: &str,
    report: Option<&str>,
    markdown: Option<&str>,
) -> (Output, String, String) {
    let summary = dir.join("summary.md");
    let outputs = dir.join("outputs");
    let _ = std::fs::remove_file(&summary);
    let _ = std::fs::remove_file(&outputs);
    let report_file = dir.join("report.json");
    let md_file = dir.join("apply.md");
    let _ = std::fs::remove_file(&report_file);
    let _ = std::fs::remove_file(&md_file);
    if let Some(r) = report {
        std::fs::write(&report_file, r).unwrap();
    }
    if let Some(m) = markdown {
        std::fs::write(&md_file, m).unwrap();
    }
    let out = Command::new("node")
        .arg(script("apply-report.js"))
        .env("EXIT_CODE", code)
        .env("REPORT_FILE", &report_file)
        .env("MARKDOWN_FILE", &md_file)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &outputs)
        .output()
        .unwrap();
    (
        out,
        std::fs::read_to_string(&summary).unwrap_or_default(),
        std::fs::read_to_string(&outputs).unwrap_or_default(),
    )
}

#[test]
fn apply_report_writes_the_summary_and_outputs_also_on_failure() {
    if node().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let report = json!({
        "format_version": 1, "kind": "apply",
        "apps": [{"bundle_id": "com.example.app", "environment": "production", "file": "retention/app.yaml",
                  "actions": [{"type": "upload_message", "outcome": "written"},
                              {"type": "set_default", "outcome": "waiting"},
                              {"type": "set_default", "outcome": "blocked"}]}],
        "totals": {"written": 1, "already_there": 0, "waiting": 1, "blocked": 1, "failed": 0, "not_attempted": 0}
    })
    .to_string();
    let (out, summary, outputs) = apply_report(
        dir.path(),
        "2",
        Some(&report),
        Some("## retainctl apply\n1 written\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(summary.contains("1 written"), "{summary}");
    for line in [
        "exit-code=2",
        "waiting=1",
        "blocked=1",
        "rejected=true",
        "failed=0",
    ] {
        assert!(outputs.lines().any(|l| l == line), "{line} in {outputs}");
    }

    // apply stopped before any report (bad credentials, say): the summary still says so.
    let (out, summary, outputs) = apply_report(dir.path(), "1", None, None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        summary.contains("retainctl apply failed (exit 1)"),
        "{summary}"
    );
    assert!(outputs.lines().any(|l| l == "exit-code=1"), "{outputs}");
    assert!(outputs.lines().any(|l| l == "rejected=false"), "{outputs}");
}

/// A release archive as `release.yml` packs it, with a stand-in binary.
fn release_archive(dir: &Path, version: &str, target: &str) -> Vec<u8> {
    let name = format!("retainctl-v{version}-{target}");
    let folder = dir.join(&name);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("retainctl"),
        format!("#!/bin/sh\necho \"retainctl {version} (commit test)\"\n"),
    )
    .unwrap();
    let archive = dir.join(format!("{name}.tar.gz"));
    let ok = Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(dir)
        .arg(&name)
        .status()
        .unwrap();
    assert!(ok.success());
    std::fs::read(archive).unwrap()
}

/// Serves `files` (path → bytes) on loopback; anything else is 404.
fn serve_files(files: BTreeMap<String, Vec<u8>>) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap().to_string()).unwrap();
            let files = Arc::new(files);
            let app = Router::new().fallback(move |uri: axum::http::Uri| {
                let files = files.clone();
                async move {
                    match files.get(uri.path()) {
                        Some(bytes) => bytes.clone().into_response(),
                        None => StatusCode::NOT_FOUND.into_response(),
                    }
                }
            });
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{}", rx.recv().unwrap())
}

fn install(releases: &str, cache: &Path, github_path: &Path) -> Output {
    Command::new("bash")
        .arg(script("install.sh"))
        .env("RETAINCTL_VERSION", "9.9.9")
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("RUNNER_TOOL_CACHE", cache)
        .env("GITHUB_PATH", github_path)
        .env("RETAINCTL_RELEASES_URL", releases)
        .output()
        .unwrap()
}

#[test]
fn install_verifies_the_checksum_and_uses_the_tool_cache() {
    let tools = ["curl", "tar", "sha256sum"];
    if tools
        .iter()
        .any(|t| Command::new(t).arg("--version").output().is_err())
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tools:?} are needed under CI"
        );
        eprintln!("skipped: one of {tools:?} is missing");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let target = "x86_64-unknown-linux-musl";
    let archive = release_archive(dir.path(), "9.9.9", target);
    let name = format!("retainctl-v9.9.9-{target}.tar.gz");
    let sum = {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&archive);
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let good = serve_files(BTreeMap::from([
        (format!("/v9.9.9/{name}"), archive.clone()),
        (
            format!("/v9.9.9/{name}.sha256"),
            format!("{sum}  {name}\n").into_bytes(),
        ),
    ]));
    let bad = serve_files(BTreeMap::from([
        (format!("/v9.9.9/{name}"), archive),
        (
            format!("/v9.9.9/{name}.sha256"),
            format!("{}  {name}\n", "0".repeat(64)).into_bytes(),
        ),
    ]));

    let tampered_cache = dir.path().join("cache-bad");
    let out = install(&bad, &tampered_cache, &dir.path().join("path-bad"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("checksum mismatch"), "{}", text(&out));
    assert!(
        !tampered_cache
            .join(format!("retainctl/9.9.9/{target}/retainctl"))
            .exists()
    );

    let cache = dir.path().join("cache");
    let github_path = dir.path().join("path");
    let out = install(&good, &cache, &github_path);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("retainctl 9.9.9"), "{}", text(&out));
    let bin_dir = cache.join(format!("retainctl/9.9.9/{target}"));
    assert!(bin_dir.join("retainctl").exists());
    assert_eq!(
        std::fs::read_to_string(&github_path).unwrap().trim(),
        bin_dir.to_str().unwrap()
    );
    // Cached: a second install downloads nothing (the server is not even asked).
    let out = install("http://127.0.0.1:9", &cache, &github_path);
    assert!(out.status.success(), "{}", text(&out));
}

fn comment_with(api: &str, plan: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new("node");
    command
        .arg(script("comment.js"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GITHUB_TOKEN", GOOD)
        .env("GITHUB_API_URL", api)
        .env("GITHUB_REPOSITORY", "acme/retention")
        .env("PR_NUMBER", "7")
        .env("PLAN_FILE", plan);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

/// The plan comment links the gallery artifact at the marker retainctl writes, and when
/// the pictures could not be pushed, says so instead of showing broken images.
#[test]
fn plan_comment_links_the_gallery_and_never_shows_unpublished_pictures() {
    if node().is_none() {
        return;
    }
    let (fake, api) = start();
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.md");
    let url = "https://github.example/acme/retention/blob/retainctl-previews/pr-7/0123456789ab/{path}?raw=true";
    std::fs::write(
        &plan,
        "<!-- retainctl:plan -->\n### Previews\n\n1 changed localization, before and after. Gallery of all: `prev/index.html`. <!-- retainctl:previews-gallery -->\n\n\
         <img src=\"https://github.example/acme/retention/blob/retainctl-previews/pr-7/0123456789ab/app/stay/en-US.compare.png?raw=true\" width=\"480\" alt=\"stay\">\n\nrest of the plan\n",
    )
    .unwrap();
    let artifact = "https://github.example/acme/retention/actions/runs/4242/artifacts/99";
    let out = comment_with(
        &api,
        &plan,
        &[
            ("PREVIEWS_ARTIFACT_URL", artifact),
            ("PREVIEWS_URL", url),
            ("PREVIEWS_PUBLISHED", "true"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let body = marked(&fake)[0].1.clone();
    assert!(
        body.contains(&format!("[Download the gallery]({artifact})")),
        "{body}"
    );
    assert!(
        !body.contains("<!-- retainctl:previews-gallery -->"),
        "{body}"
    );
    assert!(
        body.contains(
            "<img src=\"https://github.example/acme/retention/blob/retainctl-previews/pr-7/"
        ),
        "{body}"
    );

    let out = comment_with(
        &api,
        &plan,
        &[("PREVIEWS_URL", url), ("PREVIEWS_PUBLISHED", "false")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let body = marked(&fake)[0].1.clone();
    assert!(!body.contains("<img"), "{body}");
    assert!(
        body.contains(
            "_Picture not published: this job cannot push the `retainctl-previews` branch."
        ),
        "{body}"
    );
    assert!(body.contains("rest of the plan"), "{body}");
}

fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.email=t@example.com",
            "-c",
            "user.name=t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn publish(workspace: &Path, previews: &Path, pr: &str, sha: &str, output: &Path) -> Output {
    Command::new("bash")
        .arg(script("previews.sh"))
        .env("GITHUB_WORKSPACE", workspace)
        .env("PREVIEWS_DIR", previews)
        .env("PR_NUMBER", pr)
        .env("COMMIT_SHA", sha)
        .env("GITHUB_OUTPUT", output)
        .output()
        .unwrap()
}

/// action/previews.sh against a local bare remote: the pictures land on the
/// retainctl-previews branch under pr-N/COMMIT/, a newer commit replaces that pull
/// request's older pictures (others' stay), the checkout is left as it was, and a push
/// that is refused is a warning with published=false.
#[test]
fn previews_are_pushed_to_their_branch_of_a_bare_remote() {
    let root = tempfile::tempdir().unwrap();
    let remote = root.path().join("remote.git");
    std::fs::create_dir(&remote).unwrap();
    git_in(&remote, &["init", "-q", "--bare"]);
    let work = root.path().join("work");
    git_in(
        root.path(),
        &["clone", "-q", remote.to_str().unwrap(), "work"],
    );
    std::fs::write(work.join("app.yaml"), "apiVersion: retainctl/v1\n").unwrap();
    git_in(&work, &["add", "-A"]);
    git_in(&work, &["commit", "-qm", "manifests"]);
    git_in(&work, &["push", "-q", "origin", "HEAD:main"]);
    let head = git_in(&work, &["rev-parse", "HEAD"]);

    let previews = root.path().join("previews");
    std::fs::create_dir_all(previews.join("app/stay")).unwrap();
    std::fs::write(previews.join("index.html"), "<html>gallery</html>").unwrap();
    std::fs::write(
        previews.join("app/stay/en-US.compare.png"),
        b"\x89PNG first",
    )
    .unwrap();
    let output = root.path().join("output");

    let first = publish(
        &work,
        &previews,
        "7",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        &output,
    );
    assert!(first.status.success(), "{}", text(&first));
    assert!(
        std::fs::read_to_string(&output)
            .unwrap()
            .contains("published=true")
    );
    let files = |rev: &str| git_in(&remote, &["ls-tree", "-r", "--name-only", rev]);
    let listed = files("retainctl-previews");
    assert!(
        listed.contains("pr-7/aaaaaaaaaaaa/app/stay/en-US.compare.png"),
        "{listed}"
    );
    assert!(listed.contains("pr-7/aaaaaaaaaaaa/index.html"), "{listed}");
    assert!(
        !listed.contains("app.yaml"),
        "only pictures on the branch: {listed}"
    );

    std::fs::write(
        previews.join("app/stay/en-US.compare.png"),
        b"\x89PNG second",
    )
    .unwrap();
    let other = publish(
        &work,
        &previews,
        "8",
        "cccccccccccccccccccccccccccccccccccccccc",
        &output,
    );
    assert!(other.status.success(), "{}", text(&other));
    let second = publish(
        &work,
        &previews,
        "7",
        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        &output,
    );
    assert!(second.status.success(), "{}", text(&second));
    let listed = files("retainctl-previews");
    assert!(!listed.contains("pr-7/aaaaaaaaaaaa"), "{listed}");
    assert!(
        listed.contains("pr-7/bbbbbbbbbbbb/app/stay/en-US.compare.png"),
        "{listed}"
    );
    assert!(listed.contains("pr-8/cccccccccccc/index.html"), "{listed}");
    let picture = git_in(
        &remote,
        &[
            "show",
            "retainctl-previews:pr-7/bbbbbbbbbbbb/app/stay/en-US.compare.png",
        ],
    );
    assert!(picture.ends_with("second"), "{picture}");
    // The checkout the action runs in is untouched.
    assert_eq!(git_in(&work, &["rev-parse", "HEAD"]), head);
    assert_eq!(git_in(&work, &["status", "--porcelain"]), "");
    assert_eq!(files("main").trim(), "app.yaml");

    // A remote that refuses the push: a warning, and the comment is told.
    git_in(
        &work,
        &["remote", "set-url", "origin", "/nonexistent/remote.git"],
    );
    std::fs::write(&output, "").unwrap();
    let refused = publish(
        &work,
        &previews,
        "7",
        "dddddddddddddddddddddddddddddddddddddddd",
        &output,
    );
    assert!(refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains(
            "::warning title=retainctl previews::cannot push the retainctl-previews branch"
        ),
        "{}",
        text(&refused)
    );
    assert!(
        std::fs::read_to_string(&output)
            .unwrap()
            .contains("published=false")
    );
}
