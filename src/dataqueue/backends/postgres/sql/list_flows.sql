-- list_flows: flows (with one status, or all), newest (last started)
-- first, one page, without their steps.
-- Parameters: status (NULL: every status), limit, offset.
SELECT *
FROM {schema}.flows
WHERE %(status)s::text IS NULL OR status = %(status)s::text
ORDER BY seq DESC
LIMIT %(limit)s::bigint OFFSET %(offset)s::bigint
