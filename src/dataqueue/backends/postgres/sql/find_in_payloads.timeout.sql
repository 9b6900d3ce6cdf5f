-- find_in_payloads.timeout: the search's statement timeout, for the rest
-- of its transaction.
-- Parameters: timeout (milliseconds, as text).
SELECT set_config('statement_timeout', %(timeout)s::text, true)
