//! `TpmRoot` against real software TPMs: each test starts its own `swtpm` on loopback (free
//! ports, a fresh state directory) and kills it when done.
//!
//! Needs `swtpm` (Debian: swtpm, swtpm-tools) and libtss2 (libtss2-dev). Without the `swtpm`
//! binary the tests fail, unless `STRATA_SKIP_TPM=1` is set.
#![allow(clippy::unwrap_used)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use strata_edge::container::{self, ContainerError};
use strata_edge::tflite::Model;
use strata_edge::trust::{
    IdentityError, IdentityKey, IdentitySignature, LoadError, RootOfTrust, load_model,
};
use strata_edge_tpm::{DEFAULT_PLATFORM_INDEX, SealedBlob, TpmConfig, TpmError, TpmRoot};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------
// swtpm harness

/// Runs the tests one at a time. libtss2 opens its TCTI socket without close-on-exec, so a
/// swtpm spawned by one test while another test is connected inherits that connection; swtpm
/// serves one connection at a time, and the other test's next connection then waits forever.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running `swtpm socket --tpm2` on 127.0.0.1; killed on drop.
struct Swtpm {
    child: Child,
    port: u16,
    state: PathBuf,
}

impl Swtpm {
    /// Starts a swtpm with a fresh state (a new TPM with new seeds). `None` only when
    /// swtpm is missing and `STRATA_SKIP_TPM=1`.
    fn fresh() -> Option<(Self, TempDir)> {
        let dir = tempfile::tempdir().expect("a temporary state directory");
        let tpm = Self::start(dir.path())?;
        Some((tpm, dir))
    }

    /// Starts a swtpm on `state` (an existing state directory is the same TPM again).
    fn start(state: &Path) -> Option<Self> {
        if !swtpm_installed() {
            return None;
        }
        let mut last_error = String::new();
        // A port picked as free can be taken before swtpm binds it; retry on new ports.
        for _ in 0..5 {
            let port = free_port_pair();
            let log = state.join("swtpm.log");
            let mut child = Command::new("swtpm")
                .args(["socket", "--tpm2", "--tpmstate"])
                .arg(format!("dir={}", state.display()))
                .arg("--server")
                .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
                .arg("--ctrl")
                .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1))
                .args(["--flags", "not-need-init,startup-clear"])
                .arg("--log")
                .arg(format!("file={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawning swtpm");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Some(status) = child.try_wait().expect("waiting on swtpm") {
                    last_error = format!(
                        "swtpm exited with {status}: {}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                    break;
                }
                // The control port opens after the server port.
                if TcpStream::connect(("127.0.0.1", port + 1)).is_ok() {
                    return Some(Self {
                        child,
                        port,
                        state: state.to_owned(),
                    });
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = "swtpm did not open its ports within 10 s".into();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("could not start swtpm: {last_error}");
    }

    fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }

    fn config(&self) -> TpmConfig {
        let mut config = TpmConfig::default();
        config.tcti(self.tcti());
        config
    }

    /// Kills swtpm (a power cut: no orderly shutdown) and starts it again on the same state.
    fn restart(mut self) -> Self {
        self.kill();
        Self::start(&self.state.clone()).expect("swtpm was there a moment ago")
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        self.kill();
    }
}

fn swtpm_installed() -> bool {
    if Command::new("swtpm")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
    {
        return true;
    }
    if std::env::var("STRATA_SKIP_TPM").as_deref() == Ok("1") {
        eprintln!("swtpm is not installed; skipping this TPM test (STRATA_SKIP_TPM=1)");
        return false;
    }
    panic!(
        "the `swtpm` binary is not installed, so the TPM tests cannot run: install it \
         (Debian: apt-get install swtpm swtpm-tools tpm2-tools libtss2-dev) or set \
         STRATA_SKIP_TPM=1 to skip them"
    );
}

/// A port `p` such that `p` and `p + 1` were both free a moment ago.
fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let first = TcpListener::bind("127.0.0.1:0").expect("binding loopback");
        let port = first.local_addr().expect("a local address").port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no two consecutive free ports on 127.0.0.1");
}

// ---------------------------------------------------------------------------------------
// fixtures

const MODEL_KEY: [u8; 32] = [0x4d; 32];

fn platform() -> SigningKey {
    SigningKey::from_bytes(&[0x50; 32])
}

fn hello_world() -> Vec<u8> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../strata-edge/models/hello_world_int8.tflite");
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A container of `model` at `version`, as `strata model pack` makes it.
fn pack(model: &[u8], version: u64) -> Vec<u8> {
    let mut out = vec![0u8; model.len() + container::OVERHEAD];
    let mut nonce = [0u8; 12];
    nonce[..8].copy_from_slice(&version.to_le_bytes());
    let n = container::pack(model, version, &MODEL_KEY, &nonce, &platform(), &mut out).unwrap();
    out.truncate(n);
    out
}

fn provision(tpm: &Swtpm) -> (TpmRoot, SealedBlob) {
    TpmRoot::provision(&tpm.config(), &platform().verifying_key(), &MODEL_KEY)
        .expect("provisioning a fresh swtpm")
}

// ---------------------------------------------------------------------------------------
// scenarios

#[test]
fn provision_then_load_a_real_container_through_load_model() {
    let _serial = one_at_a_time();
    let Some((tpm, _dir)) = Swtpm::fresh() else {
        return;
    };
    let (mut root, blob) = provision(&tpm);
    assert_eq!(root.platform_key(), platform().verifying_key());
    assert_eq!(root.model_counter().unwrap(), 0);
    assert_eq!(root.model_key().unwrap(), MODEL_KEY);

    // Every boot: a new process opens the TPM with the blob read back from flash.
    drop(root);
    let flash = blob.to_bytes();
    let mut root = TpmRoot::open(&tpm.config(), &SealedBlob::from_bytes(&flash).unwrap())
        .expect("opening with the blob from flash");

    let model = hello_world();
    let packed = pack(&model, 1);
    assert!(
        !packed.windows(16).any(|w| w == &model[64..80]),
        "the container holds the model in the clear"
    );
    let mut ram = vec![0u8; model.len()];
    let loaded = load_model(&mut root, &packed, &mut ram).expect("loading the container");
    assert_eq!(loaded, model.as_slice());
    assert!(Model::new(loaded).is_ok(), "the decrypted model parses");
    assert_eq!(root.model_counter().unwrap(), 1);
}

#[test]
fn a_rollback_is_refused_after_a_newer_model_was_loaded() {
    let _serial = one_at_a_time();
    let Some((tpm, _dir)) = Swtpm::fresh() else {
        return;
    };
    let (mut root, _blob) = provision(&tpm);
    let model = hello_world();
    let mut ram = vec![0u8; model.len()];
    load_model(&mut root, &pack(&model, 2), &mut ram).expect("version 2");
    assert_eq!(root.model_counter().unwrap(), 2);
    let err = load_model(&mut root, &pack(&model, 1), &mut ram).unwrap_err();
    assert_eq!(
        err.container_part(),
        ContainerError::Rollback {
            version: 1,
            minimum: 2
        }
    );
    // The current version again is fine (a reboot reloads it).
    load_model(&mut root, &pack(&model, 2), &mut ram).expect("version 2 again");
    // Lowering is a no-op; a raise of more than the cap is refused before any increment.
    root.raise_model_counter(1).unwrap();
    assert_eq!(root.model_counter().unwrap(), 2);
    let err = root.raise_model_counter(2 + 4097).unwrap_err();
    assert!(
        matches!(
            err,
            TpmError::CounterStepTooLarge {
                from: 2,
                to: 4099,
                max: 4096
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("wears the TPM's NV"), "{err}");
    assert_eq!(root.model_counter().unwrap(), 2);
    root.raise_model_counter(5).unwrap();
    assert_eq!(root.model_counter().unwrap(), 5);
}

impl PartialEq<ContainerError> for Comparable {
    fn eq(&self, other: &ContainerError) -> bool {
        self.0 == Some(*other)
    }
}

/// The container error of a `LoadError`, if it is one (`LoadError<TpmError>` is not
/// `PartialEq`: `TpmError` holds TSS errors).
#[derive(Debug)]
struct Comparable(Option<ContainerError>);

trait ContainerPart {
    fn container_part(&self) -> Comparable;
}

impl ContainerPart for LoadError<TpmError> {
    fn container_part(&self) -> Comparable {
        match self {
            LoadError::Container(e) => Comparable(Some(*e)),
            LoadError::Trust(_) => Comparable(None),
        }
    }
}

#[test]
fn the_counter_the_platform_key_and_the_identity_survive_a_tpm_restart() {
    let _serial = one_at_a_time();
    let Some((tpm, _dir)) = Swtpm::fresh() else {
        return;
    };
    let (mut root, blob) = provision(&tpm);
    let identity = root.identity();
    let model = hello_world();
    let mut ram = vec![0u8; model.len()];
    load_model(&mut root, &pack(&model, 3), &mut ram).expect("version 3");
    drop(root);

    // Power cut: swtpm is killed without a TPM2_Shutdown, then started on the same state.
    let tpm = tpm.restart();
    let mut root = TpmRoot::open(&tpm.config(), &blob).expect("opening after the restart");
    assert_eq!(root.model_counter().unwrap(), 3);
    assert_eq!(root.platform_key(), platform().verifying_key());
    assert_eq!(root.identity(), identity);
    assert_eq!(root.model_key().unwrap(), MODEL_KEY);
    let err = load_model(&mut root, &pack(&model, 2), &mut ram).unwrap_err();
    assert_eq!(
        err.container_part(),
        ContainerError::Rollback {
            version: 2,
            minimum: 3
        }
    );
    load_model(&mut root, &pack(&model, 3), &mut ram).expect("version 3 after the restart");
    drop(root);

    // Provisioning again (same platform key) keeps the counter and the identity.
    let (mut root, _) = provision(&tpm);
    assert_eq!(root.model_counter().unwrap(), 3);
    assert_eq!(root.identity(), identity);
}

#[test]
fn a_flash_dump_is_useless_on_another_tpm() {
    let _serial = one_at_a_time();
    let Some((device, _device_dir)) = Swtpm::fresh() else {
        return;
    };
    let (root, blob) = provision(&device);
    drop(root);
    // The attacker has the device's flash: the container and the sealed blob.
    let stolen = blob.to_bytes();
    let container = pack(&hello_world(), 1);

    let Some((attacker, _attacker_dir)) = Swtpm::fresh() else {
        return;
    };
    let stolen_blob = SealedBlob::from_bytes(&stolen).unwrap();
    // A blank TPM is not provisioned at all.
    let err = TpmRoot::open(&attacker.config(), &stolen_blob).unwrap_err();
    assert!(matches!(err, TpmError::NotProvisioned { .. }), "{err}");

    // Even set up exactly like the device (same platform key, their own model key), the
    // attacker's TPM refuses to load the stolen blob: it was sealed under another TPM's seed.
    let attacker_key = [0xa7; 32];
    let (mut own, _) = TpmRoot::provision(
        &attacker.config(),
        &platform().verifying_key(),
        &attacker_key,
    )
    .unwrap();
    assert_eq!(own.model_key().unwrap(), attacker_key);
    let mut ram = vec![0u8; container.len()];
    let err = load_model(&mut own, &container, &mut ram).unwrap_err();
    assert_eq!(err.container_part(), ContainerError::WrongKey);
    drop(own);
    let err = TpmRoot::open(&attacker.config(), &stolen_blob).unwrap_err();
    assert!(matches!(err, TpmError::SealedBlobRejected { .. }), "{err}");
    assert!(err.to_string().contains("sealed by another TPM"), "{err}");

    // The device itself still opens it.
    let mut root = TpmRoot::open(&device.config(), &stolen_blob).unwrap();
    assert_eq!(root.model_key().unwrap(), MODEL_KEY);
}

#[test]
fn a_tampered_blob_fails_cleanly() {
    let _serial = one_at_a_time();
    let Some((tpm, _dir)) = Swtpm::fresh() else {
        return;
    };
    let (root, blob) = provision(&tpm);
    drop(root);
    let bytes = blob.to_bytes();
    let mut positions: Vec<usize> = (0..bytes.len()).step_by(5).collect();
    positions.push(bytes.len() - 1);
    for i in positions {
        let mut altered = bytes.clone();
        altered[i] ^= 0x01;
        let result =
            SealedBlob::from_bytes(&altered).and_then(|b| TpmRoot::open(&tpm.config(), &b));
        match result {
            Err(TpmError::MalformedBlob(_) | TpmError::SealedBlobRejected { .. }) => {}
            Err(other) => panic!("byte {i}: unexpected error {other}"),
            Ok(_) => panic!("byte {i}: an altered blob was accepted"),
        }
    }
    let mut root = TpmRoot::open(&tpm.config(), &blob).expect("the original blob");
    assert_eq!(root.model_key().unwrap(), MODEL_KEY);
}

#[test]
fn the_platform_key_index_cannot_be_rewritten() {
    use tss_esapi::{
        Context, TctiNameConf,
        constants::{CommandCode, SessionType},
        handles::{NvIndexHandle, NvIndexTpmHandle, TpmHandle},
        interface_types::{
            algorithm::HashingAlgorithm,
            resource_handles::NvAuth,
            session_handles::{AuthSession, PolicySession},
        },
        structures::{MaxNvBuffer, SymmetricDefinition},
    };

    let _serial = one_at_a_time();
    let Some((tpm, _dir)) = Swtpm::fresh() else {
        return;
    };
    let (root, blob) = provision(&tpm);
    drop(root);

    // Through the API: provisioning with another platform key is refused.
    let stranger = SigningKey::from_bytes(&[0x66; 32]).verifying_key();
    let err = TpmRoot::provision(&tpm.config(), &stranger, &MODEL_KEY).unwrap_err();
    assert!(matches!(err, TpmError::PlatformKeyMismatch), "{err}");

    // Around the API, straight at the TPM: every way of writing the index fails.
    let mut ctx = Context::new(TctiNameConf::from_str(&tpm.tcti()).unwrap()).unwrap();
    let index = NvIndexTpmHandle::new(DEFAULT_PLATFORM_INDEX).unwrap();
    let handle = NvIndexHandle::from(
        ctx.execute_without_session(|c| c.tr_from_tpm_public(TpmHandle::NvIndex(index)))
            .unwrap(),
    );
    let mut forged = [0u8; 40];
    forged[..32].copy_from_slice(stranger.as_bytes());
    let forged = MaxNvBuffer::try_from(forged.to_vec()).unwrap();
    for auth in [NvAuth::Owner, NvAuth::NvIndex(handle)] {
        let written = ctx.execute_with_session(Some(AuthSession::Password), |c| {
            c.nv_write(auth, handle, forged.clone(), 0)
        });
        assert!(written.is_err(), "{auth:?} rewrote the platform key");
    }
    // The write-once policy itself can no longer be satisfied.
    let session = ctx
        .start_auth_session(
            None,
            None,
            None,
            SessionType::Policy,
            SymmetricDefinition::AES_128_CFB,
            HashingAlgorithm::Sha256,
        )
        .unwrap()
        .unwrap();
    let policy = PolicySession::try_from(session).unwrap();
    ctx.execute_without_session(|c| {
        c.policy_command_code(policy, CommandCode::NvWrite)?;
        c.policy_nv_written(policy, false)
    })
    .unwrap();
    let written = ctx.execute_with_session(Some(session), |c| {
        c.nv_write(NvAuth::NvIndex(handle), handle, forged.clone(), 0)
    });
    assert!(
        written.is_err(),
        "the write-once policy allowed a second write"
    );
    drop(ctx);

    let root = TpmRoot::open(&tpm.config(), &blob).unwrap();
    assert_eq!(root.platform_key(), platform().verifying_key());
}

#[test]
fn identity_signatures_verify_with_the_p256_public_key() {
    let _serial = one_at_a_time();
    let Some((tpm, _dir)) = Swtpm::fresh() else {
        return;
    };
    let (mut root, _blob) = provision(&tpm);
    let identity = root.identity();
    let IdentityKey::P256 { sec1_uncompressed } = identity else {
        panic!("a TPM identity is P-256, got {identity:?}");
    };
    assert_eq!(sec1_uncompressed[0], 0x04);
    let message = b"device 42 says hello";
    let first = root.sign(message).unwrap();
    let second = root.sign(message).unwrap();
    assert!(matches!(first, IdentitySignature::P256 { .. }));
    assert_ne!(first, second, "ECDSA signatures use a fresh nonce");
    assert_eq!(identity.verify(message, &first), Ok(()));
    assert_eq!(identity.verify(message, &second), Ok(()));
    assert_eq!(
        identity.verify(b"device 43 says hello", &first),
        Err(IdentityError::BadSignature)
    );
    // Another TPM's identity does not verify this device's signatures (disconnect first: a
    // new swtpm would inherit the connection, see `one_at_a_time`).
    drop(root);
    let Some((other, _other_dir)) = Swtpm::fresh() else {
        return;
    };
    let (other_root, _) = provision(&other);
    assert_ne!(other_root.identity(), identity);
    assert_eq!(
        other_root.identity().verify(message, &first),
        Err(IdentityError::BadSignature)
    );
}

/// A bus sniffer between the host and the TPM: listens on 127.0.0.1:`p` (commands, recorded
/// in both directions) and `p + 1` (swtpm's control channel, which the swtpm TCTI also uses),
/// and forwards both to the swtpm on `target` and `target + 1`.
fn sniffer(target: u16) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..100 {
        let Ok(commands) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let port = commands.local_addr().unwrap().port();
        let Ok(control) = TcpListener::bind(("127.0.0.1", port.wrapping_add(1))) else {
            continue;
        };
        forward(commands, target, Some(Arc::clone(&seen)));
        forward(control, target + 1, None);
        return (port, seen);
    }
    panic!("no two consecutive free ports for the sniffer");
}

fn forward(
    listener: TcpListener,
    target: u16,
    record: Option<std::sync::Arc<std::sync::Mutex<Vec<u8>>>>,
) {
    use std::io::{Read, Write};
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                return;
            };
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                let record = record.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n @ 1..) = from.read(&mut buf) {
                        if let Some(record) = &record {
                            record.lock().unwrap().extend_from_slice(&buf[..n]);
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
}

#[test]
fn the_model_key_crosses_the_tpm_bus_only_encrypted() {
    let _serial = one_at_a_time();
    let Some((tpm, _dir)) = Swtpm::fresh() else {
        return;
    };
    let (port, seen) = sniffer(tpm.port);
    let mut config = TpmConfig::default();
    config.tcti(format!("swtpm:host=127.0.0.1,port={port}"));
    let (mut root, _blob) =
        TpmRoot::provision(&config, &platform().verifying_key(), &MODEL_KEY).unwrap();
    assert_eq!(root.model_key().unwrap(), MODEL_KEY);
    drop(root);
    let seen = seen.lock().unwrap().clone();
    let platform_key = platform().verifying_key().to_bytes();
    assert!(
        seen.windows(32).any(|w| w == platform_key),
        "the sniffer sees the traffic (the public platform key is written in the clear)"
    );
    assert!(
        !seen.windows(8).any(|w| w == &MODEL_KEY[..8]),
        "the model key crossed the bus in the clear"
    );
}
