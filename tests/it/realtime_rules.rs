//! Realtime rules through the real binary: `validate` of the `realtime:` section (every
//! error at its file:line:col), and `apply --snapshot` against the simulator (approved
//! content only, the last approved version kept while a new one is pending, nothing
//! served pruned).

use crate::common::{Workspace, stdout};

/// A valid app with one message of each kind; `{rules}` is the `realtime:` list.
const HEAD: &str = "\
apiVersion: retainctl/v1
app:
  bundleId: com.example.app
  locales: [en-US, de-DE]
  products: [premium.yearly, premium.monthly]
  appAppleId: 1234567890
  offerSigning: { keyId: OFFER_KEY_ID, issuerId: OFFER_ISSUER_ID, privateKeyFile: OFFER_KEY_FILE }
messages:
  stay:
    localizations:
      en-US: { header: Stay, body: Keep it. }
      de-DE: { header: Bleib, body: Behalte es. }
  offer:
    kind: promotional-offer
    localizations:
      en-US: { header: Half price, body: Stay for half price. }
  switch:
    kind: switch-plan
    localizations:
      en-US: { header: Go yearly, body: Save with a yearly plan. }
      de-DE: { header: Jährlich, body: Spare mit dem Jahresplan. }
defaults:
  premium.yearly: stay
  premium.monthly: stay
realtime:
";

/// `validate` of HEAD + `rules` (lines 27.. of the file): the exit code and the output.
fn validate(rules: &str) -> (i32, String) {
    let ws = Workspace::new();
    ws.write("app.yaml", &format!("{HEAD}{rules}"));
    let out = ws.run(&["validate", "app.yaml"]);
    (out.status.code().unwrap(), stdout(&out))
}

#[track_caller]
fn assert_line(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l == line),
        "expected line:\n{line}\n--- got:\n{text}"
    );
}

#[test]
fn valid_rules_validate_clean() {
    let (code, text) = validate(
        "  - product: premium.monthly
    alternateProduct: { message: switch, productId: premium.yearly, billingPlanType: BILLED_UPFRONT }
  - product: '*'
    locales: [en-US]
    percent: 50
    promotionalOffer: { message: offer, offerId: winback50 }
  - product: '*'
    message: stay
",
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("0 errors, 0 warnings"), "{text}");
}

#[test]
fn structural_problems_point_at_the_rule() {
    let (code, text) = validate(
        "  - product: '*'
    message: stay
    promotionalOffer: { message: offer, offerId: x }
  - product: '*'
  - product: '*'
    percent: 0
    message: stay
  - product: '*'
    alternateProduct: { message: switch, productId: p, billingPlanType: YEARLY }
  - product: '*'
    mesage: stay
",
    );
    assert_eq!(code, 1, "{text}");
    assert_line(
        &text,
        "app.yaml:28:5: error: realtime rule 1 has both `message` and `promotionalOffer`",
    );
    assert_line(
        &text,
        "app.yaml:29:5: error: realtime rule 2 does not say what to answer with",
    );
    assert_line(
        &text,
        "app.yaml:31:14: error: realtime rule 3 percent must be a whole number from 1 to 100, found `0`",
    );
    assert_line(
        &text,
        "app.yaml:34:73: error: alternateProduct billingPlanType `YEARLY` is not valid",
    );
    assert_line(
        &text,
        "app.yaml:36:5: error: unknown key `mesage` in realtime rule 5",
    );
    // While a rule is broken, the others' semantic checks wait (no follow-on errors).
    assert!(!text.contains("can never"), "{text}");
}

#[test]
fn the_app_fields_are_checked() {
    let ws = Workspace::new();
    let yaml = HEAD
        .replace("appAppleId: 1234567890", "appAppleId: not-a-number")
        .replace("privateKeyFile: OFFER_KEY_FILE", "privateKeyFile: [x]");
    ws.write(
        "app.yaml",
        &format!("{yaml}  - {{ product: '*', message: stay }}\n"),
    );
    let text = stdout(&ws.run(&["validate", "app.yaml"]));
    assert_line(
        &text,
        "app.yaml:6:15: error: app.appAppleId must be the app's Apple ID (a whole number), found `not-a-number`",
    );
    assert_line(
        &text,
        "app.yaml:7:83: error: app.offerSigning.privateKeyFile must be text, found a list",
    );
    let ws = Workspace::new();
    ws.write("app.yaml", &format!("{HEAD}  product: '*'\n"));
    let text = stdout(&ws.run(&["validate", "app.yaml"]));
    assert_line(
        &text,
        "app.yaml:25:1: error: `realtime` must be a list of rules, found a mapping",
    );
}

#[test]
fn every_semantic_rule_has_its_error() {
    let (code, text) = validate(
        "  - product: premium.montly
    message: stay
  - product: '*'
    locales: [de-DE, fr-FR, ja-JP]
    promotionalOffer: { message: stay, offerId: x }
  - product: '*'
    alternateProduct: { message: offer, productId: premium.yearly }
  - product: premium.yearly
    percent: 60
    message: stay
  - product: premium.yearly
    percent: 60
    message: stayy
  - product: '*'
    locales: [de-DE]
    promotionalOffer: { message: offer, offerId: x }
  - product: '*'
    message: switch
",
    );
    assert_eq!(code, 1, "{text}");
    for line in [
        "app.yaml:26:14: error: realtime rule 1 is for product `premium.montly`, which is not in app.products",
        "app.yaml:29:22: error: realtime rule 2 is for `fr-FR`, which is not in app.locales",
        "app.yaml:29:29: error: `ja-JP` is not one of the App Store's locale codes",
        "app.yaml:30:34: error: realtime rule 2 answers `promotionalOffer` with `stay`, a text message; `promotionalOffer` takes a promotional-offer message",
        "app.yaml:32:34: error: realtime rule 3 answers `alternateProduct` with `offer`, a promotional-offer message; `alternateProduct` takes a switch-plan message",
        "app.yaml:37:14: error: realtime rules 4–5 split the same customers into 120 %",
        "app.yaml:38:14: error: realtime rule 5 answers with message `stayy`, which is not defined",
        "app.yaml:40:15: error: realtime rule 6 is for `de-DE`, but message `offer` has no `de-DE` localization, so it can never answer there",
        "app.yaml:43:14: error: realtime rule 7 answers `message` with `switch`, a switch-plan message; `message` takes a text message",
    ] {
        assert_line(&text, line);
    }
    assert!(
        text.contains("hint: did you mean `premium.monthly`?"),
        "{text}"
    );
    assert!(text.contains("hint: did you mean `stay`?"), "{text}");
    assert!(
        text.contains("hint: answer with `alternateProduct: { message: switch, productId: … }`"),
        "{text}"
    );
}

#[test]
fn rules_that_cannot_answer_are_errors_and_odd_ones_warnings() {
    let ws = Workspace::new();
    let yaml = HEAD.replace(
        "      en-US: { header: Half price, body: Stay for half price. }\n",
        "      ja: { header: Half price, body: Stay for half price. }\n",
    );
    ws.write(
        "app.yaml",
        &format!(
            "{yaml}  - product: '*'\n    promotionalOffer: {{ message: offer, offerId: x }}\n  - product: premium.yearly\n    alternateProduct: {{ message: switch, productId: premium.yearly }}\n"
        ),
    );
    let out = ws.run(&["validate", "app.yaml"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_line(
        &text,
        "app.yaml:27:34: error: realtime rule 1 can never answer: message `offer` has no localization in app.locales",
    );
    assert_line(
        &text,
        "app.yaml:29:53: warning: realtime rule 2 proposes `premium.yearly`, the product the customer already has",
    );
}

#[test]
fn unreachable_rules_are_errors_and_fallbacks_warnings() {
    // The same message as the rule that answers first: approved exactly when it is.
    let (code, text) = validate(
        "  - product: '*'
    message: stay
  - product: premium.yearly
    locales: [de-DE]
    message: stay
",
    );
    assert_eq!(code, 1, "{text}");
    assert_line(
        &text,
        "app.yaml:28:5: error: realtime rule 2 can never be chosen: rule 1 already answers every request it matches with the same message",
    );
    // A rule after one that answers in fewer locales, or after a partial split, is reachable.
    let (code, text) = validate(
        "  - product: '*'
    promotionalOffer: { message: offer, offerId: x }
  - product: '*'
    percent: 50
    message: stay
  - product: premium.yearly
    message: stay
",
    );
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("rule 3"), "{text}");
    // After a catch-all with another message: a fallback while that one is in review.
    let (code, text) = validate(
        "  - product: '*'
    alternateProduct: { message: switch, productId: premium.yearly }
  - product: premium.monthly
    message: stay
",
    );
    assert_eq!(code, 0, "{text}");
    assert_line(
        &text,
        "app.yaml:28:5: warning: realtime rule 2 is chosen only while rule 1 has no approved content for the request's locale",
    );
    // A split covering 100 %: the same, for the customers of an arm without approved content.
    let (code, text) = validate(
        "  - product: '*'
    percent: 50
    message: stay
  - product: '*'
    percent: 50
    alternateProduct: { message: switch, productId: premium.yearly }
  - product: premium.monthly
    message: stay
",
    );
    assert_eq!(code, 0, "{text}");
    assert_line(
        &text,
        "app.yaml:32:5: warning: realtime rule 3 is chosen only while rules 1 and 2 have no approved content for the request's locale",
    );
    // Two earlier rules that together answer every locale of a later one.
    let (code, text) = validate(
        "  - product: '*'
    locales: [en-US]
    message: stay
  - product: premium.yearly
    locales: [de-DE]
    message: stay
  - product: premium.yearly
    message: stay
",
    );
    assert_eq!(code, 1, "{text}");
    assert_line(
        &text,
        "app.yaml:32:5: error: realtime rule 3 can never be chosen: rules 1 and 2 already answer every request it matches with the same message",
    );
}

#[test]
fn an_app_has_at_most_1000_rules() {
    let rules: String = (0..1001)
        .map(|i| format!("  - {{ product: p{i}, message: stay }}\n"))
        .collect();
    let ws = Workspace::new();
    let yaml = HEAD.replace("  products: [premium.yearly, premium.monthly]\n", "");
    ws.write("app.yaml", &format!("{yaml}{rules}"));
    let out = ws.run(&["validate", "app.yaml"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_line(
        &text,
        "app.yaml:1025:7: error: realtime has 1001 rules; an app may have at most 1000 (this is rule 1001)",
    );
    // 1000 rules are fine.
    let rules: String = rules.lines().take(1000).map(|l| format!("{l}\n")).collect();
    ws.write("app.yaml", &format!("{yaml}{rules}"));
    let out = ws.run(&["validate", "app.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn offers_need_offer_signing_and_rules_want_the_app_id() {
    let ws = Workspace::new();
    let yaml = HEAD
        .replace("  appAppleId: 1234567890\n", "")
        .replace(
            "  offerSigning: { keyId: OFFER_KEY_ID, issuerId: OFFER_ISSUER_ID, privateKeyFile: OFFER_KEY_FILE }\n",
            "",
        );
    ws.write(
        "app.yaml",
        &format!(
            "{yaml}  - product: '*'\n    promotionalOffer: {{ message: offer, offerId: x }}\n"
        ),
    );
    let out = ws.run(&["validate", "app.yaml"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_line(
        &text,
        "app.yaml:25:5: error: realtime rule 1 answers with a promotional offer, but app.offerSigning is not set",
    );
    assert_line(
        &text,
        "app.yaml:23:1: warning: realtime rules without app.appAppleId: `retainctl serve` cannot check that a request is for this app",
    );
}

/// An app whose realtime rule answers with a promotional-offer message (never a default,
/// so nothing but the snapshot keeps its old versions).
const OFFER_APP: &str = "\
apiVersion: retainctl/v1
app:
  bundleId: com.example.app
  locales: [en-US]
  products: [premium]
  appAppleId: 1234567890
  offerSigning: { keyId: OFFER_KEY_ID, issuerId: OFFER_ISSUER_ID, privateKeyFile: OFFER_KEY_FILE }
messages:
  stay:
    localizations:
      en-US: { header: Stay, body: Keep it. }
  offer:
    kind: promotional-offer
    localizations:
      en-US: { header: HEADER, body: Stay for half price. }
defaults:
  premium: stay
realtime:
  - product: '*'
    promotionalOffer: { message: offer, offerId: winback }
";

/// A folder run with `--env local --local-mode production` (uploads wait for review).
struct Local {
    dir: tempfile::TempDir,
}

impl Local {
    fn new(header: &str) -> Local {
        let local = Local {
            dir: tempfile::tempdir().unwrap(),
        };
        local.write(header);
        local
    }

    fn write(&self, header: &str) {
        std::fs::write(
            self.dir.path().join("app.yaml"),
            OFFER_APP.replace("HEADER", header),
        )
        .unwrap();
    }

    /// Runs the binary here, whatever its exit code.
    fn output(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_retainctl"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("RETAINCTL_BASE_URL")
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}",
            stdout(&out),
            crate::common::stderr(&out)
        );
        out
    }

    fn apply(&self, extra: &[&str]) -> String {
        let mut args = vec!["apply", "--env", "local", "--local-mode", "production"];
        args.extend_from_slice(extra);
        args.extend(["--snapshot", "snap.json", "."]);
        stdout(&self.run(&args))
    }

    fn approve_all(&self) {
        self.run(&[
            "sim",
            "review",
            "--state",
            ".retainctl/local/production.json",
            "approve-all",
        ]);
    }

    fn snapshot(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.dir.path().join("snap.json")).unwrap())
            .unwrap()
    }

    /// The `offer` [en-US] entry of the snapshot: (message id, current).
    fn served(&self) -> Option<(String, bool)> {
        let s = self.snapshot();
        let v = &s["apps"][0]["approved"]["offer"]["en-US"];
        v.is_object().then(|| {
            (
                v["messageId"].as_str().unwrap().to_string(),
                v["current"].as_bool().unwrap(),
            )
        })
    }

    /// The message ids the simulator holds.
    fn on_apple(&self) -> Vec<String> {
        let state: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(self.dir.path().join(".retainctl/local/production.json"))
                .unwrap(),
        )
        .unwrap();
        state["apps"]["com.example.app"]["messages"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    /// The manifest's current id of `offer` [en-US].
    fn offer_id(&self) -> String {
        let ids = stdout(&self.run(&["ids", "."]));
        ids.lines()
            .find(|l| l.contains("\toffer\ten-US\t"))
            .and_then(|l| l.rsplit('\t').next())
            .unwrap()
            .to_string()
    }
}

#[test]
fn the_snapshot_serves_only_approved_content_and_keeps_the_old_version_until_the_new_one_is() {
    let local = Local::new("Half price");
    let v1 = local.offer_id();

    // Uploaded, not reviewed: the snapshot has the rule but nothing approved.
    let text = local.apply(&["--out", "report.json"]);
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(local.dir.path().join("report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["realtime_snapshot"], "snap.json");
    assert!(
        text.contains("realtime snapshot (production): snap.json · 1 app, 0 approved messages"),
        "{text}"
    );
    let s = local.snapshot();
    assert_eq!(s["kind"], "realtime-snapshot");
    assert_eq!(s["formatVersion"], 1);
    assert_eq!(
        s["environment"], "production",
        "local maps to the mode it ran"
    );
    assert_eq!(s["apps"][0]["appAppleId"], 1234567890);
    assert_eq!(s["apps"][0]["offerSigning"]["keyId"], "OFFER_KEY_ID");
    assert_eq!(
        s["apps"][0]["rules"][0]["answer"]["promotionalOffer"]["offerId"],
        "winback"
    );
    assert_eq!(local.served(), None);

    // Approved: the next apply names it.
    local.approve_all();
    local.apply(&[]);
    assert_eq!(local.served(), Some((v1.clone(), true)));

    // A new version, pending: with --prune, the old one stays on Apple and in the snapshot.
    local.write("Half price today");
    let v2 = local.offer_id();
    assert_ne!(v1, v2);
    let text = local.apply(&["--prune"]);
    assert!(
        text.contains("(1 an older version, kept while the newer one is not approved)"),
        "{text}"
    );
    assert_eq!(local.served(), Some((v1.clone(), false)));
    assert!(
        local.on_apple().contains(&v1),
        "the served version was pruned"
    );
    assert!(local.on_apple().contains(&v2));
    let plan = stdout(&local.run(&[
        "plan",
        "--env",
        "local",
        "--local-mode",
        "production",
        "--prune",
        "--snapshot",
        "snap.json",
        ".",
    ]));
    assert!(
        plan.contains(&format!(
            "drift: message {v1} APPROVED is not in the manifest (served by the realtime snapshot until the newer version is approved)"
        )),
        "{plan}"
    );
    assert!(!plan.contains(&format!("delete message {v1}")), "{plan}");

    // Approved: the snapshot moves to the new version; the old one is still kept this run
    // (the previous snapshot served it)...
    local.approve_all();
    local.apply(&["--prune"]);
    assert_eq!(local.served(), Some((v2.clone(), true)));
    assert!(local.on_apple().contains(&v1));
    // ...and the run after that prunes it.
    local.apply(&["--prune"]);
    assert_eq!(local.served(), Some((v2.clone(), true)));
    assert!(!local.on_apple().contains(&v1), "{:?}", local.on_apple());
}

#[test]
fn a_snapshot_of_another_environment_or_not_a_snapshot_is_refused() {
    let local = Local::new("Half price");
    std::fs::write(
        local.dir.path().join("snap.json"),
        r#"{"kind":"realtime-snapshot","formatVersion":1,"environment":"sandbox","apps":[]}"#,
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .args([
            "apply",
            "--env",
            "local",
            "--local-mode",
            "production",
            "--snapshot",
            "snap.json",
            ".",
        ])
        .current_dir(local.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = crate::common::stderr(&out);
    assert!(
        err.contains("snap.json is the realtime snapshot of sandbox, not of production"),
        "{err}"
    );
    assert!(
        !local.dir.path().join(".retainctl").exists(),
        "refused before Apple is read"
    );
    std::fs::write(local.dir.path().join("snap.json"), "{}").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_retainctl"))
        .args(["apply", "--env", "local", "--snapshot", "snap.json", "."])
        .current_dir(local.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        crate::common::stderr(&out)
            .contains("snap.json is not a realtime snapshot this retainctl can use"),
        "{}",
        crate::common::stderr(&out)
    );
}

#[test]
fn the_plan_shows_rule_changes_against_the_snapshot_and_the_base() {
    let local = Local::new("Half price");
    local.apply(&[]);
    local.approve_all();
    local.apply(&[]);
    let base = local.dir.path().join("base");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::copy(local.dir.path().join("app.yaml"), base.join("app.yaml")).unwrap();
    let manifest = OFFER_APP.replace("HEADER", "Half price").replace(
        "realtime:\n  - product: '*'\n",
        "realtime:\n  - product: premium\n    percent: 50\n    message: stay\n  - product: '*'\n",
    );
    std::fs::write(local.dir.path().join("app.yaml"), manifest).unwrap();
    let plan = |format: &str| {
        stdout(&local.run(&[
            "plan",
            "--env",
            "local",
            "--local-mode",
            "production",
            "--snapshot",
            "snap.json",
            "--base",
            "base",
            "--format",
            format,
            "app.yaml",
        ]))
    };
    let text = plan("text");
    for against in ["the base", "the realtime snapshot"] {
        assert!(
            text.contains(&format!(
                "  realtime rule 1 added (against {against}): premium buckets 0–50 (50 %) → message stay"
            )),
            "{text}"
        );
    }
    assert!(!text.contains("rule 2"), "{text}");
    // Apple already matches, but the rules do not: never "No changes", and the
    // detailed exit code says there are changes
    assert!(!text.contains("No changes."), "{text}");
    assert!(
        text.contains(
            "No changes on Apple: it matches the manifests; 1 realtime rule change, 1 realtime snapshot change (served once"
        ),
        "{text}"
    );
    let detailed = local.output(&[
        "plan",
        "--env",
        "local",
        "--local-mode",
        "production",
        "--snapshot",
        "snap.json",
        "--detailed-exitcode",
        "app.yaml",
    ]);
    assert_eq!(detailed.status.code(), Some(2), "{}", stdout(&detailed));
    let markdown = plan("markdown");
    assert!(!markdown.contains("**No changes.**"), "{markdown}");
    assert!(
        markdown.contains("- rule 1 added (against the realtime snapshot): premium buckets 0–50 (50 %) → message stay"),
        "{markdown}"
    );
    let json: serde_json::Value = serde_json::from_str(&plan("json")).unwrap();
    let changes = &json["apps"][0]["rule_changes"];
    assert_eq!(changes.as_array().unwrap().len(), 2, "{changes}");
    assert_eq!(changes[1]["change"], "added");
    assert_eq!(changes[1]["against"], "snapshot");
    assert_eq!(changes[1]["after"]["buckets"]["to"], 50);
    assert_eq!(changes[1]["after"]["answer"]["message"], "stay");
}

#[test]
fn prune_without_the_snapshot_is_refused_for_apps_with_rules() {
    let local = Local::new("Half price");
    let args = ["apply", "--env", "local", "--local-mode", "production"];
    let out = local.output(&[&args[..], &["--prune", "."]].concat());
    assert_eq!(out.status.code(), Some(1));
    let err = crate::common::stderr(&out);
    assert!(
        err.contains("--prune would delete what `retainctl serve` may still answer with: com.example.app has realtime rules")
            && err.contains("pass `--snapshot FILE`"),
        "{err}"
    );
    assert!(
        !local.dir.path().join(".retainctl").exists(),
        "refused before Apple is read"
    );
    // A saved plan made with --prune is the prune.
    local.run(&[
        "plan",
        "--env",
        "local",
        "--local-mode",
        "production",
        "--prune",
        "--out",
        "plan.json",
        ".",
    ]);
    let out = local.output(&[&args[..], &["--plan", "plan.json", "."]].concat());
    assert_eq!(out.status.code(), Some(1));
    let err = crate::common::stderr(&out);
    assert!(
        err.contains("the saved plan, made with --prune, would delete"),
        "{err}"
    );
    // With a snapshot path that does not exist yet: said loudly, then applied.
    let out = local.run(&[&args[..], &["--prune", "--snapshot", "snap.json", "."]].concat());
    let err = crate::common::stderr(&out);
    assert!(
        err.contains(
            "warning: no previous realtime snapshot at snap.json: nothing is known to be served"
        ),
        "{err}"
    );
    // Without rules, --prune needs no snapshot.
    std::fs::write(
        local.dir.path().join("app.yaml"),
        OFFER_APP
            .replace("HEADER", "Half price")
            .split("realtime:")
            .next()
            .unwrap(),
    )
    .unwrap();
    local.run(&[&args[..], &["--prune", "."]].concat());
}

#[test]
fn the_action_passes_its_snapshot_input_to_apply() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let action: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(root.join("action.yml")).unwrap()).unwrap();
    assert!(
        action["inputs"]["snapshot"].is_mapping(),
        "no snapshot input"
    );
    let steps = action["runs"]["steps"].as_sequence().unwrap();
    let apply = steps.iter().find(|s| s["id"] == "apply").unwrap();
    assert_eq!(apply["env"]["SNAPSHOT"], "${{ inputs.snapshot }}");
    let script = apply["run"].as_str().unwrap();
    assert!(
        script.contains(r#"snapshot=(--snapshot "$SNAPSHOT")"#)
            && script.contains(r#""${snapshot[@]}""#),
        "{script}"
    );
}

#[test]
fn the_snapshot_is_read_bounded_and_written_through_a_link() {
    let local = Local::new("Half price");
    let fifo = local.dir.path().join("snap.json");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // A FIFO would block a reader forever: refused at once.
    let out = local.output(&["apply", "--env", "local", "--snapshot", "snap.json", "."]);
    assert_eq!(out.status.code(), Some(1));
    let err = crate::common::stderr(&out);
    assert!(
        err.contains("the realtime snapshot snap.json is not a regular file"),
        "{err}"
    );
    std::fs::remove_file(&fifo).unwrap();
    // Too large: refused with the path and what to do.
    let f = std::fs::File::create(&fifo).unwrap();
    f.set_len(17 * 1024 * 1024).unwrap();
    let out = local.output(&["apply", "--env", "local", "--snapshot", "snap.json", "."]);
    assert_eq!(out.status.code(), Some(1));
    let err = crate::common::stderr(&out);
    assert!(
        err.contains("the realtime snapshot snap.json is larger than 16777216 bytes")
            && err.contains("move it away"),
        "{err}"
    );
    std::fs::remove_file(&fifo).unwrap();
    // A link (e.g. to the volume `serve` reads) is written through, and stays a link.
    std::fs::create_dir(local.dir.path().join("live")).unwrap();
    std::os::unix::fs::symlink("live/production.json", &fifo).unwrap();
    local.apply(&[]);
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let written = std::fs::read_to_string(local.dir.path().join("live/production.json")).unwrap();
    assert!(written.contains("\"realtime-snapshot\""), "{written}");
    // ...and read through on the next run.
    local.apply(&[]);
}

#[test]
fn the_plan_counts_what_the_next_apply_changes_in_the_snapshot() {
    let local = Local::new("Half price");
    let plan = |extra: &[&str]| {
        let mut args = vec![
            "plan",
            "--env",
            "local",
            "--local-mode",
            "production",
            "--snapshot",
            "snap.json",
            "--detailed-exitcode",
        ];
        args.extend_from_slice(extra);
        args.push(".");
        let out = local.output(&args);
        (out.status.code().unwrap(), stdout(&out))
    };
    local.apply(&[]);
    local.approve_all();
    let v1 = local.offer_id();
    local.apply(&[]);
    assert_eq!(local.served(), Some((v1.clone(), true)));
    let (code, text) = plan(&[]);
    assert_eq!((code, text.contains("No changes.")), (0, true), "{text}");
    // A new version, uploaded, then approved since the last apply: Apple matches the
    // manifest, but the next apply serves the new version, so the plan says so.
    local.write("Half price today");
    let v2 = local.offer_id();
    local.apply(&[]);
    local.approve_all();
    let (code, text) = plan(&[]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains(&format!(
            "  realtime snapshot: serves offer [en-US] {v2} instead of {v1}"
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "No changes on Apple: it matches the manifests; 1 realtime snapshot change (served once"
        ),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&plan(&["--format", "json"]).1).unwrap();
    let change = &json["apps"][0]["snapshot_changes"][0];
    assert_eq!(change["change"], "serves", "{json}");
    assert_eq!(change["after"], v2.as_str());
    assert_eq!(change["before"], v1.as_str());
    let markdown = plan(&["--format", "markdown"]).1;
    assert!(
        markdown.contains(&format!(
            "- snapshot: serves offer [en-US] {v2} instead of {v1}"
        )),
        "{markdown}"
    );
    local.apply(&[]);
    assert_eq!(plan(&[]).0, 0);
    // The app's Apple ID changes: a change of the snapshot, nothing on Apple.
    std::fs::write(
        local.dir.path().join("app.yaml"),
        OFFER_APP
            .replace("HEADER", "Half price today")
            .replace("appAppleId: 1234567890", "appAppleId: 42"),
    )
    .unwrap();
    let (code, text) = plan(&[]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("  realtime snapshot: appAppleId changes: 1234567890 ⇒ 42"),
        "{text}"
    );
}

#[test]
fn offer_signing_and_credentials_name_variables_and_offer_signing_is_complete() {
    let run = |signing: &str| {
        let ws = Workspace::new();
        let yaml = HEAD.replace(
            "  offerSigning: { keyId: OFFER_KEY_ID, issuerId: OFFER_ISSUER_ID, privateKeyFile: OFFER_KEY_FILE }\n",
            signing,
        );
        ws.write(
            "app.yaml",
            &format!("{yaml}  - {{ product: '*', message: stay }}\n"),
        );
        let out = ws.run(&["validate", "app.yaml"]);
        (out.status.code().unwrap(), stdout(&out))
    };
    // A secret VALUE pasted where a name goes (a key made now, never committed): refused,
    // and never echoed.
    let (key, _) = retainctl::apple::credentials::generate_key_pair();
    let pem = key.pem_text().trim().to_string();
    let secret_line = pem.lines().nth(1).unwrap().to_string();
    let (code, text) = run(&format!(
        "  offerSigning:\n    keyId: OFFER_KEY_ID\n    issuerId: OFFER_ISSUER_ID\n    privateKey: \"{}\"\n",
        pem.replace('\n', "\\n")
    ));
    assert_eq!(code, 1, "{text}");
    assert_line(
        &text,
        "app.yaml:10:17: error: app.offerSigning.privateKey must be the NAME of an environment variable (A–Z, 0–9, _), found something else (not shown: it may be a secret)",
    );
    assert!(!text.contains(&secret_line), "{text}");
    // Incomplete: every missing field named at offerSigning.
    let (code, text) = run("  offerSigning: {}\n");
    assert_eq!(code, 1, "{text}");
    assert_line(
        &text,
        "app.yaml:7:3: error: app.offerSigning lacks keyId, issuerId, privateKey or privateKeyFile",
    );
    let (_, text) = run("  offerSigning: { keyId: OFFER_KEY_ID }\n");
    assert_line(
        &text,
        "app.yaml:7:3: error: app.offerSigning lacks issuerId, privateKey or privateKeyFile",
    );
    let (_, text) =
        run("  offerSigning: { keyId: '', issuerId: OFFER_ISSUER_ID, privateKey: OFFER_KEY }\n");
    assert_line(
        &text,
        "app.yaml:7:26: error: app.offerSigning.keyId must be the NAME of an environment variable (A–Z, 0–9, _), found an empty name",
    );
    // app.credentials the same way.
    let (code, text) = run("  credentials: { keyId: my-key-id }\n");
    assert_eq!(code, 1, "{text}");
    assert_line(
        &text,
        "app.yaml:7:25: error: app.credentials.keyId must be the NAME of an environment variable (A–Z, 0–9, _), found something else (not shown: it may be a secret)",
    );
}

#[test]
fn a_simulator_snapshot_never_stands_for_apples_and_plan_takes_one_env() {
    let local = Local::new("Half price");
    local.apply(&[]);
    assert_eq!(local.snapshot()["source"], "simulator");
    // The simulator's production mode is not Apple's production.
    let out = local.output(&[
        "apply",
        "--env",
        "production",
        "--snapshot",
        "snap.json",
        ".",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = crate::common::stderr(&out);
    assert!(
        err.contains("snap.json was written from the simulator (--env local) (source `simulator`), and this run reads Apple"),
        "{err}"
    );
    // ...nor the other way round.
    let mut apple = local.snapshot();
    apple["source"] = "apple".into();
    std::fs::write(local.dir.path().join("apple.json"), apple.to_string()).unwrap();
    let out = local.output(&[
        "plan",
        "--env",
        "local",
        "--local-mode",
        "production",
        "--snapshot",
        "apple.json",
        ".",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = crate::common::stderr(&out);
    assert!(
        err.contains(
            "apple.json was written from Apple (source `apple`), and this run reads the simulator"
        ),
        "{err}"
    );
    // Two environments that serve the same mode are still two.
    let out = local.output(&[
        "plan",
        "--env",
        "local",
        "--local-mode",
        "production",
        "--env",
        "production",
        "--snapshot",
        "snap.json",
        ".",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = crate::common::stderr(&out);
    assert!(
        err.contains("plan --snapshot reads the snapshot of one environment, and 2 were given"),
        "{err}"
    );
}

#[test]
fn answers_name_real_offers_and_products_and_percent_is_a_number() {
    let (code, text) = validate(
        "  - product: premium.monthly
    alternateProduct: { message: switch, productId: premium.yearyl }
  - product: premium.monthly
    alternateProduct: { message: switch, productId: '' }
  - product: '*'
    promotionalOffer: { message: offer, offerId: '' }
",
    );
    assert_eq!(code, 1, "{text}");
    for line in [
        "app.yaml:27:53: error: realtime rule 1 proposes product `premium.yearyl`, which is not in app.products",
        "app.yaml:29:53: error: realtime rule 2 has an empty alternateProduct productId",
        "app.yaml:31:50: error: realtime rule 3 has an empty offerId",
    ] {
        assert_line(&text, line);
    }
    assert!(
        text.contains(
            "hint: did you mean `premium.yearly`? or add `premium.yearyl` to app.products"
        ),
        "{text}"
    );
    let (code, text) = validate("  - product: '*'\n    percent: \"50\"\n    message: stay\n");
    assert_eq!(code, 1, "{text}");
    assert_line(
        &text,
        "app.yaml:27:14: error: realtime rule 1 percent must be a whole number from 1 to 100, found the text `\"50\"`",
    );
    // Without app.products, the products the defaults name are known: a typo is a warning.
    let ws = Workspace::new();
    let yaml = HEAD.replace("  products: [premium.yearly, premium.monthly]\n", "");
    ws.write(
        "app.yaml",
        &format!("{yaml}  - {{ product: premium.montly, message: stay }}\n  - {{ product: '*', message: stay }}\n"),
    );
    let text = stdout(&ws.run(&["validate", "app.yaml"]));
    assert_line(
        &text,
        "app.yaml:25:16: warning: realtime rule 1 is for product `premium.montly`, which no default names (app.products is not set)",
    );
    assert!(
        text.contains("hint: did you mean `premium.monthly`?"),
        "{text}"
    );
}
