//! Apple's rules for retention-message images, on bytes already in memory: a real PNG
//! (signature and IHDR, decoded with the `png` crate), no transparency, and the pixel
//! size of its kind. Used by `validate` and by the simulator alike.

use crate::manifest::ImageSize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PngFacts {
    pub width: u32,
    pub height: u32,
    pub has_alpha: bool,
}

pub const FULL_SIZE_WIDTH: u32 = 3840;
pub const FULL_SIZE_HEIGHT: std::ops::RangeInclusive<u32> = 160..=2160;
pub const BULLET_POINT_SIDE: u32 = 1024;

/// Reads a PNG's header and pixels. Errors say what is wrong in a user's words.
pub fn inspect(bytes: &[u8]) -> Result<PngFacts, String> {
    const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    if !bytes.starts_with(&SIGNATURE) {
        return Err("is not a PNG file (no PNG signature)".into());
    }
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder
        .read_info()
        .map_err(|e| format!("is not a readable PNG ({e})"))?;
    let info = reader.info();
    let (width, height) = (info.width, info.height);
    let has_alpha = matches!(
        info.color_type,
        png::ColorType::Rgba | png::ColorType::GrayscaleAlpha
    ) || info.trns.is_some();
    let mut buf = vec![0; reader.output_buffer_size().unwrap_or(0)];
    reader
        .next_frame(&mut buf)
        .map_err(|e| format!("is a damaged PNG ({e})"))?;
    Ok(PngFacts {
        width,
        height,
        has_alpha,
    })
}

/// Checks the pixel size for the declared kind of image.
pub fn check_size(size: ImageSize, facts: PngFacts) -> Result<(), String> {
    let PngFacts { width, height, .. } = facts;
    match size {
        ImageSize::FullSize if width != FULL_SIZE_WIDTH || !FULL_SIZE_HEIGHT.contains(&height) => {
            Err(format!(
                "is {width}×{height}; a FULL_SIZE image is {FULL_SIZE_WIDTH} wide and {}–{} high",
                FULL_SIZE_HEIGHT.start(),
                FULL_SIZE_HEIGHT.end()
            ))
        }
        ImageSize::BulletPoint if width != BULLET_POINT_SIDE || height != BULLET_POINT_SIDE => {
            Err(format!(
                "is {width}×{height}; a BULLET_POINT image is {BULLET_POINT_SIDE}×{BULLET_POINT_SIDE}"
            ))
        }
        _ => Ok(()),
    }
}

/// Encodes a solid-colour PNG: test fixtures and generated examples.
pub fn solid_png(width: u32, height: u32, rgb: [u8; 3], alpha: bool) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(if alpha {
            png::ColorType::Rgba
        } else {
            png::ColorType::Rgb
        });
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Balanced);
        let mut writer = encoder.write_header().expect("in-memory PNG header");
        let channels = if alpha { 4 } else { 3 };
        let mut row = Vec::with_capacity(width as usize * channels);
        for _ in 0..width {
            row.extend_from_slice(&rgb);
            if alpha {
                row.push(255);
            }
        }
        let data: Vec<u8> = row.repeat(height as usize);
        writer.write_image_data(&data).expect("in-memory PNG data");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_full_size_rgb_png() {
        let facts = inspect(&solid_png(3840, 160, [10, 20, 30], false)).unwrap();
        assert_eq!(
            facts,
            PngFacts {
                width: 3840,
                height: 160,
                has_alpha: false
            }
        );
        assert!(check_size(ImageSize::FullSize, facts).is_ok());
        assert!(check_size(ImageSize::BulletPoint, facts).is_err());
    }

    #[test]
    fn reports_alpha_and_wrong_sizes() {
        let facts = inspect(&solid_png(1024, 1024, [1, 2, 3], true)).unwrap();
        assert!(facts.has_alpha);
        assert!(check_size(ImageSize::BulletPoint, facts).is_ok());
        let small = inspect(&solid_png(3840, 159, [0, 0, 0], false)).unwrap();
        assert_eq!(
            check_size(ImageSize::FullSize, small).unwrap_err(),
            "is 3840×159; a FULL_SIZE image is 3840 wide and 160–2160 high"
        );
    }

    #[test]
    fn refuses_non_png_and_truncated_bytes() {
        assert_eq!(
            inspect(b"GIF89a....").unwrap_err(),
            "is not a PNG file (no PNG signature)"
        );
        let png = solid_png(64, 64, [1, 1, 1], false);
        assert!(inspect(&png[..40]).is_err());
    }
}
