-- The complete timeline of every EVSE over the period: non-overlapping pieces that cover
-- [ps, pe) exactly, each with one category, UNKNOWN and NOT_IN_SERVICE included.
CREATE OR REPLACE TEMP TABLE pieces AS
WITH known AS (
    SELECT sg.cpo_id, sg.evse_uid, sg.category, GREATEST(sg.f, p.ps) AS f, LEAST(sg.t, p.pe) AS t
    FROM segments AS sg
    CROSS JOIN period AS p
    WHERE sg.f < p.pe AND sg.t > p.ps
),
ordered AS (
    SELECT *, LAG(t) OVER (PARTITION BY cpo_id, evse_uid ORDER BY f) AS prev_t
    FROM known
),
timeline AS (
    SELECT cpo_id, evse_uid, category, f, t FROM known
    UNION ALL
    SELECT o.cpo_id, o.evse_uid, 'UNKNOWN', COALESCE(o.prev_t, p.ps), o.f
    FROM ordered AS o
    CROSS JOIN period AS p
    WHERE COALESCE(o.prev_t, p.ps) < o.f
    UNION ALL
    SELECT k.cpo_id, k.evse_uid, 'UNKNOWN', MAX(k.t), MAX(p.pe)
    FROM known AS k
    CROSS JOIN period AS p
    GROUP BY k.cpo_id, k.evse_uid
    HAVING MAX(k.t) < MAX(p.pe)
    UNION ALL
    SELECT u.cpo_id, u.evse_uid, 'UNKNOWN', p.ps, p.pe
    FROM universe AS u
    CROSS JOIN period AS p
    WHERE NOT EXISTS (
        SELECT 1 FROM known AS k WHERE k.cpo_id = u.cpo_id AND k.evse_uid = u.evse_uid
    )
)
SELECT tl.cpo_id, tl.evse_uid, tl.category, GREATEST(tl.f, u.svc_f) AS f, LEAST(tl.t, u.svc_t) AS t
FROM timeline AS tl
JOIN universe AS u ON u.cpo_id = tl.cpo_id AND u.evse_uid = tl.evse_uid
WHERE GREATEST(tl.f, u.svc_f) < LEAST(tl.t, u.svc_t)
UNION ALL
-- Outside the in-service window the EVSE is NOT_IN_SERVICE, whatever its timeline says.
SELECT u.cpo_id, u.evse_uid, 'NOT_IN_SERVICE', p.ps, u.svc_f
FROM universe AS u
CROSS JOIN period AS p
WHERE p.ps < u.svc_f
UNION ALL
SELECT u.cpo_id, u.evse_uid, 'NOT_IN_SERVICE', u.svc_t, p.pe
FROM universe AS u
CROSS JOIN period AS p
WHERE u.svc_t < p.pe;
