// Company isolation over HTTP: alice (stock manager of Subsidiary A) and bob
// (of Subsidiary B) never see, change or create each other's rows; admin (of
// the group, with its subsidiaries) sees both. Row security does it: the api
// views are security_invoker.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { T, RUN, DEMO_A_SKUS, DEMO_B_SKUS, as, ok, fails, companies, newProduct, receive, skus, uniq } from './lib.js';

let alice;
let bob;
let admin;
let C;
before(async () => {
    [alice, bob, admin, C] = await Promise.all([as('alice'), as('bob'), as('admin'), companies()]);
});

const ALL = [...DEMO_A_SKUS, ...DEMO_B_SKUS];

test('products: each sees their company, admin sees both', T, async () => {
    // GET /products?select=sku&sku=in.(BOLT-M8,...,GEAR-40)&order=sku.asc   as alice, bob, admin
    const q = (db) => db.from('products').select('sku').in('sku', ALL).order('sku');
    assert.deepEqual(skus(ok(await q(alice))), DEMO_A_SKUS);
    assert.deepEqual(skus(ok(await q(bob))), DEMO_B_SKUS);
    assert.deepEqual(skus(ok(await q(admin))), [...ALL].sort());
});

test('an unfiltered read as alice has only her company rows', T, async () => {
    // GET /products?select=company_id   (no filter)
    const rows = ok(await alice.from('products').select('company_id'));
    assert.ok(rows.length >= DEMO_A_SKUS.length);
    assert.deepEqual([...new Set(rows.map((r) => r.company_id))], [C.a]);
    // GET /moves?select=company_id&limit=1000
    const moves = ok(await alice.from('moves').select('company_id').limit(1000));
    assert.ok(moves.length > 0);
    assert.deepEqual([...new Set(moves.map((r) => r.company_id))], [C.a]);
    // GET /warehouses?select=code,company_id&code=in.(A-WH,B-WH)
    assert.deepEqual(ok(await alice.from('warehouses').select('code,company_id').in('code', ['A-WH', 'B-WH'])),
        [{ code: 'A-WH', company_id: C.a }]);
    // GET /companies?select=name&order=name.asc
    assert.deepEqual(ok(await alice.from('companies').select('name').order('name')), [{ name: 'Subsidiary A' }]);
    assert.deepEqual(ok(await bob.from('companies').select('name').order('name')), [{ name: 'Subsidiary B' }]);
    const adminCompanies = ok(await admin.from('companies').select('name').in('name', ['Demo Group', 'Subsidiary A', 'Subsidiary B']).order('name'));
    assert.deepEqual(adminCompanies.map((c) => c.name), ['Demo Group', 'Subsidiary A', 'Subsidiary B']);
});

test("bob's rows by id are invisible to alice: [] and PGRST116", T, async () => {
    // GET /products?select=id&sku=eq.GEAR-40  as bob
    const gear = ok(await bob.from('products').select('id').eq('sku', 'GEAR-40').single());
    // GET /products?select=sku&id=eq.<gear>  as alice
    assert.deepEqual(ok(await alice.from('products').select('sku').eq('id', gear.id)), []);
    // Accept: application/vnd.pgrst.object+json
    fails(await alice.from('products').select('sku').eq('id', gear.id).single(), 'PGRST116', 406);
    // GET /moves?select=id&product_id=eq.<gear>&limit=1
    assert.deepEqual(ok(await alice.from('moves').select('id').eq('product_id', gear.id).limit(1)), []);
    // HEAD /moves?select=*&product_id=eq.<gear>  Prefer: count=exact
    const cnt = await alice.from('moves').select('*', { count: 'exact', head: true }).eq('product_id', gear.id);
    ok(cnt);
    assert.equal(cnt.count, 0);
    const bobCnt = await bob.from('moves').select('*', { count: 'exact', head: true }).eq('product_id', gear.id);
    ok(bobCnt);
    assert.ok(bobCnt.count >= 24, `bob sees the demo's gear moves (${bobCnt.count})`);
    // embedding does not leak either: alice's valuation layers of bob's product
    // GET /valuation_layers?select=id&product_id=eq.<gear>
    assert.deepEqual(ok(await alice.from('valuation_layers').select('id').eq('product_id', gear.id)), []);
});

test('partners: own company only, e-mail masked without the decrypt permission', T, async () => {
    // GET /partners?select=name,email,phone&order=name.asc&name=in.("Acme Supplies","Northwind Retail","Globex GmbH",Initech)
    const names = ['Acme Supplies', 'Northwind Retail', 'Globex GmbH', 'Initech'];
    const q = (db) => db.from('partners').select('name,email').in('name', names).order('name');
    const mine = ok(await q(alice));
    assert.deepEqual(mine.map((p) => p.name), ['Acme Supplies', 'Northwind Retail']);
    // stock_manager holds erp.partner:* but not erp.partner.email:decrypt
    assert.equal(mine[0].email, 's***@acme.example');
    assert.equal(mine[1].email, 'b***@northwind.example');
    assert.deepEqual(ok(await q(bob)).map((p) => p.name), ['Globex GmbH', 'Initech']);
    // admin's * covers decrypt
    const all = ok(await q(admin));
    assert.deepEqual(all.map((p) => [p.name, p.email]), [
        ['Acme Supplies', 'sales@acme.example'],
        ['Globex GmbH', 'info@globex.example'],
        ['Initech', null],
        ['Northwind Retail', 'buyer@northwind.example'],
    ]);
});

test('writes across companies: create refused (42501, 403), update and delete reach nothing', T, async () => {
    // POST /products {"company_id":<B>,"sku":"T-..","name":".."}  Prefer: return=representation  as alice
    const ins = await alice.from('products').insert({ company_id: C.b, sku: uniq('X'), name: 'cross-company' }).select();
    fails(ins, '42501', 403);

    const p = await newProduct(alice, C.a, { name: `Isolation ${RUN}` });
    // PATCH /products?id=eq.<alice's product>&select=*  {"name":"hijacked"}  as bob
    const upd = await bob.from('products').update({ name: 'hijacked' }).eq('id', p.id).select();
    assert.deepEqual(ok(upd, 200), []);
    // GET /products?select=name&id=eq.<p>  as alice: unchanged
    assert.deepEqual(ok(await alice.from('products').select('name').eq('id', p.id)), [{ name: p.name }]);

    // rpc/receive of alice's product as bob: the product does not exist for him (22023)
    // POST /rpc/receive {"product":<p>,"qty":1,"unit_cost":1}
    const rcv = await bob.rpc('receive', { product: p.id, qty: 1, unit_cost: 1 });
    fails(rcv, '22023', 400);
    assert.match(rcv.error.message, new RegExp(`product ${p.id} does not exist`));
    // alice's valuation report of B: row security leaves it empty
    // POST /rpc/valuation_report {"company":<B>}
    assert.deepEqual(ok(await alice.rpc('valuation_report', { company: C.b })), []);
});

test('reorder rules need mrp permissions: alice neither sees nor deletes them', T, async () => {
    const p = await newProduct(alice, C.a);
    // GET /warehouses?select=id&code=eq.A-WH  as admin
    const wh = ok(await admin.from('warehouses').select('id').eq('code', 'A-WH').single());
    // POST /reorder_rules {"company_id":<A>,"product_id":<p>,"warehouse_id":<A-WH>,"min_qty":5,"max_qty":20}  as admin
    const rule = ok(await admin.from('reorder_rules').insert({ company_id: C.a, product_id: p.id, warehouse_id: wh.id, min_qty: 5, max_qty: 20 })
        .select().single(), 201);
    // GET /reorder_rules?select=id&id=eq.<rule>  as alice
    assert.deepEqual(ok(await alice.from('reorder_rules').select('id').eq('id', rule.id)), []);
    // DELETE /reorder_rules?id=eq.<rule>&select=*  as alice: nothing visible, nothing deleted
    assert.deepEqual(ok(await alice.from('reorder_rules').delete().eq('id', rule.id).select()), []);
    // POST /reorder_rules as alice: 42501
    const p2 = await newProduct(alice, C.a);
    fails(await alice.from('reorder_rules').insert({ company_id: C.a, product_id: p2.id, warehouse_id: wh.id, min_qty: 1, max_qty: 2 }),
        '42501', 403);
    // admin still has it, and removes it
    // DELETE /reorder_rules?id=eq.<rule>&select=id  as admin
    assert.deepEqual(ok(await admin.from('reorder_rules').delete().eq('id', rule.id).select('id')), [{ id: rule.id }]);
});

test('admin sees moves of both companies in one read', T, async () => {
    const pa = await newProduct(alice, C.a);
    const m = await receive(alice, pa.id, 2, 1);
    // GET /moves?select=company_id&or=(id.eq.<m>,and(company_id.eq.<B>,ref.eq.PO-B-0))  as admin
    const rows = ok(await admin.from('moves').select('company_id').or(`id.eq.${m.id},and(company_id.eq.${C.b},ref.eq.PO-B-0)`));
    assert.deepEqual([...new Set(rows.map((r) => r.company_id))].sort((x, y) => x - y), [C.a, C.b].sort((x, y) => x - y));
});
