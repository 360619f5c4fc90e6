//! Streaming sessionisation: per-key lateness, dedupe, ordered release, session cuts, eviction.
//!
//! The semantics are specified in `uxtop.ingest.reference` (module docstring) and property
//! tested against it. In short, per key in arrival order with G = the stream's newest ts so far
//! and L = allowed lateness:
//! * a key's state is forgotten when `evict_after_events` arrivals passed since its last event
//!   and `G - L - max_ts > idle_gap` (both: unsorted replays keep sessions whole, live streams
//!   stay bounded);
//! * when `G - L > max_ts` the key is *sealed*: its floor rises to `max_ts`;
//! * an event with an id already accepted at `ts >= floor` is a duplicate; else one below
//!   `max(floor, max_ts - L)` is late; else it is accepted and waits in `pending`;
//! * `drain` releases the pending events no future accepted event can precede, sorted by
//!   (key, ts, row), and cuts sessions on idle gaps and the maximum length.
//!
//! Why per-key and not one global watermark: clients' clocks disagree and replayed files are
//! often grouped by session rather than sorted by time; a global watermark would call whole
//! sessions late. The stream clock G is only used to seal and to evict.

use crate::batch::{Batch, SessionRow};
use crate::intern::same_bytes;
use crate::keytable::{prefetch_read, KeyTable};
use ahash::RandomState;
use std::num::NonZeroU64;

#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub idle_gap_ms: i64,
    pub max_session_ms: i64,
    pub lateness_ms: i64,
    pub evict_after_events: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            idle_gap_ms: 30 * 60 * 1000,
            max_session_ms: 24 * 60 * 60 * 1000,
            lateness_ms: 5_000,
            evict_after_events: 100_000,
        }
    }
}

/// One accepted event waiting for release (all strings already interned).
#[derive(Clone, Copy, Debug, Default)]
pub struct Ev {
    pub ts: i64,
    pub row: i64,
    pub state: u32,
    pub kind: u8,
    pub flags: u8,
    pub status: i16,
    pub url: i32,
    pub target: i32,
    pub tag: i32,
    pub route: i32,
    pub msg: i32,
    pub tab: i32,
    pub x: i32,
    pub y: i32,
    pub sy: i32,
    pub sh: i32,
    pub vh: i32,
    pub value: f32,
    pub dev: i32,
    pub rel: i32,
    pub geo: i32,
    /// interned uid, -1 when none
    pub uid: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    Accepted,
    Late,
    Duplicate,
}

#[derive(Clone, Debug)]
struct OpenSession {
    /// the session id + 1 (non-zero, so `Option<OpenSession>` needs no extra tag and a key's
    /// release-time state stays one cache line)
    id: NonZeroU64,
    start: i64,
    end: i64,
    n: i64,
    first_url: i32,
    last_url: i32,
    dev: i32,
    rel: i32,
    geo: i32,
    uid: i32,
    /// its row in the batch of drain number `epoch` (a row from an older drain is stale, so
    /// nothing has to walk the sessions to reset it)
    row: u32,
    epoch: u32,
}

/// Per-key state touched by every event, one cache line: the hash table and the lateness
/// checks read only this. Keys up to 22 bytes are compared inline, so a lookup costs one line.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct KeyHot {
    hash: u64,
    max_ts: i64,
    floor: i64,
    last_arrival: u64,
    pending: u32,
    /// its run in the drain under way, valid only while `runs[run]` names this key (so no
    /// drain has to come back and reset it): kept in this line, which the drain reads anyway,
    /// instead of in a side array it would also have to fetch
    run: u32,
    flags: u8,
    /// key length if inline, else `KEY_IN_COLD`
    klen: u8,
    key: [u8; INLINE_KEY],
}

const INLINE_KEY: usize = 22;
const _: () = assert!(
    std::mem::size_of::<KeyHot>() == 64,
    "KeyHot is one cache line"
);
const KEY_IN_COLD: u8 = u8::MAX;
const LIVE: u8 = 1;
const RETIRED: u8 = 2;
const HAS_IDS: u8 = 8;
/// `Ev::state` of a staged event that has not (or not yet) got in
const REJECTED: u32 = u32::MAX;

impl KeyHot {
    #[inline]
    fn live(&self) -> bool {
        self.flags & LIVE != 0
    }
    #[inline]
    fn retired(&self) -> bool {
        self.flags & RETIRED != 0
    }
}

/// Per-key state touched at release time: its open session, one cache line. A key too long
/// for the hot line and the ids of events with ids live in side tables, touched only for
/// such keys and events.
#[derive(Debug, Default)]
#[repr(C, align(64))]
struct KeyCold {
    session: Option<OpenSession>,
}

const _: () = assert!(
    std::mem::size_of::<KeyCold>() == 64,
    "KeyCold is one cache line"
);

/// One key's events in a drain: they are grouped by key so its state is fetched once.
#[derive(Clone, Copy, Debug)]
struct Run {
    state: u32,
    /// events in the run, then (after the prefix sum) where the run starts and, once the
    /// scatter has passed, where it ends in `sorted`
    at: u32,
    /// the key's bytes in `run_keys`, copied while pass 1 has its hot line at hand, so the
    /// per-run pass reads no hot line at all
    key_at: u32,
    key_len: u32,
}

#[derive(Default, Clone, Debug)]
pub struct SessionCounters {
    pub accepted: u64,
    pub late: u64,
    pub duplicates: u64,
    pub sessions_started: u64,
    pub sessions_closed: u64,
}

pub struct Sessioniser {
    cfg: SessionConfig,
    hasher: RandomState,
    map: KeyTable,
    hot: Vec<KeyHot>,
    cold: Vec<KeyCold>,
    /// per slab slot: the key when longer than `INLINE_KEY` (else None)
    long_keys: Vec<Option<Box<str>>>,
    /// per slab slot: (id hash, ts) of accepted ids still at or above the floor (`HAS_IDS`)
    ids: Vec<Vec<(u64, i64)>>,
    free: Vec<u32>,
    retired: Vec<u32>,
    pending: Vec<Ev>,
    /// staged events marked rejected since the last `drop_rejected`
    rejected_staged: usize,
    /// (pending position, run) of each event released by the current drain
    released: Vec<(u32, u32)>,
    /// the next pending list, filled with the events a drain holds back
    held: Vec<Ev>,
    sorted: Vec<Ev>,
    /// the runs of the current drain, one per key with events released
    runs: Vec<Run>,
    /// the keys of the runs back to back (`Run::key`)
    run_keys: Vec<u8>,
    sess_of: Vec<i32>,
    /// drains so far (wrapping): tells a session's row in this batch from a stale one
    epoch: u32,
    /// keys found idle by the current sweep
    idle: Vec<u32>,
    g: Option<i64>,
    arrivals: u64,
    next_session: u64,
    sweep_pos: usize,
    /// the most events pending at a drain's start, and released by one drain, since the
    /// scratch vectors were last cut back (`trim_scratch`)
    peak_pending: usize,
    peak_released: usize,
    drains_since_trim: u32,
    /// session rows the last drain wrote beyond one per run (`drain` reserves for them)
    extra_rows: usize,
    pub counters: SessionCounters,
}

/// How many runs ahead the per-run pass prefetches a key's open session.
const RUN_PREFETCH: usize = 8;

/// Drains between cuts of the scratch vectors back to what the load needed (`trim_scratch`).
const TRIM_EVERY: u32 = 64;
/// Scratch vectors are never cut below this many events (no churn at low rates).
const TRIM_FLOOR: usize = 4096;

/// A key's bytes: inline in its hot line, or its long-key entry.
#[inline(always)]
fn key_bytes<'a>(hot: &'a KeyHot, long: &'a Option<Box<str>>) -> &'a [u8] {
    if hot.klen == KEY_IN_COLD {
        long.as_deref().map_or(&[][..], str::as_bytes)
    } else {
        &hot.key[..hot.klen as usize]
    }
}

#[inline]
fn wide(v: i64) -> i128 {
    v as i128
}

impl Sessioniser {
    pub fn new(cfg: SessionConfig) -> Self {
        Sessioniser {
            cfg,
            hasher: RandomState::with_seeds(0x5345_5353, 0x494f_4e53, 0x7578_746f, 0x7000_0001),
            map: KeyTable::default(),
            hot: Vec::new(),
            cold: Vec::new(),
            long_keys: Vec::new(),
            ids: Vec::new(),
            free: Vec::new(),
            retired: Vec::new(),
            pending: Vec::new(),
            rejected_staged: 0,
            released: Vec::new(),
            held: Vec::new(),
            sorted: Vec::new(),
            runs: Vec::new(),
            run_keys: Vec::new(),
            sess_of: Vec::new(),
            epoch: 0,
            idle: Vec::new(),
            g: None,
            arrivals: 0,
            next_session: 0,
            sweep_pos: 0,
            peak_pending: 0,
            peak_released: 0,
            drains_since_trim: 0,
            extra_rows: 0,
            counters: SessionCounters::default(),
        }
    }

    pub fn open_keys(&self) -> usize {
        self.hot.len() - self.free.len()
    }

    pub fn pending_events(&self) -> usize {
        self.pending.len()
    }

    /// Stream clock minus lateness (i64::MIN before the first event).
    pub fn watermark(&self) -> i64 {
        self.g
            .map_or(i64::MIN, |g| g.saturating_sub(self.cfg.lateness_ms))
    }

    /// Rewrite every uid id still held (open sessions, pending events) through `f`; the
    /// ingestor uses it to compact its uid table.
    pub fn remap_uids(&mut self, mut f: impl FnMut(i32) -> i32) {
        for c in &mut self.cold {
            if let Some(s) = c.session.as_mut() {
                if s.uid >= 0 {
                    s.uid = f(s.uid);
                }
            }
        }
        for e in &mut self.pending {
            if e.uid >= 0 {
                e.uid = f(e.uid);
            }
        }
    }

    /// Approximate heap bytes held by live state (for the memory figures).
    pub fn memory_bytes(&self) -> usize {
        let strings: usize = self
            .long_keys
            .iter()
            .flatten()
            .map(|k| k.len())
            .sum::<usize>()
            + self.ids.iter().map(|v| v.capacity() * 16).sum::<usize>();
        self.hot.capacity() * std::mem::size_of::<KeyHot>()
            + self.cold.capacity() * std::mem::size_of::<KeyCold>()
            + self.long_keys.capacity() * 16
            + self.ids.capacity() * 24
            + strings
            + self.map.capacity() * 8
            + self.pending.capacity() * std::mem::size_of::<Ev>()
            + (self.held.capacity() + self.sorted.capacity()) * std::mem::size_of::<Ev>()
            + self.released.capacity() * 8
            + (self.sess_of.capacity() + self.idle.capacity()) * 4
            + self.runs.capacity() * std::mem::size_of::<Run>()
            + self.run_keys.capacity()
    }

    #[inline]
    fn key_eq(hot: &KeyHot, long: &Option<Box<str>>, hash: u64, key: &str) -> bool {
        if hot.hash != hash {
            return false;
        }
        if hot.klen == KEY_IN_COLD {
            long.as_deref()
                .is_some_and(|k| same_bytes(k.as_bytes(), key.as_bytes()))
        } else {
            same_bytes(&hot.key[..hot.klen as usize], key.as_bytes())
        }
    }

    #[inline]
    fn find(&self, hash: u64, key: &str) -> Option<u32> {
        let (hot, long) = (&self.hot, &self.long_keys);
        self.map.find(hash, |i| {
            Self::key_eq(&hot[i as usize], &long[i as usize], hash, key)
        })
    }

    /// The hash a key is stored under.
    #[inline]
    pub fn hash_key(&self, key: &str) -> u64 {
        self.hasher.hash_one(key.as_bytes())
    }

    /// Start fetching the index slot of a key that will arrive soon.
    #[inline(always)]
    pub fn prefetch_slot(&self, hash: u64) {
        self.map.prefetch(hash);
    }

    /// Start fetching the state of a key that will arrive soon (its slot should be cached).
    #[inline(always)]
    pub fn prefetch_state(&self, hash: u64) {
        if let Some(i) = self.map.peek(hash) {
            prefetch_read(self.hot.as_ptr().wrapping_add(i as usize));
        }
    }

    fn alloc(&mut self, key: &str, hash: u64, ts: i64, arrival: u64) -> u32 {
        let mut h = KeyHot {
            hash,
            max_ts: ts,
            floor: i64::MIN,
            last_arrival: arrival,
            pending: 0,
            run: u32::MAX,
            flags: LIVE,
            klen: KEY_IN_COLD,
            key: [0; INLINE_KEY],
        };
        let short = key.len() <= INLINE_KEY;
        if short {
            h.klen = key.len() as u8;
            h.key[..key.len()].copy_from_slice(key.as_bytes());
        }
        // a free slot's long key and ids were cleared when it closed (`close_state`)
        let idx = match self.free.pop() {
            Some(i) => {
                self.hot[i as usize] = h;
                self.cold[i as usize] = KeyCold::default();
                i
            }
            None => {
                self.hot.push(h);
                self.cold.push(KeyCold::default());
                self.long_keys.push(None);
                self.ids.push(Vec::new());
                (self.hot.len() - 1) as u32
            }
        };
        if !short {
            self.long_keys[idx as usize] = Some(key.into());
        }
        self.map.insert(hash, idx);
        idx
    }

    fn unmap(&mut self, idx: u32) {
        self.map.remove(self.hot[idx as usize].hash, idx);
    }

    /// One valid event arrives. `id_hash` is the hash of its `id`, if it has one.
    pub fn arrive(&mut self, key: &str, id_hash: Option<u64>, ev: Ev) -> Arrival {
        let hash = self.hash_key(key);
        let at = self.stage(ev);
        let r = self.arrive_staged(key, hash, id_hash, at);
        self.drop_rejected(at);
        r
    }

    /// Put an event at the end of the pending list before it arrives (`arrive_staged`), so the
    /// caller builds it in place instead of handing over a copy. Returns its position.
    #[inline]
    pub fn stage(&mut self, mut ev: Ev) -> usize {
        ev.state = REJECTED;
        self.pending.push(ev);
        self.pending.len() - 1
    }

    /// Remove the staged events from position `from` on that did not get in (late or
    /// duplicate); call before the next `drain`.
    pub fn drop_rejected(&mut self, from: usize) {
        if self.rejected_staged > 0 {
            let mut w = from;
            for r in from..self.pending.len() {
                if self.pending[r].state != REJECTED {
                    self.pending[w] = self.pending[r];
                    w += 1;
                }
            }
            self.pending.truncate(w);
            self.rejected_staged = 0;
        }
    }

    /// The staged event at pending position `at` arrives, its key's hash already computed
    /// (`hash_key`) so callers can prefetch. A rejected event stays marked until
    /// `drop_rejected`.
    pub fn arrive_staged(
        &mut self,
        key: &str,
        hash: u64,
        id_hash: Option<u64>,
        at: usize,
    ) -> Arrival {
        let ts = self.pending[at].ts;
        let lat = self.cfg.lateness_ms;
        let a = self.arrivals;
        self.arrivals += 1;
        let g_prev = self.g;
        self.g = Some(g_prev.map_or(ts, |g| g.max(ts)));
        let mut idx = self.find(hash, key);
        if let (Some(i), Some(g)) = (idx, g_prev) {
            let st = &mut self.hot[i as usize];
            let behind = wide(g) - wide(lat) - wide(st.max_ts);
            if a - st.last_arrival > self.cfg.evict_after_events
                && behind > wide(self.cfg.idle_gap_ms)
            {
                // forgotten: its pending events still go out, under the old state, at drain
                st.flags |= RETIRED;
                self.unmap(i);
                self.retired.push(i);
                idx = None;
            } else if behind > 0 {
                st.floor = st.floor.max(st.max_ts);
            }
        }
        let i = match idx {
            Some(i) => i,
            None => self.alloc(key, hash, ts, a),
        };
        let st = &mut self.hot[i as usize];
        st.last_arrival = a;
        let floor = st.floor.max(st.max_ts.saturating_sub(lat));
        if st.flags & HAS_IDS != 0 {
            let ids = &mut self.ids[i as usize];
            if ids.len() > 8 {
                ids.retain(|&(_, t)| t >= floor);
            }
            if let Some(h) = id_hash {
                if ids.iter().any(|&(ih, t)| ih == h && t >= floor) {
                    self.counters.duplicates += 1;
                    self.rejected_staged += 1;
                    return Arrival::Duplicate;
                }
            }
        }
        if ts < floor {
            self.counters.late += 1;
            self.rejected_staged += 1;
            return Arrival::Late;
        }
        st.max_ts = st.max_ts.max(ts);
        st.pending += 1;
        if let Some(h) = id_hash {
            st.flags |= HAS_IDS;
            let ids = &mut self.ids[i as usize];
            match ids.iter_mut().find(|(ih, _)| *ih == h) {
                Some(slot) => slot.1 = ts,
                None => ids.push((h, ts)),
            }
        }
        self.pending[at].state = i;
        self.counters.accepted += 1;
        Arrival::Accepted
    }

    /// Release what can be released; with `finishing`, everything, closing all sessions.
    pub fn drain(&mut self, finishing: bool, out: &mut Batch) {
        out.clear();
        self.epoch = self.epoch.wrapping_add(1);
        self.peak_pending = self.peak_pending.max(self.pending.len());
        // saturating i64 differences compare exactly as the true (i128) ones against the
        // thresholds here, which are representable: cheaper in the per-event loops
        let neg_lat = -self.cfg.lateness_ms;
        let sealed_below = self
            .g
            .map_or(i64::MIN, |g| g.saturating_sub(self.cfg.lateness_ms));
        // Group the releasable events by key with a counting pass (stable, so each key's events
        // stay in arrival order), then put each key's run in (ts, arrival) order; runs are
        // short and almost always sorted already. Cheaper than a comparison sort of the chunk,
        // and the events are moved with sequential reads and scattered writes (no gathers).
        let (hot, runs, run_keys) = (&mut self.hot, &mut self.runs, &mut self.run_keys);
        runs.clear();
        run_keys.clear();
        let long_keys = &self.long_keys;
        // pass 1: count each key's releasable events and note where they sit (and in which
        // run); the events held back move to `held`, which becomes the new pending list (each
        // event is copied once)
        let mut released = std::mem::take(&mut self.released);
        released.clear();
        let mut held = std::mem::take(&mut self.held);
        held.clear();
        let pending = &self.pending;
        for (k, e) in pending.iter().enumerate() {
            if let Some(ahead) = pending.get(k + 8) {
                prefetch_read(hot.as_ptr().wrapping_add(ahead.state as usize));
            }
            let st = &mut hot[e.state as usize];
            if finishing
                || st.retired()
                || e.ts.saturating_sub(st.max_ts) <= neg_lat
                || sealed_below > st.max_ts
            {
                st.pending -= 1;
                let ri = match runs.get(st.run as usize) {
                    Some(r) if r.state == e.state => st.run as usize,
                    _ => {
                        let key = key_bytes(st, &long_keys[e.state as usize]);
                        runs.push(Run {
                            state: e.state,
                            at: 0,
                            key_at: run_keys.len() as u32,
                            key_len: key.len() as u32,
                        });
                        run_keys.extend_from_slice(key);
                        st.run = (runs.len() - 1) as u32;
                        runs.len() - 1
                    }
                };
                runs[ri].at += 1;
                released.push((k as u32, ri as u32));
            } else {
                held.push(*e);
            }
        }
        // prefix sums → run starts
        let mut at = 0u32;
        for r in runs.iter_mut() {
            let n = r.at;
            r.at = at;
            at += n;
        }
        // pass 2: scatter the released events straight from pending into their runs
        let n = released.len();
        let mut sorted = std::mem::take(&mut self.sorted);
        sorted.clear();
        sorted.reserve(n);
        let dst = sorted.as_mut_ptr();
        for &(k, run) in &released {
            let e = &pending[k as usize];
            let r = &mut runs[run as usize];
            assert!((r.at as usize) < n);
            // SAFETY: in bounds (checked above; reserve(n)); the run counts sum to n, so each
            // of the n positions is written exactly once before set_len, and Ev is Copy.
            unsafe { dst.add(r.at as usize).write(*e) };
            r.at += 1;
        }
        // SAFETY: all n positions were written above.
        unsafe { sorted.set_len(n) };
        self.held = std::mem::replace(&mut self.pending, held);
        self.released = released;
        // the batch's session table: a row per run, plus the sessions cut inside runs and
        // those closed without events here, estimated from the last drain; each vector of a
        // fresh batch would otherwise grow by doubling, and the sessions' one (64 bytes a row)
        // was copied whole when the closes after the runs outgrew it
        let rows = runs.len() + self.extra_rows;
        let key_bytes =
            self.run_keys.len() + self.extra_rows * (self.run_keys.len() / runs.len().max(1) + 1);
        out.sessions.reserve(rows);
        out.offsets.reserve(rows + 1);
        out.keys.offsets.reserve(rows);
        out.keys.bytes.reserve(key_bytes);
        // r.at is now each run's end. Per run (one key): order its events by (ts, arrival),
        // cut its sessions and write its events' columns, so each key's open session is
        // fetched once per run rather than once per event (and its hot line not at all).
        let mut sess_of = std::mem::take(&mut self.sess_of);
        sess_of.clear();
        sess_of.reserve(n);
        let mut lo = 0usize;
        for (ri, r) in runs.iter().enumerate() {
            if let Some(ahead) = runs.get(ri + RUN_PREFETCH) {
                prefetch_read(self.cold.as_ptr().wrapping_add(ahead.state as usize));
            }
            let (state, hi) = (r.state, r.at as usize);
            let key = &self.run_keys[r.key_at as usize..(r.key_at + r.key_len) as usize];
            let run = &mut sorted[lo..hi];
            if run.windows(2).any(|w| w[0].ts > w[1].ts) {
                run.sort_by_key(|e| (e.ts, e.row));
            }
            let c = &mut self.cold[state as usize];
            for (j, e) in (lo..hi).zip(run.iter()) {
                let cut = match &c.session {
                    None => true,
                    Some(s) => {
                        e.ts.saturating_sub(s.end) > self.cfg.idle_gap_ms
                            || e.ts.saturating_sub(s.start) >= self.cfg.max_session_ms
                    }
                };
                if cut {
                    if let Some(old) = c.session.take() {
                        Self::close_row(old, key, j, self.epoch, out, &mut self.counters);
                    }
                    c.session = Some(OpenSession {
                        id: NonZeroU64::new(self.next_session + 1)
                            .expect("session ids stay below u64::MAX"),
                        start: e.ts,
                        end: e.ts,
                        n: 0,
                        first_url: -1,
                        last_url: -1,
                        dev: -1,
                        rel: -1,
                        geo: -1,
                        uid: -1,
                        row: 0,
                        epoch: self.epoch.wrapping_sub(1),
                    });
                    self.next_session += 1;
                    self.counters.sessions_started += 1;
                }
                let s = c.session.as_mut().expect("session opened above");
                if s.epoch != self.epoch {
                    s.epoch = self.epoch;
                    s.row = out.sessions.len() as u32;
                    out.sessions.push(SessionRow::placeholder(s.id.get() - 1));
                    out.keys.push_bytes(key);
                    out.offsets.push(j as i64);
                }
                s.end = e.ts;
                s.n += 1;
                if e.url >= 0 {
                    if s.first_url < 0 {
                        s.first_url = e.url;
                    }
                    s.last_url = e.url;
                }
                if s.dev < 0 {
                    s.dev = e.dev;
                }
                if s.rel < 0 {
                    s.rel = e.rel;
                }
                if s.geo < 0 {
                    s.geo = e.geo;
                }
                if s.uid < 0 {
                    s.uid = e.uid;
                }
                sess_of.push((out.sessions.len() - 1) as i32);
            }
            // its row as it stands; a close later in this drain overwrites it
            if let Some(s) = &c.session {
                out.sessions[s.row as usize] = Self::row_of(s, false);
            }
            lo = hi;
        }
        // columns in one tight pass each (no per-event capacity checks across 18 vectors;
        // measured: writing them inside the loop above is ~5 % slower end to end)
        out.events.fill_from(&sorted, &sess_of);
        self.sorted = sorted;
        self.sess_of = sess_of;

        // close: retired states once drained, everything when finishing, idle states by sweep
        let retired = std::mem::take(&mut self.retired);
        for i in retired {
            if self.hot[i as usize].pending == 0 {
                self.close_state(i, out, false);
            } else {
                self.retired.push(i);
            }
        }
        if finishing {
            for i in 0..self.hot.len() as u32 {
                if self.hot[i as usize].live() {
                    self.close_state(i, out, true);
                }
            }
            self.pending.clear();
        } else if let Some(g) = self.g {
            self.sweep_idle(g, out);
        }
        out.offsets.push(out.events.len() as i64);
        self.extra_rows = out.sessions.len().saturating_sub(self.runs.len());
        out.watermark = self.watermark();
        self.trim_scratch(n);
    }

    /// The scratch vectors keep their capacity from drain to drain (no reallocation in a
    /// steady stream), but one burst (a big read after a stall) must not pin its peak for
    /// good: every `TRIM_EVERY` drains each is cut back to the most it needed in that span.
    /// So the core's memory follows the load down as well as up.
    fn trim_scratch(&mut self, released: usize) {
        self.peak_released = self.peak_released.max(released);
        self.drains_since_trim += 1;
        if self.drains_since_trim < TRIM_EVERY {
            return;
        }
        fn cut<T>(v: &mut Vec<T>, need: usize) {
            let keep = need.max(TRIM_FLOOR);
            if v.capacity() > 2 * keep {
                v.shrink_to(keep + keep / 4);
            }
        }
        let (pend, rel) = (self.peak_pending, self.peak_released);
        cut(&mut self.pending, pend);
        cut(&mut self.held, pend);
        cut(&mut self.sorted, rel);
        cut(&mut self.released, rel);
        cut(&mut self.sess_of, rel);
        cut(&mut self.runs, rel);
        cut(&mut self.run_keys, rel * 8);
        cut(&mut self.idle, rel);
        self.peak_pending = 0;
        self.peak_released = 0;
        self.drains_since_trim = 0;
    }

    /// Evict idle keys, examining a bounded slice of the slab per drain (amortised O(events)).
    fn sweep_idle(&mut self, g: i64, out: &mut Batch) {
        let n = self.hot.len();
        if n == 0 {
            return;
        }
        // one state per released event keeps pace with the arrival of new keys
        let budget = out.events.len().max(1024).min(n);
        // find the idle keys first (a sequential walk), then close them with their index slot
        // and session prefetched a few keys ahead (closing one is two random accesses)
        let mut idle = std::mem::take(&mut self.idle);
        idle.clear();
        for _ in 0..budget {
            if self.sweep_pos >= n {
                self.sweep_pos = 0;
            }
            let i = self.sweep_pos;
            self.sweep_pos += 1;
            let st = &self.hot[i];
            if st.live()
                && !st.retired()
                && st.pending == 0
                && self.arrivals - st.last_arrival > self.cfg.evict_after_events
                && wide(g) - wide(self.cfg.lateness_ms) - wide(st.max_ts)
                    > wide(self.cfg.idle_gap_ms)
            {
                idle.push(i as u32);
            }
        }
        for (j, &i) in idle.iter().enumerate() {
            if let Some(&a) = idle.get(j + 4) {
                self.map.prefetch(self.hot[a as usize].hash);
                prefetch_read(self.cold.as_ptr().wrapping_add(a as usize));
            }
            self.close_state(i, out, true);
        }
        self.idle = idle;
    }

    fn close_state(&mut self, i: u32, out: &mut Batch, unmap: bool) {
        if unmap && !self.hot[i as usize].retired() {
            self.unmap(i);
        }
        let c = std::mem::take(&mut self.cold[i as usize]);
        if let Some(s) = c.session {
            let key = key_bytes(&self.hot[i as usize], &self.long_keys[i as usize]);
            Self::close_row(
                s,
                key,
                out.events.len(),
                self.epoch,
                out,
                &mut self.counters,
            );
        }
        // the slot is free again: its side entries go back to empty
        let h = &mut self.hot[i as usize];
        if h.klen == KEY_IN_COLD {
            self.long_keys[i as usize] = None;
        }
        if h.flags & HAS_IDS != 0 {
            self.ids[i as usize] = Vec::new();
        }
        h.flags = 0;
        self.free.push(i);
    }

    fn row_of(s: &OpenSession, closed: bool) -> SessionRow {
        SessionRow {
            session_id: s.id.get() - 1,
            start_ts: s.start,
            end_ts: s.end,
            n_events: s.n,
            first_url: s.first_url,
            last_url: s.last_url,
            dev: s.dev,
            rel: s.rel,
            geo: s.geo,
            uid: s.uid,
            closed,
        }
    }

    /// Mark a session closed in this batch, adding an empty row if it had no events here.
    /// `at`: the number of events already in the batch (where an empty row's slice starts).
    /// `epoch`: the drain under way (the session has a row in this batch if it matches).
    fn close_row(
        s: OpenSession,
        key: &[u8],
        at: usize,
        epoch: u32,
        out: &mut Batch,
        c: &mut SessionCounters,
    ) {
        c.sessions_closed += 1;
        let row = Self::row_of(&s, true);
        if s.epoch == epoch {
            out.sessions[s.row as usize] = row;
        } else {
            out.push_empty_session(row, key, at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ts: i64, row: i64) -> Ev {
        Ev {
            ts,
            row,
            url: -1,
            target: -1,
            dev: -1,
            rel: -1,
            geo: -1,
            uid: -1,
            ..Default::default()
        }
    }

    fn run(
        events: &[(&str, i64, Option<u64>)],
        cfg: SessionConfig,
    ) -> (Vec<(String, Vec<i64>)>, SessionCounters) {
        let mut s = Sessioniser::new(cfg);
        let mut b = Batch::default();
        let mut sessions: std::collections::BTreeMap<u64, (String, Vec<i64>)> = Default::default();
        for (row, &(k, ts, id)) in events.iter().enumerate() {
            s.arrive(k, id, ev(ts, row as i64));
            s.drain(false, &mut b);
            collect(&b, &mut sessions);
        }
        s.drain(true, &mut b);
        collect(&b, &mut sessions);
        (sessions.into_values().collect(), s.counters.clone())
    }

    /// A key's run index from an earlier drain points at another key's run in this one: the
    /// key must still get a run of its own (run indexes are never reset between drains).
    #[test]
    fn stale_run_indexes_are_not_followed() {
        let cfg = SessionConfig {
            lateness_ms: 0,
            ..Default::default()
        };
        let mut s = Sessioniser::new(cfg);
        let mut b = Batch::default();
        let mut sessions = Default::default();
        for pair in [
            [("a", 1), ("b", 2)],
            [("b", 3), ("a", 4)],
            [("c", 5), ("a", 6)],
        ] {
            for (k, ts) in pair {
                s.arrive(k, None, ev(ts, ts));
            }
            s.drain(false, &mut b);
            collect(&b, &mut sessions);
        }
        s.drain(true, &mut b);
        collect(&b, &mut sessions);
        let got: Vec<_> = sessions.into_values().collect();
        let want = [("a", vec![1, 4, 6]), ("b", vec![2, 3]), ("c", vec![5])];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for ((k, ts), (wk, wts)) in got.iter().zip(want) {
            assert_eq!((k.as_str(), ts), (wk, &wts));
        }
    }

    fn collect(b: &Batch, out: &mut std::collections::BTreeMap<u64, (String, Vec<i64>)>) {
        assert_eq!(b.offsets.len(), b.sessions.len() + 1);
        assert_eq!(*b.offsets.last().unwrap() as usize, b.events.len());
        assert!(b.offsets.windows(2).all(|w| w[0] <= w[1]));
        for (r, w) in b.offsets.windows(2).enumerate() {
            assert!(b.events.session[w[0] as usize..w[1] as usize]
                .iter()
                .all(|&s| s as usize == r));
        }
        for (r, row) in b.sessions.iter().enumerate() {
            let entry = out
                .entry(row.session_id)
                .or_insert_with(|| (b.keys.get(r).to_string(), vec![]));
            let (lo, hi) = (b.offsets[r] as usize, b.offsets[r + 1] as usize);
            entry.1.extend_from_slice(&b.events.ts[lo..hi]);
        }
    }

    #[test]
    fn reorders_within_lateness_and_counts_late() {
        let cfg = SessionConfig {
            lateness_ms: 100,
            ..Default::default()
        };
        let (sessions, c) = run(
            &[
                ("a", 1000, None),
                ("a", 950, None),
                ("a", 1200, None),
                ("a", 1050, None),
            ],
            cfg,
        );
        assert_eq!(sessions, vec![("a".to_string(), vec![950, 1000, 1200])]);
        assert_eq!(c.late, 1);
    }

    #[test]
    fn drops_duplicates_by_id() {
        let (sessions, c) = run(
            &[
                ("a", 1000, Some(7)),
                ("a", 1000, Some(7)),
                ("a", 1001, Some(8)),
            ],
            SessionConfig::default(),
        );
        assert_eq!(sessions[0].1, vec![1000, 1001]);
        assert_eq!(c.duplicates, 1);
    }

    #[test]
    fn cuts_on_idle_gap_and_max_length() {
        let cfg = SessionConfig {
            idle_gap_ms: 100,
            max_session_ms: 1000,
            lateness_ms: 0,
            ..Default::default()
        };
        let (sessions, _) = run(
            &[
                ("a", 0, None),
                ("a", 50, None),
                ("a", 200, None),
                ("a", 290, None),
                ("a", 380, None),
                ("a", 470, None),
                ("a", 560, None),
                ("a", 650, None),
                ("a", 740, None),
                ("a", 830, None),
                ("a", 920, None),
                ("a", 1010, None),
                ("a", 1100, None),
                ("a", 1190, None),
                ("a", 1250, None),
            ],
            cfg,
        );
        let lens: Vec<usize> = sessions.iter().map(|s| s.1.len()).collect();
        assert_eq!(lens, vec![2, 12, 1]);
    }

    #[test]
    fn unsorted_replay_keeps_sessions_whole() {
        // b's events are an hour behind a's, yet arrive in order: one session each
        let (sessions, c) = run(
            &[
                ("a", 3_600_000, None),
                ("a", 3_600_500, None),
                ("b", 10, None),
                ("b", 20, None),
                ("b", 30, None),
            ],
            SessionConfig::default(),
        );
        assert_eq!(sessions.len(), 2);
        assert_eq!(c.late, 0);
    }

    #[test]
    fn idle_keys_are_evicted() {
        let cfg = SessionConfig {
            idle_gap_ms: 10,
            lateness_ms: 0,
            evict_after_events: 5,
            ..Default::default()
        };
        let mut s = Sessioniser::new(cfg);
        let mut b = Batch::default();
        for k in 0..10_000i64 {
            s.arrive(&format!("k{k}"), None, ev(k * 100, k));
            s.drain(false, &mut b);
        }
        assert!(s.open_keys() < 2000, "open keys {}", s.open_keys());
    }

    #[test]
    fn a_burst_does_not_pin_scratch_memory() {
        let cfg = SessionConfig {
            lateness_ms: 0,
            ..Default::default()
        };
        let mut s = Sessioniser::new(cfg);
        let mut b = Batch::default();
        let mut ts = 0i64;
        let mut feed = |s: &mut Sessioniser, n: usize, b: &mut Batch| {
            for k in 0..n {
                ts += 1;
                s.arrive(&format!("k{}", k % 500), None, ev(ts, ts));
            }
            s.drain(false, b);
        };
        for _ in 0..100 {
            feed(&mut s, 1_000, &mut b);
        }
        let steady = s.memory_bytes();
        feed(&mut s, 300_000, &mut b); // one burst: ~26 MB per scratch vector
        assert!(s.memory_bytes() > steady + 20_000_000);
        for _ in 0..2 * TRIM_EVERY {
            feed(&mut s, 1_000, &mut b);
        }
        let after = s.memory_bytes();
        assert!(
            after < steady + 2_000_000,
            "after the burst: {after} bytes, steady {steady}"
        );
        assert_eq!(
            s.counters.accepted,
            300_000 + (100 + 2 * TRIM_EVERY as u64) * 1_000
        );
    }
}
