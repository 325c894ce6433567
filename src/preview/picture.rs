//! A message's PNG, decoded once and scaled down to the width it is drawn at.

use tiny_skia::{FilterQuality, Pixmap, PixmapPaint, Transform};

/// A decoded image, at most as wide as asked.
#[derive(Clone)]
pub struct Picture {
    pub(super) pixels: Pixmap,
}

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Picture({}×{})",
            self.pixels.width(),
            self.pixels.height()
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    #[error("not a PNG that can be decoded: {0}")]
    NotPng(String),
}

impl Picture {
    /// Decodes `png` and scales it to at most `max_width` pixels wide (aspect kept).
    pub fn decode(png: &[u8], max_width: u32) -> Result<Picture, PictureError> {
        let pixels = Pixmap::decode_png(png).map_err(|e| PictureError::NotPng(e.to_string()))?;
        Ok(Picture {
            pixels: fit_width(pixels, max_width.max(1)),
        })
    }

    /// A message's FULL_SIZE image, for a page drawn at `scale`.
    pub fn for_image(png: &[u8], scale: u8) -> Result<Picture, PictureError> {
        Picture::decode(
            png,
            (super::sheet::CONTENT * f32::from(scale)).ceil() as u32,
        )
    }

    /// A bullet point's icon, for a page drawn at `scale`.
    pub fn for_icon(png: &[u8], scale: u8) -> Result<Picture, PictureError> {
        Picture::decode(png, (super::sheet::ICON * f32::from(scale)).ceil() as u32)
    }

    pub fn width(&self) -> u32 {
        self.pixels.width()
    }

    pub fn height(&self) -> u32 {
        self.pixels.height()
    }
}

/// Halves by averaging 2×2 blocks while more than twice too wide (a single bicubic step
/// from 3840 pixels would alias), then one bicubic step to the width.
fn fit_width(mut pixels: Pixmap, width: u32) -> Pixmap {
    while pixels.width() >= width * 2 && pixels.height() >= 2 {
        pixels = halve(&pixels);
    }
    if pixels.width() <= width {
        return pixels;
    }
    let ratio = width as f32 / pixels.width() as f32;
    let height = ((pixels.height() as f32 * ratio).round() as u32).max(1);
    let Some(mut out) = Pixmap::new(width, height) else {
        return pixels;
    };
    out.draw_pixmap(
        0,
        0,
        pixels.as_ref(),
        &PixmapPaint {
            quality: FilterQuality::Bicubic,
            ..PixmapPaint::default()
        },
        Transform::from_scale(ratio, height as f32 / pixels.height() as f32),
        None,
    );
    out
}

fn halve(src: &Pixmap) -> Pixmap {
    let (w, h) = (src.width() / 2, src.height() / 2);
    let mut out = Pixmap::new(w, h).expect("half of a non-empty pixmap");
    let stride = src.width() as usize * 4;
    let from = src.data();
    let to = out.data_mut();
    for y in 0..h as usize {
        for x in 0..w as usize {
            let at = |dx: usize, dy: usize| (2 * y + dy) * stride + (2 * x + dx) * 4;
            for c in 0..4 {
                let sum = from[at(0, 0) + c] as u16
                    + from[at(1, 0) + c] as u16
                    + from[at(0, 1) + c] as u16
                    + from[at(1, 1) + c] as u16;
                to[(y * w as usize + x) * 4 + c] = ((sum + 2) / 4) as u8;
            }
        }
    }
    out
}
