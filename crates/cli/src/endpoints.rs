//! Where a `robotid dev` deployment serves: written by `robotid dev` to
//! `DATA_DIR/endpoints.json` on every start, read by the client commands so
//! that they find the services (also on ports the OS chose) without flags.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// One deployment's country and service URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub country: String,
    pub issuance: String,
    pub registry: String,
    pub transfer: String,
    /// The registry's public HTTP base URL (the web card, `robotid label`);
    /// empty in a file written before it had one.
    pub web: String,
}

/// The service a command calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Issuance,
    Registry,
    Transfer,
}

impl Service {
    /// The port `robotid dev` and the service binaries use by default.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Issuance => 50051,
            Self::Registry => 50052,
            Self::Transfer => 50053,
        }
    }
}

impl Endpoints {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("endpoints.json")
    }

    pub fn url(&self, service: Service) -> &str {
        match service {
            Service::Issuance => &self.issuance,
            Service::Registry => &self.registry,
            Service::Transfer => &self.transfer,
        }
    }

    pub fn write(&self, data_dir: &Path) -> anyhow::Result<()> {
        let path = Self::path(data_dir);
        let text = serde_json::json!({
            "country": self.country,
            "issuance": self.issuance,
            "registry": self.registry,
            "transfer": self.transfer,
            "web": self.web,
        });
        std::fs::write(&path, format!("{text:#}\n"))
            .with_context(|| format!("writing {}", path.display()))
    }

    /// `None` when no `robotid dev` ever ran with this data directory.
    pub fn read(data_dir: &Path) -> anyhow::Result<Option<Self>> {
        let path = Self::path(data_dir);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(error).with_context(|| format!("reading {}", path.display()));
            }
        };
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let field = |name: &str| {
            value[name]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("{} has no {name:?}", path.display()))
        };
        Ok(Some(Self {
            country: field("country")?,
            issuance: field("issuance")?,
            registry: field("registry")?,
            transfer: field("transfer")?,
            web: value["web"].as_str().unwrap_or_default().to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_endpoints_read_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Endpoints::read(dir.path()).unwrap(), None);
        let endpoints = Endpoints {
            country: "DE".into(),
            issuance: "https://localhost:1".into(),
            registry: "https://localhost:2".into(),
            transfer: "https://localhost:3".into(),
            web: "http://localhost:4".into(),
        };
        endpoints.write(dir.path()).unwrap();
        assert_eq!(Endpoints::read(dir.path()).unwrap(), Some(endpoints));
    }
}
