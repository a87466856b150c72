-- Read-only stock resources: locations, lots and quants (what is where).

CREATE VIEW api.locations WITH (security_invoker = true) AS
SELECT l.company_id, l.id, l.name, l.usage, l.warehouse_id, l.active
  FROM stock.location l;
COMMENT ON VIEW api.locations IS 'Stock locations: internal ones hold stock, the others (supplier, customer, inventory, production, scrap, transit) are counterparts. Read-only';
COMMENT ON COLUMN api.locations.company_id IS 'Company of the location; foreign key to companies';
COMMENT ON COLUMN api.locations.id IS 'Location id';
COMMENT ON COLUMN api.locations.usage IS 'internal, supplier, customer, inventory, production, scrap or transit';
COMMENT ON COLUMN api.locations.warehouse_id IS 'Warehouse of an internal location (no foreign key on the table)';

CREATE VIEW api.lots WITH (security_invoker = true) AS
SELECT l.company_id, l.id, l.product_id, l.name, l.created_at
  FROM stock.lot l;
COMMENT ON VIEW api.lots IS 'Lots and serial numbers of tracked products. Read-only: they are made by receipts';
COMMENT ON COLUMN api.lots.company_id IS 'Company of the lot; foreign key to companies';
COMMENT ON COLUMN api.lots.id IS 'Lot id';
COMMENT ON COLUMN api.lots.product_id IS 'Product of the lot; foreign key to products';
COMMENT ON COLUMN api.lots.name IS 'Lot or serial number, unique per product';

CREATE VIEW api.quants WITH (security_invoker = true) AS
SELECT q.company_id, q.product_id, q.location_id, q.lot_id, q.quantity, q.reserved, q.in_date
  FROM stock.quant q;
COMMENT ON VIEW api.quants IS 'Stock on hand per product, location and lot (no id: the key is company_id, product_id, location_id, lot_id). Read-only';
COMMENT ON COLUMN api.quants.company_id IS 'Company; foreign key to companies';
COMMENT ON COLUMN api.quants.product_id IS 'Product; foreign key to products';
COMMENT ON COLUMN api.quants.location_id IS 'Location; foreign key to locations';
COMMENT ON COLUMN api.quants.lot_id IS 'Lot (0: no lot; no foreign key)';
COMMENT ON COLUMN api.quants.quantity IS 'Quantity on hand, in the product''s unit';
COMMENT ON COLUMN api.quants.reserved IS 'Part of the quantity reserved by moves';
