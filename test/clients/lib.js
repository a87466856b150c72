// Shared by the client suite: where the gateway is, signing in as the demo
// users, clients that never hang (a timeout and no retries), unique names per
// run, and the demo data the read tests rely on (scripts/demo.sql).
import assert from 'node:assert/strict';
import { PostgrestClient } from '@supabase/postgrest-js';

// make start's gateway unless told otherwise (run.sh sets it to its own gateway)
export const BASE = (process.env.PGERP_REST_URL || 'http://127.0.0.1:5481').replace(/\/+$/, '');

// Every request gives up after this; every test after T.timeout.
export const REQUEST_TIMEOUT_MS = 10000;
export const T = { timeout: 60000 };

// Unique per process (each test file is one): SKUs and codes made by a run
// never meet those of an earlier run against the same database.
export const RUN = (Date.now().toString(36).slice(-5) + Math.random().toString(36).slice(2, 5)).toUpperCase();
let seq = 0;
export const uniq = (tag) => `T-${RUN}-${tag}-${++seq}`;

export const USERS = {
    admin: ['admin', 'admin-demo-1'],
    alice: ['alice', 'alice-demo-1'],
    bob: ['bob', 'bob-demo-1'],
};

// The demo's products (scripts/demo.sql), sorted by SKU.
export const DEMO_A_SKUS = ['BOLT-M8', 'CABLE-2', 'FRAME-RED', 'KIT-BRACKET', 'PAINT-RED'];
export const DEMO_B_SKUS = ['GEAR-40'];

// A plain HTTP request with a timeout: for what the clients hide (headers,
// raw bodies) and for signing in. Returns { status, headers, text, json }.
export async function http(method, path, { token, headers = {}, body } = {}) {
    const h = new Headers(headers);
    if (token) h.set('Authorization', `Bearer ${token}`);
    if (body !== undefined && !h.has('Content-Type')) h.set('Content-Type', 'application/json');
    const res = await fetch(`${BASE}${path}`, {
        method,
        headers: h,
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    let json;
    try { json = text === '' ? undefined : JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, headers: res.headers, text, json };
}

// POST /rpc/sign_in {"login","password"[,"company"]}, no token: the session
// object of the contract, checked here once for every caller.
export async function signIn(login, password, company) {
    const args = { login, password };
    if (company !== undefined) args.company = company;
    const r = await http('POST', '/rpc/sign_in', { body: args });
    assert.equal(r.status, 200, `sign_in ${login}: ${r.status} ${r.text}`);
    assert.equal(typeof r.json?.token, 'string', `sign_in ${login} returned ${r.text}`);
    return r.json;
}

const sessions = new Map();
// The demo user's session, signed in once per process.
export async function session(who) {
    if (!sessions.has(who)) sessions.set(who, signIn(...USERS[who]));
    return sessions.get(who);
}

// postgrest-js as that token (none: anonymous), bounded in time, no retries
// (its default retries GETs on network errors with back-off).
export function client(token) {
    return new PostgrestClient(BASE, {
        headers: token ? { Authorization: `Bearer ${token}` } : {},
        timeout: REQUEST_TIMEOUT_MS,
        retry: false,
    });
}

// as('alice') / as('anon')
export async function as(who) {
    if (who === 'anon') return client(null);
    return client((await session(who)).token);
}

// postgrest-js reports a refused connection or a timeout as status 0 with
// the cause in details: one line of it.
function transportError(err) {
    const cause = /Caused by: ([^\n]*)/.exec(err?.details ?? '');
    return cause ? `${err.message} (${cause[1]})` : `${err?.message} ${err?.hint ?? ''}`.trim();
}

// Assert a postgrest-js response succeeded, with the error in the message.
export function ok(res, status) {
    if (res.status === 0) assert.fail(`no answer from ${BASE}: ${transportError(res.error)}`);
    assert.equal(res.error, null, `unexpected error (HTTP ${res.status}): ${JSON.stringify(res.error)}`);
    if (status !== undefined) assert.equal(res.status, status);
    return res.data;
}

// Assert a postgrest-js response failed with that SQLSTATE/PGRST code and status.
export function fails(res, code, status) {
    if (res.status === 0) assert.fail(`no answer from ${BASE}: ${transportError(res.error)}`);
    assert.notEqual(res.error, null, `expected error ${code}, got HTTP ${res.status} ${JSON.stringify(res.data)}`);
    if (code !== undefined) assert.equal(res.error.code, code, JSON.stringify(res.error));
    if (status !== undefined) assert.equal(res.status, status, JSON.stringify(res.error));
    assert.equal(res.data, null);
    return res.error;
}

let companiesPromise;
// { group, a, b }: the demo companies' ids, read as admin (ids differ between
// databases: make test's cluster has run other suites first).
export function companies() {
    companiesPromise ??= (async () => {
        const db = await as('admin');
        const rows = ok(await db.from('companies').select('id,name')
            .in('name', ['Demo Group', 'Subsidiary A', 'Subsidiary B']).order('id'));
        const id = (name) => {
            const row = rows.find((r) => r.name === name);
            assert.ok(row, `company ${name} not found: the database needs scripts/demo.sql`);
            return row.id;
        };
        return { group: id('Demo Group'), a: id('Subsidiary A'), b: id('Subsidiary B') };
    })();
    return companiesPromise;
}

// A new product of this run, created through POST /products as `who`.
export async function newProduct(db, company, fields = {}) {
    const row = { company_id: company, sku: uniq('P'), name: `Client test item ${RUN}`, ...fields };
    return ok(await db.from('products').insert(row).select().single(), 201);
}

let mainWarehouse;
// The id of Subsidiary A's demo warehouse A-WH. Receipts name it: once a run
// has added a warehouse to A (write.test.js), "warehouse": null is refused
// (22023 "company has 2 warehouses: name one").
export function warehouseA() {
    mainWarehouse ??= (async () => {
        const db = await as('admin');
        return ok(await db.from('warehouses').select('id').eq('code', 'A-WH').single()).id;
    })();
    return mainWarehouse;
}

// POST /rpc/receive {"product","qty","unit_cost","warehouse":<A-WH>,...}: returns the move.
export async function receive(db, product, qty, unitCost, extra = {}) {
    const args = { product, qty, unit_cost: unitCost, warehouse: await warehouseA(), ...extra };
    return ok(await db.rpc('receive', args), 200);
}

export const skus = (rows) => rows.map((r) => r.sku);
export const sorted = (xs) => [...xs].sort();
