//! The PyO3 edge: the only place that knows about Python. It converts batches to numpy
//! (moving the vectors, no copy), maps `CoreError` to exceptions, releases the GIL around
//! parsing, and turns any panic into `InternalError` instead of letting it cross the FFI.

use crate::batch::{Batch, SessionRow};
use crate::error::{BadReason, CoreError};
use crate::ingest::{IngestConfig, Ingestor};
use crate::intern::TABLES;
use crate::parse::EVENT_TYPES;
use crate::records::FieldSource;
use crate::session::SessionConfig;
use numpy::{PyArray1, PyReadonlyArray1, PyReadwriteArray1};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use std::panic::{catch_unwind, AssertUnwindSafe};

create_exception!(
    _core,
    UxtopError,
    PyException,
    "Base class of uxtop's errors."
);
create_exception!(
    _core,
    ConfigError,
    UxtopError,
    "A setting is invalid; the message names the key and the fix."
);
create_exception!(
    _core,
    InternalError,
    UxtopError,
    "A bug in the uxtop core (a caught panic)."
);

fn to_py(e: CoreError) -> PyErr {
    match e {
        CoreError::Config(m) => ConfigError::new_err(m),
        CoreError::UnknownTable(_) => ConfigError::new_err(e.to_string()),
        CoreError::Finished => UxtopError::new_err(e.to_string()),
        CoreError::Argument(_) => PyValueError::new_err(e.to_string()),
        CoreError::Internal(_) => InternalError::new_err(e.to_string()),
    }
}

/// Run core work with the GIL released, catching panics (polars' `enter_polars` pattern).
fn run_detached<T: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> Result<T, CoreError> + Send,
) -> PyResult<T> {
    py.detach(|| match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            Err(CoreError::Internal(msg))
        }
    })
    .map_err(to_py)
}

/// Incremental NDJSON parser + sessioniser. See `uxtop/_core.pyi`.
#[pyclass(module = "uxtop._core")]
pub struct CoreIngestor {
    inner: Ingestor,
    poisoned: bool,
}

impl CoreIngestor {
    fn check(&self) -> PyResult<()> {
        if self.poisoned {
            return Err(InternalError::new_err(
                "this Ingestor hit an internal error earlier and cannot be used; create a new one",
            ));
        }
        Ok(())
    }

    fn step(
        &mut self,
        py: Python<'_>,
        f: impl FnOnce(&mut Ingestor, &mut Batch) -> Result<(), CoreError> + Send,
    ) -> PyResult<Py<PyDict>> {
        self.check()?;
        let inner = &mut self.inner;
        let r = run_detached(py, move || {
            let mut b = Batch::default();
            f(inner, &mut b).map(|_| {
                // the session table's columns too are built without the GIL
                let s = SessionColumns::of(&b.sessions);
                (b, s)
            })
        });
        match r {
            Ok((b, s)) => batch_to_py(py, b, s),
            Err(e) => {
                if e.is_instance_of::<InternalError>(py) {
                    self.poisoned = true;
                }
                Err(e)
            }
        }
    }
}

#[pymethods]
impl CoreIngestor {
    #[new]
    #[pyo3(signature = (*, idle_gap_ms=1_800_000, max_session_ms=86_400_000, lateness_ms=5_000,
        evict_after_events=100_000, max_line_bytes=1_048_576, keep_query=false,
        max_strings=1_048_576, max_quarantine_lines=100_000))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        idle_gap_ms: i64,
        max_session_ms: i64,
        lateness_ms: i64,
        evict_after_events: u64,
        max_line_bytes: usize,
        keep_query: bool,
        max_strings: usize,
        max_quarantine_lines: usize,
    ) -> PyResult<Self> {
        let cfg = IngestConfig {
            session: SessionConfig {
                idle_gap_ms,
                max_session_ms,
                lateness_ms,
                evict_after_events,
            },
            max_line_bytes,
            keep_query,
            max_strings,
            max_quarantine_lines,
        };
        Ok(CoreIngestor {
            inner: Ingestor::new(cfg).map_err(to_py)?,
            poisoned: false,
        })
    }

    fn feed(&mut self, py: Python<'_>, data: &[u8]) -> PyResult<Py<PyDict>> {
        self.step(py, |ing, b| ing.feed(data, b))
    }

    /// `feed` of several chunks as if joined, without joining them (no copy under the GIL).
    fn feed_parts(&mut self, py: Python<'_>, parts: Vec<PyBackedBytes>) -> PyResult<Py<PyDict>> {
        self.step(py, move |ing, b| ing.feed_parts(&parts, b))
    }

    fn finish(&mut self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        self.step(py, |ing, b| ing.finish(b))
    }

    #[pyo3(signature = (table, start=0))]
    fn strings(&self, py: Python<'_>, table: &str, start: usize) -> PyResult<Py<PyList>> {
        let t = self.inner.table(table).map_err(to_py)?;
        let items: Vec<&str> = (start..t.len()).filter_map(|i| t.get(i as i32)).collect();
        Ok(PyList::new(py, items)?.unbind())
    }

    fn counters(&self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        let d = PyDict::new(py);
        let c = &self.inner.counters;
        let s = &self.inner.sessions.counters;
        d.set_item("lines", c.lines)?;
        d.set_item("bytes", c.bytes)?;
        d.set_item("events", s.accepted)?;
        d.set_item("sessions", s.sessions_started)?;
        d.set_item("sessions_closed", s.sessions_closed)?;
        d.set_item("open_keys", self.inner.sessions.open_keys())?;
        d.set_item("pending", self.inner.sessions.pending_events())?;
        d.set_item("late", s.late)?;
        d.set_item("duplicates", s.duplicates)?;
        d.set_item("bad_lines", c.bad_lines)?;
        d.set_item("quarantine_dropped", c.quarantine_dropped)?;
        d.set_item("uid_compactions", c.uid_compactions)?;
        let by = PyDict::new(py);
        for r in BadReason::ALL {
            by.set_item(r.name(), c.bad_by_reason[r as usize])?;
        }
        d.set_item("bad_by_reason", by)?;
        let overflow = PyDict::new(py);
        for (name, t) in TABLES.iter().zip(&self.inner.strings) {
            overflow.set_item(*name, t.overflowed)?;
        }
        d.set_item("strings_overflowed", overflow)?;
        Ok(d.unbind())
    }

    fn take_bad_lines(&mut self, py: Python<'_>) -> PyResult<Py<PyList>> {
        let out = PyList::empty(py);
        for b in self.inner.take_bad_lines() {
            let t = PyTuple::new(
                py,
                [
                    b.row.into_pyobject(py)?.into_any(),
                    b.reason.name().into_pyobject(py)?.into_any(),
                    PyBytes::new(py, &b.bytes).into_any(),
                ],
            )?;
            out.append(t)?;
        }
        Ok(out.unbind())
    }

    fn memory_bytes(&self) -> usize {
        self.inner.sessions.memory_bytes()
            + self
                .inner
                .strings
                .iter()
                .map(|t| t.memory_bytes())
                .sum::<usize>()
    }

    #[getter]
    fn watermark(&self) -> i64 {
        self.inner.sessions.watermark()
    }
}

/// The session table as columns (numpy wants one vector per field).
struct SessionColumns {
    session_id: Vec<u64>,
    start_ts: Vec<i64>,
    end_ts: Vec<i64>,
    n_events: Vec<i64>,
    first_url: Vec<i32>,
    last_url: Vec<i32>,
    dev: Vec<i32>,
    rel: Vec<i32>,
    geo: Vec<i32>,
    uid: Vec<i32>,
    closed: Vec<bool>,
}

impl SessionColumns {
    fn of(rows: &[SessionRow]) -> Self {
        macro_rules! col {
            ($f:ident) => {
                rows.iter().map(|r| r.$f).collect()
            };
        }
        SessionColumns {
            session_id: col!(session_id),
            start_ts: col!(start_ts),
            end_ts: col!(end_ts),
            n_events: col!(n_events),
            first_url: col!(first_url),
            last_url: col!(last_url),
            dev: col!(dev),
            rel: col!(rel),
            geo: col!(geo),
            uid: col!(uid),
            closed: col!(closed),
        }
    }
}

fn batch_to_py(py: Python<'_>, b: Batch, sc: SessionColumns) -> PyResult<Py<PyDict>> {
    let Batch {
        events: e,
        offsets,
        keys,
        uids,
        watermark,
        ..
    } = b;
    let cols = PyDict::new(py);
    cols.set_item("ts", PyArray1::from_vec(py, e.ts))?;
    cols.set_item("session", PyArray1::from_vec(py, e.session))?;
    cols.set_item("kind", PyArray1::from_vec(py, e.kind))?;
    cols.set_item("url", PyArray1::from_vec(py, e.url))?;
    cols.set_item("target", PyArray1::from_vec(py, e.target))?;
    cols.set_item("tag", PyArray1::from_vec(py, e.tag))?;
    cols.set_item("route", PyArray1::from_vec(py, e.route))?;
    cols.set_item("msg", PyArray1::from_vec(py, e.msg))?;
    cols.set_item("tab", PyArray1::from_vec(py, e.tab))?;
    cols.set_item("x", PyArray1::from_vec(py, e.x))?;
    cols.set_item("y", PyArray1::from_vec(py, e.y))?;
    cols.set_item("sy", PyArray1::from_vec(py, e.sy))?;
    cols.set_item("sh", PyArray1::from_vec(py, e.sh))?;
    cols.set_item("vh", PyArray1::from_vec(py, e.vh))?;
    cols.set_item("value", PyArray1::from_vec(py, e.value))?;
    cols.set_item("status", PyArray1::from_vec(py, e.status))?;
    cols.set_item("flags", PyArray1::from_vec(py, e.flags))?;
    cols.set_item("row", PyArray1::from_vec(py, e.row))?;

    let s = PyDict::new(py);
    macro_rules! scol {
        ($($field:ident),*) => {
            $(s.set_item(stringify!($field), PyArray1::from_vec(py, sc.$field))?;)*
        };
    }
    scol!(session_id, start_ts, end_ts, n_events, first_url, last_url, dev, rel, geo, uid, closed);

    let d = PyDict::new(py);
    d.set_item("columns", cols)?;
    let offsets = if offsets.is_empty() {
        vec![0i64]
    } else {
        offsets
    };
    d.set_item("offsets", PyArray1::from_vec(py, offsets))?;
    d.set_item("sessions", s)?;
    d.set_item("key_bytes", PyBytes::new(py, &keys.bytes))?;
    d.set_item("key_offsets", PyArray1::from_vec(py, keys.offsets))?;
    d.set_item("uid_bytes", PyBytes::new(py, &uids.bytes))?;
    d.set_item("uid_offsets", PyArray1::from_vec(py, uids.offsets))?;
    d.set_item("watermark", watermark)?;
    Ok(d.unbind())
}

/// Pack rows of columns into records (see `records.rs` and `_core.pyi`), GIL released.
#[pyfunction]
fn gather_records(
    py: Python<'_>,
    mut out: PyReadwriteArray1<'_, u8>,
    itemsize: usize,
    fields: Vec<(usize, PyReadonlyArray1<'_, u8>)>,
    widths: Vec<usize>,
    rows: PyReadonlyArray1<'_, i64>,
) -> PyResult<()> {
    let contiguous = |what: &str| {
        PyValueError::new_err(format!(
            "{what} must be a contiguous array (np.ascontiguousarray)"
        ))
    };
    if widths.len() != fields.len() {
        return Err(PyValueError::new_err(format!(
            "{} fields but {} widths",
            fields.len(),
            widths.len()
        )));
    }
    let mut sources = Vec::with_capacity(fields.len());
    for ((offset, column), &width) in fields.iter().zip(&widths) {
        sources.push(FieldSource {
            offset: *offset,
            width,
            column: column.as_slice().map_err(|_| contiguous("every column"))?,
        });
    }
    let rows = rows.as_slice().map_err(|_| contiguous("rows"))?;
    let out = out.as_slice_mut().map_err(|_| contiguous("out"))?;
    run_detached(py, move || {
        crate::records::gather_records(out, itemsize, &sources, rows)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<CoreIngestor>()?;
    m.add_function(wrap_pyfunction!(gather_records, m)?)?;
    m.add("UxtopError", py.get_type::<UxtopError>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    m.add(
        "BAD_REASONS",
        PyTuple::new(py, BadReason::ALL.iter().map(|r| r.name()))?,
    )?;
    m.add("EVENT_TYPES", PyTuple::new(py, EVENT_TYPES)?)?;
    m.add("STRING_TABLES", PyTuple::new(py, TABLES)?)?;
    Ok(())
}
