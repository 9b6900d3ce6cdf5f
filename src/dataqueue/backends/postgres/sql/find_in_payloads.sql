-- find_in_payloads: the jobs matching the filter whose payload's JSON text
-- holds a text (pattern: '%text%', with \, % and _ escaped; any case),
-- newest first, one page. Sent only when job_queue_payload_trgm_idx, a GIN
-- trigram index of payload::text, exists (find_in_payloads.indexed), and
-- under a statement timeout (find_in_payloads.timeout).
-- The filter's parameters (get_jobs.filter), status (NULL: any), pattern,
-- limit.
SELECT j.*
FROM {schema}.job_queue AS j
WHERE j.payload::text ILIKE %(pattern)s::text
    AND (%(status)s::text IS NULL OR j.status = %(status)s::text)
    AND {job_filter}
ORDER BY j.id DESC
LIMIT %(limit)s::bigint
