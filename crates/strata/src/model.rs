//! `strata model`: makes keys for model containers, packs `.tflite` models into encrypted,
//! signed containers for devices, and inspects containers (see `strata_edge::container`).
//!
//! Keys are files of 64 hex characters (32 bytes): `platform-signing.key` (secret, stays on
//! the platform), `platform-verify.pub` (goes into each device's root of trust),
//! `model.key` (secret, sealed into each device's root of trust).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use rand::RngCore;
use strata_edge::container::{self, Container};

/// `strata model` commands.
#[derive(Subcommand)]
pub(crate) enum ModelCommand {
    /// Create a platform signing key pair and a model key in a directory.
    Keygen(KeygenArgs),
    /// Encrypt and sign a model for devices.
    Pack(PackArgs),
    /// Show a container's header and check it (exit 1 if a given key does not verify).
    Inspect(InspectArgs),
}

#[derive(Args)]
pub(crate) struct KeygenArgs {
    /// Directory for the key files (created if missing; existing keys are not overwritten).
    #[arg(long)]
    dir: PathBuf,
}

#[derive(Args)]
pub(crate) struct PackArgs {
    /// The `.tflite` model.
    #[arg(long)]
    model: PathBuf,
    /// The model version; devices refuse versions below the highest they accepted.
    #[arg(long)]
    version: u64,
    /// The model key file (from `strata model keygen`).
    #[arg(long)]
    model_key: PathBuf,
    /// The platform signing key file (from `strata model keygen`).
    #[arg(long)]
    signing_key: PathBuf,
    /// Where to write the container.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
pub(crate) struct InspectArgs {
    /// The container.
    file: PathBuf,
    /// Check the signature with this platform public key file.
    #[arg(long)]
    verify_key: Option<PathBuf>,
    /// Also check that it decrypts with this model key file.
    #[arg(long)]
    model_key: Option<PathBuf>,
}

fn read_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the key file {}", path.display()))?;
    let bytes = hex::decode(text.trim())
        .with_context(|| format!("{} is not a key file (64 hex characters)", path.display()))?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("{} is not a key file (64 hex characters)", path.display()))
}

fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| {
        format!(
            "cannot create {} (it may exist already: keys are never overwritten)",
            path.display()
        )
    })?;
    file.write_all(hex::encode(bytes).as_bytes())?;
    file.write_all(b"\n")?;
    Ok(())
}

/// Runs a `strata model` command; `Ok(false)` means "ran, but the check failed" (exit 1).
pub(crate) fn run(command: ModelCommand) -> anyhow::Result<bool> {
    match command {
        ModelCommand::Keygen(args) => {
            std::fs::create_dir_all(&args.dir)
                .with_context(|| format!("cannot create {}", args.dir.display()))?;
            let mut seed = [0u8; 32];
            rand::rng().fill_bytes(&mut seed);
            let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
            let mut model_key = [0u8; 32];
            rand::rng().fill_bytes(&mut model_key);
            write_new(&args.dir.join("platform-signing.key"), &seed)?;
            write_new(
                &args.dir.join("platform-verify.pub"),
                signing.verifying_key().as_bytes(),
            )?;
            write_new(&args.dir.join("model.key"), &model_key)?;
            println!(
                "wrote platform-signing.key (secret), platform-verify.pub and model.key (secret) \
                 to {}",
                args.dir.display()
            );
            Ok(true)
        }
        ModelCommand::Pack(args) => {
            let model = std::fs::read(&args.model)
                .with_context(|| format!("cannot read the model {}", args.model.display()))?;
            if model.len() < 8 || &model[4..8] != b"TFL3" {
                bail!(
                    "{} is not a .tflite model (no TFL3 identifier)",
                    args.model.display()
                );
            }
            let model_key = read_key(&args.model_key)?;
            let signing = ed25519_dalek::SigningKey::from_bytes(&read_key(&args.signing_key)?);
            let mut nonce = [0u8; 12];
            rand::rng().fill_bytes(&mut nonce);
            let mut out = vec![0u8; model.len() + container::OVERHEAD];
            let n = container::pack(&model, args.version, &model_key, &nonce, &signing, &mut out)
                .map_err(|e| anyhow::anyhow!("cannot pack the model: {e}"))?;
            std::fs::write(&args.out, &out[..n])
                .with_context(|| format!("cannot write {}", args.out.display()))?;
            println!(
                "packed {} ({} bytes) as version {} into {} ({} bytes)",
                args.model.display(),
                model.len(),
                args.version,
                args.out.display(),
                n
            );
            Ok(true)
        }
        ModelCommand::Inspect(args) => {
            let bytes = std::fs::read(&args.file)
                .with_context(|| format!("cannot read {}", args.file.display()))?;
            let parsed = Container::parse(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
            println!("container:      {}", args.file.display());
            println!("format:         {}", container::FORMAT_VERSION);
            println!("model version:  {}", parsed.version);
            println!("model bytes:    {}", parsed.model_len());
            println!("model key id:   {}", hex::encode(parsed.key_id));
            let mut ok = true;
            if let Some(path) = &args.verify_key {
                let key = ed25519_dalek::VerifyingKey::from_bytes(&read_key(path)?)
                    .map_err(|e| anyhow::anyhow!("{} is not a public key: {e}", path.display()))?;
                match parsed.verify(&key) {
                    Ok(()) => println!("signature:      valid"),
                    Err(e) => {
                        println!("signature:      INVALID ({e})");
                        ok = false;
                    }
                }
            }
            if let Some(path) = &args.model_key {
                let key = read_key(path)?;
                let mut ram = vec![0u8; parsed.model_len()];
                match parsed.decrypt_into(&key, &mut ram) {
                    Ok(model) if model.get(4..8) == Some(b"TFL3") => {
                        println!("decryption:     ok (a .tflite model)");
                    }
                    Ok(_) => println!("decryption:     ok (not a .tflite model)"),
                    Err(e) => {
                        println!("decryption:     FAILED ({e})");
                        ok = false;
                    }
                }
            }
            Ok(ok)
        }
    }
}
