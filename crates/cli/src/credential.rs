//! `robotid credential`: check an ID credential offline with the issuing
//! registry's public key alone, and make signing keys.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use robotid_credential::{IdCredential, SigningKey, VerifyingKey, verify_id_credential};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verifies a credential with the issuing registry's public key, offline,
    /// and prints its claims. Exits non-zero when it does not verify.
    Verify(VerifyArgs),
    /// Makes a new Ed25519 signing key (PKCS#8 PEM, readable by its owner
    /// only) and its public key beside it (`FILE.pub`), and prints the key
    /// id.
    Keygen {
        /// Where to write the signing key; an existing file is never
        /// overwritten.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The registry's public key: PEM (`BEGIN PUBLIC KEY`) or 64 hex digits.
    #[arg(long)]
    public_key: PathBuf,
    #[command(flatten)]
    credential: CredentialSource,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct CredentialSource {
    /// The credential in hex.
    #[arg(long)]
    credential_hex: Option<String>,
    /// A file holding the credential, raw or in hex.
    #[arg(long)]
    credential_file: Option<PathBuf>,
}

/// `json`: the result as JSON (the global `--json`).
pub fn run(command: Command, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        Command::Verify(args) => verify(args, json),
        Command::Keygen { out } => keygen(&out),
    }
}

fn verify(args: VerifyArgs, json: bool) -> anyhow::Result<ExitCode> {
    let key = VerifyingKey::load(&args.public_key)?;
    let credential = match (
        &args.credential.credential_hex,
        &args.credential.credential_file,
    ) {
        (Some(text), _) => {
            hex::decode(text.trim()).context("--credential-hex is not hexadecimal")?
        }
        (None, Some(path)) => read_credential(path)?,
        (None, None) => unreachable!("clap requires one credential source"),
    };
    match verify_id_credential(&credential, &key) {
        Ok(claims) => {
            if json {
                println!("{}", claims_json(&claims));
            } else {
                print!("{}", claims_text(&claims));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "valid": false, "error": error.to_string() })
                );
            }
            eprintln!("robotid: the credential does not verify: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Raw COSE bytes, or hex text (as QR scanners and logs often hand them on).
pub fn read_credential(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    match std::str::from_utf8(&bytes)
        .ok()
        .and_then(|text| hex::decode(text.trim()).ok())
    {
        Some(decoded) => Ok(decoded),
        None => Ok(bytes),
    }
}

fn claims_text(claims: &IdCredential) -> String {
    let issued = claims.issued_at.to_parts().0;
    format!(
        "valid credential\n\
         robot id        {}\n\
         manufacturer    {}\n\
         model           {}\n\
         issued          {}\n\
         issuer country  {}\n\
         key id          {}\n",
        claims.robot_id.display(),
        claims.manufacturer,
        claims.model,
        crate::time::rfc3339(issued),
        claims.issuer_country,
        claims.kid,
    )
}

fn claims_json(claims: &IdCredential) -> serde_json::Value {
    let issued = claims.issued_at.to_parts().0;
    serde_json::json!({
        "valid": true,
        "robot_id": claims.robot_id.as_str(),
        "display_id": claims.robot_id.display(),
        "manufacturer_code": claims.manufacturer.as_str(),
        "model_code": claims.model.as_str(),
        "issued_at": crate::time::rfc3339(issued),
        "issued_at_unix": issued,
        "issuer_country": claims.issuer_country.as_str(),
        "kid": claims.kid.to_string(),
    })
}

fn keygen(out: &Path) -> anyhow::Result<ExitCode> {
    let key = SigningKey::create(out)?;
    let public = key.verifying_key();
    let public_path = PathBuf::from(format!("{}.pub", out.display()));
    std::fs::write(&public_path, public.to_pem())
        .with_context(|| format!("writing {}", public_path.display()))?;
    println!("signing key  {} (keep it secret)", out.display());
    println!("public key   {}", public_path.display());
    println!("key id       {}", key.kid());
    println!("public hex   {}", hex::encode(public.to_bytes()));
    Ok(ExitCode::SUCCESS)
}
