-- The complete timeline of every EVSE over the period: non-overlapping pieces that cover
-- [ps, pe) exactly, each with one category. Time no observation covers is NO_DATA (spec 4.2);
-- outside the in-service window it is NOT_IN_SERVICE, and outside the site's opening hours
-- (not already not in service) CLOSED (spec 4.1). run_f names the category run a piece belongs
-- to (NULL for NO_DATA and the window's NOT_IN_SERVICE); excluded marks down in-service time
-- inside the EVSE's approved exclusions (spec 4.3). first_hour and last_hour number the hours
-- (hours.idx, counted from ps) a piece starts and ends in: the daily and hour-of-week steps
-- spread pieces over hours and days by these numbers. This is the engine's largest table (a
-- row per piece), so its columns are narrow: a table that outgrows the memory limit spills,
-- and every later scan reads it back.
CREATE OR REPLACE TABLE pieces AS
WITH known AS (
    -- gap_f: where the uncovered time before this segment begins (a segment before the
    -- period ends at or before ps, so the gap starts at ps).
    SELECT
        sg.k,
        sg.category,
        GREATEST(sg.f, p.ps) AS f,
        LEAST(sg.t, p.pe) AS t,
        GREATEST(COALESCE(sg.prev_t, p.ps), p.ps) AS gap_f,
        sg.run_f
    FROM segments AS sg
    CROSS JOIN period AS p
    WHERE sg.f < p.pe AND sg.t > p.ps
),
timeline AS (
    SELECT k, category, f, t, run_f FROM known
    UNION ALL
    SELECT k, CAST('NO_DATA' AS category), gap_f, f, NULL
    FROM known
    WHERE gap_f < f
    UNION ALL
    SELECT k.k, CAST('NO_DATA' AS category), MAX(k.t), MAX(p.pe), NULL
    FROM known AS k
    CROSS JOIN period AS p
    GROUP BY k.k
    HAVING MAX(k.t) < MAX(p.pe)
    UNION ALL
    SELECT u.k, CAST('NO_DATA' AS category), p.ps, p.pe, NULL
    FROM universe AS u
    CROSS JOIN period AS p
    WHERE NOT u.covered
),
cut AS (
    SELECT
        tl.k,
        tl.category,
        GREATEST(tl.f, u.svc_f) AS f,
        LEAST(tl.t, u.svc_t) AS t,
        tl.run_f,
        u.split
    FROM timeline AS tl
    JOIN universe AS u ON u.k = tl.k
    WHERE GREATEST(tl.f, u.svc_f) < LEAST(tl.t, u.svc_t)
    UNION ALL
    -- Outside the in-service window the EVSE is NOT_IN_SERVICE, whatever its timeline says.
    SELECT u.k, CAST('NOT_IN_SERVICE' AS category), p.ps, u.svc_f, NULL, u.split
    FROM universe AS u
    CROSS JOIN period AS p
    WHERE p.ps < u.svc_f
    UNION ALL
    SELECT u.k, CAST('NOT_IN_SERVICE' AS category), u.svc_t, p.pe, NULL, u.split
    FROM universe AS u
    CROSS JOIN period AS p
    WHERE u.svc_t < p.pe
)
SELECT
    c.k,
    c.category,
    c.f,
    c.t,
    c.run_f,
    FALSE AS excluded,
    c.split,
    CAST(date_diff('microsecond', p.ps, c.f) // 3600000000 AS INTEGER) AS first_hour,
    CAST((date_diff('microsecond', p.ps, c.t) - 1) // 3600000000 AS INTEGER) AS last_hour
FROM cut AS c
CROSS JOIN period AS p;

-- EVSEs with opening hours or exclusions: cut their pieces at every window edge, then give
-- each elementary stretch its piece's category, CLOSED outside an open window, and whether an
-- exclusion covers it. One sweep over each EVSE's edges in time order (one sort): a piece's
-- start names the piece; an open window's or exclusion's start and end set whether one is
-- under way (an end sorts before a start at the same instant: o). Of the edges at one instant
-- only the last starts a stretch, reaching to the next instant; its running values have seen
-- them all. (Windows of one group, and an EVSE's exclusion union, do not overlap.)
CREATE OR REPLACE TABLE cut_pieces AS
SELECT k, category, f, t, run_f FROM pieces WHERE split;

DELETE FROM pieces WHERE split;

INSERT INTO pieces
WITH edges AS (
    SELECT
        k,
        f AS b,
        1 AS o,
        f AS piece_f,
        CAST(NULL AS BOOLEAN) AS opens,
        CAST(NULL AS BOOLEAN) AS excludes
    FROM cut_pieces
    UNION ALL
    -- (a window open at the period's start opens there)
    SELECT u.k, GREATEST(w.f, p.ps), 1, NULL, TRUE, NULL
    FROM universe AS u
    JOIN open_windows AS w ON w.hk = u.hk
    CROSS JOIN period AS p
    WHERE u.split AND w.f < p.pe AND w.t > p.ps
    UNION ALL
    SELECT u.k, w.t, 0, NULL, FALSE, NULL
    FROM universe AS u
    JOIN open_windows AS w ON w.hk = u.hk
    CROSS JOIN period AS p
    WHERE u.split AND w.t > p.ps AND w.t < p.pe
    UNION ALL
    SELECT x.k, x.f, 1, NULL, NULL, TRUE FROM excluded_union AS x
    UNION ALL
    SELECT x.k, x.t, 0, NULL, NULL, FALSE
    FROM excluded_union AS x
    CROSS JOIN period AS p
    WHERE x.t < p.pe
),
swept AS (
    SELECT
        k,
        b AS f,
        LEAD(b) OVER ordered AS t,
        LAST_VALUE(piece_f IGNORE NULLS) OVER so_far AS piece_f,
        COALESCE(LAST_VALUE(opens IGNORE NULLS) OVER so_far, FALSE) AS open,
        COALESCE(LAST_VALUE(excludes IGNORE NULLS) OVER so_far, FALSE) AS in_exclusion
    FROM edges
    WINDOW
        ordered AS (PARTITION BY k ORDER BY b, o),
        so_far AS (PARTITION BY k ORDER BY b, o ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
labelled AS (
    SELECT
        s.k,
        CASE
            WHEN c.category = CAST('NOT_IN_SERVICE' AS category) THEN c.category
            WHEN u.hk IS NOT NULL AND NOT s.open THEN CAST('CLOSED' AS category)
            ELSE c.category
        END AS category,
        s.f,
        COALESCE(s.t, p.pe) AS t,
        c.run_f,
        s.in_exclusion
    FROM swept AS s
    JOIN universe AS u ON u.k = s.k
    JOIN cut_pieces AS c ON c.k = s.k AND c.f = s.piece_f
    CROSS JOIN period AS p
    WHERE s.t IS NULL OR s.t > s.f
)
SELECT
    l.k,
    l.category,
    l.f,
    l.t,
    l.run_f,
    l.in_exclusion AND l.category IN ({{categories:down}}) AS excluded,
    TRUE AS split,
    CAST(date_diff('microsecond', p.ps, l.f) // 3600000000 AS INTEGER) AS first_hour,
    CAST((date_diff('microsecond', p.ps, l.t) - 1) // 3600000000 AS INTEGER) AS last_hour
FROM labelled AS l
CROSS JOIN period AS p;

DROP TABLE cut_pieces;

-- No step after this one reads the segments.
DROP TABLE segments;
