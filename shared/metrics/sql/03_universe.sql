-- Every EVSE reported on: all EVSEs of the static CSVs, plus observed EVSEs that no CSV lists
-- (matched = false). svc_f/svc_t is the in-service window inside the period: outside it the EVSE
-- is NOT_IN_SERVICE whatever its feed says (commissioned_on / decommissioned_on).
CREATE OR REPLACE TABLE universe AS
WITH listed AS (
    SELECT
        s.k,
        TRUE AS matched,
        LEAST(GREATEST(p.ps, COALESCE(s.service_from, p.ps)), p.pe) AS svc_f,
        GREATEST(LEAST(p.pe, COALESCE(s.service_until, p.pe)), p.ps) AS svc_t
    FROM evse_static AS s
    CROSS JOIN period AS p
),
observed AS (
    SELECT DISTINCT sg.k
    FROM segments AS sg
    CROSS JOIN period AS p
    WHERE sg.f < p.pe AND sg.t > p.ps
)
SELECT k, matched, svc_f, GREATEST(svc_t, svc_f) AS svc_t
FROM listed
UNION ALL
SELECT o.k, FALSE, p.ps, p.pe
FROM observed AS o
CROSS JOIN period AS p
WHERE o.k NOT IN (SELECT k FROM evse_static);
