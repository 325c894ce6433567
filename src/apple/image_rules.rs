//! Apple's rules for retention-message images, on bytes already in memory: a real PNG
//! (signature and IHDR, decoded with the `png` crate), no transparency, and the pixel
//! size of its kind. Used by `validate` and by the simulator alike.
//!
//! Hostile files are cheap to refuse: the header's width and height are checked against
//! Apple's sizes before any pixel is decoded, rows are decoded one at a time (no buffer
//! sized from the header), and the decoder's own buffers are capped with `png::Limits`.

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

/// The largest image file read from disk: a 3840×2160 RGBA image at 16 bits per channel,
/// stored uncompressed (the largest pixel data Apple's sizes allow), plus 1 MiB for chunks
/// and framing. Real exports are a small fraction of this.
pub const MAX_IMAGE_FILE_BYTES: u64 = FULL_SIZE_WIDTH as u64 * 2160 * 8 + 2160 + 1024 * 1024;

/// What the decoder may allocate for itself (row buffers, text and ICC chunks).
const DECODER_LIMIT_BYTES: usize = 16 * 1024 * 1024;

/// Whether a width and height is one of Apple's image sizes, of either kind.
pub fn is_apple_size(width: u32, height: u32) -> bool {
    (width == FULL_SIZE_WIDTH && FULL_SIZE_HEIGHT.contains(&height))
        || (width == BULLET_POINT_SIDE && height == BULLET_POINT_SIDE)
}

/// Reads a PNG's header and, when the header declares one of Apple's sizes, decodes its
/// pixels to prove the file is whole. A header with any other size is not decoded: the
/// facts come from the header alone and [`check_size`] refuses them for either kind, so
/// a 100-byte file declaring 65535×65535 costs nothing. Errors say what is wrong in a
/// user's words.
pub fn inspect(bytes: &[u8]) -> Result<PngFacts, String> {
    const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    if !bytes.starts_with(&SIGNATURE) {
        return Err("is not a PNG file (no PNG signature)".into());
    }
    let limits = png::Limits {
        bytes: DECODER_LIMIT_BYTES,
    };
    let mut decoder = png::Decoder::new_with_limits(std::io::Cursor::new(bytes), limits);
    let header = decoder
        .read_header_info()
        .map_err(|e| format!("is not a readable PNG ({e})"))?;
    let (width, height) = (header.width, header.height);
    if !is_apple_size(width, height) {
        let has_alpha = matches!(
            header.color_type,
            png::ColorType::Rgba | png::ColorType::GrayscaleAlpha
        );
        return Ok(PngFacts {
            width,
            height,
            has_alpha,
        });
    }
    let mut reader = decoder
        .read_info()
        .map_err(|e| format!("is not a readable PNG ({e})"))?;
    let info = reader.info();
    let has_alpha = matches!(
        info.color_type,
        png::ColorType::Rgba | png::ColorType::GrayscaleAlpha
    ) || info.trns.is_some();
    // Row by row: the only pixel memory is the decoder's own (limited) row buffers.
    while reader
        .next_row()
        .map_err(|e| format!("is a damaged PNG ({e})"))?
        .is_some()
    {}
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
    use proptest::prelude::*;

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

    /// CRC-32 of PNG chunks (ISO 3309), to forge headers the decoder accepts.
    fn crc32(bytes: &[u8]) -> u32 {
        crc32fast::hash(bytes)
    }

    /// `png` with its IHDR rewritten (and its CRC fixed) to declare another size, depth
    /// and colour type; the pixel data stays what it was.
    fn forge_header(png: &[u8], width: u32, height: u32, depth: u8, color: u8) -> Vec<u8> {
        let mut out = png.to_vec();
        // signature (8), length (4), "IHDR" (4), then 13 bytes of header, then the CRC.
        out[16..20].copy_from_slice(&width.to_be_bytes());
        out[20..24].copy_from_slice(&height.to_be_bytes());
        out[24] = depth;
        out[25] = color;
        let crc = crc32(&out[12..29]);
        out[29..33].copy_from_slice(&crc.to_be_bytes());
        out
    }

    #[test]
    fn a_huge_header_is_refused_without_decoding() {
        // 65535×65535 RGBA at 16 bits: 34 GB of pixels behind a ~100-byte file.
        let bomb = forge_header(&solid_png(1, 1, [0, 0, 0], false), 65535, 65535, 16, 6);
        assert!(bomb.len() < 120, "{}", bomb.len());
        let facts = inspect(&bomb).unwrap();
        assert_eq!((facts.width, facts.height), (65535, 65535));
        assert_eq!(
            check_size(ImageSize::FullSize, facts).unwrap_err(),
            "is 65535×65535; a FULL_SIZE image is 3840 wide and 160–2160 high"
        );
        assert!(check_size(ImageSize::BulletPoint, facts).is_err());
    }

    #[test]
    fn an_apple_sized_header_with_missing_pixels_is_damaged() {
        // The largest size Apple takes, 16-bit RGBA, with the pixels of a 1×1 image.
        let forged = forge_header(&solid_png(1, 1, [0, 0, 0], false), 3840, 2160, 16, 6);
        let why = inspect(&forged).unwrap_err();
        assert!(why.starts_with("is a damaged PNG"), "{why}");
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
            .. ProptestConfig::default()
        })]

        /// Mutated PNGs, forged headers and random tails never panic or abort; whatever
        /// passes `inspect` and `check_size` really has one of Apple's sizes.
        #[test]
        fn mutated_pngs_never_panic(
            width in prop_oneof![Just(1024u32), Just(3840), 0u32..5000, proptest::num::u32::ANY],
            height in prop_oneof![Just(1024u32), Just(160), Just(2160), 0u32..5000, proptest::num::u32::ANY],
            depth in prop_oneof![Just(8u8), Just(16), proptest::num::u8::ANY],
            color in prop_oneof![Just(2u8), Just(6), proptest::num::u8::ANY],
            flips in proptest::collection::vec((proptest::num::usize::ANY, proptest::num::u8::ANY), 0..6),
            cut in proptest::option::of(proptest::num::usize::ANY),
            tail in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
        ) {
            static BASE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
            // An Apple-sized original, so that mutations of its pixels get decoded.
            let base = BASE.get_or_init(|| solid_png(1024, 1024, [3, 4, 5], false));
            let mut bytes = forge_header(base, width, height, depth, color);
            for (at, value) in flips {
                // Spare the signature and the header so that mutations reach the pixels.
                let at = 33 + at % (bytes.len() - 33);
                bytes[at] ^= value;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut % (bytes.len() + 1));
            }
            bytes.extend(tail);
            if let Ok(facts) = inspect(&bytes) {
                let fits = check_size(ImageSize::FullSize, facts).is_ok()
                    || check_size(ImageSize::BulletPoint, facts).is_ok();
                prop_assert_eq!(fits, is_apple_size(facts.width, facts.height));
            }
        }

        #[test]
        fn random_bytes_after_the_signature_never_panic(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
        ) {
            let mut bytes = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
            bytes.extend(body);
            let _ = inspect(&bytes);
        }
    }

    #[test]
    fn refuses_non_png_and_truncated_bytes() {
        assert_eq!(
            inspect(b"GIF89a....").unwrap_err(),
            "is not a PNG file (no PNG signature)"
        );
        let png = solid_png(1024, 1024, [1, 1, 1], false);
        assert!(inspect(&png[..40]).is_err());
        assert!(
            inspect(&png[..png.len() - 20])
                .unwrap_err()
                .starts_with("is a damaged PNG")
        );
        // Not one of Apple's sizes: judged from the header, refused by size for both kinds.
        let small = solid_png(64, 64, [1, 1, 1], false);
        let facts = inspect(&small[..small.len() - 20]).unwrap();
        assert!(check_size(ImageSize::FullSize, facts).is_err());
        assert!(check_size(ImageSize::BulletPoint, facts).is_err());
    }
}
