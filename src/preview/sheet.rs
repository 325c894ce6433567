//! The page itself: where each part goes (in points, on a 393-point-wide iPhone), then
//! the pixels. Text is shaped and wrapped by cosmic-text (bidi, per-script fallback,
//! color emoji), shapes and pictures are drawn by tiny-skia.

use cosmic_text::{Align, Attrs, Buffer, Color, Family, Metrics, Shaping, Weight, Wrap};
use tiny_skia::{
    FillRule, FilterQuality, LinearGradient, Paint, Path, PathBuilder, Pattern, Pixmap, Point,
    SpreadMode, Transform,
};

use super::fonts::{FAMILY, Fonts};
use super::{Appearance, Field, Picture, Rendered, Sheet, Style, TextReport, right_to_left};
use crate::manifest::{HeaderPosition, MessageKind};

const WIDTH: f32 = 393.0;
const MARGIN: f32 = 16.0;
const PADDING: f32 = 16.0;
/// The width of what the card holds: text, image, bullet rows.
pub(super) const CONTENT: f32 = WIDTH - 2.0 * MARGIN - 2.0 * PADDING;
pub(super) const ICON: f32 = 28.0;
const ICON_GAP: f32 = 12.0;
/// The scale line counts are taken at when nothing is drawn (`validate`).
const MEASURE_SCALE: u8 = 3;

/// Words Apple puts on the page around the developer's message (its English wording).
const TITLE: &str = "Confirm Cancellation";
const EXPLANATION: &str =
    "If you cancel now, you can still use your subscription until the end of the billing period.";
const SECTION: &str = "FROM THE DEVELOPER";
const CANCEL: &str = "Cancel Subscription";
const KEEP: &str = "Keep Subscription";
const ACCEPT_OFFER: &str = "Accept Offer";
const SWITCH_PLAN: &str = "Switch Plan";
const OFFER_LINE: &str = "The App Store adds the offer's price and duration here.";
const PLAN_LINE: &str = "The App Store adds the suggested plan and its price here.";

#[derive(Clone, Copy)]
struct Palette {
    background: [u8; 3],
    card: [u8; 3],
    primary: [u8; 3],
    secondary: [u8; 3],
    tint: [u8; 3],
    destructive: [u8; 3],
    placeholder: [u8; 3],
    on_tint: [u8; 3],
}

fn palette(appearance: Appearance) -> Palette {
    match appearance {
        Appearance::Light => Palette {
            background: [242, 242, 247],
            card: [255, 255, 255],
            primary: [0, 0, 0],
            secondary: [118, 118, 124],
            tint: [0, 122, 255],
            destructive: [255, 59, 48],
            placeholder: [229, 229, 234],
            on_tint: [255, 255, 255],
        },
        Appearance::Dark => Palette {
            background: [0, 0, 0],
            card: [28, 28, 30],
            primary: [255, 255, 255],
            secondary: [152, 152, 159],
            tint: [10, 132, 255],
            destructive: [255, 69, 58],
            placeholder: [44, 44, 46],
            on_tint: [255, 255, 255],
        },
    }
}

/// A type style: size and line height in points, weight.
#[derive(Clone, Copy)]
pub(super) struct Type {
    size: f32,
    line: f32,
    bold: bool,
}

pub(super) const TITLE_TYPE: Type = Type {
    size: 22.0,
    line: 28.0,
    bold: true,
};
pub(super) const HEADER_TYPE: Type = Type {
    size: 17.0,
    line: 22.0,
    bold: true,
};
pub(super) const BODY_TYPE: Type = Type {
    size: 15.0,
    line: 20.0,
    bold: false,
};
const FOOTNOTE_TYPE: Type = Type {
    size: 13.0,
    line: 18.0,
    bold: false,
};
const BUTTON_TYPE: Type = Type {
    size: 17.0,
    line: 22.0,
    bold: true,
};

/// Shaped, wrapped text, in pixels.
pub(super) struct Text {
    buffer: Buffer,
    pub(super) lines: usize,
    /// Height in points.
    height: f32,
    missing: Vec<char>,
}

pub(super) fn shape(
    fonts: &mut Fonts,
    text: &str,
    style: Type,
    width: f32,
    scale: f32,
    align: Option<Align>,
) -> Text {
    let (text, mut missing) = covered(fonts, text);
    let metrics = Metrics::new(style.size * scale, style.line * scale);
    let mut buffer = Buffer::new(&mut fonts.system, metrics);
    buffer.set_wrap(Wrap::WordOrGlyph);
    buffer.set_size(Some(width * scale), None);
    let weight = if style.bold {
        Weight::BOLD
    } else {
        Weight::NORMAL
    };
    let attrs = Attrs::new().family(Family::Name(FAMILY)).weight(weight);
    buffer.set_text(&text, &attrs, Shaping::Advanced, align);
    buffer.shape_until_scroll(&mut fonts.system, false);
    let mut lines = 0;
    for run in buffer.layout_runs() {
        lines += 1;
        for glyph in run.glyphs.iter().filter(|g| g.glyph_id == 0) {
            for c in run.text[glyph.start..glyph.end].chars() {
                if !c.is_whitespace()
                    && !c.is_control()
                    && c != REPLACEMENT
                    && !missing.contains(&c)
                {
                    missing.push(c);
                }
            }
        }
    }
    Text {
        buffer,
        lines,
        height: lines as f32 * style.line,
        missing,
    }
}

/// What stands for a character no font has: the replacement character, which Noto Sans
/// draws as a diamond with a question mark.
const REPLACEMENT: char = '\u{FFFD}';

/// `text` with every character no font has replaced by [`REPLACEMENT`], and those
/// characters (each once). Characters that are only instructions to shaping (joiners,
/// direction marks, variation selectors, tags) are left alone.
fn covered<'t>(fonts: &Fonts, text: &'t str) -> (std::borrow::Cow<'t, str>, Vec<char>) {
    let instruction = |c: char| matches!(c as u32, 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0xFE00..=0xFE0F | 0xE0000..=0xE01EF);
    let unknown = |c: char| {
        !c.is_whitespace()
            && !c.is_control()
            && !instruction(c)
            && fonts.advances.em(c, false).is_none()
            && !fonts.has(c)
    };
    if !text.chars().any(unknown) {
        return (std::borrow::Cow::Borrowed(text), Vec::new());
    }
    let mut missing = Vec::new();
    let replaced = text
        .chars()
        .map(|c| {
            if unknown(c) {
                if !missing.contains(&c) {
                    missing.push(c);
                }
                REPLACEMENT
            } else {
                c
            }
        })
        .collect();
    (std::borrow::Cow::Owned(replaced), missing)
}

/// The message's own text fields, shaped as the page draws them.
struct MessageText {
    header: Text,
    body: Text,
    bullets: Vec<Text>,
}

impl MessageText {
    fn shape(fonts: &mut Fonts, sheet: &Sheet, scale: f32) -> MessageText {
        let bullets_width = CONTENT - ICON - ICON_GAP;
        MessageText {
            header: shape(fonts, sheet.header, HEADER_TYPE, CONTENT, scale, None),
            body: shape(fonts, sheet.body, BODY_TYPE, CONTENT, scale, None),
            bullets: sheet
                .bullets
                .iter()
                .map(|b| shape(fonts, b.text, BODY_TYPE, bullets_width, scale, None))
                .collect(),
        }
    }

    fn report(&self) -> TextReport {
        let mut report = TextReport::default();
        let fields = [(Field::Header, &self.header), (Field::Body, &self.body)]
            .into_iter()
            .chain(
                self.bullets
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (Field::Bullet(i), t)),
            );
        for (field, text) in fields {
            report.lines.push((field, text.lines));
            report
                .missing
                .extend(text.missing.iter().map(|&c| (field, c)));
        }
        report
    }
}

/// Lines per field and missing characters, without drawing (what `validate` checks). A
/// field that [`fits_without_shaping`] is left out of `lines`: it neither overflows nor
/// lacks a glyph.
pub fn measure(fonts: &mut Fonts, sheet: &Sheet) -> TextReport {
    let scale = f32::from(MEASURE_SCALE);
    let bullets_width = CONTENT - ICON - ICON_GAP;
    let fields = [
        (Field::Header, sheet.header, HEADER_TYPE, CONTENT),
        (Field::Body, sheet.body, BODY_TYPE, CONTENT),
    ]
    .into_iter()
    .chain(
        sheet
            .bullets
            .iter()
            .enumerate()
            .map(|(i, b)| (Field::Bullet(i), b.text, BODY_TYPE, bullets_width)),
    );
    let mut report = TextReport::default();
    for (field, text, style, width) in fields {
        if fits_without_shaping(&fonts.advances, text, style, width, field.max_lines()) {
            continue;
        }
        let shaped = shape(fonts, text, style, width, scale, None);
        report.lines.push((field, shaped.lines));
        report
            .missing
            .extend(shaped.missing.iter().map(|&c| (field, c)));
    }
    report
}

/// Whether `text` surely takes at most `max_lines` lines of `width` points, from the
/// embedded face's advances alone (most copy: Latin, Greek, Cyrillic). Wrapping puts a
/// line break only where the next word does not fit, so every line but the last is
/// wider than `width` minus the longest word: with n lines, (n − 1)(width − longest) <
/// total. Only a space between two letters or digits is taken for a place a line may
/// break (Unicode's line breaking keeps punctuation, quotes and dashes with their
/// neighbours, so those are counted into the word). Widths get 5 % on top for kerning.
/// Anything else (another script, a line break, a word as wide as the line) is shaped.
pub(super) fn fits_without_shaping(
    advances: &super::fonts::Advances,
    text: &str,
    style: Type,
    width: f32,
    max_lines: usize,
) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let (mut total, mut word, mut longest) = (0.0f32, 0.0f32, 0.0f32);
    for (i, &c) in chars.iter().enumerate() {
        if matches!(c, '\u{2028}' | '\u{2029}') {
            return false;
        }
        let Some(em) = advances.em(c, style.bold) else {
            return false;
        };
        let w = em * style.size;
        total += w;
        word += w;
        if c == ' ' {
            let before = chars[..i].iter().rev().find(|c| **c != ' ');
            let after = chars[i + 1..].iter().find(|c| **c != ' ');
            let breaks = before.is_some_and(|c| c.is_alphanumeric())
                && after.is_some_and(|c| c.is_alphanumeric());
            if breaks {
                longest = longest.max(word);
                word = 0.0;
            }
        }
    }
    let longest = longest.max(word) * 1.05;
    let total = total * 1.05;
    if longest >= width {
        return false;
    }
    // n − 1 < total / (width − longest)
    let most = (total / (width - longest)).floor() as usize + 1;
    most <= max_lines
}

/// One thing on the page, in points.
enum Item {
    Fill {
        rect: Rect,
        radius: f32,
        color: [u8; 3],
    },
    AppIcon {
        rect: Rect,
    },
    Picture {
        rect: Rect,
        radius: f32,
        picture: Picture,
    },
    Text {
        text: Text,
        x: f32,
        y: f32,
        color: [u8; 3],
    },
}

#[derive(Clone, Copy)]
struct Rect {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

/// Draws the page for one localization.
pub fn render(fonts: &mut Fonts, sheet: &Sheet, style: Style) -> Rendered {
    let scale = f32::from(style.scale.max(1));
    let colors = palette(style.appearance);
    let rtl = right_to_left(sheet.locale);
    let leading = if rtl { Align::Right } else { Align::Left };
    let message = MessageText::shape(fonts, sheet, scale);
    let report = message.report();
    let MessageText {
        header,
        body,
        bullets,
    } = message;

    let mut items = Vec::new();
    let mut y = 28.0;
    let icon = 64.0;
    items.push(Item::AppIcon {
        rect: Rect {
            x: (WIDTH - icon) / 2.0,
            y,
            w: icon,
            h: icon,
        },
    });
    y += icon + 16.0;
    let page_text = WIDTH - 2.0 * MARGIN;
    let title = shape(
        fonts,
        TITLE,
        TITLE_TYPE,
        page_text,
        scale,
        Some(Align::Center),
    );
    y = push_text(&mut items, title, MARGIN, y, colors.primary) + 8.0;
    let explanation = shape(
        fonts,
        EXPLANATION,
        BODY_TYPE,
        page_text,
        scale,
        Some(Align::Center),
    );
    y = push_text(&mut items, explanation, MARGIN, y, colors.secondary) + 28.0;
    let section = shape(fonts, SECTION, FOOTNOTE_TYPE, CONTENT, scale, Some(leading));
    y = push_text(&mut items, section, MARGIN + PADDING, y, colors.secondary) + 7.0;

    let card_at = items.len();
    let card_top = y;
    let x = MARGIN + PADDING;
    y += PADDING;
    let picture = |y: f32, picture: Option<&Picture>| -> (Item, f32) {
        let picture = picture.expect("called only with an image");
        let h = CONTENT * picture.height() as f32 / picture.width().max(1) as f32;
        let rect = Rect {
            x,
            y,
            w: CONTENT,
            h,
        };
        (
            Item::Picture {
                rect,
                radius: 8.0,
                picture: picture.clone(),
            },
            h,
        )
    };
    let image_first = sheet.image.is_some() && sheet.header_position == HeaderPosition::AboveBody;
    if image_first {
        let (item, h) = picture(y, sheet.image);
        items.push(item);
        y += h + 12.0;
    }
    y = push_text(&mut items, header, x, y, colors.primary);
    if sheet.image.is_some() && !image_first {
        let (item, h) = picture(y + 12.0, sheet.image);
        items.push(item);
        y += 12.0 + h + 12.0;
    } else {
        y += 4.0;
    }
    y = push_text(&mut items, body, x, y, colors.primary);
    for (bullet, text) in sheet.bullets.iter().zip(bullets) {
        y += 12.0;
        let icon_x = if rtl { x + CONTENT - ICON } else { x };
        let text_x = if rtl { x } else { x + ICON + ICON_GAP };
        let rect = Rect {
            x: icon_x,
            y,
            w: ICON,
            h: ICON,
        };
        items.push(match bullet.icon {
            Some(p) => Item::Picture {
                rect,
                radius: 6.0,
                picture: p.clone(),
            },
            None => Item::Fill {
                rect,
                radius: 6.0,
                color: colors.placeholder,
            },
        });
        let text_top = y + (ICON - BODY_TYPE.line) / 2.0;
        let bottom = push_text(&mut items, text, text_x, text_top, colors.primary);
        y = bottom.max(y + ICON);
    }
    let extra = match sheet.kind {
        MessageKind::Text => None,
        MessageKind::PromotionalOffer => Some((OFFER_LINE, ACCEPT_OFFER)),
        MessageKind::SwitchPlan => Some((PLAN_LINE, SWITCH_PLAN)),
    };
    if let Some((line, button)) = extra {
        let line = shape(fonts, line, FOOTNOTE_TYPE, CONTENT, scale, Some(leading));
        y = push_text(&mut items, line, x, y + 14.0, colors.secondary) + 10.0;
        y = push_button(
            fonts,
            &mut items,
            button,
            Rect {
                x,
                y,
                w: CONTENT,
                h: 44.0,
            },
            colors.tint,
            colors.on_tint,
            scale,
        );
    }
    y += PADDING;
    let card = Rect {
        x: MARGIN,
        y: card_top,
        w: WIDTH - 2.0 * MARGIN,
        h: y - card_top,
    };
    items.insert(
        card_at,
        Item::Fill {
            rect: card,
            radius: 12.0,
            color: colors.card,
        },
    );

    y += 28.0;
    let button = |y| Rect {
        x: MARGIN,
        y,
        w: WIDTH - 2.0 * MARGIN,
        h: 50.0,
    };
    y = push_button(
        fonts,
        &mut items,
        CANCEL,
        button(y),
        colors.card,
        colors.destructive,
        scale,
    ) + 12.0;
    y = push_button(
        fonts,
        &mut items,
        KEEP,
        button(y),
        colors.tint,
        colors.on_tint,
        scale,
    ) + 34.0;

    let width = (WIDTH * scale).round() as u32;
    let height = (y * scale).ceil() as u32;
    let mut pixmap = Pixmap::new(width, height).expect("the page has a size");
    let [r, g, b] = colors.background;
    pixmap.fill(tiny_skia::Color::from_rgba8(r, g, b, 255));
    for item in items {
        paint(fonts, &mut pixmap, item, scale, colors);
    }
    Rendered {
        png: encode(&pixmap),
        width,
        height,
        text: report,
    }
}

/// Adds text at (x, y); returns the y below it.
fn push_text(items: &mut Vec<Item>, text: Text, x: f32, y: f32, color: [u8; 3]) -> f32 {
    let bottom = y + text.height;
    items.push(Item::Text { text, x, y, color });
    bottom
}

fn push_button(
    fonts: &mut Fonts,
    items: &mut Vec<Item>,
    label: &str,
    rect: Rect,
    fill: [u8; 3],
    ink: [u8; 3],
    scale: f32,
) -> f32 {
    items.push(Item::Fill {
        rect,
        radius: 12.0,
        color: fill,
    });
    let text = shape(
        fonts,
        label,
        BUTTON_TYPE,
        rect.w,
        scale,
        Some(Align::Center),
    );
    let y = rect.y + (rect.h - text.height) / 2.0;
    push_text(items, text, rect.x, y, ink);
    rect.y + rect.h
}

fn paint(fonts: &mut Fonts, pixmap: &mut Pixmap, item: Item, scale: f32, colors: Palette) {
    let to_px = Transform::from_scale(scale, scale);
    match item {
        Item::Fill {
            rect,
            radius,
            color,
        } => {
            let mut paint = Paint::default();
            paint.set_color_rgba8(color[0], color[1], color[2], 255);
            paint.anti_alias = true;
            if let Some(path) = rounded(rect, radius) {
                pixmap.fill_path(&path, &paint, FillRule::Winding, to_px, None);
            }
        }
        Item::AppIcon { rect } => {
            let shader = LinearGradient::new(
                Point::from_xy(rect.x, rect.y),
                Point::from_xy(rect.x, rect.y + rect.h),
                vec![
                    tiny_skia::GradientStop::new(
                        0.0,
                        tiny_skia::Color::from_rgba8(142, 142, 147, 255),
                    ),
                    tiny_skia::GradientStop::new(
                        1.0,
                        tiny_skia::Color::from_rgba8(99, 99, 102, 255),
                    ),
                ],
                SpreadMode::Pad,
                Transform::identity(),
            )
            .unwrap_or(tiny_skia::Shader::SolidColor(tiny_skia::Color::from_rgba8(
                colors.placeholder[0],
                colors.placeholder[1],
                colors.placeholder[2],
                255,
            )));
            let paint = Paint {
                shader,
                anti_alias: true,
                ..Paint::default()
            };
            if let Some(path) = rounded(rect, 14.0) {
                pixmap.fill_path(&path, &paint, FillRule::Winding, to_px, None);
            }
        }
        Item::Picture {
            rect,
            radius,
            picture,
        } => {
            let pixels = &picture.pixels;
            let sx = rect.w * scale / pixels.width() as f32;
            let sy = rect.h * scale / pixels.height() as f32;
            let paint = Paint {
                shader: Pattern::new(
                    pixels.as_ref(),
                    SpreadMode::Pad,
                    FilterQuality::Bicubic,
                    1.0,
                    Transform::from_row(sx, 0.0, 0.0, sy, rect.x * scale, rect.y * scale),
                ),
                anti_alias: true,
                ..Paint::default()
            };
            let px = Rect {
                x: rect.x * scale,
                y: rect.y * scale,
                w: rect.w * scale,
                h: rect.h * scale,
            };
            if let Some(path) = rounded(px, radius * scale) {
                pixmap.fill_path(
                    &path,
                    &paint,
                    FillRule::Winding,
                    Transform::identity(),
                    None,
                );
            }
        }
        Item::Text {
            mut text,
            x,
            y,
            color,
        } => {
            let (ox, oy) = ((x * scale).round() as i32, (y * scale).round() as i32);
            let ink = Color::rgb(color[0], color[1], color[2]);
            text.buffer.draw(
                &mut fonts.system,
                &mut fonts.glyphs,
                ink,
                |gx, gy, w, h, c| blend(pixmap, ox + gx, oy + gy, w, h, c),
            );
        }
    }
}

/// Lays a glyph's pixel (or run of pixels) of color `c` over an opaque page.
fn blend(pixmap: &mut Pixmap, x: i32, y: i32, w: u32, h: u32, c: Color) {
    let [r, g, b, a] = c.as_rgba();
    if a == 0 {
        return;
    }
    let (pw, ph) = (pixmap.width() as i32, pixmap.height() as i32);
    let data = pixmap.data_mut();
    let (a, keep) = (u32::from(a), 255 - u32::from(a));
    for py in y.max(0)..(y + h as i32).min(ph) {
        for px in x.max(0)..(x + w as i32).min(pw) {
            let at = ((py * pw + px) * 4) as usize;
            for (i, src) in [r, g, b].into_iter().enumerate() {
                let dst = u32::from(data[at + i]);
                data[at + i] = ((u32::from(src) * a + dst * keep + 127) / 255) as u8;
            }
        }
    }
}

fn rounded(r: Rect, radius: f32) -> Option<Path> {
    let k = 0.552_284_8 * radius.min(r.w / 2.0).min(r.h / 2.0);
    let rad = radius.min(r.w / 2.0).min(r.h / 2.0);
    let (x0, y0, x1, y1) = (r.x, r.y, r.x + r.w, r.y + r.h);
    let mut pb = PathBuilder::new();
    pb.move_to(x0 + rad, y0);
    pb.line_to(x1 - rad, y0);
    pb.cubic_to(x1 - rad + k, y0, x1, y0 + rad - k, x1, y0 + rad);
    pb.line_to(x1, y1 - rad);
    pb.cubic_to(x1, y1 - rad + k, x1 - rad + k, y1, x1 - rad, y1);
    pb.line_to(x0 + rad, y1);
    pb.cubic_to(x0 + rad - k, y1, x0, y1 - rad + k, x0, y1 - rad);
    pb.line_to(x0, y0 + rad);
    pb.cubic_to(x0, y0 + rad - k, x0 + rad - k, y0, x0 + rad, y0);
    pb.close();
    pb.finish()
}

/// PNG of an opaque page (RGB, fast compression: a gallery of thousands is written in
/// seconds).
fn encode(pixmap: &Pixmap) -> Vec<u8> {
    let rgb: Vec<u8> = pixmap
        .data()
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, pixmap.width(), pixmap.height());
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(&rgb))
        .expect("writing into memory does not fail");
    out
}

/// Two pages side by side under the words BEFORE and AFTER (or the new page alone under
/// NEW), on a neutral ground: the picture a pull request shows for a changed message.
pub fn side_by_side(fonts: &mut Fonts, before: Option<&[u8]>, after: &[u8], scale: u8) -> Vec<u8> {
    let scale = f32::from(scale.max(1));
    let decode = |png: &[u8]| Pixmap::decode_png(png).ok();
    let pages: Vec<(&str, Pixmap)> = match before.and_then(decode) {
        Some(b) => vec![("BEFORE", b)],
        None => vec![],
    }
    .into_iter()
    .chain(decode(after).map(|a| (if before.is_some() { "AFTER" } else { "NEW" }, a)))
    .collect();
    let gap = (24.0 * scale) as u32;
    let label = (32.0 * scale) as u32;
    let width = pages.iter().map(|(_, p)| p.width()).sum::<u32>() + gap * (pages.len() as u32 + 1);
    let height = pages.iter().map(|(_, p)| p.height()).max().unwrap_or(1) + label + gap;
    let Some(mut canvas) = Pixmap::new(width.max(1), height.max(1)) else {
        return Vec::new();
    };
    canvas.fill(tiny_skia::Color::from_rgba8(209, 209, 214, 255));
    let mut x = gap;
    for (word, page) in &pages {
        let words = shape(
            fonts,
            word,
            HEADER_TYPE,
            page.width() as f32 / scale,
            scale,
            Some(Align::Center),
        );
        let y = (label as f32 - words.height * scale) / 2.0;
        paint(
            fonts,
            &mut canvas,
            Item::Text {
                text: words,
                x: x as f32 / scale,
                y: y / scale,
                color: [60, 60, 67],
            },
            scale,
            palette(Appearance::Light),
        );
        canvas.draw_pixmap(
            x as i32,
            label as i32,
            page.as_ref(),
            &tiny_skia::PixmapPaint::default(),
            Transform::identity(),
            None,
        );
        x += page.width() + gap;
    }
    encode(&canvas)
}
