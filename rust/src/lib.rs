//! uxtop's hot path: NDJSON event bytes → interned, sessionised, columnar batches.
//!
//! Plain-Rust modules by concern (`parse`, `intern`, `session`, `batch`, `ingest`, `records`) carry their
//! own `cargo test`s; `py` is the thin PyO3 edge and the only module that knows about Python.

pub mod batch;
pub mod error;
pub mod ingest;
pub mod intern;
pub mod keytable;
pub mod parse;
pub mod records;
pub mod session;

mod py;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    py::register(m)
}
