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
    #[inline]
    pub fn push(&mut self, e: &Ev, session: i32) {
        self.ts.push(e.ts);
        self.session.push(session);
        self.kind.push(e.kind);
        self.url.push(e.url);
        self.target.push(e.target);
        self.tag.push(e.tag);
        self.route.push(e.route);
        self.msg.push(e.msg);
        self.tab.push(e.tab);
        self.x.push(e.x);
        self.y.push(e.y);
        self.sy.push(e.sy);
        self.sh.push(e.sh);
        self.vh.push(e.vh);
        self.value.push(e.value);
        self.status.push(e.status);
        self.flags.push(e.flags);
        self.row.push(e.row);
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
    pub closed: bool,
}

impl SessionRow {
    pub fn placeholder(session_id: u64) -> Self {
        SessionRow { session_id, ..Default::default() }
    }
}

#[derive(Default, Debug, Clone)]
pub struct Batch {
    pub events: EventColumns,
    /// CSR: session i owns events offsets[i]..offsets[i+1]; len = sessions + 1 when complete
    pub offsets: Vec<i64>,
    pub sessions: Vec<SessionRow>,
    pub keys: Vec<String>,
    pub uids: Vec<Option<String>>,
    pub watermark: i64,
}

impl Batch {
    pub fn clear(&mut self) {
        *self = Batch::default();
    }

    pub fn push_empty_session(&mut self, row: SessionRow, key: &str, uid: Option<&str>) {
        self.offsets.push(self.events.len() as i64);
        self.sessions.push(row);
        self.keys.push(key.to_string());
        self.uids.push(uid.map(str::to_string));
    }
}
