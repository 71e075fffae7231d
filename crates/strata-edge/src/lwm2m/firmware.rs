//! Firmware Update (Object 5, LwM2M Core TS 1.1 Appendix E.6): the state machine behind
//! State (/5/0/3) and Update Result (/5/0/5), for push (Package written to /5/0/0, usually
//! block-wise) and pull (Package URI written to /5/0/1, downloaded by the application or by
//! the client itself for `coap://` URIs, see `download`).
//!
//! ```text
//!  Idle(0) --package block / URI--> Downloading(1) --last block / downloaded--> Downloaded(2)
//!  Downloaded(2) --Execute /5/0/2--> Updating(3) --firmware_updated--> Idle(0), result 1 or 8
//!  any state but Updating --empty package or URI--> Idle(0), result 0
//! ```

use super::alloc::string::String;
use super::alloc::vec::Vec;
use strata_proto_coap::block::BlockValue;
use strata_proto_coap::lwm2m::{Path, Record, Value};
use strata_proto_coap::{Code, Token};

use super::client::{BLOCK1_IDLE_MS, Client};
use super::config::{ClientError, ClientEvent};
use super::objects::id;
use super::reply::Reply;

/// Firmware Update State (/5/0/3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirmwareState {
    /// 0: nothing downloaded, or after an update.
    Idle,
    /// 1: a package is arriving.
    Downloading,
    /// 2: a package is ready for Update.
    Downloaded,
    /// 3: installing.
    Updating,
}

impl FirmwareState {
    /// The resource value.
    pub fn code(self) -> i64 {
        match self {
            FirmwareState::Idle => 0,
            FirmwareState::Downloading => 1,
            FirmwareState::Downloaded => 2,
            FirmwareState::Updating => 3,
        }
    }

    fn from_code(code: i64) -> FirmwareState {
        match code {
            1 => FirmwareState::Downloading,
            2 => FirmwareState::Downloaded,
            3 => FirmwareState::Updating,
            _ => FirmwareState::Idle,
        }
    }
}

/// Firmware Update Result (/5/0/5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateResult {
    /// 0: initial value (reset when a download starts).
    Initial,
    /// 1: firmware updated successfully.
    Success,
    /// 2: not enough flash memory for the package.
    NotEnoughFlash,
    /// 3: out of RAM during download.
    OutOfRam,
    /// 4: connection lost during download.
    ConnectionLost,
    /// 5: integrity check failure.
    IntegrityCheckFailure,
    /// 6: unsupported package type.
    UnsupportedPackageType,
    /// 7: invalid URI.
    InvalidUri,
    /// 8: firmware update failed.
    UpdateFailed,
    /// 9: unsupported protocol.
    UnsupportedProtocol,
}

impl UpdateResult {
    /// The resource value.
    pub fn code(self) -> i64 {
        match self {
            UpdateResult::Initial => 0,
            UpdateResult::Success => 1,
            UpdateResult::NotEnoughFlash => 2,
            UpdateResult::OutOfRam => 3,
            UpdateResult::ConnectionLost => 4,
            UpdateResult::IntegrityCheckFailure => 5,
            UpdateResult::UnsupportedPackageType => 6,
            UpdateResult::InvalidUri => 7,
            UpdateResult::UpdateFailed => 8,
            UpdateResult::UnsupportedProtocol => 9,
        }
    }

    fn from_code(code: i64) -> UpdateResult {
        use UpdateResult::*;
        [
            Initial,
            Success,
            NotEnoughFlash,
            OutOfRam,
            ConnectionLost,
            IntegrityCheckFailure,
            UnsupportedPackageType,
            InvalidUri,
            UpdateFailed,
            UnsupportedProtocol,
        ]
        .into_iter()
        .find(|r| r.code() == code)
        .unwrap_or(Initial)
    }
}

/// The package and transfers in progress.
#[derive(Debug)]
pub(crate) struct Firmware<P> {
    pub(crate) package: Option<Vec<u8>>,
    /// A push is arriving: give up if no block comes by then.
    push_deadline: Option<u64>,
    pub(crate) download: Option<super::download::Download<P>>,
}

impl<P> Default for Firmware<P> {
    fn default() -> Self {
        Firmware {
            package: None,
            push_deadline: None,
            download: None,
        }
    }
}

impl<P: Copy + Eq> Firmware<P> {
    pub(crate) fn deadline(&self) -> Option<u64> {
        self.push_deadline
    }

    pub(crate) fn owns_download(&self, peer: P, token: Token) -> bool {
        self.download.as_ref().is_some_and(|d| d.owns(peer, token))
    }
}

const STATE: Path = Path::resource(id::FIRMWARE, 0, 3);
const RESULT: Path = Path::resource(id::FIRMWARE, 0, 5);
const PACKAGE: Path = Path::resource(id::FIRMWARE, 0, 0);

impl<P: Ord + Copy> Client<P> {
    /// State (/5/0/3).
    pub fn firmware_state(&self) -> FirmwareState {
        match self.store.value(&STATE) {
            Some(Value::Integer(s)) => FirmwareState::from_code(*s),
            _ => FirmwareState::Idle,
        }
    }

    /// Update Result (/5/0/5).
    pub fn firmware_result(&self) -> UpdateResult {
        match self.store.value(&RESULT) {
            Some(Value::Integer(r)) => UpdateResult::from_code(*r),
            _ => UpdateResult::Initial,
        }
    }

    /// The downloaded package, to install on [`ClientEvent::FirmwareUpdateRequested`].
    pub fn firmware_package(&self) -> Option<&[u8]> {
        self.firmware.package.as_deref()
    }

    /// The application downloaded the Package URI: `ok` with the package moves to
    /// Downloaded, otherwise to Idle with result 4 (connection lost).
    pub fn firmware_downloaded(
        &mut self,
        now: u64,
        ok: bool,
        package: Vec<u8>,
    ) -> Result<(), ClientError> {
        if self.firmware_state() != FirmwareState::Downloading {
            return Err(ClientError::WrongState);
        }
        self.cancel_download();
        if !ok {
            self.firmware_set(FirmwareState::Idle, UpdateResult::ConnectionLost);
        } else if package.len() > self.config.max_body {
            self.firmware_set(FirmwareState::Idle, UpdateResult::NotEnoughFlash);
        } else {
            self.firmware.package = Some(package);
            self.firmware_set(FirmwareState::Downloaded, UpdateResult::Initial);
        }
        self.flush_notifications(now);
        Ok(())
    }

    /// The application could not download the package, for `result` (e.g. 7 invalid URI,
    /// 9 unsupported protocol): back to Idle with that result.
    pub fn firmware_download_failed(
        &mut self,
        now: u64,
        result: UpdateResult,
    ) -> Result<(), ClientError> {
        if self.firmware_state() != FirmwareState::Downloading {
            return Err(ClientError::WrongState);
        }
        self.cancel_download();
        self.firmware_set(FirmwareState::Idle, result);
        self.flush_notifications(now);
        Ok(())
    }

    /// The application installed the package (or failed to): Idle with result 1 (the
    /// Firmware Version /3/0/3 becomes PkgVersion /5/0/7, or "updated") or 8.
    pub fn firmware_updated(&mut self, now: u64, success: bool) -> Result<(), ClientError> {
        if self.firmware_state() != FirmwareState::Updating {
            return Err(ClientError::WrongState);
        }
        if success {
            let version = self.string(&Path::resource(id::FIRMWARE, 0, 7));
            let version = if version.is_empty() {
                String::from("updated")
            } else {
                version
            };
            self.set_internal(Path::resource(id::DEVICE, 0, 3), Value::String(version));
            self.firmware.package = None;
            self.firmware_set(FirmwareState::Idle, UpdateResult::Success);
        } else {
            self.firmware_set(FirmwareState::Idle, UpdateResult::UpdateFailed);
        }
        self.flush_notifications(now);
        Ok(())
    }

    /// Sets State and Update Result, reporting a change.
    pub(crate) fn firmware_set(&mut self, state: FirmwareState, result: UpdateResult) {
        let before = (self.firmware_state(), self.firmware_result());
        self.set_internal(STATE, Value::Integer(state.code()));
        self.set_internal(RESULT, Value::Integer(result.code()));
        if before != (state, result) {
            self.events
                .push_back(ClientEvent::FirmwareStateChanged { state, result });
        }
    }

    /// Package and Package URI cannot be written while updating.
    pub(crate) fn firmware_may_write(&self, records: &[Record]) -> Result<(), Reply> {
        let touches = records
            .iter()
            .any(|r| matches!(r.path.resource, Some(0 | 1)));
        if touches && self.firmware_state() == FirmwareState::Updating {
            return Err(Reply::error(
                Code::METHOD_NOT_ALLOWED,
                "an update is being installed",
            ));
        }
        Ok(())
    }

    /// A package was written (push). Empty resets.
    pub(crate) fn firmware_package_written(&mut self, _now: u64, package: Vec<u8>) {
        self.firmware.push_deadline = None;
        self.cancel_download();
        if package.is_empty() {
            self.firmware_reset();
            return;
        }
        if package.len() > self.config.max_body {
            self.firmware_set(FirmwareState::Idle, UpdateResult::NotEnoughFlash);
            return;
        }
        if self.firmware_state() != FirmwareState::Downloading {
            self.firmware_set(FirmwareState::Downloading, UpdateResult::Initial);
        }
        self.firmware.package = Some(package);
        self.firmware_set(FirmwareState::Downloaded, UpdateResult::Initial);
    }

    /// A Package URI was written (pull). Empty resets.
    pub(crate) fn firmware_uri_written(&mut self, _now: u64, uri: String) {
        self.set_internal(
            Path::resource(id::FIRMWARE, 0, 1),
            Value::String(uri.clone()),
        );
        self.cancel_download();
        if uri.is_empty() {
            self.firmware_reset();
            return;
        }
        self.firmware.package = None;
        self.firmware_set(FirmwareState::Downloading, UpdateResult::Initial);
        self.events
            .push_back(ClientEvent::FirmwareDownloadRequested { uri });
    }

    fn firmware_reset(&mut self) {
        self.firmware.package = None;
        self.firmware.push_deadline = None;
        self.firmware_set(FirmwareState::Idle, UpdateResult::Initial);
    }

    /// Execute Update: only with a package downloaded (4.05 otherwise).
    pub(crate) fn firmware_execute_update(&mut self, _now: u64) -> Result<(), Reply> {
        if self.firmware_state() != FirmwareState::Downloaded || self.firmware.package.is_none() {
            return Err(Reply::error(
                Code::METHOD_NOT_ALLOWED,
                "no firmware package downloaded",
            ));
        }
        self.firmware_set(FirmwareState::Updating, UpdateResult::Initial);
        self.events.push_back(ClientEvent::FirmwareUpdateRequested);
        Ok(())
    }

    /// A Block1 block of a body arrived (not the last): a push to /5/0/0 starts or goes on.
    pub(crate) fn body_progress(
        &mut self,
        now: u64,
        path: &Path,
        block: BlockValue,
    ) -> Result<(), Reply> {
        if *path != PACKAGE {
            return Ok(());
        }
        match self.firmware_state() {
            FirmwareState::Updating => {
                return Err(Reply::error(
                    Code::METHOD_NOT_ALLOWED,
                    "an update is being installed",
                ));
            }
            FirmwareState::Downloading if block.num > 0 => {}
            _ => {
                self.cancel_download();
                self.firmware.package = None;
                self.firmware_set(FirmwareState::Downloading, UpdateResult::Initial);
            }
        }
        self.firmware.push_deadline = Some(now.saturating_add(BLOCK1_IDLE_MS));
        Ok(())
    }

    /// A Block1 transfer to `path` failed with `code`.
    pub(crate) fn body_failed(&mut self, path: &Path, code: Code) {
        if *path == PACKAGE && self.firmware.push_deadline.take().is_some() {
            let result = if code == Code::REQUEST_ENTITY_TOO_LARGE {
                UpdateResult::NotEnoughFlash
            } else {
                UpdateResult::ConnectionLost
            };
            self.firmware_set(FirmwareState::Idle, result);
        }
    }

    /// A push that stopped arriving.
    pub(crate) fn firmware_timeout(&mut self, now: u64) {
        if self.firmware.push_deadline.is_some_and(|d| d <= now) {
            self.firmware.push_deadline = None;
            if self.firmware_state() == FirmwareState::Downloading {
                self.firmware_set(FirmwareState::Idle, UpdateResult::ConnectionLost);
            }
        }
    }
}
