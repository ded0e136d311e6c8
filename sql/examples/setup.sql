-- The database every example in sql/functions.md runs against (each example on a fresh copy).
CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);
INSERT INTO users VALUES (1, 'ann'), (2, 'bob'), (3, 'cy'), (4, 'di'), (5, 'eve');

CREATE TABLE items(id PRIMARY KEY, title TEXT);
INSERT INTO items VALUES (10, 'ten'), (11, 'eleven'), (12, 'twelve'), (13, 'thirteen'), ('x', 'ex');

-- eve (5) has no likes: she gets the cold-start fallback.
CREATE TABLE likes(user_id INTEGER, item_id, stars INTEGER, rated_at TEXT);
INSERT INTO likes VALUES
  (1, 10, 5, '2026-01-05'), (1, 11, 4, '2026-02-11'),
  (2, 10, 5, '2026-01-20'), (2, 12, 3, '2026-03-02'), (2, 'x', 4, '2026-03-09'),
  (3, 10, 4, '2026-02-14'), (3, 11, 5, '2026-02-15'), (3, 13, 2, '2026-03-30'),
  (4, 12, 5, '2026-03-31'), (4, 10, 1, '2026-01-02'), (4, 11, 2, '2026-01-03');

SELECT rec_train('shop', json_object('model', 'popular', 'source', 'SELECT user_id, item_id FROM likes'));

-- Vector search: 3-dimensional item vectors (think of them as text embeddings), made a collection
-- named 'tags' and published to the vec0 table tags_items.
CREATE TABLE item_vectors(item_id INTEGER PRIMARY KEY, embedding BLOB);
INSERT INTO item_vectors VALUES
  (10, vec_f32('[1.0, 0.0, 0.0]')), (11, vec_f32('[0.9, 0.1, 0.0]')),
  (12, vec_f32('[0.0, 1.0, 0.0]')), (13, vec_f32('[0.7, 0.7, 0.1]'));
SELECT rec_publish('tags', json_object('source', 'SELECT item_id, embedding FROM item_vectors', 'table', 'tags'));

-- A text collection: the items' titles embedded with the built-in 'hash' embedder, which is
-- recorded on the collection, so rec_search('titles', 'some text', k) embeds text queries with it.
SELECT rec_publish('titles', json_object('text', 'SELECT id, title FROM items', 'embedder', 'hash'));
