// Reads through postgrest-js: select (columns, renames, casts, embeds,
// !inner), every filter builder, order/limit/range, single/maybeSingle, csv
// and counts. Demo data is read scoped to the demo's SKUs, so rows that other
// runs added never change an answer; embeds use products this file makes.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { T, RUN, DEMO_A_SKUS, as, ok, fails, companies, newProduct, receive, skus } from './lib.js';

let alice;
let admin;
before(async () => {
    alice = await as('alice');
    admin = await as('admin');
});

// GET /products?select=<cols>&sku=in.(BOLT-M8,CABLE-2,FRAME-RED,KIT-BRACKET,PAINT-RED)&order=sku.asc
const demo = (cols = 'sku') => alice.from('products').select(cols).in('sku', DEMO_A_SKUS).order('sku');

test('select columns', T, async () => {
    // GET /products?select=sku,name,cost_method,uom&sku=eq.CABLE-2
    const rows = ok(await alice.from('products').select('sku,name,cost_method,uom').eq('sku', 'CABLE-2'), 200);
    assert.deepEqual(rows, [{ sku: 'CABLE-2', name: 'Cable 2 mm', cost_method: 'standard', uom: 'm' }]);
});

test('select with renames and casts', T, async () => {
    // GET /products?select=code:sku,label:name,price:standard_price::text&sku=eq.CABLE-2
    const rows = ok(await alice.from('products').select('code:sku, label:name, price:standard_price::text').eq('sku', 'CABLE-2'));
    assert.deepEqual(rows, [{ code: 'CABLE-2', label: 'Cable 2 mm', price: '1.20' }]);
    // the whole row: * has the base table's columns
    // GET /products?select=*&sku=eq.PAINT-RED
    const [p] = ok(await alice.from('products').select('*').eq('sku', 'PAINT-RED'));
    const { a } = await companies();
    assert.equal(p.company_id, a);
    assert.equal(typeof p.id, 'number');
    assert.equal(p.name, 'Red paint');
    assert.equal(p.cost_method, 'avco');
    assert.equal(p.uom, 'L');
    assert.equal(p.tracking, 'none');
    assert.equal(p.active, true);
});

test('eq neq gt gte lt lte', T, async () => {
    // GET /products?select=sku&sku=in.(...)&order=sku.asc&cost_method=neq.fifo
    assert.deepEqual(skus(ok(await demo().neq('cost_method', 'fifo'))), ['CABLE-2', 'PAINT-RED']);
    // ...&cost_method=eq.avco
    assert.deepEqual(skus(ok(await demo().eq('cost_method', 'avco'))), ['PAINT-RED']);
    // ...&standard_price=gt.1
    assert.deepEqual(skus(ok(await demo().gt('standard_price', 1))), ['CABLE-2']);
    // ...&standard_price=gte.1.2
    assert.deepEqual(skus(ok(await demo().gte('standard_price', 1.2))), ['CABLE-2']);
    // ...&standard_price=lt.1.2
    assert.deepEqual(skus(ok(await demo().lt('standard_price', 1.2))), ['BOLT-M8', 'FRAME-RED', 'KIT-BRACKET', 'PAINT-RED']);
    // ...&standard_price=lte.1.2
    assert.deepEqual(skus(ok(await demo().lte('standard_price', 1.2))), DEMO_A_SKUS);
});

test('like ilike regexMatch regexIMatch', T, async () => {
    // ...&name=like.Red*
    assert.deepEqual(skus(ok(await demo().like('name', 'Red*'))), ['FRAME-RED', 'PAINT-RED']);
    // ...&name=like.Red%25   (the SQL wildcard works too)
    assert.deepEqual(skus(ok(await demo().like('name', 'Red%'))), ['FRAME-RED', 'PAINT-RED']);
    // ...&name=ilike.*PAINT*
    assert.deepEqual(skus(ok(await demo().ilike('name', '*PAINT*'))), ['PAINT-RED']);
    // ...&sku=match.^[BC]
    assert.deepEqual(skus(ok(await demo().regexMatch('sku', '^[BC]'))), ['BOLT-M8', 'CABLE-2']);
    // ...&name=imatch.^red
    assert.deepEqual(skus(ok(await demo().regexIMatch('name', '^red'))), ['FRAME-RED', 'PAINT-RED']);
});

test('likeAnyOf likeAllOf ilikeAnyOf ilikeAllOf: like(any) and like(all)', T, async () => {
    // ...&sku=like(any).{B*,C*}
    assert.deepEqual(skus(ok(await demo().likeAnyOf('sku', ['B*', 'C*']))), ['BOLT-M8', 'CABLE-2']);
    // ...&sku=like(all).{*-*,*RED}
    assert.deepEqual(skus(ok(await demo().likeAllOf('sku', ['*-*', '*RED']))), ['FRAME-RED', 'PAINT-RED']);
    // ...&name=ilike(any).{*KIT,bolt*}
    assert.deepEqual(skus(ok(await demo().ilikeAnyOf('name', ['*KIT', 'bolt*']))), ['BOLT-M8', 'KIT-BRACKET']);
    // ...&name=ilike(all).{red*,*E}
    assert.deepEqual(skus(ok(await demo().ilikeAllOf('name', ['red*', '*E']))), ['FRAME-RED']);
});

test('is isDistinct in notIn match', T, async () => {
    // ...&active=is.true
    assert.deepEqual(skus(ok(await demo().is('active', true))), DEMO_A_SKUS);
    // ...&active=is.false
    assert.deepEqual(skus(ok(await demo().is('active', false))), []);
    // ...&uom=isdistinct.Unit
    assert.deepEqual(skus(ok(await demo().isDistinct('uom', 'Unit'))), ['CABLE-2', 'PAINT-RED']);
    // ...&uom=in.(L,m)
    assert.deepEqual(skus(ok(await demo().in('uom', ['L', 'm']))), ['CABLE-2', 'PAINT-RED']);
    // ...&name=in.(Bolt+M8,Red+paint)   (a space is a +; no reserved character, so no quotes)
    assert.deepEqual(skus(ok(await demo().in('name', ['Bolt M8', 'Red paint']))), ['BOLT-M8', 'PAINT-RED']);
    // ...&uom=not.in.(L,m)
    assert.deepEqual(skus(ok(await demo().notIn('uom', ['L', 'm']))), ['BOLT-M8', 'FRAME-RED', 'KIT-BRACKET']);
    // ...&cost_method=eq.standard&uom=eq.m
    assert.deepEqual(skus(ok(await demo().match({ cost_method: 'standard', uom: 'm' }))), ['CABLE-2']);
});

test('not or filter', T, async () => {
    // ...&cost_method=not.eq.fifo
    assert.deepEqual(skus(ok(await demo().not('cost_method', 'eq', 'fifo'))), ['CABLE-2', 'PAINT-RED']);
    // ...&uom=not.in.(L,m)
    assert.deepEqual(skus(ok(await demo().not('uom', 'in', '(L,m)'))), ['BOLT-M8', 'FRAME-RED', 'KIT-BRACKET']);
    // ...&name=not.like.*a*
    assert.deepEqual(skus(ok(await demo().not('name', 'like', '*a*'))), ['BOLT-M8']);
    // ...&or=(uom.eq.L,sku.eq.BOLT-M8)
    assert.deepEqual(skus(ok(await demo().or('uom.eq.L,sku.eq.BOLT-M8'))), ['BOLT-M8', 'PAINT-RED']);
    // nested: ...&or=(sku.eq.KIT-BRACKET,and(cost_method.eq.standard,uom.eq.m))
    assert.deepEqual(skus(ok(await demo().or('sku.eq.KIT-BRACKET,and(cost_method.eq.standard,uom.eq.m)'))),
        ['CABLE-2', 'KIT-BRACKET']);
    // negated group: ...&or=(not.and(uom.eq.Unit,cost_method.eq.fifo))
    assert.deepEqual(skus(ok(await demo().or('not.and(uom.eq.Unit,cost_method.eq.fifo)'))), ['CABLE-2', 'PAINT-RED']);
    // ...&uom=in.(L,m)  through the generic filter()
    assert.deepEqual(skus(ok(await demo().filter('uom', 'in', '(L,m)'))), ['CABLE-2', 'PAINT-RED']);
    // ...&name=not.ilike.red*  through filter() with not.
    assert.deepEqual(skus(ok(await demo().filter('name', 'not.ilike', 'red*'))), ['BOLT-M8', 'CABLE-2', 'KIT-BRACKET']);
});

test('textSearch: fts plfts phfts wfts on a text column', T, async () => {
    // ...&name=fts(english).red
    assert.deepEqual(skus(ok(await demo().textSearch('name', 'red', { config: 'english' }))), ['FRAME-RED', 'PAINT-RED']);
    // ...&name=plfts(english).red%20paint
    assert.deepEqual(skus(ok(await demo().textSearch('name', 'red paint', { config: 'english', type: 'plain' }))), ['PAINT-RED']);
    // ...&name=phfts(english).red%20frame
    assert.deepEqual(skus(ok(await demo().textSearch('name', 'red frame', { config: 'english', type: 'phrase' }))), ['FRAME-RED']);
    // ...&name=wfts(english).red%20-paint
    assert.deepEqual(skus(ok(await demo().textSearch('name', 'red -paint', { config: 'english', type: 'websearch' }))), ['FRAME-RED']);
    // ...&name=fts(english).paints   (stemmed)
    assert.deepEqual(skus(ok(await demo().textSearch('name', 'paints', { config: 'english' }))), ['PAINT-RED']);
});

test('order, limit, range', T, async () => {
    // GET /products?select=sku&sku=in.(...)&order=sku.desc
    const desc = alice.from('products').select('sku').in('sku', DEMO_A_SKUS).order('sku', { ascending: false });
    assert.deepEqual(skus(ok(await desc)), [...DEMO_A_SKUS].reverse());
    // ...&order=uom.asc,sku.asc  (C collation: L < Unit < m)
    const two = alice.from('products').select('sku,uom').in('sku', DEMO_A_SKUS).order('uom').order('sku');
    assert.deepEqual(skus(ok(await two)), ['PAINT-RED', 'BOLT-M8', 'FRAME-RED', 'KIT-BRACKET', 'CABLE-2']);
    // ...&order=sku.asc&limit=2
    assert.deepEqual(skus(ok(await demo().limit(2))), ['BOLT-M8', 'CABLE-2']);
    // ...&order=sku.asc&offset=1&limit=3
    assert.deepEqual(skus(ok(await demo().range(1, 3))), ['CABLE-2', 'FRAME-RED', 'KIT-BRACKET']);
});

test('order with nullsFirst / nullsLast', T, async () => {
    const { a } = await companies();
    const p = await newProduct(alice, a);
    await receive(alice, p.id, 1, 1, { ref: `N-${RUN}-A` });
    await receive(alice, p.id, 2, 1);
    await receive(alice, p.id, 3, 1, { ref: `N-${RUN}-B` });
    const refs = async (opts) => ok(await alice.from('moves').select('ref').eq('product_id', p.id).order('ref', opts)).map((m) => m.ref);
    // GET /moves?select=ref&product_id=eq.<p>&order=ref.asc.nullsfirst
    assert.deepEqual(await refs({ ascending: true, nullsFirst: true }), [null, `N-${RUN}-A`, `N-${RUN}-B`]);
    // ...&order=ref.asc.nullslast
    assert.deepEqual(await refs({ ascending: true, nullsFirst: false }), [`N-${RUN}-A`, `N-${RUN}-B`, null]);
    // ...&order=ref.desc   (PostgreSQL's default for desc: nulls first)
    assert.deepEqual(await refs({ ascending: false }), [null, `N-${RUN}-B`, `N-${RUN}-A`]);
    // ...&order=ref.desc.nullslast
    assert.deepEqual(await refs({ ascending: false, nullsFirst: false }), [`N-${RUN}-B`, `N-${RUN}-A`, null]);
});

test('count exact with a range: 206 and Content-Range total; 416 PGRST103 past the end', T, async () => {
    // GET /products?select=sku&sku=in.(...)&order=sku.asc&offset=0&limit=2  Prefer: count=exact
    const res = await alice.from('products').select('sku', { count: 'exact' }).in('sku', DEMO_A_SKUS).order('sku').range(0, 1);
    assert.deepEqual(skus(ok(res)), ['BOLT-M8', 'CABLE-2']);
    assert.equal(res.count, 5);
    assert.equal(res.status, 206);
    // the whole set: 200
    const all = await alice.from('products').select('sku', { count: 'exact' }).in('sku', DEMO_A_SKUS);
    ok(all, 200);
    assert.equal(all.count, 5);
    // ...&offset=10&limit=2  Prefer: count=exact  -> 416
    const past = await alice.from('products').select('sku', { count: 'exact' }).in('sku', DEMO_A_SKUS).order('sku').range(10, 11);
    fails(past, 'PGRST103', 416);
});

test('count with head: exact, planned, estimated', T, async () => {
    // HEAD /products?select=*&sku=in.(...)  Prefer: count=exact
    const exact = await alice.from('products').select('*', { count: 'exact', head: true }).in('sku', DEMO_A_SKUS);
    ok(exact, 200);
    assert.equal(exact.data, null);
    assert.equal(exact.count, 5);
    // HEAD /products?select=*  Prefer: count=planned   (the planner's estimate)
    const planned = await alice.from('products').select('*', { count: 'planned', head: true });
    ok(planned);
    assert.ok(Number.isInteger(planned.count) && planned.count >= 0, `planned count ${planned.count}`);
    // HEAD /products?select=*&sku=in.(...)  Prefer: count=estimated  (exact below the row limit)
    const est = await alice.from('products').select('*', { count: 'estimated', head: true }).in('sku', DEMO_A_SKUS);
    ok(est);
    assert.ok(Number.isInteger(est.count) && est.count >= 0, `estimated count ${est.count}`);
    // GET with count: the rows and the count
    // GET /products?select=sku&sku=eq.BOLT-M8  Prefer: count=exact
    const one = await alice.from('products').select('sku', { count: 'exact' }).eq('sku', 'BOLT-M8');
    assert.deepEqual(ok(one, 200), [{ sku: 'BOLT-M8' }]);
    assert.equal(one.count, 1);
});

test('single and maybeSingle', T, async () => {
    // GET /products?select=sku,name&sku=eq.BOLT-M8  Accept: application/vnd.pgrst.object+json
    const one = await alice.from('products').select('sku,name').eq('sku', 'BOLT-M8').single();
    assert.deepEqual(ok(one, 200), { sku: 'BOLT-M8', name: 'Bolt M8' });
    // no row: 406 PGRST116 with PostgREST's message and details
    const none = await alice.from('products').select('sku').eq('sku', 'NO-SUCH-SKU').single();
    const e0 = fails(none, 'PGRST116', 406);
    assert.equal(e0.message, 'Cannot coerce the result to a single JSON object');
    assert.equal(e0.details, 'The result contains 0 rows');
    // five rows
    const many = await demo().single();
    const e5 = fails(many, 'PGRST116', 406);
    assert.equal(e5.details, 'The result contains 5 rows');
    // maybeSingle: GET as a JSON array (postgrest-js decides): none is null, no error
    // GET /products?select=sku&sku=eq.NO-SUCH-SKU
    const maybeNone = await alice.from('products').select('sku').eq('sku', 'NO-SUCH-SKU').maybeSingle();
    assert.equal(ok(maybeNone, 200), null);
    const maybeOne = await alice.from('products').select('sku').eq('sku', 'KIT-BRACKET').maybeSingle();
    assert.deepEqual(ok(maybeOne), { sku: 'KIT-BRACKET' });
    const maybeMany = await demo().maybeSingle();
    fails(maybeMany, 'PGRST116', 406);
});

test('csv', T, async () => {
    // GET /products?select=sku,name,standard_price&sku=in.(BOLT-M8,CABLE-2)&order=sku.asc  Accept: text/csv
    const res = await alice.from('products').select('sku,name,standard_price').in('sku', ['BOLT-M8', 'CABLE-2']).order('sku').csv();
    const text = ok(res, 200);
    assert.equal(typeof text, 'string');
    assert.deepEqual(text.replace(/\r\n/g, '\n').replace(/\n$/, '').split('\n'),
        ['sku,name,standard_price', 'BOLT-M8,Bolt M8,0.00', 'CABLE-2,Cable 2 mm,1.20']);
    // a renamed column names the header
    // GET /products?select=label:name&sku=eq.BOLT-M8  Accept: text/csv
    const quoted = await alice.from('products').select('label:name').eq('sku', 'BOLT-M8').csv();
    assert.deepEqual(ok(quoted).replace(/\r\n/g, '\n').replace(/\n$/, '').split('\n'), ['label', 'Bolt M8']);
});

test('stripNulls and throwOnError', T, async () => {
    const bob = await as('bob');
    // GET /partners?select=name,email,phone&name=eq.Initech  Accept: application/vnd.pgrst.array+json;nulls=stripped
    const stripped = await bob.from('partners').select('name,email,phone').eq('name', 'Initech').stripNulls();
    assert.deepEqual(ok(stripped, 200), [{ name: 'Initech' }]);
    // the same without: the nulls are there
    assert.deepEqual(ok(await bob.from('partners').select('name,email,phone').eq('name', 'Initech')),
        [{ name: 'Initech', email: null, phone: null }]);
    // throwOnError(): the error object is thrown as a PostgrestError
    // GET /products?select=no_such_column
    await assert.rejects(async () => await alice.from('products').select('no_such_column').throwOnError(), (err) => {
        assert.equal(err.name, 'PostgrestError');
        assert.equal(err.code, '42703');
        return true;
    });
});

test('embeds: to-one, to-many, embedded filter, order and limit, !inner', T, async () => {
    const { a } = await companies();
    const p = await newProduct(alice, a, { name: `Embed source ${RUN}` });
    const q = await newProduct(alice, a, { name: `Embed empty ${RUN}` });
    const m1 = await receive(alice, p.id, 10, 2.5, { ref: `EMB-${RUN}-1` });
    const m2 = await receive(alice, p.id, 4, 3, { ref: `EMB-${RUN}-2` });

    // to-one as an object:
    // GET /moves?select=id,qty,product:products(sku,name)&product_id=eq.<p>&order=id.asc
    const moves = ok(await alice.from('moves').select('id, qty, product:products(sku, name)').eq('product_id', p.id).order('id'));
    assert.deepEqual(moves, [
        { id: m1.id, qty: 10, product: { sku: p.sku, name: p.name } },
        { id: m2.id, qty: 4, product: { sku: p.sku, name: p.name } },
    ]);

    // to-many as an array, with the embed's own order:
    // GET /products?select=sku,moves(qty,ref)&id=eq.<p>&moves.order=qty.asc
    const [withMoves] = ok(await alice.from('products').select('sku, moves(qty, ref)').eq('id', p.id)
        .order('qty', { referencedTable: 'moves', ascending: true }));
    assert.deepEqual(withMoves, { sku: p.sku, moves: [{ qty: 4, ref: `EMB-${RUN}-2` }, { qty: 10, ref: `EMB-${RUN}-1` }] });

    // embedded order desc and limit:
    // GET /products?select=sku,moves(qty)&id=eq.<p>&moves.order=qty.desc&moves.limit=1
    const [limited] = ok(await alice.from('products').select('sku, moves(qty)').eq('id', p.id)
        .order('qty', { referencedTable: 'moves', ascending: false }).limit(1, { referencedTable: 'moves' }));
    assert.deepEqual(limited.moves, [{ qty: 10 }]);

    // embedded filter: the parent stays, the embed is filtered
    // GET /products?select=sku,moves(qty)&id=in.(<p>,<q>)&moves.qty=eq.4&order=id.asc
    const filtered = ok(await alice.from('products').select('sku, moves(qty)').in('id', [p.id, q.id]).eq('moves.qty', 4).order('id'));
    assert.deepEqual(filtered, [{ sku: p.sku, moves: [{ qty: 4 }] }, { sku: q.sku, moves: [] }]);

    // !inner: only parents with a matching child
    // GET /products?select=sku,moves!inner(qty)&id=in.(<p>,<q>)&moves.qty=gt.5
    const inner = ok(await alice.from('products').select('sku, moves!inner(qty)').in('id', [p.id, q.id]).gt('moves.qty', 5));
    assert.deepEqual(inner, [{ sku: p.sku, moves: [{ qty: 10 }] }]);
    // GET /products?select=sku,moves!inner(id)&id=in.(<p>,<q>)
    const innerAll = ok(await alice.from('products').select('sku, moves!inner(id)').in('id', [p.id, q.id]));
    assert.deepEqual(skus(innerAll), [p.sku]);

    // filter on a to-one embed's column through !inner:
    // GET /moves?select=id,products!inner(sku)&products.sku=eq.<p.sku>&order=id.asc
    const byParent = ok(await alice.from('moves').select('id, products!inner(sku)').eq('products.sku', p.sku).order('id'));
    assert.deepEqual(byParent.map((m) => m.id), [m1.id, m2.id]);

    // journal_entries -> journal_lines: each receipt posts one balanced entry
    // GET /journal_entries?select=move_id,journal_lines(debit,credit)&move_id=eq.<m1>
    const entries = ok(await alice.from('journal_entries').select('move_id, journal_lines(debit, credit)').eq('move_id', m1.id));
    assert.equal(entries.length, 1);
    const lines = entries[0].journal_lines;
    assert.equal(lines.length, 2);
    const debit = lines.reduce((s, l) => s + Number(l.debit), 0);
    const credit = lines.reduce((s, l) => s + Number(l.credit), 0);
    assert.equal(debit, 25);
    assert.equal(credit, 25);
});

test('ambiguous embed is 300 PGRST201; table!fk disambiguates', T, async () => {
    const { a } = await companies();
    const p = await newProduct(alice, a);
    const m = await receive(alice, p.id, 1, 1);
    // moves has two foreign keys to locations (location_id, location_dest_id)
    // GET /moves?select=id,locations(name)&id=eq.<m>
    const amb = await alice.from('moves').select('id, locations(name)').eq('id', m.id);
    fails(amb, 'PGRST201', 300);
    // GET /moves?select=id,src:locations!move_company_id_location_id_fkey(usage),dst:locations!move_company_id_location_dest_id_fkey(usage)&id=eq.<m>
    const [row] = ok(await alice.from('moves')
        .select('id, src:locations!move_company_id_location_id_fkey(usage), dst:locations!move_company_id_location_dest_id_fkey(usage)')
        .eq('id', m.id));
    assert.deepEqual(row, { id: m.id, src: { usage: 'supplier' }, dst: { usage: 'internal' } });
});

test('demo embeds: boms -> bom_lines -> products, purchase orders, planned orders, partners -> companies', T, async () => {
    // GET /boms?select=qty,type,products!inner(sku),bom_lines(uom,uom_qty,scrap_pct,products(sku))&products.sku=eq.FRAME-RED
    const boms = ok(await admin.from('boms').select('qty, type, products!inner(sku), bom_lines(uom, uom_qty, scrap_pct, products(sku))')
        .eq('products.sku', 'FRAME-RED'));
    assert.equal(boms.length, 1);
    assert.equal(boms[0].type, 'normal');
    const bl = boms[0].bom_lines.map((l) => ({ sku: l.products.sku, uom: l.uom, uom_qty: l.uom_qty, scrap_pct: l.scrap_pct }))
        .sort((x, y) => x.sku.localeCompare(y.sku));
    assert.deepEqual(bl, [
        { sku: 'KIT-BRACKET', uom: 'Unit', uom_qty: 2, scrap_pct: 0 },
        { sku: 'PAINT-RED', uom: 'mL', uom_qty: 250, scrap_pct: 5 },
    ]);

    // purchase_orders -> purchase_order_lines -> products
    // GET /purchase_orders?select=id,purchase_order_lines!inner(qty,products(sku))&purchase_order_lines.qty=eq.150
    const pos = ok(await admin.from('purchase_orders').select('id, purchase_order_lines!inner(qty, products(sku))')
        .eq('purchase_order_lines.qty', 150));
    assert.ok(pos.length >= 1);
    for (const po of pos) {
        assert.deepEqual(po.purchase_order_lines.map((l) => [l.qty, l.products.sku]), [[150, 'CABLE-2']]);
    }

    // planned_orders -> products
    // GET /planned_orders?select=kind,qty,products!inner(sku)&products.sku=eq.FRAME-RED
    const planned = ok(await admin.from('planned_orders').select('kind, qty, products!inner(sku)').eq('products.sku', 'FRAME-RED'));
    assert.ok(planned.length >= 1, 'the demo MRP run planned frames');
    for (const po of planned) {
        assert.equal(po.kind, 'make');
        assert.equal(po.products.sku, 'FRAME-RED');
        assert.ok(po.qty > 0);
    }

    // partners -> companies (to-one)
    // GET /partners?select=name,kind,companies(name)&name=in.("Acme Supplies","Globex GmbH")&order=name.asc
    const partners = ok(await admin.from('partners').select('name, kind, companies(name)')
        .in('name', ['Acme Supplies', 'Globex GmbH']).order('name'));
    assert.deepEqual(partners, [
        { name: 'Acme Supplies', kind: 'vendor', companies: { name: 'Subsidiary A' } },
        { name: 'Globex GmbH', kind: 'vendor', companies: { name: 'Subsidiary B' } },
    ]);
});

test('errors: unknown column 42703, unknown table PGRST205, bad filter PGRST100', T, async () => {
    // GET /products?select=sku,no_such_column
    const col = await alice.from('products').select('sku,no_such_column');
    fails(col, '42703', 400);
    // GET /no_such_view?select=*
    const tab = await alice.from('no_such_view').select('*');
    fails(tab, 'PGRST205', 404);
    // GET /products?select=sku&sku=nosuchop.x
    const op = await alice.from('products').select('sku').filter('sku', 'nosuchop', 'x');
    fails(op, 'PGRST100', 400);
    // GET /products?select=sku&standard_price=gt.abc  -> invalid input syntax for type numeric
    const cast = await alice.from('products').select('sku').gt('standard_price', 'abc');
    fails(cast, '22P02', 400);
    // internal schemas are not served: Accept-Profile: stock
    // GET /product?select=*  Accept-Profile: stock
    const prof = await alice.schema('stock').from('product').select('*');
    fails(prof, 'PGRST106', 406);
});
