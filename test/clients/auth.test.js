// Signing in, tokens and the anonymous caller, through postgrest-js's rpc()
// and plain fetch where a header is the point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { T, RUN, USERS, DEMO_A_SKUS, http, signIn, session, client, as, ok, fails, companies, uniq } from './lib.js';

test('sign_in returns the session of the contract', T, async () => {
    // POST /rpc/sign_in  Content-Type: application/json  (no Authorization)
    //   {"login":"alice","password":"alice-demo-1"}
    const db = client(null);
    const res = await db.rpc('sign_in', { login: 'alice', password: 'alice-demo-1' });
    const s = ok(res, 200);
    assert.equal(Array.isArray(s), false, 'sign_in returns one object');
    assert.deepEqual(Object.keys(s).sort(), ['company_id', 'expires_at', 'refresh_token', 'token', 'user_id']);
    assert.equal(typeof s.token, 'string');
    assert.ok(s.token.length > 20);
    assert.equal(typeof s.refresh_token, 'string');
    assert.notEqual(s.refresh_token, s.token);
    assert.equal(typeof s.user_id, 'number');
    const { a } = await companies();
    assert.equal(s.company_id, a, "alice's default company is Subsidiary A");
    assert.ok(new Date(s.expires_at).getTime() > Date.now(), `expires_at ${s.expires_at} is in the future`);
});

test('sign_in with a company the user may act in', T, async () => {
    const { a, b } = await companies();
    // POST /rpc/sign_in {"login":"admin","password":"admin-demo-1","company":<B>}
    const s = await signIn(...USERS.admin, b);
    assert.equal(s.company_id, b);
    // a company alice holds no role on: 42501, 401 for a caller without a token (PostgREST's rule)
    // POST /rpc/sign_in {"login":"alice","password":"alice-demo-1","company":<B>}
    const res = await client(null).rpc('sign_in', { login: 'alice', password: 'alice-demo-1', company: b });
    const err = fails(res, '42501', 401);
    assert.match(err.message, new RegExp(`company ${b} is not allowed`));
    assert.notEqual(a, b);
});

test('sign_in refuses bad credentials with 28P01 (403)', T, async () => {
    // an unknown login, so that no demo user is ever locked out by reruns
    // POST /rpc/sign_in {"login":"nobody-<run>","password":"wrong-password-1"}
    const res = await client(null).rpc('sign_in', { login: `nobody-${RUN.toLowerCase()}`, password: 'wrong-password-1' });
    const err = fails(res, '28P01');
    assert.equal(err.message, 'invalid login or password');
    assert.ok(!JSON.stringify(err).includes('wrong-password-1'), 'the password is never echoed');
    assert.equal(res.status, 403, "PostgREST's SQLSTATE table: 28* is 403");
});

test('users: who the token says, no secrets, only the visible ones', T, async () => {
    const s = await session('bob');
    // GET /users?select=id,login&id=eq.<bob>  Authorization: Bearer <bob>
    const rows = ok(await client(s.token).from('users').select('id,login').eq('id', s.user_id), 200);
    assert.deepEqual(rows, [{ id: s.user_id, login: 'bob' }]);
    // GET /users?select=*&id=eq.<bob>: id, login, name, active, created_at; no password hash, no token generation
    const [row] = ok(await client(s.token).from('users').select('*').eq('id', s.user_id));
    assert.deepEqual(Object.keys(row).sort(), ['active', 'created_at', 'id', 'login', 'name']);
    assert.equal(row.name, 'Bob (Subsidiary B)');
    // a stock manager lacks erp.app_user:read: bob sees himself only
    // GET /users?select=login&login=in.(admin,alice,bob)&order=login.asc
    const q = (db) => db.from('users').select('login').in('login', ['admin', 'alice', 'bob']).order('login');
    assert.deepEqual(ok(await q(client(s.token))), [{ login: 'bob' }]);
    // the group's admin sees the users holding roles below it
    assert.deepEqual(ok(await q(await as('admin'))), [{ login: 'admin' }, { login: 'alice' }, { login: 'bob' }]);
});

test('anonymous: row security shows nothing, writes answer 401', T, async () => {
    const { a } = await companies();
    const anon = await as('anon');
    // GET /products?select=sku&sku=in.(BOLT-M8,...)   (no Authorization)
    const rows = ok(await anon.from('products').select('sku').in('sku', DEMO_A_SKUS), 200);
    assert.deepEqual(rows, []);
    // GET /companies?select=id
    assert.deepEqual(ok(await anon.from('companies').select('id')), []);
    // HEAD /products?select=*  Prefer: count=exact  -> Content-Range */0
    const head = await anon.from('products').select('*', { count: 'exact', head: true });
    ok(head);
    assert.equal(head.count, 0);
    // POST /products {"company_id":<A>,"sku":"T-..","name":".."}  (no Authorization)
    const ins = await anon.from('products').insert({ company_id: a, sku: uniq('ANON'), name: 'anonymous write' });
    assert.equal(ins.status, 401);
    assert.notEqual(ins.error, null);
});

test('a bad token is 401 with WWW-Authenticate: Bearer error="invalid_token"', T, async () => {
    const s = await session('alice');
    const broken = s.token.slice(0, -4) + (s.token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    // GET /products?select=sku  Authorization: Bearer <token with its signature altered>
    const r = await http('GET', '/products?select=sku', { token: broken });
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/);
    assert.equal(typeof r.json?.code, 'string');
    assert.equal(typeof r.json?.message, 'string');
    // the same through postgrest-js: an error object, no data
    const res = await client('not.a.token').from('products').select('sku');
    fails(res, undefined, 401);
});

test('refresh returns a new pair that works', T, async () => {
    const s = await signIn(...USERS.alice);
    // POST /rpc/refresh {"refresh_token":"<r>"}  (no Authorization)
    const n = ok(await client(null).rpc('refresh', { refresh_token: s.refresh_token }), 200);
    assert.equal(typeof n.token, 'string');
    assert.equal(typeof n.refresh_token, 'string');
    assert.notEqual(n.refresh_token, s.refresh_token, 'the refresh token rotates');
    // GET /products?select=sku&sku=eq.BOLT-M8  Authorization: Bearer <new token>
    assert.deepEqual(ok(await client(n.token).from('products').select('sku').eq('sku', 'BOLT-M8')), [{ sku: 'BOLT-M8' }]);
    // a used refresh token is refused: 28000, 401 (a request without a token that fails to authenticate; docs/api.md)
    // POST /rpc/refresh {"refresh_token":"<the first one again>"}
    fails(await client(null).rpc('refresh', { refresh_token: s.refresh_token }), '28000', 401);
});

test('switch_company(company, refresh_token) returns a session in the other company', T, async () => {
    const { a, b } = await companies();
    const s = await signIn(...USERS.admin, a);
    assert.equal(s.company_id, a);
    // POST /rpc/switch_company {"company":<B>,"refresh_token":"<r>"}  Authorization: Bearer <admin>
    const n = ok(await client(s.token).rpc('switch_company', { company: b, refresh_token: s.refresh_token }), 200);
    assert.equal(n.company_id, b);
    assert.equal(n.user_id, s.user_id);
    assert.equal(typeof n.token, 'string');
    // a product posted without company_id lands in the token's current company
    // POST /products?select=company_id,sku  {"sku":"T-..","name":".."}  Authorization: Bearer <switched>
    const sku = uniq('SW');
    const row = ok(await client(n.token).from('products').insert({ sku, name: `Switched ${RUN}` }).select('company_id,sku').single(), 201);
    assert.deepEqual(row, { company_id: b, sku });
    // alice cannot switch to B: 42501, 403
    const al = await signIn(...USERS.alice);
    fails(await client(al.token).rpc('switch_company', { company: b, refresh_token: al.refresh_token }), '42501', 403);
});
