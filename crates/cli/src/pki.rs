//! `robotid pki`: the development PKI — a CA and one certificate per role
//! and service, named by `robotid://ROLE/ORG` SAN URIs — made once and
//! reused.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use robotid_pki::{Holder, ca_path, cert_path, create_dev_pki, key_path, standard_holders};

#[derive(Debug, Args)]
pub struct PkiArgs {
    /// Where to keep `ca.crt` and `<name>.crt` / `<name>.key`
    /// (default: DATA_DIR/pki).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The registry's country: its customs certificate is for
    /// `robotid://customs/CC-SHA`.
    #[arg(long, default_value = "CN")]
    country: String,
}

/// What `ensure` found or made.
pub struct DevPki {
    pub dir: PathBuf,
    pub created: bool,
    pub holders: Vec<Holder>,
}

/// Makes the development PKI of a `country` registry in `dir`, unless one
/// is there already.
pub fn ensure(dir: &Path, country: &str) -> anyhow::Result<DevPki> {
    let holders = standard_holders(country);
    let created = create_dev_pki(dir, &holders)
        .with_context(|| format!("making the development PKI in {}", dir.display()))?;
    Ok(DevPki {
        dir: dir.to_owned(),
        created,
        holders,
    })
}

pub fn run(args: PkiArgs, data_dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let country = robotid_domain::code::CountryCode::parse(&args.country)
        .map_err(|e| anyhow::anyhow!("--country {:?}: {e}", args.country))?;
    let dir = args.dir.unwrap_or_else(|| data_dir.join("pki"));
    let pki = ensure(&dir, country.as_str())?;
    if json {
        println!("{}", pki_json(&pki));
    } else {
        print!("{}", pki_text(&pki));
    }
    Ok(ExitCode::SUCCESS)
}

fn pki_text(pki: &DevPki) -> String {
    let mut out = if pki.created {
        format!("made the development PKI in {}\n", pki.dir.display())
    } else {
        format!(
            "reusing the development PKI in {} (remove the directory for a new one)\n",
            pki.dir.display()
        )
    };
    out.push_str(&format!("  CA  {}\n", ca_path(&pki.dir).display()));
    for holder in &pki.holders {
        out.push_str(&format!(
            "  {:<17} {:<34} {}\n",
            holder.name,
            holder.uri,
            cert_path(&pki.dir, &holder.name).display()
        ));
    }
    out
}

fn pki_json(pki: &DevPki) -> serde_json::Value {
    serde_json::json!({
        "dir": pki.dir,
        "created": pki.created,
        "ca": ca_path(&pki.dir),
        "holders": pki.holders.iter().map(|holder| serde_json::json!({
            "name": holder.name,
            "uri": holder.uri,
            "cert": cert_path(&pki.dir, &holder.name),
            "key": key_path(&pki.dir, &holder.name),
        })).collect::<Vec<_>>(),
    })
}
