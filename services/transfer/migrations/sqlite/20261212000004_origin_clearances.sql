-- Foreign export clearances used up by an import here: one clearance, one
-- import. A clearance is named by its issuing country and the origin's
-- transfer; a second import with it, even one racing the first, is refused.
CREATE TABLE origin_clearances (
    issuer_country TEXT NOT NULL,
    transfer       TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    import_id      TEXT NOT NULL,
    used_at        BIGINT NOT NULL,
    PRIMARY KEY (issuer_country, transfer)
);
