/*
 * GET / : the OpenAPI 2.0 description of the profile, built by one query
 * over the catalog, so it follows the caller's privileges (what they can
 * neither read nor write is left out) and takes its text from the SQL
 * comments.  OPTIONS: the methods a resource allows.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "catalog/pg_class.h"
#include "nodes/nodes.h"
#include "utils/builtins.h"

#include "handler.h"

/* JSON schema type of a column or argument type t */
#define TYPE_MAP(t) \
	"CASE WHEN " t " IN ('int2'::pg_catalog.regtype, 'int4'::pg_catalog.regtype, 'int8'::pg_catalog.regtype) THEN 'integer'" \
	" WHEN " t " IN ('numeric'::pg_catalog.regtype, 'float4'::pg_catalog.regtype, 'float8'::pg_catalog.regtype) THEN 'number'" \
	" WHEN " t " OPERATOR(pg_catalog.=) 'bool'::pg_catalog.regtype THEN 'boolean'" \
	" WHEN " t " IN ('json'::pg_catalog.regtype, 'jsonb'::pg_catalog.regtype) THEN NULL" \
	" WHEN (SELECT ty.typcategory FROM pg_catalog.pg_type ty WHERE ty.oid OPERATOR(pg_catalog.=) " t ") OPERATOR(pg_catalog.=) 'A' THEN 'array'" \
	" ELSE 'string' END"

static const char *openapi_sql =
"WITH rels AS ("
" SELECT c.oid, c.relname::pg_catalog.text AS name, pg_catalog.obj_description(c.oid, 'pg_class') AS descr,"
"  pg_catalog.has_table_privilege(c.oid, 'SELECT') AS s, pg_catalog.has_table_privilege(c.oid, 'INSERT') AS i,"
"  pg_catalog.has_table_privilege(c.oid, 'UPDATE') AS u, pg_catalog.has_table_privilege(c.oid, 'DELETE') AS d"
" FROM pg_catalog.pg_class c"
" WHERE c.relnamespace OPERATOR(pg_catalog.=) $1::pg_catalog.regnamespace AND c.relkind IN ('r', 'v', 'm', 'p', 'f')"
"  AND pg_catalog.left(c.relname, 1) OPERATOR(pg_catalog.<>) '_'"
"), visible AS (SELECT * FROM rels WHERE s OR i OR u OR d),"
" cols AS ("
" SELECT a.attrelid, pg_catalog.json_object_agg(a.attname, pg_catalog.json_strip_nulls(pg_catalog.json_build_object("
"   'type', " TYPE_MAP("a.atttypid::pg_catalog.regtype") ","
"   'format', pg_catalog.format_type(a.atttypid, a.atttypmod),"
"   'description', pg_catalog.col_description(a.attrelid, a.attnum))) ORDER BY a.attnum) AS props"
" FROM pg_catalog.pg_attribute a JOIN visible v ON v.oid OPERATOR(pg_catalog.=) a.attrelid"
" WHERE a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped GROUP BY a.attrelid"
"), funcs AS ("
" SELECT p.oid, p.proname::pg_catalog.text AS name, p.provolatile, pg_catalog.obj_description(p.oid, 'pg_proc') AS descr,"
"  (SELECT pg_catalog.json_object_agg(x.n, pg_catalog.json_strip_nulls(pg_catalog.json_build_object("
"     'type', " TYPE_MAP("x.t::pg_catalog.regtype") ", 'format', pg_catalog.format_type(x.t, NULL))))"
"   FROM ROWS FROM (pg_catalog.unnest(COALESCE(p.proallargtypes, p.proargtypes::pg_catalog.oid[])), pg_catalog.unnest(p.proargnames),"
"        pg_catalog.unnest(COALESCE(p.proargmodes, pg_catalog.array_fill('i'::\"char\", ARRAY[p.pronargs::pg_catalog.int4])))) AS x(t, n, m)"
"   WHERE x.m IN ('i', 'b', 'v') AND x.n OPERATOR(pg_catalog.<>) '') AS args"
" FROM pg_catalog.pg_proc p"
" WHERE p.pronamespace OPERATOR(pg_catalog.=) $1::pg_catalog.regnamespace AND p.prokind OPERATOR(pg_catalog.=) 'f'"
"  AND pg_catalog.left(p.proname, 1) OPERATOR(pg_catalog.<>) '_' AND pg_catalog.has_function_privilege(p.oid, 'EXECUTE')"
"), paths AS ("
" SELECT '/' AS k, pg_catalog.json_build_object('get', pg_catalog.json_build_object('summary', 'OpenAPI description (this document)',"
"   'tags', pg_catalog.json_build_array('Introspection'), 'produces', pg_catalog.json_build_array('application/openapi+json', 'application/json'),"
"   'responses', pg_catalog.json_build_object('200', pg_catalog.json_build_object('description', 'OK')))) AS v"
" UNION ALL"
" SELECT '/' OPERATOR(pg_catalog.||) r.name, pg_catalog.json_strip_nulls(pg_catalog.json_build_object("
"   'get', CASE WHEN r.s THEN pg_catalog.json_build_object('summary', r.descr, 'tags', pg_catalog.json_build_array(r.name),"
"     'parameters', pg_catalog.json_build_array(pg_catalog.json_build_object('$ref', '#/parameters/select'),"
"        pg_catalog.json_build_object('$ref', '#/parameters/order'), pg_catalog.json_build_object('$ref', '#/parameters/range'),"
"        pg_catalog.json_build_object('$ref', '#/parameters/offset'), pg_catalog.json_build_object('$ref', '#/parameters/limit'),"
"        pg_catalog.json_build_object('$ref', '#/parameters/preferCount')),"
"     'responses', pg_catalog.json_build_object('200', pg_catalog.json_build_object('description', 'OK', 'schema',"
"        pg_catalog.json_build_object('type', 'array', 'items', pg_catalog.json_build_object('$ref', '#/definitions/' OPERATOR(pg_catalog.||) r.name))),"
"        '206', pg_catalog.json_build_object('description', 'Partial Content'))) END,"
"   'post', CASE WHEN r.i THEN pg_catalog.json_build_object('tags', pg_catalog.json_build_array(r.name),"
"     'parameters', pg_catalog.json_build_array(pg_catalog.json_build_object('name', r.name, 'in', 'body', 'required', false,"
"        'schema', pg_catalog.json_build_object('$ref', '#/definitions/' OPERATOR(pg_catalog.||) r.name)),"
"        pg_catalog.json_build_object('$ref', '#/parameters/select'), pg_catalog.json_build_object('$ref', '#/parameters/preferPost')),"
"     'responses', pg_catalog.json_build_object('201', pg_catalog.json_build_object('description', 'Created'))) END,"
"   'patch', CASE WHEN r.u THEN pg_catalog.json_build_object('tags', pg_catalog.json_build_array(r.name),"
"     'parameters', pg_catalog.json_build_array(pg_catalog.json_build_object('name', r.name, 'in', 'body', 'required', false,"
"        'schema', pg_catalog.json_build_object('$ref', '#/definitions/' OPERATOR(pg_catalog.||) r.name)),"
"        pg_catalog.json_build_object('$ref', '#/parameters/preferReturn')),"
"     'responses', pg_catalog.json_build_object('204', pg_catalog.json_build_object('description', 'No Content'))) END,"
"   'delete', CASE WHEN r.d THEN pg_catalog.json_build_object('tags', pg_catalog.json_build_array(r.name),"
"     'parameters', pg_catalog.json_build_array(pg_catalog.json_build_object('$ref', '#/parameters/preferReturn')),"
"     'responses', pg_catalog.json_build_object('204', pg_catalog.json_build_object('description', 'No Content'))) END))"
" FROM visible r"
" UNION ALL"
" SELECT '/rpc/' OPERATOR(pg_catalog.||) f.name, pg_catalog.json_strip_nulls(pg_catalog.json_build_object("
"   'post', pg_catalog.json_build_object('summary', f.descr, 'tags', pg_catalog.json_build_array('(rpc) ' OPERATOR(pg_catalog.||) f.name),"
"     'parameters', pg_catalog.json_build_array(pg_catalog.json_build_object('name', 'args', 'in', 'body', 'required', true,"
"        'schema', pg_catalog.json_build_object('type', 'object', 'properties', COALESCE(f.args, '{}')))),"
"     'responses', pg_catalog.json_build_object('200', pg_catalog.json_build_object('description', 'OK'))),"
"   'get', CASE WHEN f.provolatile OPERATOR(pg_catalog.<>) 'v' THEN pg_catalog.json_build_object('summary', f.descr,"
"     'tags', pg_catalog.json_build_array('(rpc) ' OPERATOR(pg_catalog.||) f.name),"
"     'responses', pg_catalog.json_build_object('200', pg_catalog.json_build_object('description', 'OK'))) END))"
" FROM funcs f"
")"
" SELECT pg_catalog.json_build_object('swagger', '2.0',"
"  'info', pg_catalog.json_strip_nulls(pg_catalog.json_build_object('title', 'pgerp API', 'version', $2::pg_catalog.text,"
"     'description', pg_catalog.obj_description($1::pg_catalog.regnamespace, 'pg_namespace'))),"
"  'basePath', '/', 'schemes', pg_catalog.json_build_array('http'),"
"  'consumes', pg_catalog.json_build_array('application/json', 'application/vnd.pgrst.object+json', 'text/csv'),"
"  'produces', pg_catalog.json_build_array('application/json', 'application/vnd.pgrst.object+json', 'text/csv'),"
"  'securityDefinitions', pg_catalog.json_build_object('bearer', pg_catalog.json_build_object('type', 'apiKey', 'name', 'Authorization', 'in', 'header')),"
"  'paths', (SELECT pg_catalog.json_object_agg(paths.k, paths.v ORDER BY paths.k) FROM paths),"
"  'definitions', COALESCE((SELECT pg_catalog.json_object_agg(r.name, pg_catalog.json_strip_nulls(pg_catalog.json_build_object("
"     'type', 'object', 'description', r.descr, 'properties', c.props)) ORDER BY r.name)"
"     FROM visible r JOIN cols c ON c.attrelid OPERATOR(pg_catalog.=) r.oid), '{}'),"
"  'parameters', pg_catalog.json_build_object("
"     'select', pg_catalog.json_build_object('name', 'select', 'description', 'Filtering Columns', 'required', false, 'in', 'query', 'type', 'string'),"
"     'order', pg_catalog.json_build_object('name', 'order', 'description', 'Ordering', 'required', false, 'in', 'query', 'type', 'string'),"
"     'range', pg_catalog.json_build_object('name', 'Range', 'description', 'Limiting and Pagination', 'required', false, 'in', 'header', 'type', 'string'),"
"     'offset', pg_catalog.json_build_object('name', 'offset', 'description', 'Limiting and Pagination', 'required', false, 'in', 'query', 'type', 'string'),"
"     'limit', pg_catalog.json_build_object('name', 'limit', 'description', 'Limiting and Pagination', 'required', false, 'in', 'query', 'type', 'string'),"
"     'preferCount', pg_catalog.json_build_object('name', 'Prefer', 'description', 'Preference', 'required', false, 'in', 'header', 'type', 'string', 'enum', pg_catalog.json_build_array('count=exact', 'count=planned', 'count=estimated')),"
"     'preferReturn', pg_catalog.json_build_object('name', 'Prefer', 'description', 'Preference', 'required', false, 'in', 'header', 'type', 'string', 'enum', pg_catalog.json_build_array('return=representation', 'return=minimal', 'return=none')),"
"     'preferPost', pg_catalog.json_build_object('name', 'Prefer', 'description', 'Preference', 'required', false, 'in', 'header', 'type', 'string', 'enum', pg_catalog.json_build_array('return=representation', 'return=minimal', 'return=none', 'resolution=ignore-duplicates', 'resolution=merge-duplicates')))"
" )::pg_catalog.text";

void
RestHandleOpenApi(RestRequest *req, RestResponse *resp)
{
	RestSql		q;
	SPITupleTable *tt;
	uint64		n;
	char	   *doc;

	if (!OidIsValid(req->schema_oid))
		RestRaise(406, "PGRST106", psprintf("The schema must be one of the following: %s", req->schema), NULL, NULL);
	RestSqlInit(&q);
	appendStringInfoString(&q.sql, openapi_sql);
	(void) RestSqlParam(&q, req->schema);
	(void) RestSqlParam(&q, PGERP_VERSION_STR);
	tt = RestExecute(&q, true, &n);
	doc = SPI_getvalue(tt->vals[0], tt->tupdesc, 1);
	resp->body = RestNewBody(resp);
	appendStringInfoString(resp->body, doc ? doc : "{}");
	resp->status = 200;
	RestAddHeader(resp, "Content-Type", "application/openapi+json; charset=utf-8");
}

/* OPTIONS: Allow from what the relation accepts (INSTEAD OF triggers included) */
void
RestHandleOptions(RestRequest *req, RestRel *rel, RestResponse *resp)
{
	StringInfoData allow;

	initStringInfo(&allow);
	appendStringInfoString(&allow, "OPTIONS,GET,HEAD");
	if (req->is_rpc)
		appendStringInfoString(&allow, ",POST");
	else if (rel != NULL)
	{
		int			events = (rel->relkind == RELKIND_RELATION || rel->relkind == RELKIND_PARTITIONED_TABLE) ? 28 :
			DatumGetInt32(DirectFunctionCall2(pg_relation_is_updatable,
											  ObjectIdGetDatum(rel->relid), BoolGetDatum(false)));

		if (events & (1 << CMD_INSERT))
			appendStringInfoString(&allow, ",POST");
		if ((events & (1 << CMD_INSERT)) && (events & (1 << CMD_UPDATE)))
			appendStringInfoString(&allow, ",PUT");
		if (events & (1 << CMD_UPDATE))
			appendStringInfoString(&allow, ",PATCH");
		if (events & (1 << CMD_DELETE))
			appendStringInfoString(&allow, ",DELETE");
	}
	RestAddHeader(resp, "Allow", allow.data);
	resp->status = 200;
	resp->body = NULL;
}
