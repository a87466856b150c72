-- Extension pgerp_stock: schema stock (created by CREATE EXTENSION from the
-- control file). Products, locations, moves and valuation arrive with the
-- stock issue.
COMMENT ON SCHEMA stock IS 'pgerp stock: products, locations, moves, quants and valuation';
INSERT INTO erp.app_schema VALUES ('stock');
