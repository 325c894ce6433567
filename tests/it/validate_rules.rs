//! Every validation rule, driven through the real binary: a bad manifest, the exact
//! `file:line:col: severity: message` it must produce, and the exit code.

use crate::common::{Workspace, stdout};

const BASE: &str = "\
apiVersion: retainctl/v1
app:
  bundleId: com.example.app
  locales: [en-US, de-DE]
  products: [premium.yearly, premium.monthly]
images:
  hero:
    file: images/hero.png
    size: FULL_SIZE
  check:
    file: images/check.png
    size: BULLET_POINT
messages:
  stay:
    kind: text
    headerPosition: ABOVE_IMAGE
    localizations:
      en-US:
        header: Stay with Premium
        body: Keep your plan.
        image: { ref: hero, altText: A person }
        bulletPoints:
          - { text: Unlimited projects, image: check, altText: check mark }
      de-DE:
        header: Bleib bei Premium
        body: Behalte deinen Plan.
        image: { ref: hero, altText: Eine Person }
  offer:
    kind: promotional-offer
    localizations:
      en-US:
        header: Half price
        body: Stay for half price.
defaults:
  premium.yearly: stay
  premium.monthly:
    en-US: stay
    de-DE: stay
";

struct Outcome {
    code: i32,
    lines: Vec<String>,
    text: String,
}

impl Outcome {
    fn has(&self, line: &str) -> bool {
        self.lines.iter().any(|l| l == line)
    }

    #[track_caller]
    fn assert_has(&self, line: &str) {
        assert!(
            self.has(line),
            "expected line:\n{line}\n--- got:\n{}",
            self.text
        );
    }

    fn errors(&self) -> usize {
        self.lines
            .iter()
            .filter(|l| l.contains(": error: "))
            .count()
    }
}

fn validate_text(yaml: &str) -> Outcome {
    let ws = Workspace::new();
    ws.write("app.yaml", yaml);
    let out = ws.run(&["validate", "app.yaml"]);
    let text = stdout(&out);
    Outcome {
        code: out.status.code().unwrap_or(-1),
        lines: text.lines().map(str::to_string).collect(),
        text,
    }
}

/// BASE with `from` replaced by `to` (which must occur exactly once).
fn with(from: &str, to: &str) -> String {
    assert_eq!(
        BASE.matches(from).count(),
        1,
        "`{from}` must occur once in BASE"
    );
    BASE.replacen(from, to, 1)
}

#[test]
fn the_base_manifest_is_valid() {
    let o = validate_text(BASE);
    assert_eq!(o.code, 0, "{}", o.text);
    o.assert_has("1 file, 1 app valid: 0 errors, 0 warnings");
}

#[test]
fn header_longer_than_66_characters() {
    let o = validate_text(&with(
        "header: Stay with Premium",
        &format!("header: {}", "x".repeat(67)),
    ));
    assert_eq!(o.code, 1);
    o.assert_has("app.yaml:19:17: error: header is 67 characters; Apple allows at most 66");
    o.assert_has("  hint: shorten it by 1 characters");
}

#[test]
fn characters_are_unicode_scalars_and_utf16_overflow_warns() {
    let o = validate_text(&with(
        "header: Stay with Premium",
        &format!("header: {}", "ü".repeat(66)),
    ));
    assert_eq!(o.code, 0, "{}", o.text);
    let emoji = format!("header: {}{}", "a".repeat(60), "😀".repeat(4));
    let o = validate_text(&with("header: Stay with Premium", &emoji));
    assert_eq!(o.code, 0, "{}", o.text);
    o.assert_has(
        "app.yaml:19:17: warning: header is 64 characters but 68 UTF-16 code units, over the limit of 66 where UTF-16 is counted",
    );
}

#[test]
fn body_longer_than_144_characters() {
    let o = validate_text(&with(
        "body: Keep your plan.",
        &format!("body: {}", "b".repeat(145)),
    ));
    assert_eq!(o.code, 1);
    o.assert_has("app.yaml:20:15: error: body is 145 characters; Apple allows at most 144");
}

#[test]
fn alt_text_longer_than_150_characters() {
    let o = validate_text(&with(
        "altText: A person }",
        &format!("altText: {} }}", "a".repeat(151)),
    ));
    assert_eq!(o.code, 1);
    o.assert_has("app.yaml:21:38: error: alt text is 151 characters; Apple allows at most 150");
}

#[test]
fn bullet_text_longer_than_66_characters() {
    let o = validate_text(&with(
        "text: Unlimited projects",
        &format!("text: {}", "t".repeat(67)),
    ));
    assert_eq!(o.code, 1);
    o.assert_has(
        "app.yaml:23:21: error: bullet point text is 67 characters; Apple allows at most 66",
    );
}

#[test]
fn more_than_five_bullet_points() {
    let bullet = "          - { text: Unlimited projects, image: check, altText: check mark }\n";
    let o = validate_text(&with(bullet, &bullet.repeat(6)));
    assert_eq!(o.code, 1);
    o.assert_has("app.yaml:22:9: error: 6 bullet points; Apple allows at most 5");
    o.assert_has("  hint: remove 1 bullet points");
}

#[test]
fn above_image_needs_an_image() {
    let o = validate_text(&with(
        "        image: { ref: hero, altText: Eine Person }\n",
        "",
    ));
    assert_eq!(o.code, 1);
    o.assert_has(
        "app.yaml:24:7: error: headerPosition ABOVE_IMAGE needs an image, but localization `de-DE` of message `stay` has none",
    );
}

#[test]
fn promotional_offer_carries_no_image_and_no_bullets() {
    let o = validate_text(&with(
        "        body: Stay for half price.\n",
        "        body: Stay for half price.\n        image: { ref: hero, altText: x }\n        bulletPoints:\n          - { text: a, image: check, altText: b }\n",
    ));
    assert_eq!(o.code, 1);
    o.assert_has("app.yaml:34:9: error: a promotional-offer message cannot carry an image");
    o.assert_has("app.yaml:35:9: error: a promotional-offer message cannot carry bullet points");
}

#[test]
fn switch_plan_carries_no_image() {
    let o = validate_text(&with(
        "kind: promotional-offer\n    localizations:\n      en-US:\n        header: Half price\n        body: Stay for half price.\n",
        "kind: switch-plan\n    localizations:\n      en-US:\n        header: Half price\n        body: Stay for half price.\n        image: { ref: hero, altText: x }\n",
    ));
    assert_eq!(o.code, 1);
    o.assert_has("app.yaml:34:9: error: a switch-plan message cannot carry an image");
}

#[test]
fn underscore_locale_suggests_the_listed_code() {
    let o = validate_text(&with("locales: [en-US, de-DE]", "locales: [en_US, de-DE]"));
    assert_eq!(o.code, 1);
    o.assert_has("app.yaml:4:13: error: `en_US` is not one of the App Store's locale codes");
    o.assert_has("  hint: write `en-US`; Apple refuses other spellings with InvalidLocale");
}

#[test]
fn localization_locale_is_checked_too() {
    let o = validate_text(&with(
        "      de-DE:\n        header: Bleib",
        "      de_de:\n        header: Bleib",
    ));
    o.assert_has("app.yaml:24:7: error: `de_de` is not one of the App Store's locale codes");
    o.assert_has("  hint: write `de-DE`; Apple refuses other spellings with InvalidLocale");
}

#[test]
fn ja_jp_is_refused_at_its_line_suggesting_ja_and_nothing_else() {
    let o = validate_text(&with(
        "locales: [en-US, de-DE]",
        "locales: [en-US, de-DE, ja-JP]",
    ));
    assert_eq!(o.code, 1, "{}", o.text);
    o.assert_has("app.yaml:4:27: error: `ja-JP` is not one of the App Store's locale codes");
    o.assert_has("  hint: write `ja`; Apple refuses other spellings with InvalidLocale");
    // One problem, one error: no "message `stay` has no `ja-JP` localization" for the
    // default of premium.yearly, no coverage warning for premium.monthly.
    assert_eq!(o.errors(), 1, "{}", o.text);
    assert_eq!(
        o.lines.iter().filter(|l| l.contains("ja-JP")).count(),
        1,
        "{}",
        o.text
    );
    assert!(
        o.has("1 file, 0 apps valid: 1 error, 0 warnings"),
        "{}",
        o.text
    );
}

const LISTED: &str = "\
apiVersion: retainctl/v1
app:
  bundleId: com.example.app
  locales: [en-US, ja, zh-Hans]
messages:
  stay:
    localizations:
      en-US: { header: Stay, body: Keep your plan. }
      ja: { header: 継続, body: プランを維持してください。 }
      zh-Hans: { header: 继续, body: 保留您的计划。 }
defaults:
  premium.yearly: stay
  premium.monthly:
    en-US: stay
    ja: stay
    zh-Hans: stay
";

#[test]
fn apples_short_codes_pass() {
    let o = validate_text(LISTED);
    assert_eq!(o.code, 0, "{}", o.text);
    o.assert_has("1 file, 1 app valid: 0 errors, 0 warnings");
}

#[test]
fn every_unlisted_spelling_names_its_code_where_it_is_written() {
    let yaml = LISTED
        .replace(
            "locales: [en-US, ja, zh-Hans]",
            "locales: [EN-us, ja, zh-CN]",
        )
        .replace("      ja: { header", "      ko-KR: { header")
        .replace("    zh-Hans: stay", "    zh-TW: stay")
        .replace("    ja: stay", "    sv-SE: stay");
    let o = validate_text(&yaml);
    assert_eq!(o.code, 1, "{}", o.text);
    for (at, written, code) in [
        ("4:13", "EN-us", "en-US"),
        ("4:24", "zh-CN", "zh-Hans"),
        ("9:7", "ko-KR", "ko"),
        ("15:5", "sv-SE", "sv"),
        ("16:5", "zh-TW", "zh-Hant"),
    ] {
        o.assert_has(&format!(
            "app.yaml:{at}: error: `{written}` is not one of the App Store's locale codes"
        ));
        o.assert_has(&format!(
            "  hint: write `{code}`; Apple refuses other spellings with InvalidLocale"
        ));
    }
    // `ja` is listed but has no localization and no per-locale default any more:
    // those are real problems, reported once each.
    o.assert_has("app.yaml:12:19: error: message `stay` has no `ja` localization, so it cannot be the default of `premium.yearly` in `ja`");
    assert_eq!(o.errors(), 6, "{}", o.text);
}

#[test]
fn an_unknown_locale_gives_one_error_and_no_follow_on_hints() {
    let o = validate_text(&LISTED.replace(
        "locales: [en-US, ja, zh-Hans]",
        "locales: [en-US, ja, zh-Hans, english]",
    ));
    assert_eq!(o.code, 1, "{}", o.text);
    o.assert_has("app.yaml:4:33: error: `english` is not one of the App Store's locale codes");
    o.assert_has("  hint: use a code from the App Store's list (case-sensitive), e.g. en-US, de-DE, ja, zh-Hans; `retainctl schema` lists them all");
    assert_eq!(o.errors(), 1, "{}", o.text);
    assert!(
        !o.text.contains("add a `english` localization"),
        "{}",
        o.text
    );
    assert!(!o.text.contains("no default for english"), "{}", o.text);
    let o = validate_text(&LISTED.replace(
        "locales: [en-US, ja, zh-Hans]",
        "locales: [en-US, ja, zh-Hans, en]",
    ));
    o.assert_has("app.yaml:4:33: error: `en` is not one of the App Store's locale codes");
    o.assert_has("  hint: write one of en-AU, en-CA, en-GB, en-US; Apple refuses other spellings with InvalidLocale");
}

#[test]
fn image_ref_must_resolve() {
    let o = validate_text(&with(
        "ref: hero, altText: A person",
        "ref: heroo, altText: A person",
    ));
    assert_eq!(o.code, 1);
    o.assert_has("app.yaml:21:23: error: image `heroo` is not defined under `images`");
    o.assert_has("  hint: did you mean `hero`? define it under `images:` or fix the key");
}

#[test]
fn bullet_image_ref_must_resolve() {
    let o = validate_text(&with(
        "image: check, altText: check mark",
        "image: tick, altText: check mark",
    ));
    assert_eq!(o.code, 1);
    o.assert_has("app.yaml:23:48: error: image `tick` is not defined under `images`");
}

#[test]
fn image_file_must_exist() {
    let o = validate_text(&with("file: images/hero.png", "file: images/nope.png"));
    assert_eq!(o.code, 1);
    let line = o
        .lines
        .iter()
        .find(|l| {
            l.starts_with(
                "app.yaml:8:11: error: image file `images/nope.png` cannot be read: no such file (",
            )
        })
        .unwrap_or_else(|| panic!("{}", o.text));
    assert!(line.ends_with("images/nope.png)"), "{line}");
}

#[test]
fn image_file_must_be_a_real_png() {
    let o = validate_text(&with("file: images/hero.png", "file: images/fake.png"));
    assert_eq!(o.code, 1);
    o.assert_has(
        "app.yaml:8:11: error: image file `images/fake.png` is not a PNG file (no PNG signature)",
    );
}

#[test]
fn image_must_not_have_alpha() {
    let o = validate_text(&with("file: images/check.png", "file: images/alpha.png"));
    assert_eq!(o.code, 1);
    o.assert_has(
        "app.yaml:11:11: error: image file `images/alpha.png` has transparency (an alpha channel)",
    );
}

#[test]
fn full_size_image_dimensions() {
    let o = validate_text(&with("file: images/hero.png", "file: images/small.png"));
    assert_eq!(o.code, 1);
    o.assert_has(
        "app.yaml:8:11: error: image file `images/small.png` is 100×100; a FULL_SIZE image is 3840 wide and 160–2160 high",
    );
}

#[test]
fn bullet_point_image_dimensions() {
    let o = validate_text(&with("file: images/check.png", "file: images/hero.png"));
    assert_eq!(o.code, 1);
    o.assert_has(
        "app.yaml:11:11: error: image file `images/hero.png` is 3840×160; a BULLET_POINT image is 1024×1024",
    );
}

#[test]
fn bullets_use_bullet_point_images_and_main_images_full_size() {
    let o = validate_text(&with(
        "image: check, altText: check mark",
        "image: hero, altText: check mark",
    ));
    o.assert_has("app.yaml:23:48: error: image `hero` is FULL_SIZE but a bullet point needs a BULLET_POINT image");
    let o = validate_text(&with(
        "ref: hero, altText: A person",
        "ref: check, altText: A person",
    ));
    o.assert_has("app.yaml:21:23: error: image `check` is BULLET_POINT but a message's image needs a FULL_SIZE image");
}

#[test]
fn at_most_2000_messages_after_expansion() {
    let mut yaml = String::from(
        "apiVersion: retainctl/v1\napp:\n  bundleId: com.example.app\n  locales: [en-US, de-DE]\nmessages:\n",
    );
    for i in 0..1001 {
        yaml.push_str(&format!(
            "  m{i}:\n    localizations:\n      en-US: {{ header: h, body: b }}\n      de-DE: {{ header: h, body: b }}\n"
        ));
    }
    let o = validate_text(&yaml);
    assert_eq!(o.code, 1);
    o.assert_has(
        "app.yaml:5:1: error: the app has 2002 messages (one per message and locale); Apple allows at most 2000",
    );
}

#[test]
fn at_most_2000_images() {
    let mut yaml = String::from(
        "apiVersion: retainctl/v1\napp:\n  bundleId: com.example.app\n  locales: [en-US]\nimages:\n",
    );
    for i in 0..2001 {
        yaml.push_str(&format!(
            "  i{i}: {{ file: images/check.png, size: BULLET_POINT }}\n"
        ));
    }
    let o = validate_text(&yaml);
    assert_eq!(o.code, 1);
    o.assert_has("app.yaml:5:1: error: the app has 2001 images; Apple allows at most 2000");
}

#[test]
fn default_must_name_an_existing_message() {
    let o = validate_text(&with("premium.yearly: stay\n", "premium.yearly: stya\n"));
    assert_eq!(o.code, 1);
    o.assert_has("app.yaml:35:19: error: default of `premium.yearly` names message `stya`, which is not defined");
    o.assert_has("  hint: did you mean `stay`?");
}

#[test]
fn default_must_be_a_text_message() {
    let o = validate_text(&with("premium.yearly: stay\n", "premium.yearly: offer\n"));
    assert_eq!(o.code, 1);
    o.assert_has(
        "app.yaml:35:19: error: default of `premium.yearly` names `offer`, a promotional-offer message; only text messages can be defaults",
    );
}

#[test]
fn default_message_must_have_the_locale() {
    let o = validate_text(&with(
        "      de-DE:\n        header: Bleib bei Premium\n        body: Behalte deinen Plan.\n        image: { ref: hero, altText: Eine Person }\n",
        "",
    ));
    assert_eq!(o.code, 1);
    o.assert_has(
        "app.yaml:31:19: error: message `stay` has no `de-DE` localization, so it cannot be the default of `premium.yearly` in `de-DE`",
    );
    o.assert_has(
        "app.yaml:34:12: error: message `stay` has no `de-DE` localization, so it cannot be the default of `premium.monthly` in `de-DE`",
    );
}

#[test]
fn default_products_must_be_in_app_products() {
    let o = validate_text(&with(
        "products: [premium.yearly, premium.monthly]",
        "products: [premium.yearly]",
    ));
    assert_eq!(o.code, 1);
    o.assert_has(
        "app.yaml:36:3: error: product `premium.monthly` has a default but is not in app.products",
    );
}

#[test]
fn per_locale_default_for_a_locale_outside_app_locales() {
    let o = validate_text(&with(
        "    de-DE: stay\n",
        "    de-DE: stay\n    fr-FR: stay\n",
    ));
    assert_eq!(o.code, 1);
    o.assert_has(
        "app.yaml:39:5: error: default of `premium.monthly` is set for `fr-FR`, which is not in app.locales",
    );
}

#[test]
fn locale_coverage_is_a_warning() {
    let o = validate_text(&with("    de-DE: stay\n", ""));
    assert_eq!(o.code, 0, "{}", o.text);
    o.assert_has("app.yaml:36:3: warning: product `premium.monthly` has no default for de-DE");
}

#[test]
fn unknown_keys_are_errors_that_name_the_key() {
    let o = validate_text(&with(
        "header: Bleib bei Premium",
        "headr: Bleib bei Premium",
    ));
    assert_eq!(o.code, 1);
    o.assert_has(
        "app.yaml:25:9: error: unknown key `headr` in localization `de-DE` of message `stay`",
    );
    o.assert_has("  hint: did you mean `header`? allowed keys: header, body, image, bulletPoints");
    let o = validate_text(&with("  products:", "  product:"));
    o.assert_has("app.yaml:5:3: error: unknown key `product` in `app`");
}

#[test]
fn duplicate_keys_are_errors_that_name_the_key() {
    let o = validate_text(&with("  check:\n", "  hero:\n"));
    assert_eq!(o.code, 1);
    o.assert_has("app.yaml:10:3: error: duplicate key `hero` (first defined at line 7)");
}

#[test]
fn wrong_api_version_names_the_value() {
    let o = validate_text(&with(
        "apiVersion: retainctl/v1",
        "apiVersion: retainctl/v2",
    ));
    assert_eq!(o.code, 1);
    o.assert_has("app.yaml:1:13: error: unsupported apiVersion `retainctl/v2`");
    o.assert_has("  hint: this retainctl reads `apiVersion: retainctl/v1`");
}

#[test]
fn missing_required_keys_and_wrong_types() {
    let o = validate_text(&with("        body: Keep your plan.\n", ""));
    assert_eq!(o.code, 1);
    o.assert_has("app.yaml:18:7: error: localization `en-US` of message `stay` is missing the required key `body`");
    let o = validate_text(&with("size: FULL_SIZE", "size: FULLSIZE"));
    o.assert_has("app.yaml:9:11: error: image `hero` size `FULLSIZE` is not valid");
    o.assert_has("  hint: did you mean `FULL_SIZE`? one of: FULL_SIZE, BULLET_POINT");
    let o = validate_text(&with("locales: [en-US, de-DE]", "locales: en-US"));
    o.assert_has("app.yaml:4:12: error: app.locales must be a list, found a scalar");
}

#[test]
fn realtime_url_must_be_https() {
    let o = validate_text(&with(
        "images:\n",
        "environments:\n  production:\n    realtimeUrl: http://example.com/hook\nimages:\n",
    ));
    assert_eq!(o.code, 1);
    o.assert_has("app.yaml:8:18: error: realtimeUrl `http://example.com/hook` is not an https URL");
}

#[test]
fn all_problems_are_reported_not_only_the_first() {
    let yaml = with(
        "header: Stay with Premium",
        &format!("header: {}", "x".repeat(67)),
    );
    let yaml = yaml.replacen(
        "body: Keep your plan.",
        &format!("body: {}", "b".repeat(145)),
        1,
    );
    let yaml = yaml.replacen(
        "ref: hero, altText: A person",
        "ref: heroo, altText: A person",
        1,
    );
    let yaml = yaml.replacen("header: Bleib", "colour: red\n        header: Bleib", 1);
    let o = validate_text(&yaml);
    assert_eq!(o.code, 1);
    assert!(o.errors() >= 4, "{}", o.text);
    o.assert_has("app.yaml:19:17: error: header is 67 characters; Apple allows at most 66");
    o.assert_has("app.yaml:20:15: error: body is 145 characters; Apple allows at most 144");
    o.assert_has("app.yaml:21:23: error: image `heroo` is not defined under `images`");
    o.assert_has(
        "app.yaml:25:9: error: unknown key `colour` in localization `de-DE` of message `stay`",
    );
}

const MANY_PROBLEMS: &str = "\
apiVersion: retainctl/v1
app:
  bundleId: com.example.app
  locales: [en_US]
images:
  hero: { file: images/hero.png, size: FULL_SIZE }
  check: { file: images/check.png, size: BULLETPOINT }
messages:
  a:
    localizations:
      en-US:
  b:
    kind: txt
    localizations:
      en-US: { header: Stay, body: Keep your plan. }
  c:
    headerPosition: ABOVE_IMAGE
    localizations:
      en-US:
        header: Stay
        body: Keep your plan.
        image: { ref: hero }
        bulletPoints:
          - { text: Sync, image: check, altText: a check mark }
  d:
    localizations:
      en-US: { header: XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX, body: Keep. }
  d:
    localizations: {}
defaults:
  premium.yearly: b
  premium.monthly: a
";

#[test]
fn structural_and_semantic_problems_are_all_reported_in_one_run() {
    let o = validate_text(MANY_PROBLEMS);
    assert_eq!(o.code, 1, "{}", o.text);
    // the duplicate key, every structural problem, then the semantic ones
    o.assert_has("app.yaml:28:3: error: duplicate key `d` (first defined at line 25)");
    o.assert_has("app.yaml:7:42: error: image `check` size `BULLETPOINT` is not valid");
    o.assert_has("app.yaml:11:7: error: localization `en-US` of message `a` must be a mapping, found nothing (null)");
    o.assert_has("app.yaml:13:11: error: message `b` kind `txt` is not valid");
    o.assert_has("app.yaml:22:9: error: `image` is missing the required key `altText`");
    o.assert_has("app.yaml:4:13: error: `en_US` is not one of the App Store's locale codes");
    o.assert_has("app.yaml:27:24: error: header is 67 characters; Apple allows at most 66");
    // and nothing that only follows from those: no "image `check` is not defined",
    // no "ABOVE_IMAGE needs an image", no "message `a` has no `en-US` localization",
    // no "`en-US` is not in app.locales", no "image `hero` is not used".
    assert_eq!(o.errors(), 7, "{}", o.text);
    assert!(!o.text.contains(": warning: "), "{}", o.text);
}

#[test]
fn a_broken_part_does_not_hide_the_semantic_checks_of_the_rest() {
    // A null localization and `locales: [en_US]`: both reported (before, only the first).
    let o = validate_text(&with(
        "  offer:\n    kind: promotional-offer\n    localizations:\n      en-US:\n        header: Half price\n        body: Stay for half price.\n",
        "  offer:\n    kind: promotional-offer\n    localizations:\n      en-US:\n",
    ).replace("locales: [en-US, de-DE]", "locales: [en_US, de-DE]"));
    assert_eq!(o.code, 1, "{}", o.text);
    o.assert_has("app.yaml:31:7: error: localization `en-US` of message `offer` must be a mapping, found nothing (null)");
    o.assert_has("app.yaml:4:13: error: `en_US` is not one of the App Store's locale codes");
    assert_eq!(o.errors(), 2, "{}", o.text);
}

#[test]
fn a_tab_is_reported_on_its_own_line() {
    let o = validate_text(
        "apiVersion: retainctl/v1\napp:\n  bundleId: com.example.app\n\tlocales: [en-US]\n",
    );
    assert_eq!(o.code, 1, "{}", o.text);
    assert!(
        o.lines
            .iter()
            .any(|l| l.starts_with("app.yaml:4:1: error: ")),
        "{}",
        o.text
    );
    o.assert_has("  hint: indent with spaces: YAML does not allow tabs for indentation");
}

#[test]
fn github_format_annotates_the_diff() {
    let ws = Workspace::new();
    ws.write(
        "app.yaml",
        &with(
            "header: Stay with Premium",
            &format!("header: {}", "x".repeat(67)),
        ),
    );
    let out = ws.run(&["validate", "--format", "github", "app.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains(
        "::error file=app.yaml,line=19,col=17::header is 67 characters; Apple allows at most 66 — shorten it by 1 characters"
    ));
}

#[test]
fn folders_are_searched_for_retainctl_manifests_only() {
    let ws = Workspace::new();
    // A repository: `../images` stays inside its work tree (outside git, image paths may
    // not leave the folder given to `validate`).
    std::fs::create_dir(ws.path().join(".git")).unwrap();
    ws.write("retention/app.yaml", &BASE.replace("images/", "../images/"));
    ws.write(
        "retention/other.yaml",
        "name: some other tool\nkey: value\n",
    );
    ws.write(
        "retention/sub/second.yml",
        &BASE
            .replace("com.example.app", "com.example.second")
            .replace("images/", "../../images/"),
    );
    let out = ws.run(&["validate", "retention"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("2 files, 2 apps valid: 0 errors, 0 warnings"));
}

#[test]
fn two_files_for_one_app_are_refused() {
    let ws = Workspace::new();
    ws.write("a.yaml", BASE);
    ws.write("b.yaml", BASE);
    let out = ws.run(&["validate", "."]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out)
            .contains("b.yaml:3:13: error: app `com.example.app` is also defined in ./a.yaml"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn empty_and_non_yaml_input_is_a_clear_error() {
    let o = validate_text("");
    assert_eq!(o.code, 1);
    o.assert_has("app.yaml:1:1: error: the file is empty");
    let o = validate_text("apiVersion: retainctl/v1\napp: [unclosed\n");
    assert_eq!(o.code, 1);
    assert!(o.text.contains("error: YAML syntax error"), "{}", o.text);
}

#[test]
fn a_value_written_as_nothing_is_reported_on_its_own_line() {
    let o = validate_text(&with("        body: Keep your plan.\n", "        body:\n"));
    assert_eq!(o.code, 1, "{}", o.text);
    o.assert_has("app.yaml:20:9: error: body must be text, found nothing (null)");
    assert_eq!(o.errors(), 1, "{}", o.text);
}
