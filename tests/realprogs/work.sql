-- The sqlite3 workload of tests/test_realprogs.sh, on an in-memory
-- database. sqlite3's large allocations are its sorter's memory (CREATE
-- INDEX, ORDER BY, GROUP BY without an index), grown by doubling up to the
-- cache size: SBMA memory under the preload. The timestamps arrive nearly
-- in order, as in a log, so the sorts have locality (docs/realprogs.md:
-- random keys would make every comparison a random access).
PRAGMA cache_size = -400000;
CREATE TABLE t(id INTEGER PRIMARY KEY, ts INTEGER, k INTEGER, v TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400000)
INSERT INTO t(ts, k, v)
SELECT 1700000000000 + x * 20 + (x * 7919) % 4000, (x * 2654435761) % 1000003,
       printf('%08x-%d-%s', (x * 40503 * 40503) % 4294967291, x % 977,
              substr('abcdefghijklmnopqrstuvwxyz', 1 + x % 26, 13))
FROM c;
CREATE INDEX t_ts ON t(ts, v);
SELECT count(*), sum(k), min(ts), max(ts), min(v), max(v) FROM t;
SELECT ts / 1000000 AS bucket, count(*), sum(k), max(v) FROM t GROUP BY bucket ORDER BY bucket LIMIT 5;
SELECT id, ts, k, v FROM t ORDER BY ts DESC, v LIMIT 3 OFFSET 200000;
SELECT v FROM t ORDER BY ts + 0, id LIMIT 3 OFFSET 123456;
SELECT count(*) FROM t a JOIN t b ON b.ts BETWEEN a.ts + 1 AND a.ts + 30 WHERE a.id % 100 = 0;
