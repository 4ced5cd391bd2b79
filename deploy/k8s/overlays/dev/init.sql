-- Dev only: one role and one database per service (each service owns its
-- database). Run once by the postgres image's entrypoint when the volume is
-- empty. The passwords are the placeholders in kustomization.yaml.
CREATE ROLE robotid_issuance LOGIN PASSWORD 'dev-only-issuance';
CREATE DATABASE robotid_issuance OWNER robotid_issuance;
CREATE ROLE robotid_registry LOGIN PASSWORD 'dev-only-registry';
CREATE DATABASE robotid_registry OWNER robotid_registry;
CREATE ROLE robotid_transfer LOGIN PASSWORD 'dev-only-transfer';
CREATE DATABASE robotid_transfer OWNER robotid_transfer;
