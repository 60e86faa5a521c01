-- Every EVSE reported on: all EVSEs of the static CSVs, plus observed EVSEs that no CSV lists
-- (matched = false). svc_f/svc_t is the in-service window inside the period: outside it the EVSE
-- is NOT_IN_SERVICE whatever its feed says (commissioned_on / decommissioned_on); service_from /
-- service_until are the same bounds unclipped (NULL: none). hk: opening-hours group, or NULL.
-- split: whether its pieces are cut by opening hours or exclusions (step 04). covered: whether
-- any segment reaches into the period (else the whole period is NO_DATA).
CREATE OR REPLACE TABLE universe AS
WITH listed AS (
    SELECT
        s.k,
        TRUE AS matched,
        LEAST(GREATEST(p.ps, COALESCE(s.service_from, p.ps)), p.pe) AS svc_f,
        GREATEST(LEAST(p.pe, COALESCE(s.service_until, p.pe)), p.ps) AS svc_t,
        s.service_from,
        s.service_until,
        s.hk
    FROM evse_static AS s
    CROSS JOIN period AS p
),
observed AS (
    SELECT DISTINCT sg.k
    FROM segments AS sg
    CROSS JOIN period AS p
    WHERE sg.f < p.pe AND sg.t > p.ps
),
everyone AS (
    SELECT k, matched, svc_f, GREATEST(svc_t, svc_f) AS svc_t, service_from, service_until, hk
    FROM listed
    UNION ALL
    SELECT o.k, FALSE, p.ps, p.pe, NULL, NULL, NULL
    FROM observed AS o
    CROSS JOIN period AS p
    WHERE o.k NOT IN (SELECT k FROM evse_static)
)
SELECT
    e.*,
    e.hk IS NOT NULL OR e.k IN (SELECT k FROM excluded_union) AS split,
    e.k IN (SELECT k FROM observed) AS covered
FROM everyone AS e;
