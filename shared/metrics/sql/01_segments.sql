-- Spec section 3. Each status run holds its category from started_at until max_gap after its
-- last confirmation, and never past the next run's start. Inputs: runs, gaps. Times are UTC.
CREATE OR REPLACE TABLE segments AS
SELECT
    ek.k,
    r.category,
    r.started_at AS f,
    LEAST(
        r.last_confirmed_at + to_microseconds(g.max_gap_us),
        LEAD(r.started_at) OVER (PARTITION BY ek.k ORDER BY r.started_at)
    ) AS t
FROM runs AS r
JOIN evse_keys AS ek ON ek.cpo_id = r.cpo_id AND ek.evse_uid = r.evse_uid
JOIN gaps AS g ON g.cpo_id = r.cpo_id;
