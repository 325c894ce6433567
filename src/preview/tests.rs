use super::*;
use crate::manifest::{HeaderPosition, MessageKind};

fn text_sheet<'a>(locale: &'a str, header: &'a str, body: &'a str) -> Sheet<'a> {
    Sheet {
        kind: MessageKind::Text,
        header_position: HeaderPosition::AboveBody,
        locale,
        header,
        body,
        image: None,
        bullets: &[],
    }
}

const LIGHT_3X: Style = Style {
    appearance: Appearance::Light,
    scale: 3,
};

#[test]
fn draws_a_text_message_at_the_width_of_an_iphone() {
    let mut fonts = FontBook::embedded().fonts();
    let sheet = text_sheet(
        "en-US",
        "Before you go",
        "Stay for half price for three months, on us.",
    );
    let out = render(&mut fonts, &sheet, LIGHT_3X);
    assert_eq!(out.width, 1179);
    assert_eq!(out.text.lines, vec![(Field::Header, 1), (Field::Body, 1)]);
    assert!(out.text.missing.is_empty());
    let decoded = tiny_skia::Pixmap::decode_png(&out.png).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (out.width, out.height));
}

#[test]
fn a_character_no_font_has_is_reported_with_its_field() {
    // Only the embedded Noto Sans: no Japanese, no emoji.
    let mut fonts = FontBook::embedded().fonts();
    let sheet = text_sheet("ja", "お待ちください", "Half price 🎉");
    let report = measure(&mut fonts, &sheet);
    assert!(
        report.missing.contains(&(Field::Header, 'お')),
        "{report:?}"
    );
    assert!(report.missing.contains(&(Field::Body, '🎉')), "{report:?}");
    assert!(
        !report.missing.iter().any(|(_, c)| c.is_ascii()),
        "{report:?}"
    );
}

#[test]
fn long_text_overflows_the_lines_the_page_shows() {
    let mut fonts = FontBook::embedded().fonts();
    let body = "Wir vermissen dich schon jetzt sehr. Bleib noch ein bisschen länger bei uns und erhalte drei Monate Premium zum halben Preis, jederzeit kündbar.";
    let header = "Bevor du gehst: Unser Angebot für Dich, nur heute und nur für Dich, garantiert";
    let report = measure(&mut fonts, &text_sheet("de-DE", header, body));
    let over: Vec<Field> = report.overflows().map(|(f, _, _)| f).collect();
    assert_eq!(over, vec![Field::Header], "{report:?}");
    let bullets = [Bullet {
        text: "UNBEGRENZTE WORKOUTS, TRAININGSPLÄNE UND STATISTIKEN FÜR ALLE GERÄTE",
        icon: None,
    }];
    let sheet = Sheet {
        bullets: &bullets,
        ..text_sheet("de-DE", "Kurz", "Kurz")
    };
    let report = measure(&mut fonts, &sheet);
    assert_eq!(
        report.overflows().collect::<Vec<_>>(),
        vec![(Field::Bullet(0), 3, 2)]
    );
}

proptest::proptest! {
    // The shortcut may only ever say "fits" when shaping agrees.
    #[test]
    fn the_shortcut_never_hides_an_overflow(
        words in proptest::collection::vec("[A-Za-zÀ-ÿ0-9WM%€.,!?'—“”()-]{1,14}", 1..30),
        bold in proptest::bool::ANY,
    ) {
        let text = words.join(" ");
        let book = FontBook::embedded();
        let mut fonts = book.fonts();
        let style = if bold { sheet::HEADER_TYPE } else { sheet::BODY_TYPE };
        for max_lines in [1, 2, 3, 6] {
            if sheet::fits_without_shaping(&fonts.advances, &text, style, sheet::CONTENT, max_lines) {
                let shaped = sheet::shape(&mut fonts, &text, style, sheet::CONTENT, 3.0, None);
                proptest::prop_assert!(shaped.lines <= max_lines, "{text:?}: {} lines, max {max_lines}", shaped.lines);
            }
        }
    }
}

#[test]
fn the_shortcut_keeps_dashes_and_quotes_with_their_words() {
    // No line may break between spaced em dashes: the shortcut must not count on it.
    let text = "— — — — — — — — — a ".repeat(5);
    let book = FontBook::embedded();
    let mut fonts = book.fonts();
    let shaped = sheet::shape(
        &mut fonts,
        &text,
        sheet::BODY_TYPE,
        sheet::CONTENT,
        3.0,
        None,
    );
    assert!(
        shaped.lines > Field::Body.max_lines(),
        "{} lines",
        shaped.lines
    );
    assert!(!sheet::fits_without_shaping(
        &fonts.advances,
        &text,
        sheet::BODY_TYPE,
        sheet::CONTENT,
        4
    ));
    let report = measure(&mut fonts, &text_sheet("en-US", "Hi", &text));
    assert_eq!(report.overflows().count(), 1, "{report:?}");
}

/// The columns (in pixels) where a band of rows differs from the card's colour.
fn ink_columns(png: &[u8], rows: std::ops::Range<u32>, card: [u8; 3]) -> Option<(u32, u32)> {
    let pixmap = tiny_skia::Pixmap::decode_png(png).unwrap();
    let mut seen: Option<(u32, u32)> = None;
    for y in rows {
        for x in 60..pixmap.width() - 60 {
            let p = pixmap.pixel(x, y).unwrap();
            let far = [p.red(), p.green(), p.blue()]
                .iter()
                .zip(card)
                .any(|(a, b)| a.abs_diff(b) > 60);
            if far {
                seen = Some(seen.map_or((x, x), |(l, r)| (l.min(x), r.max(x))));
            }
        }
    }
    seen
}

#[test]
fn right_to_left_text_starts_at_the_right() {
    let book = FontBook::load(&FontSources {
        dirs: vec![],
        system: true,
    })
    .unwrap();
    let mut fonts = book.fonts();
    let probe = measure(&mut fonts, &text_sheet("ar-SA", "ابق", "ابق"));
    if !probe.missing.is_empty() {
        // No Arabic font on this machine: CI installs fonts-noto-core.
        assert!(std::env::var_os("CI").is_none(), "no Arabic font under CI");
        eprintln!("skipped: no Arabic font");
        return;
    }
    // One short word: it must sit at the right edge of the card, as in Arabic.
    let sheet = text_sheet("ar-SA", "قبل", "ابق");
    let out = render(
        &mut fonts,
        &sheet,
        Style {
            appearance: Appearance::Light,
            scale: 2,
        },
    );
    let english = render(
        &mut fonts,
        &text_sheet("en-US", "Wait", "Stay"),
        Style {
            appearance: Appearance::Light,
            scale: 2,
        },
    );
    // The body's line: below the header of the card (same geometry for both).
    let band = body_band(&english.png);
    let (left, right) = ink_columns(&out.png, band.clone(), [255, 255, 255]).expect("ink");
    let (en_left, _) = ink_columns(&english.png, band, [255, 255, 255]).expect("ink");
    let content_right = ((393.0 - 32.0) * 2.0) as u32;
    assert!(
        right > content_right - 12 && left > 393,
        "Arabic ink at {left}..{right}"
    );
    assert!(en_left < 100, "English ink starts at {en_left}");
}

/// Rows of the body's first line on a page with a one-line header and body.
fn body_band(png: &[u8]) -> std::ops::Range<u32> {
    // The header starts under the card's top; find the card, then skip one header line.
    let pixmap = tiny_skia::Pixmap::decode_png(png).unwrap();
    let x = 40; // inside the card, left of any text
    let top = (0..pixmap.height())
        .find(|&y| {
            let p = pixmap.pixel(x, y).unwrap();
            (p.red(), p.green(), p.blue()) == (255, 255, 255)
        })
        .expect("a card");
    let header_bottom = top + (16.0 + 22.0 + 4.0) as u32 * 2;
    header_bottom..header_bottom + 40
}

/// A PNG made here: a horizontal gradient (an image) or a flat colour (an icon).
fn png(width: u32, height: u32, color: [u8; 3], gradient: bool) -> Vec<u8> {
    let mut pixmap = tiny_skia::Pixmap::new(width, height).unwrap();
    for (i, px) in pixmap.pixels_mut().iter_mut().enumerate() {
        let x = (i as u32 % width) as f32 / width as f32;
        let k = if gradient { 0.4 + 0.6 * x } else { 1.0 };
        let [r, g, b] = color.map(|c| (f32::from(c) * k) as u8);
        *px = tiny_skia::ColorU8::from_rgba(r, g, b, 255).premultiply();
    }
    pixmap.encode_png().unwrap()
}

/// Golden pictures of each kind of message, drawn with the embedded font only (the same
/// on every machine). `RETAINCTL_UPDATE_GOLDEN=1` writes them anew; a difference beyond
/// anti-aliasing (more than 0.2 % of pixels off by more than 24 in a channel) fails.
#[test]
fn each_kind_of_message_matches_its_golden_picture() {
    let hero = Picture::for_image(&png(3840, 1440, [255, 94, 58], true), 2).unwrap();
    let icons: Vec<Picture> = [[52, 199, 89], [255, 204, 0], [0, 122, 255]]
        .into_iter()
        .map(|c| Picture::for_icon(&png(1024, 1024, c, false), 2).unwrap())
        .collect();
    let bullets: Vec<Bullet> = [
        "500+ guided workouts",
        "Plans that adapt to your progress",
        "Weekly check-ins with a coach",
    ]
    .iter()
    .zip(&icons)
    .map(|(text, icon)| Bullet {
        text,
        icon: Some(icon),
    })
    .collect();
    let base = text_sheet(
        "en-US",
        "Stay with Premium",
        "Keep your personal plan, guided workouts and progress history.",
    );
    let light = Style {
        appearance: Appearance::Light,
        scale: 2,
    };
    let dark = Style {
        appearance: Appearance::Dark,
        scale: 2,
    };
    let cases: Vec<(&str, Sheet, Style)> = vec![
        ("text", base, light),
        ("text-dark", base, dark),
        (
            "image-above-body",
            Sheet {
                image: Some(&hero),
                ..base
            },
            light,
        ),
        (
            "header-above-image",
            Sheet {
                image: Some(&hero),
                header_position: HeaderPosition::AboveImage,
                ..base
            },
            light,
        ),
        (
            "bullet-points",
            Sheet {
                image: Some(&hero),
                bullets: &bullets,
                ..base
            },
            dark,
        ),
        (
            "promotional-offer",
            Sheet {
                kind: MessageKind::PromotionalOffer,
                header: "50% off for 3 months",
                ..base
            },
            light,
        ),
        (
            "switch-plan",
            Sheet {
                kind: MessageKind::SwitchPlan,
                header: "Save with yearly",
                ..base
            },
            light,
        ),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("RETAINCTL_UPDATE_GOLDEN").is_some();
    let mut fonts = FontBook::embedded().fonts();
    let mut failures = vec![];
    for (name, sheet, style) in cases {
        let out = render(&mut fonts, &sheet, style);
        let path = dir.join(format!("{name}.png"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            let pixmap = tiny_skia::Pixmap::decode_png(&out.png).unwrap();
            std::fs::write(&path, pixmap.encode_png().unwrap()).unwrap();
            continue;
        }
        let golden = tiny_skia::Pixmap::decode_png(
            &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        )
        .unwrap();
        let drawn = tiny_skia::Pixmap::decode_png(&out.png).unwrap();
        if (golden.width(), golden.height()) != (drawn.width(), drawn.height()) {
            failures.push(format!(
                "{name}: {}×{} drawn, {}×{} golden",
                drawn.width(),
                drawn.height(),
                golden.width(),
                golden.height()
            ));
            continue;
        }
        let off = golden
            .pixels()
            .iter()
            .zip(drawn.pixels())
            .filter(|(a, b)| {
                a.red().abs_diff(b.red()) > 24
                    || a.green().abs_diff(b.green()) > 24
                    || a.blue().abs_diff(b.blue()) > 24
            })
            .count();
        if off * 500 > golden.pixels().len() {
            let _ = std::fs::write(
                std::env::temp_dir().join(format!("retainctl-{name}.png")),
                &out.png,
            );
            failures.push(format!(
                "{name}: {off} pixels differ (drawn copy in the temp folder)"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
