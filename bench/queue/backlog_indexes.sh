#!/usr/bin/env bash
# Old vs new (queue migration 3) cost of the backlog-sensitive statements on
# N messages in one queue, half of them hidden, run by the sqlite3 shell on the
# queue schema taken from src/queue/schema.cc. Prints sqlite3 .timer lines.
#   bench/queue/backlog_indexes.sh [rows=1000000]
set -euo pipefail
cd "$(dirname "$0")/../.."
rows=${1:-1000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Migrations 1 and 2 (the schema before this change), then the data.
python3 - "$work/old.sql" <<'PY'
import re, sys
steps = re.findall(r'R"sql\((.*?)\)sql"', open("src/queue/schema.cc").read(), re.S)
open(sys.argv[1], "w").write("\n".join(steps[:2]))
PY
new_step=$(python3 -c 'import re; print(re.findall(r"R\"sql\((.*?)\)sql\"", open("src/queue/schema.cc").read(), re.S)[2])')
cat > "$work/run.sql" <<SQL
.read $work/old.sql
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
INSERT INTO queue_messages(queue_id, message_id, body, attributes, sender_id, trace_header,
                           sent_ms, visible_at_ms, receive_count)
SELECT 1, lower(hex(randomblob(16))), 'body', '', '', '', i,
       CASE WHEN i % 2 = 0 THEN 1e12 ELSE i END, i % 3 FROM n;
INSERT INTO queue_messages(queue_id, message_id, body, attributes, sender_id, trace_header,
                           sent_ms, visible_at_ms) VALUES (1, 'needle1', 'b', '', '', '', 5, 5),
                                                          (1, 'needle2', 'b', '', '', '', 5, 5);
.timer on
SELECT '-- old: hidden count (GROUP BY, table rows)';
SELECT receive_count > 0, count(*) FROM queue_messages
 WHERE queue_id = 1 AND visible_at_ms > $rows GROUP BY 1;
SELECT '-- old: delete by id';
DELETE FROM queue_messages WHERE queue_id = 1 AND message_id = 'needle1';
SELECT '-- old: move step';
SELECT count(*) FROM (SELECT seq FROM queue_messages
 WHERE queue_id = 1 AND seq > $rows / 2 AND seq <= 2 * $rows ORDER BY seq LIMIT 1000);
SELECT '-- migration 3 (one-off at the first start of the new binary)';
$new_step
SELECT '-- new: hidden count (covering index)';
SELECT count(*), coalesce(sum(receive_count > 0), 0) FROM queue_messages
 WHERE queue_id = 1 AND visible_at_ms > $rows;
SELECT '-- new: delete by id';
DELETE FROM queue_messages WHERE queue_id = 1 AND message_id = 'needle2';
SELECT '-- new: move step';
SELECT count(*) FROM (SELECT seq FROM queue_messages
 WHERE queue_id = 1 AND seq > $rows / 2 AND seq <= 2 * $rows ORDER BY seq LIMIT 1000);
SQL
uptime
sqlite3 "$work/q.db" < "$work/run.sql"
