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

#[test]
fn draws_a_text_message() {
    let mut fonts = FontBook::embedded().fonts();
    let sheet = text_sheet(
        "en-US",
        "Before you go",
        "Stay for half price for three months, on us.",
    );
    let out = render(
        &mut fonts,
        &sheet,
        Style {
            appearance: Appearance::Light,
            scale: 3,
        },
    );
    assert_eq!(out.width, 1179);
    if let Ok(dir) = std::env::var("PREVIEW_DUMP") {
        std::fs::write(format!("{dir}/text.png"), &out.png).unwrap();
    }
    assert_eq!(out.text.lines, vec![(Field::Header, 1), (Field::Body, 1)]);
}

#[test]
fn scratch_scripts() {
    let Ok(dir) = std::env::var("PREVIEW_DUMP") else {
        return;
    };
    let book = FontBook::load(&FontSources {
        dirs: vec![],
        system: true,
    })
    .unwrap();
    let mut fonts = book.fonts();
    for (name, locale, header, body) in [
        (
            "ar",
            "ar-SA",
            "قبل أن تغادر",
            "ابق معنا بنصف السعر لمدة ثلاثة أشهر 🎉",
        ),
        (
            "ja",
            "ja",
            "お待ちください",
            "3か月間半額でご利用いただけます。今すぐ特典を受け取りましょう。",
        ),
        (
            "mix",
            "hi",
            "रुकिए 🙏",
            "तीन महीने के लिए आधी कीमत। ไทย שלום Ελληνικά Привет",
        ),
    ] {
        let sheet = text_sheet(locale, header, body);
        let out = render(
            &mut fonts,
            &sheet,
            Style {
                appearance: Appearance::Dark,
                scale: 2,
            },
        );
        eprintln!("{name}: {:?}", out.text);
        std::fs::write(format!("{dir}/{name}.png"), &out.png).unwrap();
    }
}
