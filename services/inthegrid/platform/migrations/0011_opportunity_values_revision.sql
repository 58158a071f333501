-- Which revision an opportunity's values come from, so that the recorder's merge of a batch does not
-- depend on the order batches commit in (its writers commit several at once): a close carries no
-- value, and a valued revision that commits after it must still become the opportunity's values.
-- Nullable and without a default, so adding it rewrites nothing (compressed chunks included); NULL
-- marks a row written before this migration, whose values are those of its revision.
ALTER TABLE opportunities ADD COLUMN IF NOT EXISTS values_revision integer;
