/* The cases of grammar_test.c, by area (included once) */

static void
select_cases(void)
{
	SEL("*", "*");
	SEL("", "*");
	SEL("  ", "*");
	SEL("id,name", "id | name");
	SEL(" id , name ", "id | name");
	SEL("alias:col", "alias:col");
	SEL("col::text", "col::text");
	SEL("alias:col::text", "alias:col::text");
	SEL("a:data->b->>c::int", "a:data->b->>c::int");
	SEL("data->0", "data->#0");
	SEL("data->-1->>x", "data->#-1->>x");
	SEL("data->1a", "data->1a");
	SEL("data->>\"a,b\"", "data->>a,b");
	SEL("my-col,my col", "my-col | my col");
	SEL("\"a,b.c:d\"", "a,b.c:d");
	SEL("\"with \\\"quote\\\" and \\\\\"", "with \"quote\" and \\");
	SEL("$x,_y1", "$x | _y1");
	SEL("caf\xc3\xa9", "caf\xc3\xa9");
	SEL("clients(*)", "clients(*)");
	SEL("clients()", "clients()");
	SEL("id,clients(id,name)", "id | clients(id | name)");
	SEL("c:clients!client_fk(*)", "c:clients!client_fk(*)");
	SEL("clients!inner(*)", "clients!inner(*)");
	SEL("clients!left(*)", "clients!left(*)");
	SEL("clients!fk!inner(*)", "clients!fk!inner(*)");
	SEL("clients!inner!fk(*)", "clients!fk!inner(*)");
	SEL("a(b(c(d)))", "a(b(c(d)))");
	SEL("...clients(name)", "...clients(name)");
	SEL("...clients!fk(name)", "...clients!fk(name)");
	SEL("amount.sum()", "amount.sum()");
	SEL("amount.avg()::int", "amount.avg()::int");
	SEL("total:amount::numeric.max()", "total:amount::numeric.max()");
	SEL("count()", "*.count()");
	SEL("n:count()::int", "n:*.count()::int");
	SEL("\"clients\"(\"id\")", "clients(id)");
	SEL("x:\"q:r\"", "x:q:r");
	SELERR("a,", REST_ESYNTAX, 2, "expecting field name");
	SELERR("a(b", REST_ESYNTAX, 3, "expecting \",\" or \")\"");
	SELERR("a)", REST_ESYNTAX, 1, "unexpected \")\"");
	SELERR("a.b", REST_ESYNTAX, 1, "unexpected \".\"");
	SELERR("a::", REST_ESYNTAX, 3, "expecting cast type");
	SELERR("\"abc", REST_ESYNTAX, 0, "unterminated quoted value");
	SELERR("clients!inner", REST_ESYNTAX, 13, "expecting \"(\"");
	SELERR("count(a)", REST_ESYNTAX, 5, "cannot be embedded");
	SELERR("data->", REST_ESYNTAX, 6, "expecting json key or array index");
	SELERR("a,,b", REST_ESYNTAX, 2, "unexpected \",\"");
	SELERR("a[0]", REST_ESYNTAX, 1, "unexpected \"[\"");
	{
		char	   *deep = repeat("", "a(", 16, "b");
		char	   *deep2;

		strcat(deep, "))))))))))))))))");
		SELERR(deep, REST_EDEPTH, 31, "deeper than 16");
		free(deep);
		deep2 = repeat("", "a(", 15, "b)))))))))))))))");
		SEL(deep2, "a(a(a(a(a(a(a(a(a(a(a(a(a(a(a(b)))))))))))))))");
		free(deep2);
	}
	{
		char	   *many = repeat("a", ",a", 1000, "");
		char	   *ok = repeat("a", ",a", 999, "");

		SELERR(many, REST_ETOOMANY, -1, "more than 1000");
		{
			int			n;
			RestSelectItem *it;
			RestError	e;
			RestCode	rc = RestParseSelect(ok, &A, &n, &it, &e);

			report(rc == REST_OK && n == 1000, "select 1000 items", "a,a...", rc ? e.msg : "", "1000");
		}
		free(many);
		free(ok);
	}
}

static void
field_cases(void)
{
	FLD("col", "col");
	FLD("data->a->>b", "data->a->>b");
	FLD("data->0->>-2", "data->#0->>#-2");
	FLD(" spaced name ", "spaced name");
	FLD("\"a.b\"->\"c->d\"", "a.b->c->d");
	FLD("data->a b", "data->a b");
	FLD("data->a-b", "data->a-b");
}

static void
filter_cases(void)
{
	FLT("eq.1", "eq=1");
	FLT("eq.", "eq=");
	FLT("neq.abc", "neq=abc");
	FLT("gt.5", "gt=5");
	FLT("gte.5", "gte=5");
	FLT("lt.5", "lt=5");
	FLT("lte.5", "lte=5");
	FLT("like.*abc*", "like=*abc*");
	FLT("ilike.a*", "ilike=a*");
	FLT("match.^a", "match=^a");
	FLT("imatch.^A", "imatch=^A");
	FLT("cs.{1,2}", "cs={1,2}");
	FLT("cd.{1,2}", "cd={1,2}");
	FLT("ov.[1,5)", "ov=[1,5)");
	FLT("sl.(1,10)", "sl=(1,10)");
	FLT("sr.(1,10)", "sr=(1,10)");
	FLT("nxr.(1,10)", "nxr=(1,10)");
	FLT("nxl.(1,10)", "nxl=(1,10)");
	FLT("adj.(1,10)", "adj=(1,10)");
	FLT("isdistinct.5", "isdistinct=5");
	FLT("fts.cat", "fts=cat");
	FLT("fts(english).cat & dog", "fts(english)=cat & dog");
	FLT("plfts.a b", "plfts=a b");
	FLT("phfts(simple).a b", "phfts(simple)=a b");
	FLT("wfts(french).chat -chien", "wfts(french)=chat -chien");
	FLT("not.eq.1", "not.eq=1");
	FLT("not.in.(1,2)", "not.in[1;2]");
	FLT("not.is.null", "not.is=null");
	FLT("eq(any).{1,2}", "eq(any)={1,2}");
	FLT("like(all).{a*,*b}", "like(all)={a*,*b}");
	FLT("gte(any).{1}", "gte(any)={1}");
	FLT("imatch(any).{^a,^b}", "imatch(any)={^a,^b}");
	FLT("eq.a.b.c,d)", "eq=a.b.c,d)");
	FLT("in.(1,2,3)", "in[1;2;3]");
	FLT("in.()", "in[]");
	FLT("in.( )", "in[]");
	FLT("in.(\"a,b\",c)", "in[a,b;c]");
	FLT("in.(\"Quote:\\\"\",\"Backslash:\\\\\")", "in[Quote:\";Backslash:\\]");
	FLT("in.(\"a\"b,c)", "in[\"a\"b;c]");
	FLT("in.(a,,b)", "in[a;;b]");
	FLT("in.( 1, 2)", "in[1; 2]");
	FLT("is.null", "is=null");
	FLT("is.NULL", "is=null");
	FLT("is.not_null", "is=not_null");
	FLT("is.True", "is=true");
	FLT("is.false", "is=false");
	FLT("is.unknown", "is=unknown");
	FLTERR("is.nul", REST_ESYNTAX, 3, "unknown is value");
	FLTERR("is.nullx", REST_ESYNTAX, 3, "unknown is value");
	FLTERR("foo.1", REST_ESYNTAX, 0, "unknown operator");
	FLTERR("", REST_ESYNTAX, 0, "unknown operator");
	FLTERR("1", REST_ESYNTAX, 0, "unknown operator");
	FLTERR("eq", REST_ESYNTAX, 2, "expecting delimiter (.)");
	FLTERR("eq(some).1", REST_ESYNTAX, 2, "expecting \"(any)\" or \"(all)\"");
	FLTERR("neq(any).1", REST_ESYNTAX, 3, "expecting delimiter (.)");
	FLTERR("fts(english.cat", REST_ESYNTAX, 11, "expecting \")\"");
	FLTERR("fts().cat", REST_ESYNTAX, 4, "expecting text search configuration");
	FLTERR("in.1,2", REST_ESYNTAX, 3, "expecting \"(\"");
	FLTERR("in.(1,2", REST_ESYNTAX, 7, "expecting \",\" or \")\"");
	FLTERR("in.(1,2)x", REST_ESYNTAX, 8, "expecting end of input");
	FLTERR("not.not.eq.1", REST_ESYNTAX, 4, "unknown operator");
	{
		char	   *big = repeat("in.(1", ",1", 1000, ")");

		FLTERR(big, REST_ETOOMANY, -1, "more than 1000 items");
		free(big);
	}
}

static void
logic_cases(void)
{
	LOG("(a.eq.1,b.gt.2)", REST_LOGIC_OR, false, "or{a eq=1, b gt=2}");
	LOG("(a.eq.1)", REST_LOGIC_AND, true, "not.and{a eq=1}");
	LOG("(a.eq.1,and(b.gt.2,c.not.is.null))", REST_LOGIC_OR, false,
		"or{a eq=1, and{b gt=2, c not.is=null}}");
	/* as in PostgREST, an operand runs to ',' or ')': trailing blanks are kept */
	LOG("( a.eq.1 , b.eq.2 )", REST_LOGIC_OR, false, "or{a eq=1 , b eq=2 }");
	LOG("(a.eq.1,b.eq.2)", REST_LOGIC_OR, false, "or{a eq=1, b eq=2}");
	LOG("(not.and(a.eq.1,b.eq.2),not.or(c.eq.3))", REST_LOGIC_OR, false,
		"or{not.and{a eq=1, b eq=2}, not.or{c eq=3}}");
	LOG("(or(and(or(a.eq.1))))", REST_LOGIC_AND, false, "and{or{and{or{a eq=1}}}}");
	LOG("(a.in.(1,2),b.eq.3)", REST_LOGIC_OR, false, "or{a in[1;2], b eq=3}");
	LOG("(a.eq.\"x,y)\",b.eq.2)", REST_LOGIC_OR, false, "or{a eq=x,y), b eq=2}");
	LOG("(a.cs.{1,2},b.eq.2)", REST_LOGIC_OR, false, "or{a cs={1,2}, b eq=2}");
	LOG("(a.eq(any).{1,2})", REST_LOGIC_OR, false, "or{a eq(any)={1,2}}");
	LOG("(a.fts(english).cat,b.plfts.dog)", REST_LOGIC_OR, false, "or{a fts(english)=cat, b plfts=dog}");
	LOG("(data->a->>b.eq.1)", REST_LOGIC_OR, false, "or{data->a->>b eq=1}");
	LOG("(and.eq.1,or.is.true)", REST_LOGIC_OR, false, "or{and eq=1, or is=true}");
	LOG("(a.is.NOT_NULL)", REST_LOGIC_OR, false, "or{a is=not_null}");
	LOG("(\"a.b\".eq.1)", REST_LOGIC_OR, false, "or{a.b eq=1}");
	LOG("(a.eq.)", REST_LOGIC_OR, false, "or{a eq=}");
	LOG("(a.like.*x*,a.ilike.*Y*)", REST_LOGIC_OR, false, "or{a like=*x*, a ilike=*Y*}");
	LOG("(a.isdistinct.3,a.neq.4)", REST_LOGIC_OR, false, "or{a isdistinct=3, a neq=4}");
	LOGERR("", REST_ESYNTAX, 0, "expecting \"(\"");
	LOGERR("()", REST_ESYNTAX, 1, "expecting field name");
	LOGERR("(a.eq.1", REST_ESYNTAX, 7, "expecting \",\" or \")\"");
	LOGERR("(a.eq.1))", REST_ESYNTAX, 8, "expecting end of input");
	/* negation goes before the operator: c.not.is.null, not not.c.is.null */
	LOGERR("(not.c.is.null)", REST_ESYNTAX, 5, "unknown operator");
	LOGERR("(a.foo.1)", REST_ESYNTAX, 3, "unknown operator");
	LOGERR("(a)", REST_ESYNTAX, 2, "expecting delimiter (.)");
	LOGERR("(a.is.maybe)", REST_ESYNTAX, 6, "unknown is value");
	LOGERR("(and(a.eq.1)", REST_ESYNTAX, 12, "expecting \",\" or \")\"");
	LOGERR("(a.eq.1,)", REST_ESYNTAX, 8, "expecting field name");
	{
		char	   *deep = repeat("(", "or(", 16, "a.eq.1");
		char	   *ok = repeat("(", "or(", 15, "a.eq.1");

		strcat(deep, "))))))))))))))))");
		strcat(ok, ")))))))))))))))");
		strcat(deep, ")");
		strcat(ok, ")");
		LOGERR(deep, REST_EDEPTH, 48, "deeper than 16");
		{
			RestLogic	l;
			RestError	e;
			RestCode	rc = RestParseLogic(ok, REST_LOGIC_OR, false, &A, &l, &e);

			report(rc == REST_OK, "logic 16 levels", "(or(or(...", rc ? e.msg : "", "");
		}
		free(deep);
		free(ok);
	}
	{
		char	   *wide = repeat("(a.eq.1", ",a.eq.1", 1000, ")");

		LOGERR(wide, REST_ETOOMANY, -1, "more than 1000 conditions");
		free(wide);
	}
	{
		RestLogic	l;
		RestError	e;
		RestCode	rc = RestParseLogic("(a.eq.1)", REST_LOGIC_FILTER, false, &A, &l, &e);

		check_err("logic kind", "FILTER", rc, &e, REST_ESYNTAX, 0, "and or or");
	}
}

static void
order_cases(void)
{
	ORD("a", "a");
	ORD("a.asc", "a");
	ORD("a.desc", "a desc");
	ORD("a.desc.nullslast", "a desc nullslast");
	ORD("a.nullsfirst", "a nullsfirst");
	ORD("a.desc.nullslast,b,rel(col).asc", "a desc nullslast | b | rel/col");
	ORD("rel(col).desc.nullsfirst", "rel/col desc nullsfirst");
	ORD("data->a->>b.desc", "data->a->>b desc");
	ORD("data->0.desc", "data->#0 desc");
	ORD(" a.desc , b ", "a desc | b");
	ORD("\"a.b\".desc", "a.b desc");
	ORD("rel(data->x)", "rel/data->x");
	ORDERR("", REST_ESYNTAX, 0, "expecting field name");
	ORDERR("a,", REST_ESYNTAX, 2, "expecting field name");
	ORDERR("a.up", REST_ESYNTAX, 1, "expecting \".asc\"");
	ORDERR("a.nullsfirst.desc", REST_ESYNTAX, 12, "expecting");
	ORDERR("rel(col", REST_ESYNTAX, 7, "expecting \")\"");
	ORDERR("a b.desc.x", REST_ESYNTAX, 8, "expecting");
}

static void
query_cases(void)
{
	Q("", "");
	Q("select=*", "select *");
	Q("select=id,name&id=eq.1", "select id | name & filter id eq=1");
	Q("select=", "select *");
	Q("select=a(b())", "select a(b())");
	Q("offset=-4", "offset 0");
	Q("limit=0", "limit 0");
	Q("limit=-0", "limit 0");
	Q("select", "");
	Q("a&&b=eq.1&", "filter b eq=1");
	Q("id=eq.1&id=lt.5", "filter id eq=1 & filter id lt=5");
	Q("name=eq.John+Smith", "filter name eq=John Smith");
	Q("name=eq.a%2Bb", "filter name eq=a+b");
	Q("name=in.(%22Hebdon,John%22,%22Williams,Mary%22)", "filter name in[Hebdon,John;Williams,Mary]");
	Q("%22information.cpe%22=like.*MS*", "filter information.cpe like=*MS*");
	Q("Unit%20Price=lt.200", "filter Unit Price lt=200");
	Q("%D9%85=eq.1", "filter \xd9\x85 eq=1");
	Q("order=a.desc,b", "order a desc | b");
	Q("clients.order=name.desc", "order@clients name desc");
	Q("limit=10&offset=20", "limit 10 & offset 20");
	Q("clients.limit=0&clients.offset=5", "limit@clients 0 & offset@clients 5");
	Q("a.b.limit=3", "limit@a@b 3");
	Q("columns=id,name", "columns id;name");
	Q("on_conflict=%22a b%22", "on_conflict a b");
	Q("or=(a.eq.1,b.eq.2)", "logic or{a eq=1, b eq=2}");
	Q("and=(a.eq.1,b.eq.2)", "logic and{a eq=1, b eq=2}");
	Q("not.or=(a.eq.1)", "logic not.or{a eq=1}");
	Q("not.and=(a.eq.1)", "logic not.and{a eq=1}");
	Q("clients.or=(a.eq.1)", "logic@clients or{a eq=1}");
	Q("clients.not.and=(a.eq.1)", "logic@clients not.and{a eq=1}");
	Q("clients.name=eq.x", "filter@clients name eq=x");
	Q("a.b.data->c=eq.1", "filter@a@b data->c eq=1");
	Q("clients.select=x", "filter@clients BAD(clients.select=x)");
	Q("a.columns=1", "filter@a BAD(a.columns=1)");
	Q("x=1", "filter BAD(x=1)");
	Q("name=", "filter BAD(name=)");
	Q("data->>k=eq.v", "filter data->>k eq=v");
	Q("select=id&order=id.desc&limit=1&id=gt.0", "select id & order id desc & limit 1 & filter id gt=0");
	Q("=eq.1", "filter BADKEY(=eq.1)");
	Q("a;b=eq.1", "filter BADKEY(a;b=eq.1)");
	Q("x=eq.%3B", "filter x eq=;");
	/* from PostgREST's spec, test/spec/Feature/Query/ */
	Q("select=id,name,clients(id,name)&order=id.desc.nullslast&clients.order=name&limit=2",
	  "select id | name | clients(id | name) & order id desc nullslast & order@clients name & limit 2");
	Q("select=val->r&val->i=gt.0.5&order=val->>i.desc", "select val->r & filter val->i gt=0.5 & order val->>i desc");
	Q("or=(id.lt.2,id.gt.3)&select=id", "logic or{id lt=2, id gt=3} & select id");
	Q("or=(and(id.gt.0,id.lt.3),not.or(id.eq.1,id.eq.2))", "logic or{and{id gt=0, id lt=3}, not.or{id eq=1, id eq=2}}");
	Q("select=name,...processes(process:name,...process_costs(cost))&processes.id=eq.7",
	  "select name | ...processes(process:name | ...process_costs(cost)) & filter@processes id eq=7");
	Q("select=id,client:clients!client_id(*),tasks!inner(id)&tasks.id=eq.3",
	  "select id | client:clients!client_id(*) | tasks!inner(id) & filter@tasks id eq=3");
	QERR("order=id.asc.nullslasttt", REST_ESYNTAX, 16, "order: unexpected \"t\"");
	QERR("select=data->>--34", REST_ESYNTAX, 7, "select: unexpected \"-\"");
	QERR("or=()", REST_ESYNTAX, 1, "or: unexpected \")\", expecting field name");
	/* PostgREST stops early and accepts these (see docs/api-grammar.md); we refuse */
	QERR("and=(id.eq.1,id.neq.2))&select=id", REST_ESYNTAX, 18, "and: unexpected \")\", expecting end of input");
	QERR("select=name,projects(count)'", REST_ESYNTAX, 20, "select: unexpected \"'\"");
	QERR("body=like(any).{%plan%,%brain%}", REST_ESYNTAX, 16, "malformed percent-encoding");
	QFERR("a(b=eq.1", true, 1, "expecting");
	QFERR("x=eq", false, 2, "expecting delimiter (.)");
	QFERR("x=zz.1", false, 0, "unknown operator");
	QERR("select=a(", REST_ESYNTAX, 2, "select: unexpected end of input");
	QERR("order=", REST_ESYNTAX, 0, "order: unexpected end of input");
	QERR("limit=-1", REST_ERANGE, 0, "limit: limit should be greater than or equal to zero");
	QERR("limit=--1", REST_ESYNTAX, 1, "limit: unexpected \"-\"");
	QERR("limit=-", REST_ESYNTAX, 1, "expecting a non-negative integer");
	QERR("limit=", REST_ESYNTAX, 0, "expecting a non-negative integer");
	QERR("offset=1x", REST_ESYNTAX, 1, "offset: unexpected \"x\"");
	QERR("limit=99999999999999999999", REST_ESYNTAX, 18, "integer out of range");
	QERR("or=a.eq.1", REST_ESYNTAX, 0, "or: unexpected \"a\"");
	QERR("or=()", REST_ESYNTAX, 1, "or: ");
	QERR("columns=a,", REST_ESYNTAX, 2, "columns: ");
	QERR("on_conflict=", REST_ESYNTAX, 0, "on_conflict: ");
	QERR("a=%zz", REST_ESYNTAX, 2, "malformed percent-encoding");
	QERR("a=%4", REST_ESYNTAX, 2, "malformed percent-encoding");
	QERR("a=b&%=1", REST_ESYNTAX, 4, "malformed percent-encoding");
	QERR("a=%00", REST_ESYNTAX, 2, "nul byte");
	QERR("\"x.order=a", REST_ESYNTAX, 0, "unterminated");
	{
		char	   *many = repeat("a=eq.1", "&a=eq.1", 1000, "");

		QERR(many, REST_ETOOMANY, -1, "more than 1000 query parameters");
		free(many);
	}
	{
		RestQuery	q;
		RestError	e;
		RestCode	rc = RestParseQuery("a", REST_MAX_INPUT + 1, &A, &q, &e);

		check_err("query size", "1 MiB + 1", rc, &e, REST_ETOOMANY, -1, "longer than");
	}
	{
		char	   *big = malloc(REST_MAX_INPUT + 2);

		memset(big, 'a', REST_MAX_INPUT + 1);
		big[REST_MAX_INPUT + 1] = '\0';
		SELERR(big, REST_ETOOMANY, -1, "longer than");
		free(big);
	}
}

static void
header_cases(void)
{
	unsigned	all = 0xff;

	PREF("return=representation", all, "return=representation", 0);
	PREF("return=minimal", all, "return=minimal", 0);
	PREF("return=headers-only", all, "return=headers-only", 0);
	PREF("count=exact", all, "count=exact", 0);
	PREF("count=planned, count=estimated", all, "count=planned", 0);
	PREF("return=representation, resolution=merge-duplicates", all,
		 "resolution=merge-duplicates, return=representation", 0);
	PREF("missing=default,return=representation,resolution=ignore-duplicates", all,
		 "resolution=ignore-duplicates, missing=default, return=representation", 0);
	PREF("missing=null", all, "missing=null", 0);
	PREF("tx=rollback, return=representation", all, "return=representation, tx=rollback", 0);
	PREF("tx=commit", all, "tx=commit", 0);
	PREF("handling=strict, max-affected=10", all, "handling=strict, max-affected=10", 0);
	PREF("handling=lenient, foo, bar", all, "handling=lenient [2 invalid, first foo", 2);
	PREF("timezone=America/Los_Angeles", all, "timezone=America/Los_Angeles", 0);
	PREF("handling=strict, timezone=+05:30", all, "handling=strict, timezone=+05:30", 0);
	PREF("max-affected=abc", all, "", 0);
	PREF("max-affected=-1", all, "", 0);
	PREF("return=representation, count=exact", REST_APPLIED_RETURN, "return=representation", 0);
	PREF("Return=minimal", all, " [1 invalid, first Return=minimal", 1);
	PREF("  return=minimal  ,, ", all, "return=minimal", 0);
	PREF("", all, "", 0);
	PREF("params=single-object", all, " [1 invalid", 1);
	{
		RestPrefer	p;
		RestError	e;
		char		small[10];

		RestParsePrefer("return=representation", &A, &p, &e);
		RestFormatPreferApplied(&p, 0xff, small, sizeof(small));
		report(strcmp(small, "return=re") == 0, "prefer applied truncated", "size 10", small, "return=re");
	}
	RANGE("0-9", REST_OK, 0, 9);
	RANGE("10-", REST_OK, 10, -1);
	RANGE(" 5-5 ", REST_OK, 5, 5);
	RANGE("9-0", REST_OK, 9, 0);
	RANGE("-5", REST_ESYNTAX, 0, 0);
	RANGE("a-b", REST_ESYNTAX, 0, 0);
	RANGE("items=0-9", REST_ESYNTAX, 0, 0);
	RANGE("0-9-", REST_ESYNTAX, 0, 0);
	RANGE("", REST_ESYNTAX, 0, 0);
	RANGE("99999999999999999999-", REST_ESYNTAX, 0, 0);
	ACC(NULL, "0:application/json");
	ACC("", "0:application/json");
	ACC("application/json", "0:application/json");
	ACC("*/*", "0:*/*");
	ACC("application/*", "0:application/*");
	ACC("text/csv", "2:text/csv");
	ACC("application/vnd.pgrst.object+json", "1:application/vnd.pgrst.object+json");
	ACC("application/vnd.pgrst.object", "1:application/vnd.pgrst.object");
	ACC("application/openapi+json", "3:application/openapi+json");
	ACC("text/plain", "4:text/plain");
	ACC("application/octet-stream", "5:application/octet-stream");
	ACC("image/png", "6:image/png");
	ACC("Text/CSV", "2:text/csv");
	ACC("text/csv;q=0.5, application/json", "0:application/json 2:text/csv");
	ACC("text/plain;q=0.2, text/csv;q=0.8, image/png;q=0.8", "2:text/csv 6:image/png 4:text/plain");
	ACC("application/json;q=0", "");
	ACC("application/json;q=2", "");
	ACC("application/vnd.pgrst.object+json;nulls=stripped", "1:application/vnd.pgrst.object+json;stripped");
	ACC("application/vnd.pgrst.array+json; nulls=stripped", "0:application/vnd.pgrst.array+json;stripped");
	ACC("application/json; charset=utf-8", "0:application/json");
	ACC(" text/csv , ,application/json;q=0.9", "2:text/csv 0:application/json");
	ACC("text/csv;q=1.000,text/plain;q=0.999", "2:text/csv 4:text/plain");
}

static void
csv_cases(void)
{
	CSV("a,b\n1,2", "a,b /1,2");
	CSV("a,b\n1,2\n", "a,b /1,2");
	CSV("a,b\r\n1,2\r\n3,4\r\n", "a,b /1,2 /3,4");
	CSV("a,b\nNULL,foo", "a,b /<null>,foo");
	CSV("a,b\n\"NULL\",null", "a,b /NULL,null");
	CSV("a,b\n\"x,y\",\"say \"\"hi\"\"\"", "a,b /x,y,say \"hi\"");
	CSV("a,b\n\"line\nbreak\",2", "a,b /line\nbreak,2");
	CSV("a,b\n,", "a,b /,");
	CSV("a\n\n", "a /");
	CSV("a,b", "a,b");
	CSV("\"col 1\",b\n1,2", "col 1,b /1,2");
	CSV("a\r\nx\ry", "a /x\ry");
	CSVERR("", REST_ESYNTAX, 0, "empty csv body");
	CSVERR("a,b\nfoo,bar\nbaz", REST_ESYNTAX, 15, "all lines must have same number of fields");
	CSVERR("a,b\n1,2,3", REST_ESYNTAX, 8, "all lines must have same number of fields");
	CSVERR("a,b\n\"1,2", REST_ESYNTAX, 4, "unterminated quoted field");
	CSVERR("a,b\n\"1\"x,2", REST_ESYNTAX, 7, "after a closing quote");
	CSVERR("a,b\n1\"2,3", REST_ESYNTAX, 5, "quote in an unquoted field");
	CSVERR("a,,b\n1,2,3", REST_ESYNTAX, 2, "empty column name");
	{
		char	   *wide = repeat("a", ",a", 1000, "\n");

		CSVERR(wide, REST_ETOOMANY, -1, "more than 1000 columns");
		free(wide);
	}
	{
		RestCsv		c;
		RestError	e;
		RestCode	rc = RestParseCsv("a,b\n1\0,2", 8, &A, &c, &e);

		check_err("csv nul", "a,b\\n1\\0,2", rc, &e, REST_ESYNTAX, 5, "nul byte");
	}
}

static void
decode_cases(void)
{
	DEC("abc", "abc");
	DEC("a+b", "a+b");
	DEC("%41%62%2c", "Ab,");
	DEC("%e2%82%AC", "\xe2\x82\xac");
	DEC("", "");
	DECERR("%", 0);
	DECERR("ab%4", 2);
	DECERR("%zz", 0);
	DECERR("x%g1", 1);
}

static void
run_cases(void)
{
	select_cases();
	field_cases();
	filter_cases();
	logic_cases();
	order_cases();
	query_cases();
	header_cases();
	csv_cases();
	decode_cases();
}
