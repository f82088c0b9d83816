//! The program picture: is it black? From a tiny screenshot's pixels (the
//! caller decodes `GetSourceScreenshot`'s image; no decoding here), a luma
//! summary, and the detector that alerts when it stays black while live.
//!
//! Black is a dark picture that is also nearly uniform: a night scene or
//! white titles on black are dark on average but not uniform, and are not black.

use crate::guard::episode::{Edge, Episode, Reading};
use crate::guard::{ms, AlertDetail, AlertSettings, Transition};

/// The largest standard deviation of luma (0 to 1) a picture may have and
/// still be "nearly uniform".
pub const BLACK_MAX_SPREAD: f64 = 0.02;

/// A picture counts as clearly not black (the alert clears) when its mean luma
/// is this many times the threshold, or its spread this many times the limit.
pub const BLACK_CLEAR_FACTOR: f64 = 1.5;

/// How the pixel bytes are laid out: 8 bits a channel, alpha ignored (the
/// program output is opaque).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelLayout {
    Rgb,
    Rgba,
}

impl PixelLayout {
    fn bytes_per_pixel(self) -> usize {
        match self {
            PixelLayout::Rgb => 3,
            PixelLayout::Rgba => 4,
        }
    }
}

/// A picture's luma, each 0 (black) to 1 (white).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LumaSummary {
    pub mean: f64,
    /// The standard deviation across the pixels.
    pub spread: f64,
}

impl LumaSummary {
    /// Dark (mean under `max_mean_percent`) and nearly uniform.
    pub fn is_black(&self, max_mean_percent: f64) -> bool {
        self.mean * 100.0 < max_mean_percent && self.spread <= BLACK_MAX_SPREAD
    }

    fn is_clearly_not_black(&self, max_mean_percent: f64) -> bool {
        self.mean * 100.0 >= max_mean_percent * BLACK_CLEAR_FACTOR
            || self.spread >= BLACK_MAX_SPREAD * BLACK_CLEAR_FACTOR
    }
}

/// The luma summary (Rec. 709 weights) of 8-bit pixels; `None` for no pixels
/// or a byte count that is not whole pixels.
pub fn luma_summary(pixels: &[u8], layout: PixelLayout) -> Option<LumaSummary> {
    let step = layout.bytes_per_pixel();
    if pixels.is_empty() || pixels.len() % step != 0 {
        return None;
    }
    let lumas = pixels
        .chunks_exact(step)
        .map(|p| (0.2126 * f64::from(p[0]) + 0.7152 * f64::from(p[1]) + 0.0722 * f64::from(p[2])) / 255.0);
    let (mut n, mut sum, mut sum_sq) = (0.0, 0.0, 0.0);
    for y in lumas {
        n += 1.0;
        sum += y;
        sum_sq += y * y;
    }
    let mean = sum / n;
    let spread = (sum_sq / n - mean * mean).max(0.0).sqrt();
    Some(LumaSummary { mean, spread })
}

/// Whether these pixels are black by `max_mean_percent` (the settings'
/// `black_luma_percent`); no pixels is not black.
/// The RGB pixels of a binary PPM (`P6`, 8 bits) in a data URL, as OBS's
/// `GetSourceScreenshot` answers with `imageFormat: "ppm"`: the simplest format
/// OBS writes, so no image decoder is needed. `None` for anything else.
pub fn ppm_data_url_pixels(data_url: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let encoded = data_url.strip_prefix("data:image/")?.split_once(";base64,")?.1;
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    // Header: "P6", width, height, maxval, each after whitespace; then one whitespace byte.
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while bytes.get(at)?.is_ascii_whitespace() {
            at += 1;
        }
        if bytes[at] == b'#' {
            while *bytes.get(at)? != b'\n' {
                at += 1;
            }
            continue;
        }
        let start = at;
        while !bytes.get(at)?.is_ascii_whitespace() {
            at += 1;
        }
        fields.push(std::str::from_utf8(&bytes[start..at]).ok()?.to_string());
    }
    let (width, height, max): (usize, usize, u32) =
        (fields[1].parse().ok()?, fields[2].parse().ok()?, fields[3].parse().ok()?);
    if fields[0] != "P6" || max != 255 || width == 0 || height == 0 || width * height > 1 << 20 {
        return None;
    }
    let pixels = bytes.get(at + 1..at + 1 + width * height * 3)?;
    Some(pixels.to_vec())
}

pub fn is_black_frame(pixels: &[u8], layout: PixelLayout, max_mean_percent: f64) -> bool {
    luma_summary(pixels, layout).is_some_and(|s| s.is_black(max_mean_percent))
}

/// black: the program's screenshots black for the hold time while live.
/// Clears on the first screenshot that is clearly not black
/// ([`BLACK_CLEAR_FACTOR`]); a picture between the two keeps what is.
#[derive(Debug, Clone, Default)]
pub struct Black {
    episode: Episode,
}

impl Black {
    /// A screenshot taken at `now_ms`, or `None` when there is none to judge.
    pub fn sample(
        &mut self,
        settings: &AlertSettings,
        now_ms: u64,
        live: bool,
        luma: Option<LumaSummary>,
    ) -> Option<Transition> {
        if !live {
            return self.end(now_ms);
        }
        let threshold = settings.black_luma_percent;
        let reading = match luma {
            None => Reading::Between,
            Some(l) if l.is_black(threshold) => Reading::Bad,
            Some(l) if l.is_clearly_not_black(threshold) => Reading::Good,
            Some(_) => Reading::Between,
        };
        let edge = self.episode.observe(now_ms, reading, ms(settings.black_s), 0);
        match edge? {
            Edge::Started { since_ms } => Some(Transition::Started {
                since_ms,
                detail: AlertDetail {
                    luma_percent: luma.map(|l| (l.mean * 1000.0).round() / 10.0),
                    ..Default::default()
                },
            }),
            Edge::Cleared { lasted_ms } => Some(Transition::Cleared { lasted_ms }),
        }
    }

    pub fn end(&mut self, now_ms: u64) -> Option<Transition> {
        match self.episode.end(now_ms)? {
            Edge::Cleared { lasted_ms } => Some(Transition::Cleared { lasted_ms }),
            Edge::Started { .. } => None,
        }
    }

    pub fn open_since(&self) -> Option<u64> {
        self.episode.open_since()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ppm_url(width: usize, height: usize, rgb: [u8; 3]) -> String {
        use base64::Engine;
        let mut bytes = format!("P6\n{width} {height}\n255\n").into_bytes();
        for _ in 0..width * height {
            bytes.extend_from_slice(&rgb);
        }
        format!("data:image/ppm;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    #[test]
    fn obs_ppm_screenshots_decode_to_their_pixels() {
        let white = ppm_data_url_pixels(&ppm_url(32, 18, [255, 255, 255])).expect("a ppm");
        assert_eq!(white.len(), 32 * 18 * 3);
        assert!(!is_black_frame(&white, PixelLayout::Rgb, 4.0));
        let black = ppm_data_url_pixels(&ppm_url(32, 18, [0, 0, 0])).expect("a ppm");
        assert!(is_black_frame(&black, PixelLayout::Rgb, 4.0));
        assert_eq!(ppm_data_url_pixels("data:image/png;base64,iVBORw0KGgo="), None);
        assert_eq!(ppm_data_url_pixels("not a data url"), None);
        let short = ppm_url(32, 18, [0, 0, 0]);
        assert_eq!(ppm_data_url_pixels(&short[..short.len() - 40]), None, "cut short");
    }

    /// A 32x18 RGBA picture of one colour, with `dots` pixels of another.
    fn picture(rgb: [u8; 3], dots: usize, dot: [u8; 3]) -> Vec<u8> {
        (0..32 * 18)
            .flat_map(|i| if i < dots { [dot[0], dot[1], dot[2], 255] } else { [rgb[0], rgb[1], rgb[2], 255] })
            .collect()
    }

    #[test]
    fn pure_black_and_a_dim_uniform_grey_are_black() {
        assert!(is_black_frame(&picture([0, 0, 0], 0, [0, 0, 0]), PixelLayout::Rgba, 4.0));
        assert!(is_black_frame(&picture([8, 8, 8], 0, [0, 0, 0]), PixelLayout::Rgba, 4.0));
        let rgb: Vec<u8> = vec![5; 32 * 18 * 3];
        assert!(is_black_frame(&rgb, PixelLayout::Rgb, 4.0));
    }

    #[test]
    fn a_picture_or_titles_on_black_are_not_black() {
        // A colour source.
        assert!(!is_black_frame(&picture([40, 90, 200], 0, [0, 0, 0]), PixelLayout::Rgba, 4.0));
        // Dark grey just over 4 %.
        assert!(!is_black_frame(&picture([12, 12, 12], 0, [0, 0, 0]), PixelLayout::Rgba, 4.0));
        // "Starting soon" in white on black: dark on average, not uniform.
        let titles = picture([0, 0, 0], 10, [255, 255, 255]);
        let summary = luma_summary(&titles, PixelLayout::Rgba).unwrap();
        assert!(summary.mean < 0.04, "{summary:?}");
        assert!(!summary.is_black(4.0));
    }

    #[test]
    fn the_luma_is_weighted_and_alpha_is_ignored() {
        let green = luma_summary(&[0, 255, 0, 0], PixelLayout::Rgba).unwrap();
        assert!((green.mean - 0.7152).abs() < 1e-9);
        assert_eq!(green.spread, 0.0);
        let white = luma_summary(&[255, 255, 255], PixelLayout::Rgb).unwrap();
        assert!((white.mean - 1.0).abs() < 1e-9);
    }

    #[test]
    fn no_pixels_or_torn_pixels_are_no_summary() {
        assert_eq!(luma_summary(&[], PixelLayout::Rgb), None);
        assert_eq!(luma_summary(&[1, 2, 3, 4, 5], PixelLayout::Rgba), None);
        assert!(!is_black_frame(&[0, 0], PixelLayout::Rgb, 4.0));
    }

    fn shot(mean: f64, spread: f64) -> Option<LumaSummary> {
        Some(LumaSummary { mean, spread })
    }

    #[test]
    fn black_for_five_seconds_of_screenshots_while_live_once() {
        let s = AlertSettings::default();
        let mut d = Black::default();
        assert_eq!(d.sample(&s, 0, true, shot(0.5, 0.2)), None);
        assert_eq!(d.sample(&s, 2000, true, shot(0.0, 0.0)), None);
        assert_eq!(d.sample(&s, 4000, true, shot(0.0, 0.0)), None);
        assert_eq!(d.sample(&s, 6999, true, shot(0.0, 0.0)), None, "not before five seconds");
        assert_eq!(
            d.sample(&s, 7000, true, shot(0.01, 0.0)),
            Some(Transition::Started {
                since_ms: 2000,
                detail: AlertDetail { luma_percent: Some(1.0), ..Default::default() }
            })
        );
        for t in (8000..100_000).step_by(2000) {
            assert_eq!(d.sample(&s, t, true, shot(0.0, 0.0)), None);
        }
        assert_eq!(d.sample(&s, 100_000, true, shot(0.3, 0.1)), Some(Transition::Cleared { lasted_ms: 98_000 }));
    }

    #[test]
    fn black_a_picture_hovering_at_four_percent_does_not_flap() {
        let s = AlertSettings::default();
        let mut d = Black::default();
        let mut out = Vec::new();
        for i in 0..500u64 {
            let mean = if i < 4 {
                0.0
            } else if i % 2 == 0 {
                0.039
            } else {
                0.045
            };
            out.extend(d.sample(&s, i * 2000, true, shot(mean, 0.005)));
        }
        assert_eq!(out.len(), 1, "{out:?}");
    }

    #[test]
    fn black_nothing_while_not_live_and_the_end_clears() {
        let s = AlertSettings::default();
        let mut d = Black::default();
        for t in (0..60_000).step_by(2000) {
            assert_eq!(d.sample(&s, t, false, shot(0.0, 0.0)), None);
        }
        for t in (60_000..=66_000).step_by(2000) {
            d.sample(&s, t, true, shot(0.0, 0.0));
        }
        assert_eq!(d.open_since(), Some(60_000));
        assert_eq!(d.sample(&s, 70_000, false, None), Some(Transition::Cleared { lasted_ms: 10_000 }));
        // Without a screenshot nothing starts.
        for t in (80_000..200_000).step_by(2000) {
            assert_eq!(d.sample(&s, t, true, None), None);
        }
    }
}
