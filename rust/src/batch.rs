//! Columnar output of one ingest step: event columns sorted by (session, ts), CSR offsets, and
//! the session table. Plain Rust; `py/convert.rs` hands the vectors to numpy without copying.

use crate::session::Ev;

#[derive(Default, Debug, Clone)]
pub struct EventColumns {
    pub ts: Vec<i64>,
    pub session: Vec<i32>,
    pub kind: Vec<u8>,
    pub url: Vec<i32>,
    pub target: Vec<i32>,
    pub tag: Vec<i32>,
    pub route: Vec<i32>,
    pub msg: Vec<i32>,
    pub tab: Vec<i32>,
    pub x: Vec<i32>,
    pub y: Vec<i32>,
    pub sy: Vec<i32>,
    pub sh: Vec<i32>,
    pub vh: Vec<i32>,
    pub value: Vec<f32>,
    pub status: Vec<i16>,
    pub flags: Vec<u8>,
    pub row: Vec<i64>,
}

impl EventColumns {
    /// Build every column from events already in output order, in one pass over the events
    /// (the events are read once; each column is written sequentially, without capacity checks).
    pub fn fill_from(&mut self, evs: &[Ev], session: &[i32]) {
        let n = evs.len();
        macro_rules! fill {
            ($($f:ident),*) => {{
                $(let mut $f = Vec::with_capacity(n);)*
                {
                    $(let $f = &mut $f.spare_capacity_mut()[..n];)*
                    for (i, e) in evs.iter().enumerate() {
                        $($f[i].write(e.$f);)*
                    }
                }
                // SAFETY: the loop above initialised the first n elements of every column
                $(unsafe { $f.set_len(n) };)*
                $(self.$f = $f;)*
            }};
        }
        fill!(
            ts, kind, url, target, tag, route, msg, tab, x, y, sy, sh, vh, value, status, flags,
            row
        );
        self.session = session.to_vec();
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
}

#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRow {
    pub session_id: u64,
    pub start_ts: i64,
    pub end_ts: i64,
    pub n_events: i64,
    pub first_url: i32,
    pub last_url: i32,
    pub dev: i32,
    pub rel: i32,
    pub geo: i32,
    pub uid: i32,
    pub closed: bool,
}

impl SessionRow {
    pub fn placeholder(session_id: u64) -> Self {
        SessionRow {
            session_id,
            ..Default::default()
        }
    }
}

/// Strings back to back with offsets: one buffer per batch instead of one allocation per row.
#[derive(Debug, Clone)]
pub struct StrColumn {
    pub bytes: Vec<u8>,
    /// row i is bytes[offsets[i]..offsets[i+1]]
    pub offsets: Vec<i64>,
}

impl Default for StrColumn {
    fn default() -> Self {
        StrColumn {
            bytes: Vec::new(),
            offsets: vec![0],
        }
    }
}

impl StrColumn {
    #[inline]
    pub fn push(&mut self, s: &str) {
        self.bytes.extend_from_slice(s.as_bytes());
        self.offsets.push(self.bytes.len() as i64);
    }

    /// Push bytes known to be UTF-8 (a copy of a `&str`).
    #[inline]
    pub fn push_bytes(&mut self, b: &[u8]) {
        self.bytes.extend_from_slice(b);
        self.offsets.push(self.bytes.len() as i64);
    }

    pub fn get(&self, i: usize) -> &str {
        let (a, b) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        std::str::from_utf8(&self.bytes[a..b]).unwrap_or("")
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Default, Debug, Clone)]
pub struct Batch {
    pub events: EventColumns,
    /// CSR: session i owns events offsets[i]..offsets[i+1]; len = sessions + 1 when complete
    pub offsets: Vec<i64>,
    pub sessions: Vec<SessionRow>,
    /// session key of each session row
    pub keys: StrColumn,
    /// uid of each session row ("" when none), filled from `SessionRow::uid` by the ingestor
    pub uids: StrColumn,
    pub watermark: i64,
}

impl Batch {
    pub fn clear(&mut self) {
        *self = Batch::default();
    }

    /// `key`: the session key's bytes (UTF-8: a copy of a `&str`).
    pub fn push_empty_session(&mut self, row: SessionRow, key: &[u8], at: usize) {
        self.offsets.push(at as i64);
        self.sessions.push(row);
        self.keys.push_bytes(key);
    }
}
