//! The one error type of the core, mapped to Python exceptions in `py/errors.rs`.

use std::fmt;

/// Why a line was quarantined. The order is the report order; names are the public reason keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BadReason {
    TooLong = 0,
    Utf8 = 1,
    Json = 2,
    NotObject = 3,
    WrongType = 4,
    MissingTs = 5,
    MissingKey = 6,
}

impl BadReason {
    pub const ALL: [BadReason; 7] = [
        BadReason::TooLong,
        BadReason::Utf8,
        BadReason::Json,
        BadReason::NotObject,
        BadReason::WrongType,
        BadReason::MissingTs,
        BadReason::MissingKey,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BadReason::TooLong => "too_long",
            BadReason::Utf8 => "utf8",
            BadReason::Json => "json",
            BadReason::NotObject => "not_object",
            BadReason::WrongType => "wrong_type",
            BadReason::MissingTs => "missing_ts",
            BadReason::MissingKey => "missing_key",
        }
    }
}

/// Errors that stop an operation (bad *input lines* are never errors: they are quarantined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreError {
    /// A setting is out of range: names the setting and the fix.
    Config(String),
    /// The ingestor was used after `finish`.
    Finished,
    /// An unknown string table name.
    UnknownTable(String),
    /// A function was called with arguments that do not fit together: the message says how.
    Argument(String),
    /// A panic was caught at the FFI boundary (a bug): the message says where.
    Internal(String),
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreError::Config(m) => write!(f, "{m}"),
            CoreError::Finished => write!(f, "this Ingestor is finished; create a new one to ingest more"),
            CoreError::UnknownTable(t) => write!(
                f,
                "unknown string table {t:?}; expected one of url, target, tag, route, msg, tab, dev, rel, geo, uid"
            ),
            CoreError::Argument(m) => write!(f, "{m}"),
            CoreError::Internal(m) => write!(f, "internal error in uxtop core (please report): {m}"),
        }
    }
}

impl std::error::Error for CoreError {}

pub type CoreResult<T> = Result<T, CoreError>;
