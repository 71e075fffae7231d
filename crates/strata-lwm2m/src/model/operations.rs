//! Resource operations (DDF `<Operations>`).

use std::fmt;

/// The operations a resource allows (DDF `<Operations>`: `R`, `W`, `RW`, `E` or empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Operations {
    /// Read (and observe).
    pub read: bool,
    /// Write.
    pub write: bool,
    /// Execute.
    pub execute: bool,
}

impl Operations {
    /// No operation: only the bootstrap interface reaches the resource (LWM2M Security).
    pub const NONE: Operations = Operations {
        read: false,
        write: false,
        execute: false,
    };
    /// Read only.
    pub const R: Operations = Operations {
        read: true,
        ..Operations::NONE
    };
    /// Write only.
    pub const W: Operations = Operations {
        write: true,
        ..Operations::NONE
    };
    /// Read and write.
    pub const RW: Operations = Operations {
        read: true,
        write: true,
        execute: false,
    };
    /// Execute.
    pub const E: Operations = Operations {
        execute: true,
        ..Operations::NONE
    };

    /// Parses DDF operations: `R`, `W`, `RW` (or `WR`), `E`, or empty (also `none`) for no
    /// operation; case and surrounding whitespace do not matter. Execute cannot be combined
    /// with read or write, so `RE` is rejected, as is any other letter or a repeated one.
    pub fn parse(text: &str) -> Option<Operations> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("none") {
            return Some(Operations::NONE);
        }
        let mut ops = Operations::NONE;
        for c in text.chars() {
            let flag = match c.to_ascii_uppercase() {
                'R' => &mut ops.read,
                'W' => &mut ops.write,
                'E' => &mut ops.execute,
                _ => return None,
            };
            if *flag {
                return None;
            }
            *flag = true;
        }
        if ops.execute && (ops.read || ops.write) {
            return None;
        }
        Some(ops)
    }

    /// Whether no operation is allowed.
    pub fn is_none(&self) -> bool {
        *self == Operations::NONE
    }
}

impl fmt::Display for Operations {
    /// `R`, `W`, `RW`, `E`, or empty for none: the DDF spelling.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (on, letter) in [(self.read, "R"), (self.write, "W"), (self.execute, "E")] {
            if on {
                f.write_str(letter)?;
            }
        }
        Ok(())
    }
}
