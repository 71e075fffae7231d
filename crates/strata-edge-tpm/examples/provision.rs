//! Provisions a TPM with demonstration keys, then opens it again the way a device boots.
//!
//! ```sh
//! cargo run -p strata-edge-tpm --example provision -- swtpm:host=127.0.0.1,port=2321 /tmp/model-key.sealed
//! ```
//!
//! Prints the model counter, the platform key and the identity public key, and leaves the
//! sealed model key in the given file (the "flash"). Run it twice: the second run keeps the
//! counter and the identity. The keys are fixed demonstration values: never use them on a
//! real device.

use strata_edge::trust::{IdentityKey, RootOfTrust};
use strata_edge_tpm::{SealedBlob, TpmConfig, TpmRoot};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let tcti = args
        .next()
        .unwrap_or_else(|| "swtpm:host=127.0.0.1,port=2321".to_owned());
    let flash = args
        .next()
        .unwrap_or_else(|| "/tmp/model-key.sealed".to_owned());
    let mut config = TpmConfig::default();
    config.tcti(tcti);

    let platform = ed25519_dalek::SigningKey::from_bytes(&[0x50; 32]).verifying_key();
    let (root, blob) = TpmRoot::provision(&config, &platform, &[0x4d; 32])?;
    drop(root);
    std::fs::write(&flash, blob.to_bytes())?;
    println!("sealed model key written to {flash}");

    let blob = SealedBlob::from_bytes(&std::fs::read(&flash)?)?;
    let mut root = TpmRoot::open(&config, &blob)?;
    println!("model counter: {}", root.model_counter()?);
    println!("platform key:  {}", hex(root.platform_key().as_bytes()));
    match root.identity() {
        IdentityKey::P256 { sec1_uncompressed } => {
            println!("identity:      P-256 {}", hex(&sec1_uncompressed));
        }
        other => println!("identity:      {other:?}"),
    }
    let message = b"hello from the TPM";
    let signature = root.sign(message)?;
    // `IdentityError` is `std::error::Error` only with strata-edge's `std` feature.
    root.identity()
        .verify(message, &signature)
        .map_err(|e| e.to_string())?;
    println!("identity signature verifies");
    Ok(())
}
