-- api.companies: the companies the caller may read (erp.company under its
-- row security). Read-only: companies are made with erp.create_company().

CREATE VIEW api.companies WITH (security_invoker = true) AS
SELECT c.id, c.company_id, c.parent_id, c.name, c.currency, c.price_precision, c.currency_rounding,
       c.active, c.created_at
  FROM erp.company c;
COMMENT ON VIEW api.companies IS
    'Companies the caller may read (erp.company:read); a tree through parent_id. Read-only';
COMMENT ON COLUMN api.companies.id IS 'Company id';
COMMENT ON COLUMN api.companies.company_id IS 'Equal to id, so that companies filter like every other resource';
COMMENT ON COLUMN api.companies.parent_id IS 'Parent company (null for a root); foreign key to companies';
COMMENT ON COLUMN api.companies.name IS 'Company name';
COMMENT ON COLUMN api.companies.currency IS 'ISO 4217 currency code of its amounts';
COMMENT ON COLUMN api.companies.price_precision IS 'Decimal places of unit costs and prices';
COMMENT ON COLUMN api.companies.currency_rounding IS 'Smallest amount of the currency; money is rounded to it';
COMMENT ON COLUMN api.companies.active IS 'False once deactivated';
