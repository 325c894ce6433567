//! The fonts a preview is drawn with: Noto Sans (Regular and Bold, OFL, embedded in the
//! binary, so Latin, Greek and Cyrillic look the same on every machine), then the
//! machine's own fonts (fontconfig's folders on Linux, the system's on macOS and Windows)
//! and any `--fonts DIR`, which cosmic-text falls back to per script (CJK, Thai, Arabic,
//! Hebrew, Devanagari, emoji…).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cosmic_text::{FontSystem, SwashCache, fontdb};

static NOTO_SANS_REGULAR: &[u8] = include_bytes!("../../assets/fonts/NotoSans-Regular.ttf");
static NOTO_SANS_BOLD: &[u8] = include_bytes!("../../assets/fonts/NotoSans-Bold.ttf");

/// The family every text of the sheet asks for first.
pub const FAMILY: &str = "Noto Sans";

/// Where fonts come from, beyond the two embedded ones.
#[derive(Debug, Clone, Default)]
pub struct FontSources {
    /// Folders of `.ttf`/`.otf`/`.ttc` files (searched recursively).
    pub dirs: Vec<PathBuf>,
    /// Whether the machine's own fonts are used too.
    pub system: bool,
}

/// A font folder that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FontError {
    #[error("font folder {0} does not exist or is not a folder")]
    NotAFolder(PathBuf),
    #[error("font folder {0} holds no font that can be read (.ttf, .otf, .ttc)")]
    NoFonts(PathBuf),
}

/// The font database, read once; each thread makes its own [`Fonts`] from it.
#[derive(Clone)]
pub struct FontBook {
    db: Arc<fontdb::Database>,
    advances: Arc<Advances>,
    coverage: Arc<std::sync::OnceLock<Coverage>>,
}

impl FontBook {
    pub fn load(sources: &FontSources) -> Result<FontBook, FontError> {
        let mut db = fontdb::Database::new();
        db.load_font_source(fontdb::Source::Binary(Arc::new(NOTO_SANS_REGULAR)));
        db.load_font_source(fontdb::Source::Binary(Arc::new(NOTO_SANS_BOLD)));
        if sources.system {
            db.load_system_fonts();
        }
        for dir in &sources.dirs {
            load_dir(&mut db, dir)?;
        }
        db.set_sans_serif_family(FAMILY);
        Ok(FontBook {
            db: Arc::new(db),
            advances: Arc::new(Advances::of_embedded()),
            coverage: Arc::default(),
        })
    }

    /// Only the embedded fonts: what golden images are drawn with, the same everywhere.
    pub fn embedded() -> FontBook {
        FontBook::load(&FontSources::default()).expect("no folder to read")
    }

    pub fn fonts(&self) -> Fonts {
        // The locale steers which CJK face wins a fallback; the sheet's own locale is
        // not known here, and "en" keeps the choice the same on every machine.
        Fonts {
            system: FontSystem::new_with_locale_and_db("en".into(), (*self.db).clone()),
            glyphs: SwashCache::new(),
            advances: self.advances.clone(),
            coverage: self.coverage.clone(),
            db: self.db.clone(),
        }
    }

    /// How many faces are known (for `preview`'s summary).
    pub fn faces(&self) -> usize {
        self.db.len()
    }
}

fn load_dir(db: &mut fontdb::Database, dir: &Path) -> Result<(), FontError> {
    if !dir.is_dir() {
        return Err(FontError::NotAFolder(dir.to_path_buf()));
    }
    let before = db.len();
    db.load_fonts_dir(dir);
    if db.len() == before {
        return Err(FontError::NoFonts(dir.to_path_buf()));
    }
    Ok(())
}

/// One thread's shaping state and glyph cache.
pub struct Fonts {
    pub(super) system: FontSystem,
    pub(super) glyphs: SwashCache,
    pub(super) advances: Arc<Advances>,
    coverage: Arc<std::sync::OnceLock<Coverage>>,
    db: Arc<fontdb::Database>,
}

impl Fonts {
    /// Whether some font has `c` (the table of every font's characters is made at the
    /// first question, once for all threads).
    pub(super) fn has(&self, c: char) -> bool {
        self.coverage.get_or_init(|| Coverage::of(&self.db)).has(c)
    }
}

/// Every character some font of the book has, as one bit per code point (136 KiB).
/// Asked before shaping: cosmic-text looks for a character no font has in every font,
/// for every run it is in, which took minutes for a few thousand such texts.
pub struct Coverage {
    bits: Vec<u64>,
}

impl Coverage {
    fn of(db: &fontdb::Database) -> Coverage {
        use cosmic_text::skrifa::{FontRef, MetadataProvider};
        let mut bits = vec![0u64; (char::MAX as usize + 1).div_ceil(64)];
        for face in db.faces() {
            db.with_face_data(face.id, |data, index| {
                if let Ok(font) = FontRef::from_index(data, index) {
                    for (c, _) in font.charmap().mappings() {
                        if let Some(word) = bits.get_mut(c as usize / 64) {
                            *word |= 1 << (c % 64);
                        }
                    }
                }
            });
        }
        Coverage { bits }
    }

    pub fn has(&self, c: char) -> bool {
        self.bits[c as usize / 64] & (1 << (c as u32 % 64)) != 0
    }
}

/// The advance widths (in em) of the embedded Noto Sans for the letters of the Latin,
/// Greek and Cyrillic blocks and common punctuation: enough to prove, without shaping,
/// that most text fits its lines (see `sheet::fits_without_shaping`).
pub struct Advances {
    regular: Vec<f32>,
    bold: Vec<f32>,
}

/// The characters [`Advances`] covers: U+0000 to U+052F, and U+2000 to U+20CF.
const LOW_END: u32 = 0x0530;
const PUNCTUATION: std::ops::Range<u32> = 0x2000..0x20D0;

impl Advances {
    fn of_embedded() -> Advances {
        Advances {
            regular: advances_of(NOTO_SANS_REGULAR),
            bold: advances_of(NOTO_SANS_BOLD),
        }
    }

    /// The advance of `c` in em, when the embedded face has it and it is covered.
    pub fn em(&self, c: char, bold: bool) -> Option<f32> {
        let table = if bold { &self.bold } else { &self.regular };
        let index = index_of(c)?;
        table.get(index).copied().filter(|w| !w.is_nan())
    }
}

fn index_of(c: char) -> Option<usize> {
    let c = c as u32;
    if c < LOW_END {
        Some(c as usize)
    } else if PUNCTUATION.contains(&c) {
        Some((LOW_END + c - PUNCTUATION.start) as usize)
    } else {
        None
    }
}

/// NaN marks a character the face has no glyph for (or a control character).
fn advances_of(font: &[u8]) -> Vec<f32> {
    use cosmic_text::skrifa::{FontRef, MetadataProvider, instance::LocationRef, instance::Size};
    let size = (LOW_END + PUNCTUATION.end - PUNCTUATION.start) as usize;
    let Ok(face) = FontRef::new(font) else {
        return vec![f32::NAN; size];
    };
    let units = f32::from(
        face.metrics(Size::unscaled(), LocationRef::default())
            .units_per_em,
    );
    let charmap = face.charmap();
    let metrics = face.glyph_metrics(Size::unscaled(), LocationRef::default());
    (0..LOW_END)
        .chain(PUNCTUATION)
        .map(|c| {
            char::from_u32(c)
                .filter(|c| !c.is_control())
                .and_then(|c| charmap.map(c))
                .and_then(|glyph| metrics.advance_width(glyph))
                .map_or(f32::NAN, |w| w / units)
        })
        .collect()
}

/// [`Fonts`] for work spread over threads: each task borrows one, made on first need.
pub struct FontPool {
    book: FontBook,
    free: std::sync::Mutex<Vec<Fonts>>,
}

impl FontPool {
    pub fn new(book: FontBook) -> FontPool {
        FontPool {
            book,
            free: std::sync::Mutex::new(Vec::new()),
        }
    }

    pub fn with<R>(&self, work: impl FnOnce(&mut Fonts) -> R) -> R {
        let taken = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut fonts = taken.unwrap_or_else(|| self.book.fonts());
        let out = work(&mut fonts);
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(fonts);
        out
    }

    pub fn book(&self) -> &FontBook {
        &self.book
    }
}
