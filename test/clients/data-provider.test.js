// react-admin's ra-data-postgrest data provider, unchanged, over ra-core's
// fetchUtils.fetchJson with an httpClient that adds the bearer token (what a
// react-admin app does). The request each method sends is in the comments
// (ra-data-postgrest 2.5.1, src/index.ts; qs percent-encodes the values).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as raPostgrest from '@raphiniert/ra-data-postgrest';
import { fetchUtils } from 'ra-core';
import { T, RUN, BASE, REQUEST_TIMEOUT_MS, DEMO_A_SKUS, session, as, ok, companies, newProduct, receive, uniq } from './lib.js';

// lib/index.js is CommonJS with an ES default export
const factory = typeof raPostgrest.default === 'function' ? raPostgrest.default : raPostgrest.default.default;

// the data provider of one user
function provider(token) {
    const httpClient = (url, options = {}) => fetchUtils.fetchJson(url, {
        ...options,
        user: { authenticated: true, token: `Bearer ${token}` },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    return factory({
        apiUrl: BASE,
        httpClient,
        defaultListOp: 'eq',
        primaryKeys: raPostgrest.defaultPrimaryKeys ?? new Map(),
        schema: raPostgrest.defaultSchema ?? (() => ''),
    });
}

let dpAlice;
let dpAdmin;
let alice;
let admin;
let C;
before(async () => {
    const [sa, sd] = await Promise.all([session('alice'), session('admin')]);
    dpAlice = provider(sa.token);
    dpAdmin = provider(sd.token);
    [alice, admin, C] = await Promise.all([as('alice'), as('admin'), companies()]);
});

const IN_DEMO = { 'sku@in': `(${DEMO_A_SKUS.join(',')})` };

// expect a rejection with ra-core's HttpError of that status (and PostgREST code)
async function rejects(promise, status, code) {
    await assert.rejects(promise, (err) => {
        assert.equal(err.name, 'HttpError', String(err));
        assert.equal(err.status, status, `status ${err.status}: ${JSON.stringify(err.body)}`);
        if (code !== undefined) assert.equal(err.body?.code, code, JSON.stringify(err.body));
        return true;
    });
}

test('getList: pagination, sort, filters, total from Content-Range', T, async () => {
    // GET /products?offset=0&limit=2&sku=in.(BOLT-M8,...,PAINT-RED)&order=sku.asc
    //   Accept: application/json  Prefer: count=exact  Authorization: Bearer <alice>
    const page1 = await dpAlice.getList('products', {
        pagination: { page: 1, perPage: 2 }, sort: { field: 'sku', order: 'ASC' }, filter: IN_DEMO,
    });
    assert.equal(page1.total, 5);
    assert.deepEqual(page1.data.map((r) => r.sku), ['BOLT-M8', 'CABLE-2']);
    assert.equal(typeof page1.data[0].id, 'number');
    // GET /products?offset=4&limit=2&sku=in.(...)&order=sku.asc
    const page3 = await dpAlice.getList('products', {
        pagination: { page: 3, perPage: 2 }, sort: { field: 'sku', order: 'ASC' }, filter: IN_DEMO,
    });
    assert.equal(page3.total, 5);
    assert.deepEqual(page3.data.map((r) => r.sku), ['PAINT-RED']);
    // GET /products?offset=0&limit=10&sku=in.(...)&order=sku.desc
    const desc = await dpAlice.getList('products', {
        pagination: { page: 1, perPage: 10 }, sort: { field: 'sku', order: 'DESC' }, filter: IN_DEMO,
    });
    assert.deepEqual(desc.data.map((r) => r.sku), [...DEMO_A_SKUS].reverse());
    // the default operator (eq) and an explicit one:
    // GET /products?offset=0&limit=10&sku=in.(...)&cost_method=eq.standard&order=sku.asc
    const std = await dpAlice.getList('products', {
        pagination: { page: 1, perPage: 10 }, sort: { field: 'sku', order: 'ASC' }, filter: { ...IN_DEMO, cost_method: 'standard' },
    });
    assert.equal(std.total, 1);
    assert.deepEqual(std.data.map((r) => r.sku), ['CABLE-2']);
    // ilike splits words and wraps them in *: name=ilike.*red*
    // GET /products?offset=0&limit=10&sku=in.(...)&name=ilike.*red*&order=sku.asc
    const red = await dpAlice.getList('products', {
        pagination: { page: 1, perPage: 10 }, sort: { field: 'sku', order: 'ASC' }, filter: { ...IN_DEMO, 'name@ilike': 'red' },
    });
    assert.deepEqual(red.data.map((r) => r.sku), ['FRAME-RED', 'PAINT-RED']);
    // '@or' groups its filters: or=(uom.eq.L,sku.eq.CABLE-2)
    // GET /products?offset=0&limit=10&sku=in.(...)&or=(uom.eq.L,sku.eq.CABLE-2)&order=sku.asc
    const or = await dpAlice.getList('products', {
        pagination: { page: 1, perPage: 10 }, sort: { field: 'sku', order: 'ASC' },
        filter: { ...IN_DEMO, '@or': { 'uom@eq': 'L', 'sku@eq': 'CABLE-2' } },
    });
    assert.deepEqual(or.data.map((r) => r.sku), ['CABLE-2', 'PAINT-RED']);
    // meta.columns picks the select list:
    // GET /products?offset=0&limit=1&sku=eq.BOLT-M8&order=sku.asc&select=id,sku
    const cols = await dpAlice.getList('products', {
        pagination: { page: 1, perPage: 1 }, sort: { field: 'sku', order: 'ASC' }, filter: { sku: 'BOLT-M8' }, meta: { columns: ['id', 'sku'] },
    });
    assert.deepEqual(Object.keys(cols.data[0]).sort(), ['id', 'sku']);
    // bob's product is not in alice's list
    // GET /products?offset=0&limit=10&sku=eq.GEAR-40&order=sku.asc
    const gear = await dpAlice.getList('products', {
        pagination: { page: 1, perPage: 10 }, sort: { field: 'sku', order: 'ASC' }, filter: { sku: 'GEAR-40' },
    });
    assert.equal(gear.total, 0);
    assert.deepEqual(gear.data, []);
});

test('getList of a function: rpc/valuation_report with an argument and filters', T, async () => {
    // an empty operator ('company@') passes the value bare: an RPC argument
    // GET /rpc/valuation_report?offset=0&limit=10&company=<A>&sku=in.(BOLT-M8,CABLE-2)&order=sku.asc  Prefer: count=exact
    const r = await dpAlice.getList('rpc/valuation_report', {
        pagination: { page: 1, perPage: 10 }, sort: { field: 'sku', order: 'ASC' },
        filter: { 'company@': C.a, 'sku@in': '(BOLT-M8,CABLE-2)' },
        meta: { columns: ['product_id', 'sku', 'qty'] },
    });
    assert.equal(r.total, 2);
    assert.deepEqual(r.data.map((x) => x.sku), ['BOLT-M8', 'CABLE-2']);
    for (const row of r.data) assert.equal(typeof row.qty, 'number');
});

test('getOne, and its 406 for a missing id', T, async () => {
    const bolt = ok(await alice.from('products').select('id').eq('sku', 'BOLT-M8').single());
    // GET /products?id=eq.<bolt>  Accept: application/vnd.pgrst.object+json
    const { data } = await dpAlice.getOne('products', { id: bolt.id });
    assert.equal(data.id, bolt.id);
    assert.equal(data.sku, 'BOLT-M8');
    assert.equal(data.name, 'Bolt M8');
    // GET /products?id=eq.-1  -> 406 PGRST116
    await rejects(dpAlice.getOne('products', { id: -1 }), 406, 'PGRST116');
    // embeds through meta.embed:
    // GET /products?id=eq.<bolt>&select=*,moves(*)  Accept: application/vnd.pgrst.object+json
    const p = await newProduct(alice, C.a);
    await receive(alice, p.id, 5, 1);
    const withMoves = await dpAlice.getOne('products', { id: p.id, meta: { embed: ['moves'] } });
    assert.equal(withMoves.data.moves.length, 1);
    assert.equal(withMoves.data.moves[0].qty, 5);
});

test('getMany: only the visible ids come back', T, async () => {
    const rows = ok(await admin.from('products').select('id,sku').in('sku', ['BOLT-M8', 'CABLE-2', 'GEAR-40']));
    const id = Object.fromEntries(rows.map((r) => [r.sku, r.id]));
    // GET /products?id=in.(<bolt>,<cable>,<gear>)
    const { data } = await dpAlice.getMany('products', { ids: [id['BOLT-M8'], id['CABLE-2'], id['GEAR-40']] });
    assert.deepEqual(data.map((r) => r.sku).sort(), ['BOLT-M8', 'CABLE-2']);
    // GET /products?id=eq.<gear>  (one id: eq)
    const one = await dpAdmin.getMany('products', { ids: [id['GEAR-40']] });
    assert.deepEqual(one.data.map((r) => r.sku), ['GEAR-40']);
    assert.deepEqual((await dpAlice.getMany('products', { ids: [] })).data, []);
});

test('getManyReference: moves of a product, paginated and sorted', T, async () => {
    const p = await newProduct(alice, C.a);
    await receive(alice, p.id, 10, 1, { ref: `REF-${RUN}-A` });
    await receive(alice, p.id, 4, 1, { ref: `REF-${RUN}-B` });
    await receive(alice, p.id, 7, 1, { ref: `REF-${RUN}-C` });
    // GET /moves?product_id=eq.<p>&order=qty.desc&offset=0&limit=2  Prefer: count=exact
    const first = await dpAlice.getManyReference('moves', {
        target: 'product_id', id: p.id, pagination: { page: 1, perPage: 2 }, sort: { field: 'qty', order: 'DESC' }, filter: {},
    });
    assert.equal(first.total, 3);
    assert.deepEqual(first.data.map((m) => m.qty), [10, 7]);
    // GET /moves?product_id=eq.<p>&order=qty.desc&offset=2&limit=2
    const second = await dpAlice.getManyReference('moves', {
        target: 'product_id', id: p.id, pagination: { page: 2, perPage: 2 }, sort: { field: 'qty', order: 'DESC' }, filter: {},
    });
    assert.deepEqual(second.data.map((m) => m.ref), [`REF-${RUN}-B`]);
    // with a filter: ...&ref=eq.REF-..-C
    const filtered = await dpAlice.getManyReference('moves', {
        target: 'product_id', id: p.id, pagination: { page: 1, perPage: 10 }, sort: { field: 'id', order: 'ASC' }, filter: { ref: `REF-${RUN}-C` },
    });
    assert.equal(filtered.total, 1);
    assert.equal(filtered.data[0].qty, 7);
    // meta.nullslast on getList: order=ref.desc.nullslast (one receipt without a ref)
    await receive(alice, p.id, 1, 1);
    // GET /moves?offset=0&limit=10&product_id=eq.<p>&order=ref.desc.nullslast  Prefer: count=exact
    const byRef = await dpAlice.getList('moves', {
        pagination: { page: 1, perPage: 10 }, sort: { field: 'ref', order: 'DESC' }, filter: { product_id: p.id }, meta: { nullslast: true },
    });
    assert.equal(byRef.total, 4);
    assert.deepEqual(byRef.data.map((m) => m.ref), [`REF-${RUN}-C`, `REF-${RUN}-B`, `REF-${RUN}-A`, null]);
});

test('create, and its 409 for a duplicate', T, async () => {
    const sku = uniq('RA');
    // POST /products  Accept: application/vnd.pgrst.object+json  Prefer: return=representation
    //   {"company_id":<A>,"sku":"T-..","name":"..","cost_method":"avco"}
    const { data } = await dpAlice.create('products', { data: { company_id: C.a, sku, name: `React admin ${RUN}`, cost_method: 'avco' } });
    assert.equal(typeof data.id, 'number');
    assert.equal(data.sku, sku);
    assert.equal(data.cost_method, 'avco');
    assert.equal(data.company_id, C.a);
    // the same SKU again: 409 23505
    await rejects(dpAlice.create('products', { data: { company_id: C.a, sku, name: 'again' } }), 409, '23505');
    // another company's: 403 42501
    await rejects(dpAlice.create('products', { data: { company_id: C.b, sku: uniq('RA'), name: 'elsewhere' } }), 403, '42501');
});

test('update and updateMany', T, async () => {
    const p = await newProduct(alice, C.a, { cost_method: 'standard', standard_price: 1 });
    const q = await newProduct(alice, C.a);
    const { data: prev } = await dpAlice.getOne('products', { id: p.id });
    // PATCH /products?id=eq.<p>  Accept: application/vnd.pgrst.object+json  Prefer: return=representation
    //   {"name":"..","standard_price":4.5}   (only the changed fields)
    const { data } = await dpAlice.update('products', {
        id: p.id, data: { ...prev, name: `Updated ${RUN}`, standard_price: 4.5 }, previousData: prev,
    });
    assert.equal(data.id, p.id);
    assert.equal(data.name, `Updated ${RUN}`);
    assert.equal(data.standard_price, 4.5);
    assert.equal(data.sku, p.sku);
    // PATCH /products?id=in.(<p>,<q>)  Prefer: return=representation  {"active":false}
    const many = await dpAlice.updateMany('products', { ids: [p.id, q.id], data: { active: false } });
    assert.deepEqual(many.data.sort((x, y) => x - y), [p.id, q.id].sort((x, y) => x - y));
    assert.deepEqual(ok(await alice.from('products').select('active').in('id', [p.id, q.id])), [{ active: false }, { active: false }]);
});

test('delete and deleteMany (reorder rules, as admin)', T, async () => {
    const wh = ok(await admin.from('warehouses').select('id').eq('code', 'A-WH').single());
    const ps = [await newProduct(alice, C.a), await newProduct(alice, C.a), await newProduct(alice, C.a)];
    const rules = [];
    for (const p of ps) {
        // POST /reorder_rules  Accept: application/vnd.pgrst.object+json  Prefer: return=representation
        const { data } = await dpAdmin.create('reorder_rules', {
            data: { company_id: C.a, product_id: p.id, warehouse_id: wh.id, min_qty: 1, max_qty: 3 },
        });
        assert.equal(data.product_id, p.id);
        rules.push(data);
    }
    // DELETE /reorder_rules?id=eq.<r0>  Accept: application/vnd.pgrst.object+json  Prefer: return=representation
    const del = await dpAdmin.delete('reorder_rules', { id: rules[0].id, previousData: rules[0] });
    assert.equal(del.data.id, rules[0].id);
    assert.equal(del.data.product_id, ps[0].id);
    // DELETE /reorder_rules?id=in.(<r1>,<r2>)  Prefer: return=representation
    const delMany = await dpAdmin.deleteMany('reorder_rules', { ids: [rules[1].id, rules[2].id] });
    assert.deepEqual(delMany.data.sort((x, y) => x - y), [rules[1].id, rules[2].id].sort((x, y) => x - y));
    assert.deepEqual(ok(await admin.from('reorder_rules').select('id').in('id', rules.map((r) => r.id))), []);
    // deleting what is gone: 406 from the object media type
    await rejects(dpAdmin.delete('reorder_rules', { id: rules[0].id, previousData: rules[0] }), 406, 'PGRST116');
});
