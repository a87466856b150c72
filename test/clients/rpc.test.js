// Functions over HTTP through postgrest-js's rpc(): POST with named
// arguments (defaults omitted), GET with {get:true} for STABLE functions,
// HEAD with {head:true} and counts, SETOF results with filters, scalar
// results, jobs and their jsonb arguments (contains, containedBy, JSON
// paths), and the errors: 404 PGRST202, 405 for GET of a VOLATILE function.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { T, RUN, as, ok, fails, companies, newProduct, receive, warehouseA } from './lib.js';

let alice;
let admin;
let C;
before(async () => {
    [alice, admin, C] = await Promise.all([as('alice'), as('admin'), companies()]);
});

const daysAgo = (n) => new Date(Date.now() - n * 86400000).toISOString();

test('receive returns the move', T, async () => {
    const p = await newProduct(alice, C.a);
    const wh = await warehouseA();
    // POST /rpc/receive {"product":<p>,"qty":10,"unit_cost":2.5,"warehouse":<A-WH>,"ref":"RCV-.."}
    const res = await alice.rpc('receive', { product: p.id, qty: 10, unit_cost: 2.5, warehouse: wh, ref: `RCV-${RUN}` });
    const m = ok(res, 200);
    assert.equal(Array.isArray(m), false, 'one move, not a set');
    assert.equal(typeof m.id, 'number');
    assert.equal(m.company_id, C.a);
    assert.equal(m.product_id, p.id);
    assert.equal(m.qty, 10);
    assert.equal(m.unit_cost, 2.5);
    assert.equal(m.value, 25);
    assert.equal(m.state, 'done');
    assert.equal(m.ref, `RCV-${RUN}`);
    // GET /moves?select=id,qty,state&id=eq.<m>
    assert.deepEqual(ok(await alice.from('moves').select('id,qty,state').eq('id', m.id)), [{ id: m.id, qty: 10, state: 'done' }]);
    // select on a function's composite result:
    // POST /rpc/receive?select=qty,value  {"product":<p>,"qty":2,"unit_cost":3,"warehouse":<A-WH>}
    const picked = await alice.rpc('receive', { product: p.id, qty: 2, unit_cost: 3, warehouse: wh }).select('qty,value');
    assert.deepEqual(ok(picked, 200), { qty: 2, value: 6 });
    // quants follow
    // GET /quants?select=quantity&product_id=eq.<p>
    const quants = ok(await alice.from('quants').select('quantity').eq('product_id', p.id));
    assert.equal(quants.reduce((s, q) => s + Number(q.quantity), 0), 12);
});

test('receive refuses bad arguments: 22023 and 404 PGRST202', T, async () => {
    const p = await newProduct(alice, C.a);
    // POST /rpc/receive {"product":<p>,"qty":-1,"unit_cost":1,"warehouse":<A-WH>}
    const neg = await alice.rpc('receive', { product: p.id, qty: -1, unit_cost: 1, warehouse: await warehouseA() });
    fails(neg, '22023', 400);
    // a missing required argument: no function with those names
    // POST /rpc/receive {"product":<p>}
    fails(await alice.rpc('receive', { product: p.id }), 'PGRST202', 404);
    // POST /rpc/no_such_function {}
    fails(await alice.rpc('no_such_function', {}), 'PGRST202', 404);
    // nothing was received
    assert.deepEqual(ok(await alice.from('moves').select('id').eq('product_id', p.id)), []);
});

test('valuation_report: SETOF with filters, order, limit; as of a date', T, async () => {
    const p = await newProduct(alice, C.a, { name: `Valued ${RUN}` });
    const q = await newProduct(alice, C.a, { name: `Valued too ${RUN}` });
    await receive(alice, p.id, 10, 2.5, { ref: `V1-${RUN}`, date: daysAgo(10) });
    await receive(alice, p.id, 4, 3, { ref: `V2-${RUN}`, date: daysAgo(5) });
    await receive(alice, q.id, 1, 7, { date: daysAgo(5) });

    // POST /rpc/valuation_report?product_id=eq.<p>  {"company":<A>}
    const now = ok(await alice.rpc('valuation_report', { company: C.a }).eq('product_id', p.id), 200);
    assert.deepEqual(now, [{ product_id: p.id, sku: p.sku, qty: 14, value: 37, unit_cost: 2.64 }]);

    // POST /rpc/valuation_report?product_id=eq.<p>  {"company":<A>,"at":"<7 days ago>"}
    const then = ok(await alice.rpc('valuation_report', { company: C.a, at: daysAgo(7) }).eq('product_id', p.id));
    assert.deepEqual(then, [{ product_id: p.id, sku: p.sku, qty: 10, value: 25, unit_cost: 2.5 }]);
    // before anything: zero and no unit cost
    const before = ok(await alice.rpc('valuation_report', { company: C.a, at: daysAgo(20) }).eq('product_id', p.id));
    assert.deepEqual(before, [{ product_id: p.id, sku: p.sku, qty: 0, value: 0, unit_cost: null }]);

    // filters, order and limit on the set:
    // POST /rpc/valuation_report?select=sku,value&product_id=in.(<p>,<q>)&order=value.asc&limit=1  {"company":<A>}
    const cheapest = ok(await alice.rpc('valuation_report', { company: C.a }).select('sku,value')
        .in('product_id', [p.id, q.id]).order('value', { ascending: true }).limit(1));
    assert.deepEqual(cheapest, [{ sku: q.sku, value: 7 }]);
});

test('rpc with GET ({get:true}) and HEAD ({head:true}) for a STABLE function', T, async () => {
    const p = await newProduct(alice, C.a);
    await receive(alice, p.id, 3, 4);
    // GET /rpc/valuation_report?company=<A>&product_id=eq.<p>
    const got = await alice.rpc('valuation_report', { company: C.a }, { get: true }).eq('product_id', p.id);
    assert.deepEqual(ok(got, 200), [{ product_id: p.id, sku: p.sku, qty: 3, value: 12, unit_cost: 4 }]);
    // GET /rpc/valuation_report?company=<A>&sku=eq.<sku>  Accept: application/vnd.pgrst.object+json
    const single = await alice.rpc('valuation_report', { company: C.a }, { get: true }).eq('sku', p.sku).single();
    assert.deepEqual(ok(single, 200), { product_id: p.id, sku: p.sku, qty: 3, value: 12, unit_cost: 4 });
    // HEAD /rpc/valuation_report?company=<A>&product_id=eq.<p>  Prefer: count=exact
    const head = await alice.rpc('valuation_report', { company: C.a }, { head: true, count: 'exact' }).eq('product_id', p.id);
    ok(head, 200);
    assert.equal(head.data, null);
    assert.equal(head.count, 1);
    // POST with count: the rows and the count
    // POST /rpc/valuation_report?product_id=eq.<p>  Prefer: count=exact  {"company":<A>}
    const counted = await alice.rpc('valuation_report', { company: C.a }, { count: 'exact' }).eq('product_id', p.id);
    assert.equal(ok(counted).length, 1);
    assert.equal(counted.count, 1);
    // csv of a function
    // POST /rpc/valuation_report?select=sku,qty&product_id=eq.<p>  Accept: text/csv  {"company":<A>}
    const csv = ok(await alice.rpc('valuation_report', { company: C.a }).select('sku,qty').eq('product_id', p.id).csv());
    const lines = csv.replace(/\r\n/g, '\n').replace(/\n$/, '').split('\n');
    assert.equal(lines.length, 2, csv);
    assert.equal(lines[0], 'sku,qty');
    const [sku, qty] = lines[1].split(',');
    assert.equal(sku, p.sku);
    assert.equal(Number(qty), 3, 'qty as numeric text, whatever its scale');
});

test('GET of a VOLATILE function is 405, and does nothing', T, async () => {
    const p = await newProduct(alice, C.a);
    // GET /rpc/receive?product=<p>&qty=1&unit_cost=1
    const res = await alice.rpc('receive', { product: p.id, qty: 1, unit_cost: 1 }, { get: true });
    fails(res, 'PGRST101', 405);
    assert.deepEqual(ok(await alice.from('moves').select('id').eq('product_id', p.id)), []);
});

test('a composite result is one object: bom_cost', T, async () => {
    // GET /products?select=id&sku=eq.FRAME-RED
    const frame = ok(await admin.from('products').select('id').eq('sku', 'FRAME-RED').single());
    // GET /rpc/bom_cost?product=<frame>   (STABLE: GET allowed)
    const c = ok(await admin.rpc('bom_cost', { product: frame.id }, { get: true }), 200);
    assert.equal(Array.isArray(c), false);
    assert.deepEqual(Object.keys(c).sort(), ['batch_qty', 'components_cost', 'operations_cost', 'total_cost', 'unit_cost']);
    assert.equal(c.batch_qty, 1);
    assert.ok(c.components_cost > 0, `components_cost ${c.components_cost}`);
    assert.ok(c.operations_cost > 0, 'welding and painting cost something');
    assert.ok(Math.abs(c.total_cost - (c.components_cost + c.operations_cost)) < 0.01, JSON.stringify(c));
    assert.ok(Math.abs(c.unit_cost - c.total_cost / c.batch_qty) < 0.01, JSON.stringify(c));
    // POST /rpc/bom_cost {"product":<frame>}: the same
    assert.deepEqual(ok(await admin.rpc('bom_cost', { product: frame.id })), c);
});

test('jobs: replenish enqueues, jsonb filters (contains, containedBy, ->>), cancel_job', T, async () => {
    // POST /rpc/replenish {"company":<A>,"dry_run":true}  -> the job id
    const job = ok(await admin.rpc('replenish', { company: C.a, dry_run: true }), 200);
    assert.equal(typeof job, 'number', `replenish returned ${JSON.stringify(job)}`);
    // GET /jobs?select=id,kind,args,status&id=eq.<job>
    const row = ok(await admin.from('jobs').select('id,kind,args,status').eq('id', job).single());
    assert.equal(row.kind, 'mrp.replenish');
    assert.equal(Number(row.args.company), C.a);
    // GET /jobs?select=id&id=eq.<job>&args=cs.{"company":<A>}   (postgrest-js writes the object as JSON)
    assert.deepEqual(ok(await admin.from('jobs').select('id').eq('id', job).contains('args', { company: row.args.company })), [{ id: job }]);
    // GET /jobs?select=id&id=eq.<job>&args=cs.{"company":-1}
    assert.deepEqual(ok(await admin.from('jobs').select('id').eq('id', job).contains('args', { company: -1 })), []);
    // GET /jobs?select=id&id=eq.<job>&args=cd.{<args>,"extra":1}
    assert.deepEqual(ok(await admin.from('jobs').select('id').eq('id', job).containedBy('args', { ...row.args, extra: 1 })), [{ id: job }]);
    // GET /jobs?select=id&id=eq.<job>&args=cd.{}
    assert.deepEqual(ok(await admin.from('jobs').select('id').eq('id', job).containedBy('args', {})), []);
    // JSON paths in select and filters:
    // GET /jobs?select=id,company:args->>company&id=eq.<job>&args->>company=eq.<A>
    assert.deepEqual(ok(await admin.from('jobs').select('id, company:args->>company').eq('id', job).eq('args->>company', String(row.args.company))),
        [{ id: job, company: String(row.args.company) }]);
    // alice enqueued nothing and lacks erp.job:read: she sees no such job
    assert.deepEqual(ok(await alice.from('jobs').select('id').eq('id', job)), []);
    if (row.status === 'queued') {
        // POST /rpc/cancel_job {"job":<job>}  -> the jobs row, cancelled
        const c = ok(await admin.rpc('cancel_job', { job }), 200);
        assert.equal(c.id, job);
        assert.equal(c.status, 'cancelled');
        assert.deepEqual(ok(await admin.from('jobs').select('status').eq('id', job)), [{ status: 'cancelled' }]);
    }
});

test('overlaps: the api has no array or range column; && on jsonb is the database error 42883 (404)', T, async () => {
    // GET /jobs?select=id&args=ov.{a,b}
    const res = await admin.from('jobs').select('id').overlaps('args', ['a', 'b']);
    fails(res, '42883', 404);
});
