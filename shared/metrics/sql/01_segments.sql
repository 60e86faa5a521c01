-- Spec section 3. Each status run holds its category from started_at until max_gap after its
-- last confirmation, and never past the next run's start. Inputs: runs, gaps. Times are UTC.
CREATE OR REPLACE TEMP TABLE segments AS
SELECT
    r.cpo_id,
    r.evse_uid,
    r.category,
    r.started_at AS f,
    LEAST(
        r.last_confirmed_at + to_microseconds(g.max_gap_us),
        LEAD(r.started_at) OVER (PARTITION BY r.cpo_id, r.evse_uid ORDER BY r.started_at)
    ) AS t
FROM runs AS r
JOIN gaps AS g ON g.cpo_id = r.cpo_id;
