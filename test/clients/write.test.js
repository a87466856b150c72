// Writes through postgrest-js: insert (one, many, missing=default), upsert
// on company_id,sku (merge and ignore), update and delete with filters, the
// refusals (23505, 22023, no filter, max-affected) and tx=rollback, on the
// writable views: products, partners, warehouses, reorder_rules. Every row
// is new, with this run's SKUs and codes.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { T, RUN, as, ok, fails, companies, newProduct, uniq, skus } from './lib.js';

let alice;
let admin;
let C;
before(async () => {
    [alice, admin, C] = await Promise.all([as('alice'), as('admin'), companies()]);
});

test('insert one with select: 201 and the row', T, async () => {
    const sku = uniq('ONE');
    // POST /products?select=*  Prefer: return=representation
    //   {"company_id":<A>,"sku":"T-..","name":"Insert one","cost_method":"standard","standard_price":2.5}
    const res = await alice.from('products')
        .insert({ company_id: C.a, sku, name: `Insert one ${RUN}`, cost_method: 'standard', standard_price: 2.5 }).select();
    const rows = ok(res, 201);
    assert.equal(rows.length, 1);
    const r = rows[0];
    assert.equal(typeof r.id, 'number');
    assert.equal(r.company_id, C.a);
    assert.equal(r.sku, sku);
    assert.equal(r.name, `Insert one ${RUN}`);
    assert.equal(r.cost_method, 'standard');
    assert.equal(r.standard_price, 2.5);
    assert.equal(r.uom, 'Unit', 'the default unit');
    assert.equal(r.tracking, 'none');
    assert.equal(r.active, true);
    // GET /products?select=id&sku=eq.<sku>
    assert.deepEqual(ok(await alice.from('products').select('id').eq('sku', sku)), [{ id: r.id }]);
});

test('insert one without select: 201, no body', T, async () => {
    const sku = uniq('MIN');
    // POST /products  (no Prefer: return=minimal is PostgREST's default)
    const res = await alice.from('products').insert({ company_id: C.a, sku, name: 'Insert minimal' });
    ok(res, 201);
    assert.equal(res.data, null);
    assert.deepEqual(skus(ok(await alice.from('products').select('sku').eq('sku', sku))), [sku]);
});

test('insert many with select, and missing=default', T, async () => {
    const a = uniq('M'), b = uniq('M'), c = uniq('M');
    // POST /products?columns="company_id","sku","name","standard_price"&select=sku,standard_price  Prefer: return=representation
    //   [{...,"standard_price":1.5},{...,"standard_price":3}]
    const res = await alice.from('products').insert([
        { company_id: C.a, sku: a, name: 'Many one', standard_price: 1.5 },
        { company_id: C.a, sku: b, name: 'Many two', standard_price: 3 },
    ]).select('sku,standard_price');
    const rows = ok(res, 201);
    assert.deepEqual(rows.sort((x, y) => x.sku.localeCompare(y.sku)), [{ sku: a, standard_price: 1.5 }, { sku: b, standard_price: 3 }]);
    // POST /products?columns="company_id","sku","name","cost_method"&select=sku,cost_method  Prefer: missing=default, return=representation
    //   [{...,"cost_method":"avco"},{... no cost_method}]  -> the second takes the column default (fifo)
    const res2 = await alice.from('products').insert([
        { company_id: C.a, sku: c, name: 'Defaults', cost_method: 'avco' },
        { company_id: C.a, sku: `${c}-D`, name: 'Defaults too' },
    ], { defaultToNull: false }).select('sku,cost_method');
    const rows2 = ok(res2, 201).sort((x, y) => x.sku.localeCompare(y.sku));
    assert.deepEqual(rows2, [{ sku: c, cost_method: 'avco' }, { sku: `${c}-D`, cost_method: 'fifo' }]);
});

test('insert refusals: 23505 (409), 22023 (400), nothing left behind', T, async () => {
    const p = await newProduct(alice, C.a);
    // POST /products {"company_id":<A>,"sku":<existing>,"name":"dup"}
    const dup = await alice.from('products').insert({ company_id: C.a, sku: p.sku, name: 'dup' });
    const e = fails(dup, '23505', 409);
    assert.match(e.message, new RegExp(`SKU '${p.sku}' already exists`));
    // POST /products {"company_id":<A>,"sku":"T-..","name":"bad","cost_method":"lifo"}
    const bad = await alice.from('products').insert({ company_id: C.a, sku: uniq('BAD'), name: 'bad', cost_method: 'lifo' });
    const e2 = fails(bad, '22023', 400);
    assert.equal(e2.message, "invalid cost method 'lifo'");
    assert.equal(e2.details, 'The cost methods are fifo, avco and standard.');
    assert.ok('hint' in e2, 'the error body has code, message, details, hint');
    // the failed request left nothing behind
    // GET /products?select=id&name=eq.bad&sku=like.T-<run>-*
    assert.deepEqual(ok(await alice.from('products').select('id').eq('name', 'bad').like('sku', `T-${RUN}-*`)), []);
});

test('count=exact on insert and update: the affected total in Content-Range (*/N)', T, async () => {
    // POST /products?select=sku  Prefer: count=exact, return=representation   -> Content-Range: */1
    const counted = await alice.from('products').insert({ company_id: C.a, sku: uniq('CNT'), name: 'counted' }, { count: 'exact' }).select('sku');
    ok(counted, 201);
    assert.equal(counted.count, 1);
    const p = await newProduct(alice, C.a);
    const q = await newProduct(alice, C.a);
    // PATCH /products?id=in.(<p>,<q>)&select=id  Prefer: count=exact, return=representation  {"active":false}  -> */2
    const both = await alice.from('products').update({ active: false }, { count: 'exact' }).in('id', [p.id, q.id]).select('id');
    assert.equal(ok(both, 200).length, 2);
    assert.equal(both.count, 2);
});

test('upsert on company_id,sku: merge updates, ignore keeps', T, async () => {
    const p = await newProduct(alice, C.a, { name: 'Before upsert', standard_price: 1 });
    const fresh = uniq('UP');
    // POST /products?on_conflict=company_id,sku&columns="company_id","sku","name"&select=id,sku,name
    //   Prefer: resolution=merge-duplicates, return=representation
    //   [{"company_id":<A>,"sku":<existing>,"name":"After upsert"},{"company_id":<A>,"sku":<new>,"name":"Upserted new"}]
    const res = await alice.from('products').upsert([
        { company_id: C.a, sku: p.sku, name: 'After upsert' },
        { company_id: C.a, sku: fresh, name: 'Upserted new' },
    ], { onConflict: 'company_id,sku' }).select('id,sku,name');
    const rows = ok(res, 201).sort((x, y) => x.sku.localeCompare(y.sku));
    const bySku = Object.fromEntries(rows.map((r) => [r.sku, r]));
    assert.equal(rows.length, 2);
    assert.deepEqual(bySku[p.sku], { id: p.id, sku: p.sku, name: 'After upsert' }, 'same row, merged');
    assert.equal(bySku[fresh].name, 'Upserted new');
    assert.notEqual(bySku[fresh].id, p.id);
    // one object (no columns=):
    // POST /products?on_conflict=company_id,sku&select=name  Prefer: resolution=merge-duplicates, return=representation
    const one = await alice.from('products').upsert({ company_id: C.a, sku: p.sku, name: 'Upserted again' }, { onConflict: 'company_id,sku' })
        .select('name').single();
    assert.deepEqual(ok(one, 201), { name: 'Upserted again' });
    // ignore-duplicates: the existing row is kept and not returned
    // POST /products?on_conflict=company_id,sku&select=sku  Prefer: resolution=ignore-duplicates, return=representation
    const ign = await alice.from('products').upsert({ company_id: C.a, sku: p.sku, name: 'Ignored' }, { onConflict: 'company_id,sku', ignoreDuplicates: true })
        .select('sku');
    assert.deepEqual(ok(ign, 201), []);
    assert.deepEqual(ok(await alice.from('products').select('name').eq('id', p.id)), [{ name: 'Upserted again' }]);
});

test('update with filters: name, standard_price, cost_method, active', T, async () => {
    const p = await newProduct(alice, C.a, { cost_method: 'standard', standard_price: 2 });
    const q = await newProduct(alice, C.a);
    // PATCH /products?id=eq.<p>&select=id,name,standard_price  Prefer: return=representation  {"name":"Renamed","standard_price":3.25}
    const res = await alice.from('products').update({ name: `Renamed ${RUN}`, standard_price: 3.25 }).eq('id', p.id).select('id,name,standard_price');
    assert.deepEqual(ok(res, 200), [{ id: p.id, name: `Renamed ${RUN}`, standard_price: 3.25 }]);
    // PATCH /products?id=eq.<q>  {"cost_method":"avco"}   -> 204, no body
    const min = await alice.from('products').update({ cost_method: 'avco' }).eq('id', q.id);
    ok(min, 204);
    assert.equal(min.data, null);
    // PATCH /products?id=in.(<p>,<q>)&select=id,active  Prefer: return=representation  {"active":false}
    const both = await alice.from('products').update({ active: false }).in('id', [p.id, q.id]).select('id,active');
    const rows = ok(both, 200).sort((x, y) => x.id - y.id);
    assert.deepEqual(rows, [{ id: p.id, active: false }, { id: q.id, active: false }].sort((x, y) => x.id - y.id));
    // GET /products?select=cost_method,active&id=eq.<q>
    assert.deepEqual(ok(await alice.from('products').select('cost_method,active').eq('id', q.id)), [{ cost_method: 'avco', active: false }]);
    // a filter that matches nothing: 200 and []
    // PATCH /products?id=eq.-1&select=id  {"name":"nobody"}
    assert.deepEqual(ok(await alice.from('products').update({ name: 'nobody' }).eq('id', -1).select('id'), 200), []);
    // a bad value: 22023
    // PATCH /products?id=eq.<p>  {"cost_method":"lifo"}
    fails(await alice.from('products').update({ cost_method: 'lifo' }).eq('id', p.id), '22023', 400);
    // a column that is not writable: 428C9, 400
    // PATCH /products?id=eq.<p>  {"sku":"other"}
    const ro = fails(await alice.from('products').update({ sku: `${p.sku}-X` }).eq('id', p.id), '428C9', 400);
    assert.equal(ro.message, 'column "sku" of api.products cannot be updated');
    // POST with a generated column: 428C9
    // POST /products {"id":1,"company_id":<A>,"sku":"T-..","name":".."}
    fails(await alice.from('products').insert({ id: 1, company_id: C.a, sku: uniq('GEN'), name: 'with id' }), '428C9', 400);
});

test('update and delete without a filter are refused with 400', T, async () => {
    // PATCH /products  {"name":"everything"}   (no filter: refused, unlike PostgREST)
    const upd = await alice.from('products').update({ name: 'everything' });
    const e = fails(upd, '21000', 400);
    assert.equal(e.hint, 'Add a filter, for example ?id=eq.1.');
    // DELETE /reorder_rules   (no filter)
    const del = await admin.from('reorder_rules').delete();
    fails(del, '21000', 400);
    // nothing was renamed
    assert.deepEqual(ok(await alice.from('products').select('name').eq('sku', 'BOLT-M8')), [{ name: 'Bolt M8' }]);
});

test('maxAffected refuses a larger update (PGRST124) and changes nothing', T, async () => {
    const p = await newProduct(alice, C.a, { name: `Cap ${RUN}` });
    const q = await newProduct(alice, C.a, { name: `Cap ${RUN}` });
    // PATCH /products?id=in.(<p>,<q>)&select=id  Prefer: return=representation, handling=strict, max-affected=1  {"name":"capped"}
    const res = await alice.from('products').update({ name: 'capped' }).in('id', [p.id, q.id]).select('id').maxAffected(1);
    fails(res, 'PGRST124', 400);
    assert.deepEqual(ok(await alice.from('products').select('name').in('id', [p.id, q.id])), [{ name: `Cap ${RUN}` }, { name: `Cap ${RUN}` }]);
    // within the cap it is applied
    // PATCH /products?id=eq.<p>&select=name  Prefer: return=representation, handling=strict, max-affected=1
    assert.deepEqual(ok(await alice.from('products').update({ name: 'capped' }).eq('id', p.id).select('name').maxAffected(1), 200),
        [{ name: 'capped' }]);
});

test('rollback(): tx=rollback answers as if written, keeps nothing', T, async () => {
    const sku = uniq('RB');
    // POST /products?select=sku  Prefer: return=representation, tx=rollback
    const res = await alice.from('products').insert({ company_id: C.a, sku, name: 'Rolled back' }).select('sku').rollback();
    assert.deepEqual(ok(res, 201), [{ sku }]);
    assert.deepEqual(ok(await alice.from('products').select('sku').eq('sku', sku)), []);
});

test('partners: POST with e-mail and phone, PATCH', T, async () => {
    const email = `buyer-${RUN.toLowerCase()}@example.com`;
    // POST /partners?select=*  Prefer: return=representation
    //   {"company_id":<A>,"name":"Client test partner ..","kind":"customer","email":"buyer-..@example.com","phone":"+1 555 0199"}
    const res = await alice.from('partners')
        .insert({ company_id: C.a, name: `Client test partner ${RUN}`, kind: 'customer', email, phone: '+1 555 0199' }).select().single();
    const p = ok(res, 201);
    assert.equal(typeof p.id, 'number');
    assert.equal(p.company_id, C.a);
    assert.equal(p.kind, 'customer');
    assert.equal(p.active, true);
    // alice reads her own write masked (no decrypt permission) ...
    assert.equal(p.email, `b***@example.com`);
    // ... admin in clear: it was stored encrypted, not masked
    // GET /partners?select=email,phone&id=eq.<p>  as admin
    assert.deepEqual(ok(await admin.from('partners').select('email,phone').eq('id', p.id)), [{ email, phone: '+1 555 0199' }]);
    // PATCH /partners?id=eq.<p>&select=name,kind  {"name":"..renamed","kind":"both"}
    const upd = await alice.from('partners').update({ name: `Client test partner ${RUN} renamed`, kind: 'both' }).eq('id', p.id).select('name,kind');
    assert.deepEqual(ok(upd, 200), [{ name: `Client test partner ${RUN} renamed`, kind: 'both' }]);
    // a bad e-mail is refused by the pack's check
    // POST /partners {"company_id":<A>,"name":"..","email":"not-an-email"}
    fails(await alice.from('partners').insert({ company_id: C.a, name: `Bad mail ${RUN}`, email: 'not-an-email' }), '22023', 400);
});

test('warehouses: POST makes the warehouse and its location', T, async () => {
    const code = `TW${RUN}`.slice(0, 16);
    // POST /warehouses?select=*  {"company_id":<A>,"code":"TW..","name":".."}
    const w = ok(await alice.from('warehouses').insert({ company_id: C.a, code, name: `Client test warehouse ${RUN}` }).select().single(), 201);
    assert.equal(w.code, code);
    assert.equal(w.company_id, C.a);
    assert.equal(typeof w.location_id, 'number');
    // GET /locations?select=usage,warehouse_id&id=eq.<location>
    assert.deepEqual(ok(await alice.from('locations').select('usage,warehouse_id').eq('id', w.location_id)), [{ usage: 'internal', warehouse_id: w.id }]);
    // the same code again: 23505
    fails(await alice.from('warehouses').insert({ company_id: C.a, code, name: 'again' }), '23505', 409);
});

test('reorder_rules: POST, PATCH, DELETE with filters (admin)', T, async () => {
    const p = await newProduct(alice, C.a);
    const wh = ok(await admin.from('warehouses').select('id').eq('code', 'A-WH').single());
    // POST /reorder_rules?select=*  {"company_id":<A>,"product_id":<p>,"warehouse_id":<wh>,"min_qty":10,"max_qty":50,"multiple":5}
    const rule = ok(await admin.from('reorder_rules')
        .insert({ company_id: C.a, product_id: p.id, warehouse_id: wh.id, min_qty: 10, max_qty: 50, multiple: 5 }).select().single(), 201);
    assert.equal(rule.product_id, p.id);
    assert.equal(rule.min_qty, 10);
    assert.equal(rule.max_qty, 50);
    assert.equal(rule.multiple, 5);
    assert.equal(rule.trigger, 'auto');
    assert.equal(rule.active, true);
    // a second rule for the same product and warehouse: 23505
    fails(await admin.from('reorder_rules').insert({ company_id: C.a, product_id: p.id, warehouse_id: wh.id, min_qty: 1, max_qty: 2 }), '23505', 409);
    // PATCH /reorder_rules?id=eq.<rule>&select=min_qty,max_qty  {"min_qty":20,"max_qty":80}
    assert.deepEqual(ok(await admin.from('reorder_rules').update({ min_qty: 20, max_qty: 80 }).eq('id', rule.id).select('min_qty,max_qty'), 200),
        [{ min_qty: 20, max_qty: 80 }]);
    // DELETE /reorder_rules?id=eq.<rule>&product_id=eq.<p>&select=id,min_qty  Prefer: return=representation
    const del = await admin.from('reorder_rules').delete().eq('id', rule.id).eq('product_id', p.id).select('id,min_qty');
    assert.deepEqual(ok(del, 200), [{ id: rule.id, min_qty: 20 }]);
    // DELETE again: nothing left; 204 without representation
    // DELETE /reorder_rules?id=eq.<rule>
    ok(await admin.from('reorder_rules').delete().eq('id', rule.id), 204);
    assert.deepEqual(ok(await admin.from('reorder_rules').select('id').eq('id', rule.id)), []);
});

test('read-only resources refuse writes', T, async () => {
    // POST /moves {"company_id":<A>,"product_id":1,"qty":1}   moves change only through the functions
    const res = await alice.from('moves').insert({ company_id: C.a, qty: 1 });
    assert.notEqual(res.error, null);
    assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
    // DELETE /products?id=eq.-1   products are not deletable over HTTP
    const del = await alice.from('products').delete().eq('id', -1);
    assert.notEqual(del.error, null);
    assert.ok(del.status >= 400 && del.status < 500, `status ${del.status}`);
});
