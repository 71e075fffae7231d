//! Where the TPM is and which of its handles Strata uses.

/// The default TCTI: the kernel's resource manager on a Linux device.
pub const DEFAULT_TCTI: &str = "device:/dev/tpmrm0";
/// The default NV index of the model-version counter (owner range `0x0180_0000..`).
pub const DEFAULT_COUNTER_INDEX: u32 = 0x0180_5301;
/// The default NV index of the platform record (the platform's Ed25519 key and the counter
/// base), written once.
pub const DEFAULT_PLATFORM_INDEX: u32 = 0x0180_5302;
/// The default persistent handle of the device identity key (owner range `0x8100_0000..`).
pub const DEFAULT_IDENTITY_HANDLE: u32 = 0x8100_5301;
/// The default cap on the increments one counter raise may make (see
/// [`TpmConfig::max_counter_step`]).
pub const DEFAULT_MAX_COUNTER_STEP: u64 = 4096;

/// How to reach the TPM and which NV indices and persistent handle hold Strata's state.
///
/// The defaults suit a Linux device with a TPM behind `/dev/tpmrm0`; tests point
/// [`TpmConfig::tcti`] at a swtpm on loopback. The handles only need changing when they
/// collide with another user of the same TPM.
///
/// ```
/// let mut config = strata_edge_tpm::TpmConfig::default();
/// config.tcti("swtpm:host=127.0.0.1,port=2321").max_counter_step(1024);
/// assert_eq!(config.tcti_str(), "swtpm:host=127.0.0.1,port=2321");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmConfig {
    pub(crate) tcti: String,
    pub(crate) counter_index: u32,
    pub(crate) platform_index: u32,
    pub(crate) identity_handle: u32,
    pub(crate) max_counter_step: u64,
}

impl Default for TpmConfig {
    fn default() -> Self {
        Self {
            tcti: DEFAULT_TCTI.to_owned(),
            counter_index: DEFAULT_COUNTER_INDEX,
            platform_index: DEFAULT_PLATFORM_INDEX,
            identity_handle: DEFAULT_IDENTITY_HANDLE,
            max_counter_step: DEFAULT_MAX_COUNTER_STEP,
        }
    }
}

impl TpmConfig {
    /// The TSS 2.0 TCTI string: `device:/dev/tpmrm0` (default) on hardware,
    /// `swtpm:host=127.0.0.1,port=2321` for a software TPM.
    pub fn tcti(&mut self, tcti: impl Into<String>) -> &mut Self {
        self.tcti = tcti.into();
        self
    }

    /// The TCTI string in use.
    pub fn tcti_str(&self) -> &str {
        &self.tcti
    }

    /// The NV index of the model-version counter (default [`DEFAULT_COUNTER_INDEX`]). Must be
    /// an NV index handle (`0x01xx_xxxx`).
    pub fn counter_index(&mut self, index: u32) -> &mut Self {
        self.counter_index = index;
        self
    }

    /// The NV index of the write-once platform record (default [`DEFAULT_PLATFORM_INDEX`]).
    pub fn platform_index(&mut self, index: u32) -> &mut Self {
        self.platform_index = index;
        self
    }

    /// The persistent handle of the identity key (default [`DEFAULT_IDENTITY_HANDLE`]). Must
    /// be a persistent handle (`0x81xx_xxxx`).
    pub fn identity_handle(&mut self, handle: u32) -> &mut Self {
        self.identity_handle = handle;
        self
    }

    /// The most increments one [`raise_model_counter`] may make (default
    /// [`DEFAULT_MAX_COUNTER_STEP`], 4096).
    ///
    /// TPM 2.0 has no "set counter to v": raising the model version to `v` means `v - current`
    /// `TPM2_NV_Increment` commands, each one an NV write. TPM NV has a limited write
    /// endurance (and TPMs throttle NV writes), so a container with an absurd version (say
    /// 2^40, signed by mistake) must not make the device wear out its TPM trying to reach it.
    /// Above the cap the raise fails with [`TpmError::CounterStepTooLarge`] and the model is
    /// refused; publish model versions that grow in small steps.
    ///
    /// [`raise_model_counter`]: strata_edge::trust::RootOfTrust::raise_model_counter
    /// [`TpmError::CounterStepTooLarge`]: crate::TpmError::CounterStepTooLarge
    pub fn max_counter_step(&mut self, max: u64) -> &mut Self {
        self.max_counter_step = max;
        self
    }
}
