-- Partner e-mail and phone are encrypted from the start: searchable by blind
-- index (erp.blind_index(value, 'erp.partner.email')), masked in api.partner
-- for users without erp.partner.email:decrypt / erp.partner.phone:decrypt.
SELECT erp.encrypt_column('erp.partner', 'email', true, 'email');
SELECT erp.encrypt_column('erp.partner', 'phone', true, 'phone');
UPDATE erp.encrypted_column SET builtin = true;
