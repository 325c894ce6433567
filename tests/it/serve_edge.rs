//! `retainctl serve` attacked from outside, on loopback, as the open internet would: a
//! client holding more idle sockets than the connection budget, a log pipe nobody reads,
//! requests fully sent just before SIGTERM, bodies over the cap, unknown paths, flags out
//! of range; and what an operator reads: `/metrics`, `/readyz`, JSON logs, TLS.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::world::block_on;
use crate::serve::{
    ServeProcess, TRANSACTION, eventually, now_ms, payload, post, setup, write_snapshot,
};

fn address(server: &ServeProcess) -> String {
    server
        .url
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .to_string()
}

/// A whole HTTP/1.1 request carrying `body` to the realtime path.
fn raw_request(body: &str) -> Vec<u8> {
    format!(
        "POST /retention HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads one response from `stream`: its status, or None when the connection closed (or
/// stayed silent for 20 s) without one.
fn read_status(stream: &mut TcpStream) -> Option<u16> {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            if seen.len() >= end + 4 + length {
                let status = head.split(' ').nth(1)?.parse().ok()?;
                // keep what follows for the next response of the connection
                seen.drain(..end + 4 + length);
                return Some(status);
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
        }
    }
}

fn signed_body(s: &crate::serve::Setup) -> String {
    json!({ "signedPayload": s.signer.sign(&payload("p.monthly")).unwrap() }).to_string()
}

fn metrics(server: &ServeProcess) -> String {
    block_on(async {
        reqwest::get(format!("{}/metrics", server.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    })
}

/// The value of the metric line starting with `prefix` (name and labels).
fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The test process may open as many files as its hard limit allows.
fn raise_open_files() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer, on this test process.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

/// A client holding `count` idle sockets to `addr`, opening a new one for each the server
/// closes, until dropped.
struct IdleFlood {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl IdleFlood {
    fn start(addr: &str, count: usize) -> IdleFlood {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (flag, addr) = (stop.clone(), addr.to_string());
        let thread = std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = vec![];
            let deadline = Instant::now() + Duration::from_secs(120);
            while !flag.load(std::sync::atomic::Ordering::SeqCst) && Instant::now() < deadline {
                // keep the sockets the server has not closed
                held.retain(|s| {
                    let mut byte = [0u8; 1];
                    s.set_nonblocking(true).unwrap();
                    matches!(s.peek(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
                });
                while held.len() < count {
                    match TcpStream::connect(&addr) {
                        Ok(s) => held.push(s),
                        Err(_) => break,
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        IdleFlood {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for IdleFlood {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn a_client_holding_1100_idle_sockets_costs_real_clients_nothing() {
    raise_open_files();
    let s = setup();
    let server = s.serve();
    let flood = IdleFlood::start(&address(&server), 1100);
    // A real client waits as long as serve's own request deadline: on a loaded machine
    // (the whole suite on two cores) an answer may take seconds, and it still counts.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let scrape = || {
        block_on(async {
            let r = client
                .get(format!("{}/metrics", server.url))
                .send()
                .await
                .ok()?;
            r.text().await.ok()
        })
    };
    // the flood fills the connection budget (1,024) before any real client comes
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let open = scrape()
            .and_then(|t| metric(&t, "retainctl_serve_connections_open"))
            .unwrap_or(0.0);
        if open >= 1000.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the idle flood never filled the budget ({open} open), or scrapes starved"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut answered = 0;
    let mut missed = vec![];
    for _ in 0..24 {
        let jws = s.signer.sign(&payload("p.monthly")).unwrap();
        let status = block_on(async {
            client
                .post(format!("{}/retention", server.url))
                .json(&json!({ "signedPayload": jws }))
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
        match status {
            Ok(200) => answered += 1,
            other => missed.push(format!("{other:?}")),
        }
    }
    assert_eq!(
        answered, 24,
        "real requests starved by idle sockets: {missed:?}"
    );
    let text = scrape().expect("metrics answered during the flood");
    assert!(
        metric(&text, "retainctl_serve_connections_shed_total").unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    drop(flood);
}

#[test]
fn a_log_pipe_nobody_reads_never_stalls_answers_and_drops_are_counted() {
    let s = setup();
    let child = Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .args(["serve", "--listen", "127.0.0.1:0", "--snapshot"])
        .arg(&s.snapshot)
        .arg("--trust-root")
        .arg(&s.root)
        .env("RUST_LOG", "retainctl::serve=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = ServeProcess::attach(child, s.dir.path().join("no-log"));
    // held, never read: the pipe fills after a few hundred lines
    let _stderr = server.child.stderr.take();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let url = format!("{}/retention", server.url);
    // two log lines a refusal: far more than the pipe and the writer's queue hold
    let refused = block_on(async {
        let mut refused = 0;
        for _ in 0..12_000 {
            let status = client
                .post(&url)
                .body("{\"signedPayload\": \"x\"}")
                .send()
                .await
                .expect("answered despite the stalled log")
                .status();
            if status == 400 {
                refused += 1;
            }
        }
        refused
    });
    assert_eq!(refused, 12_000);
    let (status, body) = post(&server.url, &s.signer.sign(&payload("p.x")).unwrap());
    assert_eq!(status, 200, "{body}");
    let text = metrics(&server);
    assert!(
        metric(&text, "retainctl_serve_log_lines_dropped_total").unwrap_or(0.0) > 0.0,
        "{text}"
    );
}

#[test]
fn requests_fully_sent_before_sigterm_are_all_answered() {
    let s = setup();
    let mut server = s.serve();
    let addr = address(&server);
    // kept-alive connections that have been answered once
    let mut kept: Vec<TcpStream> = (0..40)
        .map(|_| {
            let mut c = TcpStream::connect(&addr).unwrap();
            c.write_all(&raw_request(&signed_body(&s))).unwrap();
            assert_eq!(read_status(&mut c), Some(200));
            c
        })
        .collect();
    let second = raw_request(&signed_body(&s));
    for c in &mut kept {
        c.write_all(&second).unwrap();
    }
    // and new connections, still in the listen queue when the signal arrives
    let mut fresh: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut c = TcpStream::connect(&addr).unwrap();
            c.write_all(&second).unwrap();
            c
        })
        .collect();
    let pid = server.child.id() as libc::pid_t;
    // SAFETY: a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let statuses: Vec<Option<u16>> = kept
        .iter_mut()
        .chain(fresh.iter_mut())
        .map(read_status)
        .collect();
    assert!(
        statuses.iter().all(|s| *s == Some(200)),
        "unanswered after SIGTERM: {statuses:?}\n{}",
        server.log()
    );
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn errors_have_short_bodies_of_our_own() {
    let s = setup();
    let server = s.serve();
    let client = reqwest::Client::new();
    let (status, body) = block_on(async {
        let r = client
            .post(format!("{}/retention", server.url))
            .body(vec![b'x'; 70 * 1024])
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    });
    assert_eq!(
        (status, body.as_str()),
        (413, "request body over 65536 bytes\n")
    );
    for (method, path, expected) in [
        // every path takes the POST (the realtime URL's path is the operator's)
        ("GET", "/nowhere", (405, "Method Not Allowed\n")),
        ("PUT", "/retention", (405, "Method Not Allowed\n")),
    ] {
        let got = block_on(async {
            let r = client
                .request(method.parse().unwrap(), format!("{}{path}", server.url))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        });
        assert_eq!((got.0, got.1.as_str()), expected, "{method} {path}");
    }
}

#[test]
fn a_reload_interval_outside_100ms_to_1h_is_refused() {
    let s = setup();
    for interval in ["0", "1ns", "99ms", "2h"] {
        let out = Command::new(env!("CARGO_BIN_EXE_retainctl"))
            .args(["serve", "--listen", "127.0.0.1:0", "--snapshot"])
            .arg(&s.snapshot)
            .args(["--reload-interval", interval])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{interval}: {err}");
        assert!(
            err.contains("--reload-interval") && err.contains("outside 100ms to 1h"),
            "{interval}: {err}"
        );
    }
}

#[test]
fn metrics_count_requests_by_outcome_and_readyz_says_ready() {
    let s = setup();
    let server = s.serve();
    let (status, ready) = block_on(async {
        let r = reqwest::get(format!("{}/readyz", server.url))
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    });
    assert_eq!((status, ready.as_str()), (200, "ready\n"));
    assert_eq!(
        post(&server.url, &s.signer.sign(&payload("p.x")).unwrap()).0,
        200
    );
    let mut french = payload("p.x");
    french["userLocale"] = json!("fr-FR");
    assert_eq!(post(&server.url, &s.signer.sign(&french).unwrap()).0, 204);
    let mut old = payload("p.x");
    old["signedDate"] = json!(now_ms() - 6 * 60 * 1000);
    assert_eq!(post(&server.url, &s.signer.sign(&old).unwrap()).0, 401);
    let text = metrics(&server);
    for (line, value) in [
        (
            r#"retainctl_serve_requests_total{app="com.example.app",environment="sandbox",outcome="message",reason=""}"#,
            1.0,
        ),
        (
            r#"retainctl_serve_requests_total{app="com.example.app",environment="sandbox",outcome="no_content",reason=""}"#,
            1.0,
        ),
        (
            r#"retainctl_serve_requests_total{app="",environment="sandbox",outcome="refused",reason="expired"}"#,
            1.0,
        ),
        ("retainctl_serve_answer_seconds_count", 3.0),
        ("retainctl_serve_snapshot_generation", 1.0),
        ("retainctl_serve_reload_failures_total", 0.0),
    ] {
        assert_eq!(metric(&text, line), Some(value), "{line}\n{text}");
    }
    assert!(text.contains("retainctl_serve_snapshot_info{source=\"file\",sha256=\""));
    assert!(metric(&text, "retainctl_serve_connections_open").unwrap() >= 1.0);
    assert!(metric(&text, "retainctl_serve_snapshot_age_seconds").is_some());
    assert!(!text.contains(TRANSACTION));
    // a new snapshot: the generation moves on; a broken one counts a failure
    write_snapshot(&s.snapshot, 0xbeef);
    eventually("the generation moves", || {
        metric(&metrics(&server), "retainctl_serve_snapshot_generation") == Some(2.0)
    });
    std::fs::write(&s.snapshot, "{").unwrap();
    eventually("the failure is counted", || {
        metric(&metrics(&server), "retainctl_serve_reload_failures_total").unwrap_or(0.0) >= 1.0
    });
}

#[test]
fn json_logs_are_one_object_a_line_and_hash_the_transaction() {
    let s = setup();
    let server = s.serve_with(&["--log-format", "json"]);
    assert_eq!(
        post(&server.url, &s.signer.sign(&payload("p.x")).unwrap()).0,
        200
    );
    eventually("the answer is logged", || {
        server.log().contains("realtime answered")
    });
    let log = server.log();
    let answered: Value = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .find(|v| v["message"] == "realtime answered")
        .unwrap();
    assert_eq!(answered["level"], "INFO");
    assert_eq!(answered["tx"].as_str().unwrap().len(), 16, "{answered}");
    assert!(!log.contains(TRANSACTION), "{log}");
}

#[test]
fn a_snapshot_that_arrives_by_reload_gets_the_warnings_start_gives() {
    let s = setup();
    let server = s.serve();
    let mut snapshot: Value =
        serde_json::from_str(&std::fs::read_to_string(&s.snapshot).unwrap()).unwrap();
    snapshot["source"] = json!("simulator");
    let tmp = s.snapshot.with_extension("tmp");
    std::fs::write(&tmp, snapshot.to_string()).unwrap();
    std::fs::rename(&tmp, &s.snapshot).unwrap();
    eventually("the simulator warning on reload", || {
        let log = server.log();
        log.contains("snapshot reloaded")
            && log.contains("was written from the simulator (--env local): Apple knows none")
    });
}

#[test]
fn tls_is_served_with_the_certificate_given_and_a_renewed_one_is_picked_up() {
    let s = setup();
    let write_pair = |name: &str| {
        let pair = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let cert = pair.cert.pem();
        std::fs::write(s.dir.path().join(format!("{name}.tmp")), &cert).unwrap();
        std::fs::rename(
            s.dir.path().join(format!("{name}.tmp")),
            s.dir.path().join("tls.crt"),
        )
        .unwrap();
        std::fs::write(
            s.dir.path().join("tls.key"),
            pair.signing_key.serialize_pem(),
        )
        .unwrap();
        cert
    };
    let first = write_pair("first");
    let server = ServeProcess::spawn(
        s.dir.path(),
        &[
            "--snapshot",
            s.snapshot.to_str().unwrap(),
            "--trust-root",
            s.root.to_str().unwrap(),
            "--tls-cert",
            "tls.crt",
            "--tls-key",
            "tls.key",
        ],
    );
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let healthz = |trusted: &str| {
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(trusted.as_bytes()).unwrap()])
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        block_on(async {
            client
                .get(format!("{}/healthz", server.url))
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    };
    assert_eq!(healthz(&first).unwrap(), 200);
    // plain http on the TLS port is not answered
    let mut plain = TcpStream::connect(address(&server)).unwrap();
    plain.write_all(&raw_request("{}")).unwrap();
    assert_ne!(read_status(&mut plain), Some(200));
    let renewed = write_pair("second");
    let deadline = Instant::now() + Duration::from_secs(20);
    while healthz(&renewed).is_err() {
        assert!(
            Instant::now() < deadline,
            "the renewed certificate is never served"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        healthz(&first).is_err(),
        "the old certificate is still served"
    );
}
