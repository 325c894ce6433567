//! Message × locale → PNG: an approximation of the *Confirm Cancellation* page on which
//! an iPhone shows a retention message ("From the developer": image, header, body,
//! bullet points, and the offer or plan button Apple adds), in light or dark appearance,
//! at 2× or 3×. Pure: text and decoded pictures in, pixels and what the text did (lines
//! per field, characters no font has) out; reading files and writing the gallery are the
//! command layer's.
//!
//! Apple documents the order of the parts, the buttons' words and the image sizes, not
//! the type sizes or spacing: those follow iOS's grouped-list defaults (see the README).

pub mod check;
pub mod fonts;
mod picture;
mod sheet;

pub use fonts::{FontBook, FontError, FontPool, FontSources, Fonts};
pub use picture::{Picture, PictureError};
pub use sheet::{measure, render, side_by_side};

use crate::manifest::{HeaderPosition, MessageKind};

/// One localization of a message, as the sheet shows it.
#[derive(Debug, Clone, Copy)]
pub struct Sheet<'a> {
    pub kind: MessageKind,
    pub header_position: HeaderPosition,
    pub locale: &'a str,
    pub header: &'a str,
    pub body: &'a str,
    pub image: Option<&'a Picture>,
    pub bullets: &'a [Bullet<'a>],
}

#[derive(Debug, Clone, Copy)]
pub struct Bullet<'a> {
    pub text: &'a str,
    pub icon: Option<&'a Picture>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Appearance {
    Light,
    Dark,
}

impl Appearance {
    pub const ALL: [Appearance; 2] = [Self::Light, Self::Dark];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Light => "light",
            Self::Dark => "dark",
        }
    }
}

/// How a sheet is drawn: appearance and pixels per point (2 or 3, as iPhones are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub appearance: Appearance,
    pub scale: u8,
}

/// A text field of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Header,
    Body,
    /// The bullet point at this index (from 0).
    Bullet(usize),
}

impl Field {
    /// How many lines of this field the sheet shows before it stops reading as one
    /// message (our rule, not Apple's: Apple limits characters only).
    pub fn max_lines(self) -> usize {
        match self {
            Self::Header => 2,
            Self::Body => 4,
            Self::Bullet(_) => 2,
        }
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Header => f.write_str("header"),
            Self::Body => f.write_str("body"),
            Self::Bullet(i) => write!(f, "bullet point {}", i + 1),
        }
    }
}

/// What the text of one sheet did when laid out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextReport {
    /// Lines each field took, in field order.
    pub lines: Vec<(Field, usize)>,
    /// Characters no font has, with the field they are in (each once per field).
    pub missing: Vec<(Field, char)>,
}

impl TextReport {
    /// The characters no font has, per field, in field order.
    pub fn missing_by_field(&self) -> Vec<(Field, Vec<char>)> {
        let mut out: Vec<(Field, Vec<char>)> = Vec::new();
        for &(field, c) in &self.missing {
            match out.last_mut() {
                Some((f, chars)) if *f == field => chars.push(c),
                _ => out.push((field, vec![c])),
            }
        }
        out
    }

    /// The fields that take more lines than the sheet shows: (field, lines, most shown).
    pub fn overflows(&self) -> impl Iterator<Item = (Field, usize, usize)> + '_ {
        self.lines
            .iter()
            .filter(|(field, lines)| *lines > field.max_lines())
            .map(|&(field, lines)| (field, lines, field.max_lines()))
    }
}

/// A drawn sheet.
pub struct Rendered {
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub text: TextReport,
}

/// Whether a locale's script runs right to left (Arabic, Hebrew): the sheet mirrors.
pub fn right_to_left(locale: &str) -> bool {
    let language = locale.split(['-', '_']).next().unwrap_or(locale);
    matches!(language, "ar" | "he" | "fa" | "ur")
}

#[cfg(test)]
mod tests;
