"""A live stream meets new users forever: the core's uid table must keep only users still in
open sessions, so memory stays bounded and no user is ever reported as "(other)"."""

from __future__ import annotations

import pytest

from uxtop.ingest import IngestConfig, Ingestor, iter_file_batches


def test_uid_table_is_compacted_and_every_user_keeps_its_uid(tmp_path):
    n = 150_000  # past the core's first compaction (65 536 uids)
    lines = (f'{{"ts":{i * 40 * 60_000},"uid":"user-{i}","type":"pageview"}}\n' for i in range(n))
    path = tmp_path / "users.ndjson"
    path.write_text("".join(lines))
    ing = Ingestor(IngestConfig(evict_after_events=1))
    seen: list[str] = []
    for b in iter_file_batches([path], ing, chunk_bytes=256 << 10):
        closed = b.sessions["closed"]
        seen.extend(u for u, c in zip(b.uids, closed, strict=True) if c)
    assert sorted(seen) == sorted(f"user-{i}" for i in range(n))
    assert ing.counters()["uid_compactions"] >= 1
    # without compaction the table would hold all 150 000 users
    assert len(ing._core.strings("uid")) < 70_000


def test_uid_ids_are_not_readable_as_a_growing_table():
    ing = Ingestor()
    with pytest.raises(ValueError, match="EventBatch.uids"):
        ing.strings.get("uid", 0)


def test_one_rows_key_and_uid_read_alone_equal_the_decoded_lists():
    # sessions by sid with and without a uid, and by uid only
    lines = [
        '{"ts":1000,"sid":"a","uid":"u1","type":"pageview"}',
        '{"ts":1001,"sid":"b","type":"pageview"}',
        '{"ts":1002,"uid":"u2","type":"pageview"}',
        '{"ts":1003,"sid":"é-ü","uid":"ünï","type":"click"}',
    ]
    ing = Ingestor()
    batches = [ing.feed(("\n".join(lines) + "\n").encode()), ing.finish()]
    rows = 0
    for fresh in batches:
        n = fresh.n_sessions
        # key(i)/uid(i) first, on a batch that has not decoded its lists, then the lists
        one = [(fresh.key(i), fresh.uid(i)) for i in range(n)]
        assert one == list(zip(fresh.keys, fresh.uids, strict=True))
        assert fresh.key(n) == "" and fresh.uid(n) is None  # past the last row: none
        rows += n
    assert rows >= 4
    assert {k for b in batches for k in b.keys} >= {"a", "b", "u2", "é-ü"}
