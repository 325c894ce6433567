//! The learning loop without an Apple account: apply a split (a control arm against a
//! message) to the simulator, serve it with `--decisions`, play a population of customers
//! whose true chances to turn auto-renew off are known (40 % when shown Apple's default,
//! 20 % when shown the message), let the simulator sign their notifications, pull them
//! with `notifications pull`, and find in `report` the configured rates inside the
//! intervals and the message named the better arm. Then the bad inputs: a notification
//! of another app, a decision log cut mid-line, a history page that fails halfway.

use std::path::Path;
use std::process::Command;

use retainctl::sim::perf::RealtimeSigner;
use serde_json::{Value, json};

use crate::common::world::{World, block_on};
use crate::common::{stderr, stdout};
use crate::serve::{ServeProcess, now_ms, post};

const KEY: &str = "a customer key of the tests, long enough";
const CUSTOMERS: u32 = 600;

fn manifest(app_apple_id: i64) -> String {
    format!(
        "\
apiVersion: retainctl/v1
app:
  bundleId: com.example.app
  locales: [en-US]
  products: [premium]
  appAppleId: {app_apple_id}
messages:
  stay:
    localizations:
      en-US:
        header: Stay with Premium
        body: Keep your plan.
defaults:
  premium: stay
realtime:
  - {{ product: premium, percent: 50, control: true }}
  - {{ product: premium, percent: 50, message: stay }}
"
    )
}

fn run(world: &World, args: &[&str]) -> std::process::Output {
    world
        .command(args)
        .env("RETAINCTL_CUSTOMER_KEY", KEY)
        .output()
        .unwrap()
}

/// Has the simulator sign and keep `events`; returns the signed payloads.
fn notify(world: &World, events: Value) -> Vec<String> {
    block_on(async {
        let response = reqwest::Client::new()
            .post(format!("{}/_sim/notifications", world.url))
            .json(&json!({ "bundleId": "com.example.app", "events": events }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        let answer: Value = response.json().await.unwrap();
        answer["signedPayloads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect()
    })
}

fn sim_root(world: &World) -> std::path::PathBuf {
    let pem = block_on(async {
        reqwest::get(format!("{}/_sim/realtime-root", world.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let path = world.path().join("sim-root.pem");
    std::fs::write(&path, pem).unwrap();
    path
}

/// Whether customer `i` turns auto-renew off, at the arm's true rate (deterministic).
fn cancels(i: u32, rate_percent: u32) -> bool {
    (i.wrapping_mul(2_654_435_761) >> 7) % 100 < rate_percent
}

/// The split manifest applied to the simulator, with the snapshot `serve` reads
/// (`snapshot.json`); returns the app's Apple ID (the simulator's for the bundle).
fn apply_split(world: &World) -> i64 {
    let app_apple_id = retainctl::sim::perf::app_apple_id("com.example.app");
    std::fs::write(world.path().join("app.yaml"), manifest(app_apple_id)).unwrap();
    let out = run(
        world,
        &[
            "apply",
            "--env",
            "sandbox",
            "--snapshot",
            "snapshot.json",
            "app.yaml",
        ],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    app_apple_id
}

/// `retainctl serve` of `snapshot.json` with the customer key and `args`, its log in
/// `LOG_NAME.log`.
fn serve(world: &World, log_name: &str, args: &[&str]) -> ServeProcess {
    let log = world.path().join(format!("{log_name}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--snapshot",
            "snapshot.json",
        ])
        .args(args)
        .current_dir(world.path())
        .env("RETAINCTL_CUSTOMER_KEY", KEY)
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    ServeProcess::attach(child, log)
}

/// SIGTERM, and the wait for the server to end.
fn stop(server: &mut ServeProcess) {
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    crate::serve::eventually("serve to stop", || {
        server.child.try_wait().unwrap().is_some()
    });
}

/// `notifications pull` of `app.yaml` from the world's simulator into `outcomes`,
/// trusting `root`, with the customer key and `extra`.
fn pull(world: &World, outcomes: &Path, root: &Path, extra: &[&str]) -> Command {
    let mut args = vec![
        "notifications",
        "pull",
        "--env",
        "sandbox",
        "--out",
        outcomes.to_str().unwrap(),
        "--trust-root",
        root.to_str().unwrap(),
        "app.yaml",
        // `notifications pull` talks to Apple: the world adds --base-url only for plan,
        // apply and status.
        "--base-url",
        &world.url,
    ];
    args.extend_from_slice(extra);
    let mut command = world.command(&args);
    command.env("RETAINCTL_CUSTOMER_KEY", KEY);
    command
}

#[test]
fn apply_serve_population_pull_report_finds_the_better_arm() {
    let world = World::new("sandbox");
    let app_apple_id = apply_split(&world);

    // Apple's realtime requests, signed by a chain the server is told to trust.
    let signer = RealtimeSigner::generate().unwrap();
    let root = world.path().join("realtime-root.pem");
    std::fs::write(&root, signer.root_pem()).unwrap();
    let decisions = world.path().join("decisions");
    let mut server = serve(
        &world,
        "serve",
        &[
            "--trust-root",
            root.to_str().unwrap(),
            "--decisions",
            decisions.to_str().unwrap(),
        ],
    );

    let (mut shown_message, mut shown_default) = (0, 0);
    let mut events = vec![];
    for i in 0..CUSTOMERS {
        let otid = format!("20000000{i:08}");
        let jws = signer
            .sign(&json!({
                "originalTransactionId": otid,
                "appAppleId": app_apple_id,
                "productId": "premium",
                "userLocale": "en-US",
                "requestIdentifier": uuid::Uuid::new_v4().to_string(),
                "signedDate": now_ms(),
                "environment": "Sandbox",
            }))
            .unwrap();
        let (status, _) = post(&server.url, &jws);
        let rate = match status {
            200 => {
                shown_message += 1;
                20
            }
            204 => {
                shown_default += 1;
                40
            }
            other => panic!("serve answered {other}: {}", server.log()),
        };
        if cancels(i, rate) {
            events.push(json!({
                "notificationType": "DID_CHANGE_RENEWAL_STATUS",
                "subtype": "AUTO_RENEW_DISABLED",
                "originalTransactionId": otid,
                "productId": "premium",
            }));
        }
    }
    assert!(
        shown_message > 200 && shown_default > 200,
        "{shown_message} / {shown_default}"
    );
    // SIGTERM right after the last answer: the decisions of every answered request are written before it ends.
    stop(&mut server);
    let written = std::fs::read_to_string(decisions.join("decisions.jsonl")).unwrap();
    assert_eq!(written.lines().count(), CUSTOMERS as usize);
    assert!(
        !written.contains("20000000"),
        "no raw transaction id is written"
    );

    // A notification of a customer never answered, and one the report does not count.
    events.push(json!({"notificationType": "DID_RENEW", "originalTransactionId": "2000000000000001", "productId": "premium"}));
    events.push(json!({"notificationType": "CONSUMPTION_REQUEST", "originalTransactionId": "2000000000000002", "productId": "premium"}));
    let notified = events.len();
    let signed = notify(&world, Value::Array(events));
    // The same notifications, sent live to a server receiving them (as Apple sends them
    // to the notification URL), land beside the pulled history and count once.
    let outcomes = world.path().join("outcomes");
    let receiver = serve(
        &world,
        "receiver",
        &[
            "--trust-root",
            sim_root(&world).to_str().unwrap(),
            "--notifications",
            outcomes.to_str().unwrap(),
        ],
    );
    let live = |jws: &str| -> u16 {
        block_on(async {
            reqwest::Client::new()
                .post(format!("{}/app-store-notifications", receiver.url))
                .json(&json!({ "signedPayload": jws }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    for jws in &signed[..10] {
        assert_eq!(live(jws), 200, "{}", receiver.log());
    }
    // Signed by a chain the receiver does not trust: refused, kept nowhere.
    let forged = signer
        .sign(
            &json!({"notificationType": "EXPIRED", "notificationUUID": "x", "signedDate": now_ms(),
            "data": {"bundleId": "com.example.app", "environment": "Sandbox"}}),
        )
        .unwrap();
    assert_eq!(live(&forged), 400);
    drop(receiver);
    assert_eq!(
        std::fs::read_to_string(outcomes.join("live-outcomes.jsonl"))
            .unwrap()
            .lines()
            .count(),
        10
    );
    let sim_root = sim_root(&world);
    let outcomes = world.path().join("outcomes");
    let pull = |extra: &[&str]| pull(&world, &outcomes, &sim_root, extra).output().unwrap();
    let out = pull(&["--since", "1d"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let pages = notified.div_ceil(20);
    assert!(
        stdout(&out).contains(&format!(
            "com.example.app · sandbox: {notified} read in {pages} pages, {} kept, 1 not counted, 0 skipped",
            notified - 1
        )),
        "{}",
        stdout(&out)
    );
    // A second pull starts an hour before the first ended (Apple may index late): it
    // reads the same notifications again, and the report counts each once.
    let again = pull(&[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains(&format!("{notified} read in")),
        "{}",
        stdout(&again)
    );

    let report = run(
        &world,
        &[
            "report",
            "--decisions",
            decisions.to_str().unwrap(),
            "--outcomes",
            outcomes.to_str().unwrap(),
            "--format",
            "json",
            "--chart",
            "chart.svg",
        ],
    );
    assert!(report.status.success(), "{}", stderr(&report));
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    let split = &report["splits"][0];
    let rate = |arm: &Value| {
        let r = &arm["autoRenewOff"];
        (r["low"].as_f64().unwrap(), r["high"].as_f64().unwrap())
    };
    let (low, high) = rate(&split["baseline"]);
    assert_eq!(split["baseline"]["answer"], "control");
    assert!(low < 0.40 && 0.40 < high, "control: {low}..{high}");
    let (low, high) = rate(&split["arms"][0]);
    assert!(low < 0.20 && 0.20 < high, "message: {low}..{high}");
    assert_eq!(
        split["verdict"],
        json!({"kind": "better", "rule": 1}),
        "{split:#}"
    );
    // The live ones and the second pull were read again: each counted once.
    assert_eq!(
        report["skipped"]["duplicateOutcomes"],
        10 + (notified as u64 - 1),
        "{report:#}"
    );
    let chart = std::fs::read_to_string(world.path().join("chart.svg")).unwrap();
    assert!(
        chart.starts_with("<svg") && chart.contains("rule 2 (message)"),
        "{chart}"
    );

    let text = run(
        &world,
        &[
            "report",
            "--decisions",
            decisions.to_str().unwrap(),
            "--outcomes",
            outcomes.to_str().unwrap(),
        ],
    );
    assert!(
        stdout(&text).contains("com.example.app · sandbox · split of rule 1: rule 2 (message) keeps more subscribers than rule 1 (control)"),
        "{}",
        stdout(&text)
    );
}

/// A pull stopped halfway (killed while Apple answers its second page) goes on from that
/// page: every notification is kept exactly once, and the first page is not read again.
#[test]
fn a_pull_stopped_halfway_goes_on_from_the_page_it_stopped_at() {
    let world = World::new("sandbox");
    let app_apple_id = retainctl::sim::perf::app_apple_id("com.example.app");
    std::fs::write(world.path().join("app.yaml"), manifest(app_apple_id)).unwrap();
    let events: Vec<Value> = (0..45)
        .map(|i| {
            json!({"notificationType": "EXPIRED", "originalTransactionId": format!("2000000000{i:06}"), "productId": "premium"})
        })
        .collect();
    notify(&world, Value::Array(events));
    let sim_root = sim_root(&world);
    let outcomes = world.path().join("outcomes");
    let pull = |extra: &[&str]| pull(&world, &outcomes, &sim_root, extra);
    // The first page is answered (upper-case-ids changes nothing here), the second held.
    let path = "/inApps/v1/notifications/history";
    world.set_faults(json!({"rules": [
        {"method": "POST", "path": path, "answer": "upperCaseIds", "times": 1},
        {"method": "POST", "path": path, "answer": {"hold": 20000}},
    ]}));
    let mut first = pull(&["--since", "1d"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    world.wait_held(1);
    first.kill().unwrap();
    first.wait().unwrap();
    world.set_faults(json!({}));
    world.release(None);
    let kept = || {
        std::fs::read_to_string(outcomes.join("outcomes-com.example.app-sandbox.jsonl"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    assert_eq!(kept(), 20, "the first page is kept");
    let out = pull(&[]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("com.example.app · sandbox: 25 read in 2 pages, 25 kept"),
        "{}",
        stdout(&out)
    );
    assert_eq!(kept(), 45);
}

/// What cannot be used is named and counted, never taken for a record: a decision log cut
/// mid-line, a window longer than Apple's history, a start Apple no longer keeps.
#[test]
fn a_cut_log_a_too_long_window_and_a_start_too_far_back_are_named() {
    let world = World::new("sandbox");
    std::fs::write(world.path().join("app.yaml"), manifest(1)).unwrap();
    let decisions = world.path().join("decisions");
    let outcomes = world.path().join("outcomes");
    std::fs::create_dir_all(&decisions).unwrap();
    std::fs::create_dir_all(&outcomes).unwrap();
    let line = r#"{"t":1,"app":"com.example.app","environment":"sandbox","product":"premium","locale":"en-US","rule":1,"split":0,"answer":"message","customer":"c1"}"#;
    std::fs::write(
        decisions.join("decisions.jsonl"),
        format!("{line}\n{}", &line[..40]),
    )
    .unwrap();
    // A line far longer than any record, then a good one: the first is read past.
    std::fs::write(
        decisions.join("decisions-0000000000001.jsonl"),
        format!("{}\n{line}\n", "x".repeat(300_000)),
    )
    .unwrap();
    let report = |extra: &[&str]| {
        let mut args = vec![
            "report",
            "--decisions",
            decisions.to_str().unwrap(),
            "--outcomes",
            outcomes.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run(&world, &args)
    };
    let out = report(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "decisions.jsonl:2: skipped: the last line is cut short (a write stopped mid-line)"
        ),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("decisions-0000000000001.jsonl:1: skipped: longer than any record"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).starts_with("2 decisions, 0 outcomes"),
        "{}",
        stdout(&out)
    );
    let out = report(&["--window", "200d"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("longer than the 180 days of notifications Apple keeps"),
        "{}",
        stderr(&out)
    );

    let out = world
        .command(&[
            "notifications",
            "pull",
            "--env",
            "sandbox",
            "--since",
            "60d",
            "--out",
            outcomes.to_str().unwrap(),
            "app.yaml",
            "--base-url",
            &world.url,
        ])
        .env("RETAINCTL_CUSTOMER_KEY", KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("StartDateTooFarInPast"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("30 in sandbox"), "{}", stderr(&out));
    // Without the key, nothing is pulled.
    let out = world
        .command(&[
            "notifications",
            "pull",
            "--env",
            "sandbox",
            "--since",
            "1d",
            "--out",
            "x",
            "app.yaml",
        ])
        .env_remove("RETAINCTL_CUSTOMER_KEY")
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("RETAINCTL_CUSTOMER_KEY is not set"),
        "{}",
        stderr(&out)
    );
}

/// The same loop with the simulator's own population (`retainctl sim population`): its
/// customers' requests are signed with the simulator's chain, their notifications sent
/// live to the server and kept in the history; the report finds the model's chances.
#[test]
fn the_simulators_population_closes_the_loop() {
    let world = World::new("sandbox");
    apply_split(&world);
    let root = sim_root(&world);
    let (decisions, outcomes) = (
        world.path().join("decisions"),
        world.path().join("outcomes"),
    );
    let mut server = serve(
        &world,
        "serve",
        &[
            "--trust-root",
            root.to_str().unwrap(),
            "--decisions",
            decisions.to_str().unwrap(),
            "--notifications",
            outcomes.to_str().unwrap(),
        ],
    );
    let model = json!({
        "realtimeUrl": format!("{}/retention", server.url),
        "notificationUrl": format!("{}/app-store-notifications", server.url),
        "bundleId": "com.example.app",
        "product": "premium",
        "locale": "en-US",
        "customers": 800,
        "seed": 11,
        "model": {
            "default": {"cancel": 0.4},
            "message": {"cancel": 0.15, "switch": 0.05},
        },
    });
    std::fs::write(world.path().join("model.json"), model.to_string()).unwrap();
    let out = world
        .command(&[
            "sim",
            "population",
            "--url",
            &world.url,
            "--model",
            "model.json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}\n{}",
        stdout(&out),
        stderr(&out),
        server.log()
    );
    assert!(stdout(&out).starts_with("answered: "), "{}", stdout(&out));
    stop(&mut server);
    let live = std::fs::read_to_string(outcomes.join("live-outcomes.jsonl")).unwrap();
    assert!(live.lines().count() > 100, "{live}");

    let report = run(
        &world,
        &[
            "report",
            "--decisions",
            decisions.to_str().unwrap(),
            "--outcomes",
            outcomes.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert!(report.status.success(), "{}", stderr(&report));
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    let split = &report["splits"][0];
    let inside = |r: &Value, truth: f64| {
        r["low"].as_f64().unwrap() < truth && truth < r["high"].as_f64().unwrap()
    };
    assert!(
        inside(&split["baseline"]["autoRenewOff"], 0.40),
        "{split:#}"
    );
    assert!(inside(&split["arms"][0]["autoRenewOff"], 0.15), "{split:#}");
    assert_eq!(
        split["verdict"],
        json!({"kind": "better", "rule": 1}),
        "{split:#}"
    );
    let message_row = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["answer"] == "message")
        .unwrap();
    assert!(
        inside(&message_row["switchedPlan"], 0.05),
        "{message_row:#}"
    );

    // The export, and the README's SQL over it in DuckDB, find the report's counts.
    let out = run(
        &world,
        &[
            "export",
            "--decisions",
            decisions.to_str().unwrap(),
            "--outcomes",
            outcomes.to_str().unwrap(),
            "--out",
            "export",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("exported 800 decisions and "),
        "{}",
        stdout(&out)
    );
    let parts: Vec<_> = std::fs::read_dir(world.path().join("export/decisions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(parts.iter().all(|p| p.starts_with("day=20")), "{parts:?}");
    let Some(python) = crate::apple_library::python_or_skip("the README's SQL in DuckDB") else {
        return;
    };
    let has_duckdb = Command::new(&python)
        .args(["-c", "import duckdb"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_duckdb {
        assert!(
            !crate::common::under_ci(),
            "duckdb is needed under CI: .ci/run installs it in .venv"
        );
        eprintln!("skipped: the README's SQL (no duckdb in {python})");
        return;
    }
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let sql = readme
        .split("```sql\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("the README's SQL")
        .replace("'export/", &format!("'{}/export/", world.path().display()));
    let script = format!(
        "import duckdb, json\nrows = duckdb.sql({sql:?}).fetchall()\nprint(json.dumps(rows))"
    );
    let ran = Command::new(&python)
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(ran.status.success(), "{}", stderr(&ran));
    let rows: Vec<Value> = serde_json::from_slice(&ran.stdout).unwrap();
    let mut from_sql: Vec<(String, u64, u64)> = rows
        .iter()
        .map(|r| {
            (
                r[2].as_str().unwrap().to_string(),
                r[5].as_u64().unwrap(),
                r[6].as_u64().unwrap(),
            )
        })
        .collect();
    let mut from_report: Vec<(String, u64, u64)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["answer"].as_str().unwrap().to_string(),
                r["shown"].as_u64().unwrap(),
                r["autoRenewOff"]["k"].as_u64().unwrap(),
            )
        })
        .collect();
    from_sql.sort();
    from_report.sort();
    assert_eq!(from_sql, from_report);
}
