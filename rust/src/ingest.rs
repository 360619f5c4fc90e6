//! The incremental ingestor: byte chunks in (lines may span chunks), columnar batches out.
//!
//! Bad lines never stop the stream: each is counted by reason and kept (row, reason, bytes) for
//! the quarantine file until the caller takes them. A line longer than `max_line_bytes` is never
//! buffered whole: its first `max_line_bytes` are kept and the rest is skipped to the newline.

use crate::batch::Batch;
use crate::error::{BadReason, CoreError, CoreResult};
use crate::intern::{Interner, TABLES};
use crate::parse::json::Text;
use crate::parse::lines::Newlines;
use crate::parse::{normalize_url, KeyVal, LineOutcome, LineParser, ParsedEvent, N_TEXTS};
use crate::session::{Arrival, Ev, SessionConfig, Sessioniser};
use ahash::RandomState;

#[derive(Clone, Debug)]
pub struct IngestConfig {
    pub session: SessionConfig,
    pub max_line_bytes: usize,
    pub keep_query: bool,
    pub max_strings: usize,
    /// bad lines held for the caller before further ones are only counted
    pub max_quarantine_lines: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            session: SessionConfig::default(),
            max_line_bytes: 1 << 20,
            keep_query: false,
            max_strings: 1 << 20,
            max_quarantine_lines: 100_000,
        }
    }
}

impl IngestConfig {
    pub fn validate(&self) -> CoreResult<()> {
        let s = &self.session;
        let bad = |k: &str, v: i64, need: &str| {
            Err(CoreError::Config(format!(
                "ingest.{k} = {v} is invalid: it must be {need}"
            )))
        };
        if s.idle_gap_ms <= 0 {
            return bad(
                "idle_gap_ms",
                s.idle_gap_ms,
                "> 0 (default 1800000, 30 min)",
            );
        }
        if s.max_session_ms <= 0 {
            return bad(
                "max_session_ms",
                s.max_session_ms,
                "> 0 (default 86400000, 24 h)",
            );
        }
        if s.lateness_ms < 0 {
            return bad("lateness_ms", s.lateness_ms, ">= 0 (default 5000)");
        }
        if s.evict_after_events == 0 {
            return bad("evict_after_events", 0, "> 0 (default 100000)");
        }
        if self.max_line_bytes == 0 || self.max_line_bytes > u32::MAX as usize {
            return bad(
                "max_line_bytes",
                self.max_line_bytes as i64,
                "between 1 and 4294967295 (default 1048576)",
            );
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
pub struct BadLine {
    pub row: i64,
    pub reason: BadReason,
    pub bytes: Vec<u8>,
}

#[derive(Default, Clone, Debug)]
pub struct IngestCounters {
    pub lines: u64,
    pub bytes: u64,
    pub bad_lines: u64,
    pub bad_by_reason: [u64; 7],
    pub quarantine_dropped: u64,
    /// times the uid table was rebuilt with only the uids still in use
    pub uid_compactions: u64,
}

/// A parsed event waiting for the sessioniser: a group of lines is parsed first (each event
/// written straight into the sessioniser's pending list), then the group arrives in a second
/// pass that prefetches each key's slot and state a few events ahead.
struct Staged {
    /// its position in the pending list
    at: usize,
    hash: u64,
    id_hash: Option<u64>,
    key: (u32, u32),
}

/// The uid table is rebuilt once it holds this many strings (or twice what it kept last time).
const UID_COMPACT_MIN: usize = 1 << 16;
/// Index of the uid table in `strings` (see `TABLES`).
const UID_TABLE: usize = 9;

/// Parsed events are handed to the sessioniser in groups of this many, so a group (its events
/// at the end of the pending list, ~88 bytes each, and their staging records) is still in L2
/// when it arrives instead of making a round trip through memory for a whole chunk.
const STAGE_EVENTS: usize = 2048;

/// How far ahead the second pass prefetches: slot at 2*D, state at D.
const PREFETCH_DISTANCE: usize = 8;

pub struct Ingestor {
    cfg: IngestConfig,
    parser: LineParser,
    ev: ParsedEvent,
    pub strings: Vec<Interner>,
    pub sessions: Sessioniser,
    id_hasher: RandomState,
    /// an incomplete last line
    tail: Vec<u8>,
    /// skipping the rest of a too-long line
    discarding: bool,
    row: i64,
    pub counters: IngestCounters,
    bad: Vec<BadLine>,
    key_buf: String,
    uid_buf: String,
    staged: Vec<Staged>,
    stage_keys: Vec<u8>,
    /// uid table size that triggers the next compaction
    uid_compact_at: usize,
    finished: bool,
}

impl Ingestor {
    pub fn new(cfg: IngestConfig) -> CoreResult<Self> {
        cfg.validate()?;
        Ok(Ingestor {
            parser: LineParser::default(),
            ev: ParsedEvent::default(),
            strings: TABLES
                .iter()
                .map(|_| Interner::new(cfg.max_strings))
                .collect(),
            sessions: Sessioniser::new(cfg.session.clone()),
            id_hasher: RandomState::with_seeds(0x6964_6964, 0x6964_6964, 0x1d1d_1d1d, 0x0bad_cafe),
            tail: Vec::new(),
            discarding: false,
            row: 0,
            counters: IngestCounters::default(),
            bad: Vec::new(),
            key_buf: String::new(),
            uid_buf: String::new(),
            staged: Vec::new(),
            stage_keys: Vec::new(),
            uid_compact_at: UID_COMPACT_MIN.min(cfg.max_strings),
            finished: false,
            cfg,
        })
    }

    pub fn table(&self, name: &str) -> CoreResult<&Interner> {
        TABLES
            .iter()
            .position(|t| *t == name)
            .map(|i| &self.strings[i])
            .ok_or_else(|| CoreError::UnknownTable(name.to_string()))
    }

    /// Take the quarantined lines gathered so far.
    pub fn take_bad_lines(&mut self) -> Vec<BadLine> {
        std::mem::take(&mut self.bad)
    }

    /// Parse a chunk and release what the lateness rule allows.
    pub fn feed(&mut self, data: &[u8], out: &mut Batch) -> CoreResult<()> {
        self.feed_parts(&[data], out)
    }

    /// `feed` of the parts one after another, as if joined (a line may span parts), with one
    /// release at the end: a caller holding several reads needs no copy to join them.
    pub fn feed_parts<P: AsRef<[u8]>>(&mut self, parts: &[P], out: &mut Batch) -> CoreResult<()> {
        if self.finished {
            return Err(CoreError::Finished);
        }
        for p in parts {
            self.lines_of(p.as_ref());
        }
        self.arrive_staged();
        self.sessions.drain(false, out);
        self.fill_uids(out);
        self.compact_uids();
        Ok(())
    }

    /// Parse and stage the complete lines of `data`, carrying a partial last line over.
    fn lines_of(&mut self, data: &[u8]) {
        self.counters.bytes += data.len() as u64;
        let mut rest = data;
        // finish the line carried over from the previous chunk
        if !self.tail.is_empty() || self.discarding {
            match memchr::memchr(b'\n', rest) {
                Some(nl) => {
                    self.extend_tail(&rest[..nl]);
                    let line = std::mem::take(&mut self.tail);
                    let too_long = std::mem::replace(&mut self.discarding, false);
                    self.line(&line, too_long);
                    self.tail = line;
                    self.tail.clear();
                    rest = &rest[nl + 1..];
                }
                None => {
                    self.extend_tail(rest);
                    rest = &[];
                }
            }
        }
        let mut start = 0;
        for nl in Newlines::new(rest) {
            let len = nl - start;
            if len > self.cfg.max_line_bytes {
                self.line(&rest[start..nl], true);
            } else {
                // the line with what follows it: the parser may read it in place
                self.framed_line(&rest[start..], len);
            }
            start = nl + 1;
            if self.staged.len() >= STAGE_EVENTS {
                self.arrive_staged();
            }
        }
        if start < rest.len() {
            self.extend_tail(&rest[start..]);
        }
    }

    /// Every user id is interned so events can carry it cheaply until their session takes
    /// the first one; a live stream sees new users forever, so an append-only table would
    /// grow until its cap and then call every new user "(other)". Once the table is large,
    /// it is rebuilt with just the uids open sessions and waiting events still hold (the
    /// batch already handed out carries uid text, so nothing outside sees the old ids).
    fn compact_uids(&mut self) {
        if self.strings[UID_TABLE].len() < self.uid_compact_at {
            return;
        }
        let old = &self.strings[UID_TABLE];
        let mut fresh = Interner::new(self.cfg.max_strings);
        let mut remap = vec![-1i32; old.len()];
        self.sessions.remap_uids(|id| {
            let r = &mut remap[id as usize];
            if *r < 0 {
                *r = fresh.intern(old.get(id).unwrap_or(""));
            }
            *r
        });
        self.strings[UID_TABLE] = fresh;
        // amortised: the table must grow by what it kept (or the minimum) before the next
        // rebuild, so each rebuild's O(live) work is paid for by as many new uids
        // (more live users than `max_strings` at once: the cap holds and the overflow is
        // counted, as for any table)
        let kept = self.strings[UID_TABLE].len();
        let want = (2 * kept).max(UID_COMPACT_MIN);
        self.uid_compact_at = if want > self.cfg.max_strings && kept < self.cfg.max_strings {
            self.cfg.max_strings
        } else {
            want
        };
        self.counters.uid_compactions += 1;
    }

    fn arrive_staged(&mut self) {
        let staged = std::mem::take(&mut self.staged);
        let keys = std::mem::take(&mut self.stage_keys);
        let d = PREFETCH_DISTANCE;
        for (j, s) in staged.iter().enumerate() {
            if let Some(a) = staged.get(j + 2 * d) {
                self.sessions.prefetch_slot(a.hash);
            }
            if let Some(a) = staged.get(j + d) {
                self.sessions.prefetch_state(a.hash);
            }
            let key = &keys[s.key.0 as usize..(s.key.0 + s.key.1) as usize];
            // SAFETY: key bytes were copied from a &str in `accept`
            let key = unsafe { std::str::from_utf8_unchecked(key) };
            let _: Arrival = self.sessions.arrive_staged(key, s.hash, s.id_hash, s.at);
        }
        if let Some(first) = staged.first() {
            self.sessions.drop_rejected(first.at);
        }
        self.staged = staged;
        self.staged.clear();
        self.stage_keys = keys;
        self.stage_keys.clear();
    }

    fn fill_uids(&self, out: &mut Batch) {
        let uids = &self.strings[9];
        out.uids.offsets.reserve(out.sessions.len());
        for r in &out.sessions {
            out.uids.push(uids.get(r.uid).unwrap_or(""));
        }
    }

    /// Flush the last line and every session.
    pub fn finish(&mut self, out: &mut Batch) -> CoreResult<()> {
        if self.finished {
            return Err(CoreError::Finished);
        }
        if !self.tail.is_empty() || self.discarding {
            let line = std::mem::take(&mut self.tail);
            let too_long = std::mem::replace(&mut self.discarding, false);
            self.line(&line, too_long);
        }
        self.arrive_staged();
        self.sessions.drain(true, out);
        self.fill_uids(out);
        self.finished = true;
        Ok(())
    }

    fn extend_tail(&mut self, part: &[u8]) {
        let room = self.cfg.max_line_bytes - self.tail.len().min(self.cfg.max_line_bytes);
        if part.len() > room {
            self.tail.extend_from_slice(&part[..room]);
            self.discarding = true;
        } else {
            self.tail.extend_from_slice(part);
        }
    }

    fn quarantine(&mut self, row: i64, reason: BadReason, line: &[u8]) {
        self.counters.bad_lines += 1;
        self.counters.bad_by_reason[reason as usize] += 1;
        if self.bad.len() < self.cfg.max_quarantine_lines {
            let keep = line.len().min(self.cfg.max_line_bytes);
            self.bad.push(BadLine {
                row,
                reason,
                bytes: line[..keep].to_vec(),
            });
        } else {
            self.counters.quarantine_dropped += 1;
        }
    }

    fn line(&mut self, line: &[u8], too_long: bool) {
        let row = self.next_row();
        if too_long {
            self.quarantine(row, BadReason::TooLong, line);
            return;
        }
        let outcome = self.parser.parse(line, &mut self.ev);
        self.settle(row, line, outcome);
    }

    /// `line` for the line `buf[..len]`, its `\n` at `buf[len]` (not too long).
    fn framed_line(&mut self, buf: &[u8], len: usize) {
        let row = self.next_row();
        let outcome = self.parser.parse_framed(buf, len, &mut self.ev);
        self.settle(row, &buf[..len], outcome);
    }

    #[inline(always)]
    fn next_row(&mut self) -> i64 {
        self.counters.lines += 1;
        self.row += 1;
        self.row - 1
    }

    #[inline(always)]
    fn settle(&mut self, row: i64, line: &[u8], outcome: LineOutcome) {
        match outcome {
            LineOutcome::Blank => {}
            LineOutcome::Bad(r) => self.quarantine(row, r, line),
            LineOutcome::Event => self.accept(line, row),
        }
    }

    /// Intern a parsed line's strings and stage it for the sessioniser (`self.ev` holds it).
    fn accept(&mut self, line: &[u8], row: i64) {
        let p = &self.ev;
        let scratch = &self.parser.scratch;
        let text = |t: Text| t.get(line, scratch);
        // A key's text: string keys are read in place; only integer keys are written out
        // (as decimal, into their own buffer).
        fn key_text<'a>(
            k: KeyVal,
            text: impl Fn(Text) -> Option<&'a str>,
            buf: &'a mut String,
        ) -> Option<&'a str> {
            match k {
                KeyVal::None => None,
                KeyVal::Int(v) => {
                    use std::fmt::Write;
                    buf.clear();
                    let _ = write!(buf, "{v}");
                    Some(buf.as_str())
                }
                KeyVal::Text(t) => text(t).filter(|s| !s.is_empty()),
            }
        }
        let uid = key_text(p.uid, text, &mut self.uid_buf);
        // the parser guarantees a non-empty sid or uid
        let key = key_text(p.sid, text, &mut self.key_buf)
            .or(uid)
            .unwrap_or("");
        let id_hash = match p.id {
            KeyVal::None => None,
            KeyVal::Int(v) => Some(self.id_hasher.hash_one(v.to_string().as_bytes())),
            KeyVal::Text(t) => Some(self.id_hasher.hash_one(text(t).unwrap_or("").as_bytes())),
        };
        // most events carry two or three of the nine strings: visit only those (bit i of
        // `present` is table i; url, table 0, is normalised first)
        let strings = &mut self.strings;
        let mut ids = [-1i32; N_TEXTS];
        let mut present = p.texts_present();
        if present & 1 != 0 {
            let url = text(p.texts[0]).unwrap_or_default();
            ids[0] = strings[0].intern(&normalize_url(url, self.cfg.keep_query));
            present &= !1;
        }
        while present != 0 {
            let table = present.trailing_zeros() as usize;
            present &= present - 1;
            ids[table] = strings[table].intern(text(p.texts[table]).unwrap_or_default());
        }
        let [url, target, tag, route, msg, tab, dev, rel, geo] = ids;
        let ev = Ev {
            ts: p.ts.unwrap_or_default(),
            row,
            state: 0,
            kind: p.kind,
            flags: p.flags,
            status: p.status,
            url,
            target,
            tag,
            route,
            msg,
            tab,
            dev,
            rel,
            geo,
            uid: uid.map_or(-1, |u| strings[UID_TABLE].intern(u)),
            x: p.ints[0],
            y: p.ints[1],
            sy: p.ints[2],
            sh: p.ints[3],
            vh: p.ints[4],
            value: p.value(),
        };
        let k0 = self.stage_keys.len() as u32;
        self.stage_keys.extend_from_slice(key.as_bytes());
        let hash = self.sessions.hash_key(key);
        let at = self.sessions.stage(ev);
        self.staged.push(Staged {
            at,
            hash,
            id_hash,
            key: (k0, key.len() as u32),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingest(chunks: &[&[u8]], cfg: IngestConfig) -> (Vec<Batch>, Ingestor) {
        let mut ing = Ingestor::new(cfg).unwrap();
        let mut out = vec![];
        for c in chunks {
            let mut b = Batch::default();
            ing.feed(c, &mut b).unwrap();
            out.push(b);
        }
        let mut b = Batch::default();
        ing.finish(&mut b).unwrap();
        out.push(b);
        (out, ing)
    }

    #[test]
    fn lines_spanning_chunks_and_bad_lines() {
        let data = b"{\"ts\":1,\"sid\":\"a\",\"url\":\"https://x/p?q\"}\nnot json\n{\"ts\":2,\"sid\":\"a\"}\n\n{\"ts\":3,\"uid\":7}";
        for split in 0..data.len() {
            let (batches, mut ing) =
                ingest(&[&data[..split], &data[split..]], IngestConfig::default());
            let events: usize = batches.iter().map(|b| b.events.len()).sum();
            assert_eq!(events, 3, "split {split}");
            assert_eq!(ing.counters.lines, 5);
            assert_eq!(ing.counters.bad_by_reason[BadReason::Json as usize], 1);
            let bad = ing.take_bad_lines();
            assert_eq!(bad.len(), 1);
            assert_eq!((bad[0].row, &bad[0].bytes[..]), (1, &b"not json"[..]));
            assert_eq!(ing.table("url").unwrap().get(0), Some("/p"));
        }
    }

    #[test]
    fn parts_fed_together_equal_their_join() {
        let data: Vec<u8> = (0..300)
            .map(|i| {
                format!(
                    "{{\"ts\":{},\"sid\":\"s{}\",\"url\":\"/p{}\"}}\n",
                    i * 700,
                    i % 7,
                    i % 5
                )
            })
            .collect::<String>()
            .into_bytes();
        let cuts = [0, 1, 17, 18, 200, 2000, 2001, 5000, data.len()];
        let parts: Vec<&[u8]> = cuts.windows(2).map(|w| &data[w[0]..w[1]]).collect();
        let (mut a, mut b) = (
            Ingestor::new(IngestConfig::default()).unwrap(),
            Ingestor::new(IngestConfig::default()).unwrap(),
        );
        let (mut ba, mut bb) = (Batch::default(), Batch::default());
        a.feed(&data, &mut ba).unwrap();
        b.feed_parts(&parts, &mut bb).unwrap();
        assert_eq!(ba.events.ts, bb.events.ts);
        assert_eq!(ba.events.url, bb.events.url);
        assert_eq!(ba.offsets, bb.offsets);
        assert_eq!(a.counters.bytes, b.counters.bytes);
        assert_eq!(a.counters.lines, b.counters.lines);
        assert!(!ba.events.ts.is_empty());
    }

    #[test]
    fn too_long_lines_are_cut_not_buffered() {
        let cfg = IngestConfig {
            max_line_bytes: 24,
            ..Default::default()
        };
        let long = [b'x'; 100];
        let (_, mut ing) = ingest(
            &[&long[..40], &long[40..], b"\n{\"ts\":1,\"sid\":\"a\"}\n"],
            cfg,
        );
        let bad = ing.take_bad_lines();
        assert_eq!(bad.len(), 1, "{:?}", bad);
        assert_eq!(bad[0].reason, BadReason::TooLong);
        assert_eq!(bad[0].bytes.len(), 24);
        assert_eq!(ing.sessions.counters.accepted, 1);
    }

    #[test]
    fn uid_table_keeps_only_live_users() {
        // a small cap: without compaction, users past the 8th would all read "(other)"
        let mut cfg = IngestConfig {
            max_strings: 8,
            ..Default::default()
        };
        cfg.session.evict_after_events = 1;
        let mut ing = Ingestor::new(cfg).unwrap();
        let mut uids = vec![];
        for i in 0..200i64 {
            // one event per user, 31 min apart: each session closes well before the next
            let line = format!("{{\"ts\":{},\"uid\":\"user-{i}\"}}\n", i * 31 * 60_000);
            let mut b = Batch::default();
            ing.feed(line.as_bytes(), &mut b).unwrap();
            for j in 0..b.sessions.len() {
                if b.sessions[j].closed {
                    uids.push(b.uids.get(j).to_string());
                }
            }
            assert!(
                ing.table("uid").unwrap().len() <= 9,
                "uid table grew to {}",
                ing.table("uid").unwrap().len()
            );
        }
        let mut b = Batch::default();
        ing.finish(&mut b).unwrap();
        for j in 0..b.sessions.len() {
            if b.sessions[j].closed {
                uids.push(b.uids.get(j).to_string());
            }
        }
        uids.sort();
        let mut want: Vec<String> = (0..200).map(|i| format!("user-{i}")).collect();
        want.sort();
        assert_eq!(uids, want);
        assert!(ing.counters.uid_compactions > 10);
        assert_eq!(ing.table("uid").unwrap().overflowed, 0);
    }

    #[test]
    fn config_errors_name_the_key() {
        let mut cfg = IngestConfig::default();
        cfg.session.lateness_ms = -1;
        let err = Ingestor::new(cfg).err().unwrap().to_string();
        assert!(err.contains("ingest.lateness_ms"), "{err}");
    }

    #[test]
    fn use_after_finish_is_an_error() {
        let mut ing = Ingestor::new(IngestConfig::default()).unwrap();
        let mut b = Batch::default();
        ing.finish(&mut b).unwrap();
        assert_eq!(ing.feed(b"{}", &mut b), Err(CoreError::Finished));
    }
}
