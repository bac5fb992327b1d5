-- v2.0.0, rewrites data: every note gets a title, its body's first line (at most 80 characters), and a
-- body that no longer repeats it when the note had more than one line.
ALTER TABLE notes ADD COLUMN title text NOT NULL DEFAULT '';
UPDATE notes SET title = left(split_part(body, E'\n', 1), 80);
UPDATE notes SET body = substr(body, length(split_part(body, E'\n', 1)) + 2)
  WHERE position(E'\n' IN body) > 0 AND length(body) > length(split_part(body, E'\n', 1)) + 1;
