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
fn unreachable_rules_are_errors() {
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
        "app.yaml:28:5: error: realtime rule 2 can never be chosen: rule 1 already answers every request it matches",
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
    // A split covering 100 % shadows what follows.
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
    assert_eq!(code, 1, "{text}");
    assert_line(
        &text,
        "app.yaml:32:5: error: realtime rule 3 can never be chosen: rule 2 already answers every request it matches",
    );
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
