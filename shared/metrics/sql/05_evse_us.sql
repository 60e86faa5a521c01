-- Per EVSE: microseconds in each category, and the run counts of spec section 4.
-- A run "begins inside the period" when it starts inside the in-service window, or when the
-- window itself opens mid-period (commissioning) while the run is under way.
CREATE OR REPLACE TABLE evse_us AS
WITH durations AS (
    SELECT
        k,
        SUM(date_diff('microsecond', f, t)) AS period_us,
        SUM(CASE WHEN category = 'NOT_IN_SERVICE' THEN date_diff('microsecond', f, t) ELSE 0 END) AS not_in_service_us,
        SUM(CASE WHEN category = 'AVAILABLE' THEN date_diff('microsecond', f, t) ELSE 0 END) AS available_us,
        SUM(CASE WHEN category = 'IN_USE' THEN date_diff('microsecond', f, t) ELSE 0 END) AS in_use_us,
        SUM(CASE WHEN category = 'RESERVED' THEN date_diff('microsecond', f, t) ELSE 0 END) AS reserved_us,
        SUM(CASE WHEN category = 'OUT_OF_ORDER' THEN date_diff('microsecond', f, t) ELSE 0 END) AS out_of_order_us,
        SUM(CASE WHEN category = 'UNAVAILABLE' THEN date_diff('microsecond', f, t) ELSE 0 END) AS unavailable_us,
        SUM(CASE WHEN category = 'UNKNOWN' THEN date_diff('microsecond', f, t) ELSE 0 END) AS unknown_us
    FROM pieces
    GROUP BY k
),
starts AS (
    SELECT
        r.k,
        r.category
    FROM segments AS r
    JOIN universe AS u ON u.k = r.k
    WHERE r.starts_run
      AND r.category IN ('IN_USE', 'OUT_OF_ORDER')
      AND r.f >= u.svc_f AND r.f < u.svc_t
    UNION ALL
    -- Commissioned mid-period while a run is under way: that run begins for us at svc_f.
    SELECT r.k, r.category
    FROM segments AS r
    JOIN universe AS u ON u.k = r.k
    CROSS JOIN period AS p
    WHERE r.category IN ('IN_USE', 'OUT_OF_ORDER')
      AND u.svc_f > p.ps AND u.svc_f < u.svc_t
      AND ((r.f < u.svc_f AND r.t > u.svc_f) OR (r.f = u.svc_f AND NOT r.starts_run))
),
counts AS (
    SELECT
        k,
        SUM(CASE WHEN category = 'IN_USE' THEN 1 ELSE 0 END) AS in_use_sessions,
        SUM(CASE WHEN category = 'OUT_OF_ORDER' THEN 1 ELSE 0 END) AS outage_count
    FROM starts
    GROUP BY k
),
longest AS (
    SELECT
        i.k,
        MAX(GREATEST(date_diff('microsecond', GREATEST(i.f, u.svc_f), LEAST(i.t, u.svc_t)), 0)) AS longest_outage_us
    FROM islands AS i
    JOIN universe AS u ON u.k = i.k
    WHERE i.category = 'OUT_OF_ORDER'
    GROUP BY i.k
)
SELECT
    d.*,
    COALESCE(c.in_use_sessions, 0) AS in_use_sessions,
    COALESCE(c.outage_count, 0) AS outage_count,
    COALESCE(l.longest_outage_us, 0) AS longest_outage_us
FROM durations AS d
LEFT JOIN counts AS c ON c.k = d.k
LEFT JOIN longest AS l ON l.k = d.k;
