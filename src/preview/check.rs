//! What the text of a message does on the page, as warnings at the field: more lines
//! than the page shows ([`Field::max_lines`]), and characters no font has (they would be
//! drawn as empty boxes). Apple's own limits stay characters; these are advice.

use super::{Bullet, Field, Fonts, Sheet, TextReport, measure};
use crate::manifest::decode::pointer;
use crate::manifest::{HeaderPosition, Locations, Manifest};
use crate::validate::diagnostics::FileDiagnostics;

/// Warns, in `d`, about every localization of `m` whose text overflows or lacks a glyph.
pub fn check_text(m: &Manifest, at: &Locations, fonts: &mut Fonts, d: &mut FileDiagnostics) {
    for (key, message) in &m.messages {
        for (locale, l) in &message.localizations {
            let bullets: Vec<Bullet> = l
                .bullet_points
                .iter()
                .flatten()
                .map(|b| Bullet {
                    text: &b.text,
                    icon: None,
                })
                .collect();
            let sheet = Sheet {
                kind: message.kind,
                header_position: message.header_position.unwrap_or(HeaderPosition::AboveBody),
                locale,
                header: &l.header,
                body: &l.body,
                image: None,
                bullets: &bullets,
            };
            let report = measure(fonts, &sheet);
            let span = |field: Field| {
                let mut ptr = pointer(&["messages", key, "localizations", locale]);
                match field {
                    Field::Header => ptr.push_str(&pointer(&["header"])),
                    Field::Body => ptr.push_str(&pointer(&["body"])),
                    Field::Bullet(i) => {
                        ptr.push_str(&pointer(&["bulletPoints", &i.to_string(), "text"]))
                    }
                }
                at.get(&ptr).value
            };
            warn(&report, key, locale, span, d);
        }
    }
}

/// The warnings of one localization's [`TextReport`]; `span` finds a field.
pub fn warn(
    report: &TextReport,
    key: &str,
    locale: &str,
    span: impl Fn(Field) -> crate::manifest::yaml::Span,
    d: &mut FileDiagnostics,
) {
    for (field, lines, most) in report.overflows() {
        d.warning(
            span(field),
            format!(
                "message `{key}` ({locale}): the {field} takes {lines} lines on the page, which shows {most}"
            ),
            "shorten it, or look at it with `retainctl preview` (Apple's limits are characters; this is only advice)",
        );
    }
    for (field, chars) in report.missing_by_field() {
        d.warning(
            span(field),
            format!(
                "message `{key}` ({locale}): no font has {} in the {field}; the preview draws a box",
                missing_words(&chars)
            ),
            "install a font that covers it (e.g. Debian's fonts-noto-core, fonts-noto-cjk, fonts-noto-color-emoji) or give --fonts DIR",
        );
    }
}

/// `お` (U+304A), `待` (U+5F85) and 5 more characters.
pub fn missing_words(chars: &[char]) -> String {
    const SHOWN: usize = 3;
    let mut words: Vec<String> = chars
        .iter()
        .take(SHOWN)
        .map(|&c| format!("{} (U+{:04X})", printable(c), c as u32))
        .collect();
    if chars.len() > SHOWN {
        let more = chars.len() - SHOWN;
        words.push(format!(
            "{more} more {}",
            if more == 1 { "character" } else { "characters" }
        ));
    }
    match words.len() {
        1 => words.remove(0),
        n => format!("{} and {}", words[..n - 1].join(", "), words[n - 1]),
    }
}

fn printable(c: char) -> String {
    if c.is_control() || c.is_whitespace() {
        String::from("a character")
    } else {
        format!("`{c}`")
    }
}
