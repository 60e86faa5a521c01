-- Every EVSE reported on: all EVSEs of the static CSVs, plus observed EVSEs that no CSV lists
-- (matched = false). svc_f/svc_t is the in-service window inside the period: outside it the EVSE
-- is NOT_IN_SERVICE whatever its feed says (commissioned_on / decommissioned_on).
CREATE OR REPLACE TEMP TABLE universe AS
WITH listed AS (
    SELECT
        s.cpo_id,
        s.evse_uid,
        TRUE AS matched,
        LEAST(GREATEST(p.ps, COALESCE(s.service_from, p.ps)), p.pe) AS svc_f,
        GREATEST(LEAST(p.pe, COALESCE(s.service_until, p.pe)), p.ps) AS svc_t
    FROM evse_static AS s
    CROSS JOIN period AS p
),
observed AS (
    SELECT DISTINCT sg.cpo_id, sg.evse_uid
    FROM segments AS sg
    CROSS JOIN period AS p
    WHERE sg.f < p.pe AND sg.t > p.ps
)
SELECT cpo_id, evse_uid, matched, svc_f, GREATEST(svc_t, svc_f) AS svc_t
FROM listed
UNION ALL
SELECT o.cpo_id, o.evse_uid, FALSE, p.ps, p.pe
FROM observed AS o
CROSS JOIN period AS p
WHERE NOT EXISTS (
    SELECT 1 FROM evse_static AS s WHERE s.cpo_id = o.cpo_id AND s.evse_uid = o.evse_uid
);
