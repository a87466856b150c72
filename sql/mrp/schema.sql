-- Extension pgerp_mrp: schemas mrp (from the control file) and purchase.
CREATE SCHEMA purchase;
COMMENT ON SCHEMA mrp IS 'pgerp mrp: bills of materials, manufacturing and planning';
COMMENT ON SCHEMA purchase IS 'pgerp purchase: vendors'' prices and purchase orders';
INSERT INTO erp.app_schema VALUES ('mrp'), ('purchase');
