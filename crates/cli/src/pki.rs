//! `robotid pki`: the development PKI — a CA and one certificate per role
//! and service, named by `robotid://ROLE/ORG` SAN URIs — made once and
//! reused; `robotid pki issue` adds a certificate for any role and
//! organisation from the same CA (a manufacturer admitted later, a second
//! customs office). Development only: the CA's key is kept in the
//! directory for that (see its README).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use robotid_pki::{
    Holder, ca_path, cert_path, create_dev_pki, issue_into, key_path, standard_holders,
};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct PkiArgs {
    #[command(subcommand)]
    command: Option<PkiCommand>,
    /// Where to keep `ca.crt` and `<name>.crt` / `<name>.key`
    /// (default: DATA_DIR/pki).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The registry's country: its customs certificate is for
    /// `robotid://customs/CC-SHA`.
    #[arg(long, default_value = "CN")]
    country: String,
}

#[derive(Debug, Subcommand)]
enum PkiCommand {
    /// Issues a certificate for `robotid://ROLE/ORG` from the development
    /// CA, as DIR/NAME.crt and DIR/NAME.key (`--as NAME` then calls with
    /// it).
    Issue(IssueArgs),
}

#[derive(Debug, Args)]
struct IssueArgs {
    /// The PKI directory (default: DATA_DIR/pki).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// regulator, manufacturer, seller, service-provider, operator,
    /// recycler, customs (or service).
    #[arg(long)]
    role: String,
    /// The organisation: a manufacturer's code (0002), a customs office
    /// (CN-PEK), a seller's id, ….
    #[arg(long)]
    org: String,
    /// The files' name (default: ROLE-ORG).
    #[arg(long)]
    name: Option<String>,
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
    if let Some(PkiCommand::Issue(issue)) = args.command {
        return issue_one(issue, data_dir, json);
    }
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

fn issue_one(args: IssueArgs, data_dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let uri = format!("robotid://{}/{}", args.role, args.org);
    // The services read exactly this; refuse what they would not.
    robotid_platform::identity::Caller::from_uri(&uri).ok_or_else(|| {
        anyhow::anyhow!(
            "{uri} is not an identity the services accept (--role one of regulator, \
             manufacturer, seller, service-provider, operator, recycler, customs, service; \
             --org without '/')"
        )
    })?;
    let name = args
        .name
        .unwrap_or_else(|| format!("{}-{}", args.role, args.org.to_lowercase()));
    anyhow::ensure!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "--name {name:?}: letters, digits, '-' and '_' only (it names files)"
    );
    let dir = args.dir.unwrap_or_else(|| data_dir.join("pki"));
    let (cert, key) = issue_into(&dir, &Holder::client(&name, &uri))
        .with_context(|| format!("issuing {uri} from the development CA in {}", dir.display()))?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "name": name, "uri": uri, "cert": cert, "key": key })
        );
    } else {
        println!(
            "issued {uri} as {name}: {} (key {})",
            cert.display(),
            key.display()
        );
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
