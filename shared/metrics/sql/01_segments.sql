-- Spec section 3. Each status run holds its category from started_at until max_gap after its
-- last confirmation, and never past the next run's start. Inputs: runs_k, gaps. Times are UTC.
-- Category runs: adjacent segments of one category with no unknown time between them are one
-- run; a run ends where the category changes, UNKNOWN included (spec section 4). run_f is where
-- the segment's run began (it names the run); prev_t is where the segment before ends (the time
-- no observation covers lies between). continued: the next segment carries this one's run on.
-- The window functions share one sort. A segment that begins a run is its own run_f; the few
-- that carry a run on are given theirs below, from the latest continued run start before them
-- (every segment between the two carries the same run): a second window over every segment
-- (a running MAX) would sort them all again.
CREATE OR REPLACE TABLE segments AS
WITH held AS (
    SELECT
        r.k,
        r.category,
        r.started_at AS f,
        LEAST(r.last_confirmed_at + to_microseconds(g.max_gap_us), LEAD(r.started_at) OVER w) AS t,
        LAG(r.category) OVER w AS prev_category,
        -- (LEAST ignores NULLs: the first segment has no segment before it)
        CASE
            WHEN LAG(r.last_confirmed_at) OVER w IS NOT NULL
            THEN LEAST(LAG(r.last_confirmed_at) OVER w + to_microseconds(g.max_gap_us), r.started_at)
        END AS prev_t,
        -- The next segment's prev_t is its own start: the same test, seen from this side.
        COALESCE(
            LEAD(r.category) OVER w = r.category
            AND r.last_confirmed_at + to_microseconds(g.max_gap_us) >= LEAD(r.started_at) OVER w,
            FALSE
        ) AS continued
    FROM runs_k AS r
    JOIN evse_keys AS ek ON ek.k = r.k
    JOIN gaps AS g ON g.cpo_id = ek.cpo_id
    WINDOW w AS (PARTITION BY r.k ORDER BY r.started_at)
)
SELECT
    k,
    category,
    f,
    t,
    prev_t,
    CASE WHEN COALESCE(prev_category <> category OR prev_t <> f, TRUE) THEN f END AS run_f,
    continued
FROM held;

CREATE OR REPLACE TABLE run_heads AS
SELECT k, f FROM segments WHERE run_f IS NOT NULL AND continued;

INSERT INTO segments
SELECT sg.k, sg.category, sg.f, sg.t, sg.prev_t, h.f AS run_f, sg.continued
FROM segments AS sg
ASOF JOIN run_heads AS h ON h.k = sg.k AND sg.f >= h.f
WHERE sg.run_f IS NULL;

DELETE FROM segments WHERE run_f IS NULL;

DROP TABLE run_heads;

-- Each EVSE's first observation and last confirmation before the period's end (the unmatched
-- list); then the runs go: no step after this one reads them.
CREATE OR REPLACE TABLE observed_span AS
SELECT
    r.k,
    MIN(r.started_at) AS first_observed_at,
    MAX(LEAST(r.last_confirmed_at, p.pe)) AS last_confirmed_at
FROM runs_k AS r
CROSS JOIN period AS p
WHERE r.started_at < p.pe
GROUP BY r.k;

DROP TABLE runs_k;
