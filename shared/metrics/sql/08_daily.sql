-- The minute columns per EVSE per local calendar day (days: local days as UTC intervals).
CREATE OR REPLACE TABLE daily_us AS
WITH clipped AS (
    SELECT
        pc.k,
        d.day,
        pc.category,
        date_diff('microsecond', GREATEST(pc.f, d.f), LEAST(pc.t, d.t)) AS us
    FROM pieces AS pc
    JOIN days AS d ON pc.f < d.t AND pc.t > d.f
)
SELECT
    k,
    day,
    SUM(us) AS period_us,
    SUM(CASE WHEN category = 'NOT_IN_SERVICE' THEN us ELSE 0 END) AS not_in_service_us,
    SUM(CASE WHEN category = 'AVAILABLE' THEN us ELSE 0 END) AS available_us,
    SUM(CASE WHEN category = 'IN_USE' THEN us ELSE 0 END) AS in_use_us,
    SUM(CASE WHEN category = 'RESERVED' THEN us ELSE 0 END) AS reserved_us,
    SUM(CASE WHEN category = 'OUT_OF_ORDER' THEN us ELSE 0 END) AS out_of_order_us,
    SUM(CASE WHEN category = 'UNAVAILABLE' THEN us ELSE 0 END) AS unavailable_us,
    SUM(CASE WHEN category = 'UNKNOWN' THEN us ELSE 0 END) AS unknown_us
FROM clipped
GROUP BY k, day;
