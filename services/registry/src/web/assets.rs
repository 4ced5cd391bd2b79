//! The card's stylesheet and script, built into the binary and served from
//! the same origin (the Content-Security-Policy allows nothing else). Their
//! URLs carry a hash of their content, so they can be cached for a year
//! and a new build is fetched at once.

use sha2::{Digest, Sha256};

pub const CSS: &str = include_str!("assets/card.css");
pub const JS: &str = include_str!("assets/card.js");
pub const ICON: &str = include_str!("assets/icon.svg");

/// The content hashes, computed once at start.
#[derive(Debug, Clone)]
pub struct Assets {
    css_version: String,
    js_version: String,
}

fn version(content: &str) -> String {
    hex::encode(&Sha256::digest(content.as_bytes())[..6])
}

impl Assets {
    pub fn new() -> Self {
        Self {
            css_version: version(CSS),
            js_version: version(JS),
        }
    }

    pub fn css_href(&self) -> String {
        format!("/assets/card.css?v={}", self.css_version)
    }

    pub fn js_href(&self) -> String {
        format!("/assets/card.js?v={}", self.js_version)
    }
}

impl Default for Assets {
    fn default() -> Self {
        Self::new()
    }
}
