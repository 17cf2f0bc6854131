-- Shared: a delivery claim on a pending message, so that nodes sharing the
-- database do not deliver it twice (MessageStore.Claim). claimed_until is
-- Unix microseconds; 0 means unclaimed.
ALTER TABLE message ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE message ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;
