-- v1.1.0, additive: notes get tags; every existing note keeps its data and gets none.
ALTER TABLE notes ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
