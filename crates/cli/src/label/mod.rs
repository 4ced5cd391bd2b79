//! `robotid label`: the QR code (ISO/IEC 18004) a robot carries, for a
//! 25 mm label: the URL of its public card, `{public base}/r/{CODE}`, with
//! the code in display form printed underneath; with `--with-credential`
//! the signed credential rides in the URL's fragment (`#c=` base64url), so
//! that the page checks the signature in the browser (a fragment never
//! reaches the server).

mod font;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use base64::Engine;
use clap::Args;
use qrcode::{EcLevel, QrCode};
use robotid_domain::code::RobotId;

use crate::client::Globals;

/// The label's width: the QR code and its quiet zone.
pub const LABEL_MM: f64 = 25.0;
/// The quiet zone ISO/IEC 18004 asks for, in modules.
const QUIET: usize = 4;
/// A PNG label at least this wide in pixels (about 600 dpi at 25 mm).
const PNG_MIN_WIDTH: usize = 600;

#[derive(Debug, Args)]
pub struct LabelArgs {
    /// The robot's identity code, in any case, with or without separators.
    code: String,
    /// Where to write the label: FILE.svg (sized in mm) or FILE.png.
    #[arg(long)]
    out: PathBuf,
    /// Put the robot's signed credential in the URL's fragment (`#c=…`),
    /// for the card to check in the browser.
    #[arg(long)]
    with_credential: bool,
    /// The credential (raw COSE_Sign1, or hex). Default:
    /// credentials/CODE.cose, where `robotid issue --credentials-dir
    /// credentials` writes it.
    #[arg(long, requires = "with_credential")]
    credential_file: Option<PathBuf>,
    /// The registry's public base URL, e.g. https://id.example.cn. Default:
    /// the web card `robotid dev` runs for --data-dir.
    #[arg(long, env = "ROBOTID_PUBLIC_URL")]
    public_url: Option<String>,
}

pub fn run(args: LabelArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let id = RobotId::parse(&args.code).map_err(|e| anyhow::anyhow!("{:?}: {e}", args.code))?;
    let base = match &args.public_url {
        Some(url) => url.clone(),
        None => globals
            .endpoints()?
            .map(|endpoints| endpoints.web)
            .filter(|web| !web.is_empty())
            .context("no --public-url, and no `robotid dev` web card for --data-dir")?,
    };
    let credential = if args.with_credential {
        let path = args.credential_file.clone().unwrap_or_else(|| {
            crate::issue::credential_path(Path::new("credentials"), id.as_str())
        });
        Some(crate::credential::read_credential(&path)?)
    } else {
        None
    };
    let url = label_url(&base, &id, credential.as_deref());
    let label = Label::new(&url, &id.display())?;
    let bytes = match args.out.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("svg") => label.svg().into_bytes(),
        Some(ext) if ext.eq_ignore_ascii_case("png") => label.png()?,
        _ => anyhow::bail!("--out must end in .svg or .png"),
    };
    std::fs::write(&args.out, bytes).with_context(|| format!("writing {}", args.out.display()))?;
    if globals.json {
        println!(
            "{}",
            serde_json::json!({
                "robot_id": id.as_str(),
                "url": url,
                "out": args.out.display().to_string(),
                "qr_version": label.version,
                "modules": label.modules,
            })
        );
    } else {
        println!("{url}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `{base}/r/{CODE}`, and `#c=` with the credential in unpadded base64url.
pub fn label_url(base: &str, id: &RobotId, credential: Option<&[u8]>) -> String {
    let mut url = format!("{}/r/{}", base.trim_end_matches('/'), id.as_str());
    if let Some(credential) = credential {
        url.push_str("#c=");
        url.push_str(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(credential));
    }
    url
}

/// A QR code and the text under it.
struct Label {
    dark: Vec<bool>,
    /// Modules per side, without the quiet zone.
    modules: usize,
    version: i16,
    text: String,
}

impl Label {
    fn new(url: &str, text: &str) -> anyhow::Result<Self> {
        // Medium error correction (15 %) for a plain URL; a URL that carries
        // a credential is three times as long, and Low keeps its modules
        // large enough to print at 25 mm.
        let level = if url.contains('#') {
            EcLevel::L
        } else {
            EcLevel::M
        };
        let code = QrCode::with_error_correction_level(url, level)
            .with_context(|| format!("a QR code cannot hold {} bytes", url.len()))?;
        let version = match code.version() {
            qrcode::Version::Normal(n) | qrcode::Version::Micro(n) => n,
        };
        Ok(Self {
            modules: code.width(),
            dark: code
                .to_colors()
                .into_iter()
                .map(|c| c == qrcode::Color::Dark)
                .collect(),
            version,
            text: text.to_owned(),
        })
    }

    fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.modules && y < self.modules && self.dark[y * self.modules + x]
    }

    /// Modules per side with the quiet zone.
    fn side(&self) -> usize {
        self.modules + 2 * QUIET
    }

    /// An SVG in millimetres: 25 mm wide, the code in display form under
    /// the QR code.
    fn svg(&self) -> String {
        let side = self.side();
        let mut path = String::new();
        for y in 0..self.modules {
            for x in 0..self.modules {
                if self.is_dark(x, y) {
                    path.push_str(&format!("M{},{}h1v1h-1z", x + QUIET, y + QUIET));
                }
            }
        }
        // The text band: about 3 mm at 25 mm.
        let band = side as f64 * 0.12;
        let height = side as f64 + band;
        let mm = |units: f64| units * LABEL_MM / side as f64;
        format!(
            r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{width}mm" height="{height_mm:.3}mm" viewBox="0 0 {side} {height:.3}" shape-rendering="crispEdges">
<title>{text}</title>
<rect width="{side}" height="{height:.3}" fill="#fff"/>
<path fill="#000" d="{path}"/>
<text x="{middle}" y="{baseline:.3}" fill="#000" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="{font:.3}" font-weight="bold" text-anchor="middle" textLength="{length:.3}" lengthAdjust="spacingAndGlyphs">{text}</text>
</svg>
"##,
            width = LABEL_MM,
            height_mm = mm(height),
            middle = side as f64 / 2.0,
            baseline = side as f64 + band * 0.45,
            font = band * 0.6,
            length = (self.modules + QUIET) as f64,
            text = self.text,
        )
    }

    /// A grey-scale PNG, at least 600 pixels wide, with its resolution set
    /// so that it prints 25 mm wide; the code set in a bitmap font under
    /// the QR code.
    fn png(&self) -> anyhow::Result<Vec<u8>> {
        let side = self.side();
        let scale = PNG_MIN_WIDTH.div_ceil(side);
        let width = side * scale;
        // The widest text scale that fits inside the quiet zone's margins.
        let text_scale = ((width - 2 * QUIET * scale) / font::text_width(&self.text)).max(1);
        let text_width = font::text_width(&self.text) * text_scale;
        let band = (font::HEIGHT + 4) * text_scale;
        let height = width + band;
        let text_left = (width - text_width) / 2;
        let text_top = width + text_scale;
        let mut pixels = vec![255_u8; width * height];
        for (y, row) in pixels.chunks_mut(width).enumerate() {
            for (x, pixel) in row.iter_mut().enumerate() {
                let ink = if y < width {
                    let (mx, my) = (x / scale, y / scale);
                    mx >= QUIET && my >= QUIET && self.is_dark(mx - QUIET, my - QUIET)
                } else {
                    x >= text_left
                        && y >= text_top
                        && font::ink(
                            &self.text,
                            (x - text_left) / text_scale,
                            (y - text_top) / text_scale,
                        )
                        && x < text_left + text_width
                };
                if ink {
                    *pixel = 0;
                }
            }
        }
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width as u32, height as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let per_metre = (width as f64 / (LABEL_MM / 1000.0)).round() as u32;
        encoder.set_pixel_dims(Some(png::PixelDimensions {
            xppu: per_metre,
            yppu: per_metre,
            unit: png::Unit::Meter,
        }));
        let mut writer = encoder.write_header().context("encoding the PNG")?;
        writer
            .write_image_data(&pixels)
            .context("encoding the PNG")?;
        writer.finish().context("encoding the PNG")?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_the_canonical_card_with_the_credential_in_the_fragment() {
        let id = RobotId::parse("cn-0001-hx0001-0000000000000001p").unwrap();
        assert_eq!(
            label_url("https://id.example.cn/", &id, None),
            "https://id.example.cn/r/CN0001HX00010000000000000001P"
        );
        assert_eq!(
            label_url("http://h", &id, Some(&[0xfb, 0xff, 0x00])),
            "http://h/r/CN0001HX00010000000000000001P#c=-_8A"
        );
    }

    #[test]
    fn an_svg_label_is_25_mm_wide() {
        let label = Label::new("http://h/r/CN0001HX00010000000000000001P", "CN-0001").unwrap();
        let svg = label.svg();
        assert!(svg.contains(r#"width="25mm""#), "{svg}");
        assert!(svg.contains(">CN-0001</text>"));
        let png = label.png().unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }
}
