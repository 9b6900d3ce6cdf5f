-- filter_by.statuses: get_jobs starts from the status index, for the
-- statuses a bulk change starts from.
j.status IN (SELECT value FROM json_each(:statuses))
