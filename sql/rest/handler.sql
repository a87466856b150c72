-- The HTTP request handler (src/rest/): PostgREST's semantics inside the
-- database. The gateway pgerp-rest calls it once per request; it is callable
-- from SQL too, so the whole API is testable from pgTAP (docs/api.md).
CREATE FUNCTION erp.http_request(p_method text, p_path text, p_query text DEFAULT '',
                                 p_headers jsonb DEFAULT '{}', p_body text DEFAULT NULL)
    RETURNS TABLE(status integer, headers jsonb, body text)
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'pgerp_http_request';
COMMENT ON FUNCTION erp.http_request(text, text, text, jsonb, text) IS
    'Answers one HTTP request of the PostgREST-compatible API (schemas of pgerp.http_schemas) under the identity of its bearer token, which ends with the request; every outcome, errors included, is a row (status, headers, body)';
