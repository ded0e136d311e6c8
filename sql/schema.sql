-- SqlRec model store. Created by the first rec_train() on a database; every statement is
-- idempotent. All tables are STRICT; ids keep the SQLite type the application gave them.
-- The store's own version lives in rec_meta, so PRAGMA user_version stays the application's.

CREATE TABLE IF NOT EXISTS main.rec_meta(
  key   TEXT PRIMARY KEY,
  value ANY
) STRICT;

INSERT OR IGNORE INTO rec_meta(key, value) VALUES ('schema_version', 1);

-- One row per model name. kind/options/metrics describe the serving version; status is
-- 'training' while a training holds the lease (training_owner, refreshed in training_heartbeat,
-- unix seconds). A model keeps serving current_version while it is being retrained.
CREATE TABLE IF NOT EXISTS main.rec_models(
  name                TEXT PRIMARY KEY,
  kind                TEXT,
  options             TEXT,
  metrics             TEXT,
  status              TEXT NOT NULL CHECK (status IN ('training', 'ready')),
  current_version     INTEGER,
  created_at          TEXT NOT NULL,
  updated_at          TEXT NOT NULL,
  training_owner      TEXT,
  training_started_at TEXT,
  training_heartbeat  REAL
) STRICT;

-- Every trained version. uid is random and identifies the version across databases (the
-- in-process model cache is keyed by it). id_checksum is the XXH64 of the version's id map (see
-- Checksum.OfIds); a version written with one must have a checksum on every array part too.
-- NULL: written before checksums existed, loaded with the shape and bounds checks alone.
CREATE TABLE IF NOT EXISTS main.rec_model_versions(
  model         TEXT NOT NULL REFERENCES rec_models(name) ON DELETE CASCADE,
  version       INTEGER NOT NULL,
  uid           TEXT NOT NULL UNIQUE,
  kind          TEXT NOT NULL,
  options       TEXT NOT NULL,
  metrics       TEXT NOT NULL,
  users         INTEGER NOT NULL,
  items         INTEGER NOT NULL,
  interactions  INTEGER NOT NULL,
  train_seconds REAL NOT NULL,
  created_at    TEXT NOT NULL,
  id_checksum   INTEGER,
  PRIMARY KEY (model, version)
) STRICT;

-- Dense index <-> the application's id, per version: idx is the row/column of the model's
-- arrays. Ids are INTEGER or TEXT, exactly as the training source returned them.
CREATE TABLE IF NOT EXISTS main.rec_id_map(
  model   TEXT NOT NULL,
  version INTEGER NOT NULL,
  space   TEXT NOT NULL CHECK (space IN ('user', 'item')),
  idx     INTEGER NOT NULL,
  id      ANY NOT NULL,
  PRIMARY KEY (model, version, space, idx),
  FOREIGN KEY (model, version) REFERENCES rec_model_versions(model, version) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- Numeric arrays of a version (factors, popularity, the seen-items CSR), little-endian, split
-- into parts of at most 16M elements so no BLOB nears SQLite's length limit. checksum is the
-- XXH64 of data seeded with the part number (NULL in rows written before checksums existed).
CREATE TABLE IF NOT EXISTS main.rec_arrays(
  model   TEXT NOT NULL,
  version INTEGER NOT NULL,
  name    TEXT NOT NULL,
  part    INTEGER NOT NULL,
  dtype   TEXT NOT NULL CHECK (dtype IN ('f32', 'i32')),
  data    BLOB NOT NULL,
  checksum INTEGER,
  PRIMARY KEY (model, version, name, part),
  FOREIGN KEY (model, version) REFERENCES rec_model_versions(model, version) ON DELETE CASCADE
) STRICT;

-- Embedders registered with rec_register_embedder (the built-in 'hash' is not stored). options
-- holds every option with its default filled in, as JSON; relative paths in it are taken from the
-- database file's folder. dimension is the length of the vectors the embedder makes, checked
-- again whenever a process loads the model.
CREATE TABLE IF NOT EXISTS main.rec_embedders(
  name       TEXT PRIMARY KEY,
  kind       TEXT NOT NULL CHECK (kind IN ('onnx', 'hash')),
  options    TEXT NOT NULL,
  dimension  INTEGER NOT NULL CHECK (dimension > 0),
  created_at TEXT NOT NULL
) STRICT;

-- ---- vector search -------------------------------------------------------------------------

-- Vector collections: item vectors that rec_publish read from a SELECT (id, float32 BLOB), e.g.
-- an embedded text column. A snapshot, replaced atomically by the next rec_publish of the same
-- name (a new uid; the in-process cache is keyed by it), like a model version. embedder names the
-- embedder that made the vectors (NULL: none recorded); rec_search embeds TEXT queries with it.
-- It came after the table's first release: ModelStore.EnsureSchema adds it to older databases
-- (ALTER TABLE ... ADD COLUMN), and readers take a missing column as NULL.
CREATE TABLE IF NOT EXISTS main.rec_collections(
  name       TEXT PRIMARY KEY,
  uid        TEXT NOT NULL UNIQUE,
  source     TEXT NOT NULL,
  metric     TEXT NOT NULL CHECK (metric IN ('dot', 'cosine', 'l2')),
  dim        INTEGER NOT NULL,
  items      INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  embedder   TEXT
) STRICT;

-- A collection's vectors: idx is the row (ids in SqlRec's id order), vector little-endian float32;
-- checksum the XXH64 of the row's id and vector (Collections.RowChecksum; NULL before checksums existed).
CREATE TABLE IF NOT EXISTS main.rec_collection_items(
  collection TEXT NOT NULL REFERENCES rec_collections(name) ON DELETE CASCADE,
  idx        INTEGER NOT NULL,
  id         ANY NOT NULL,
  vector     BLOB NOT NULL,
  checksum   INTEGER,
  PRIMARY KEY (collection, idx)
) STRICT;

-- The vec0 tables rec_publish wrote, one row each. A model's are rewritten in the transaction
-- that publishes each new version, a collection's when the collection is published again;
-- version is the model version's or the collection's uid they hold. dim is the vectors' length
-- (the vec0 column has one more for metric 'dot', whose vectors are augmented).
CREATE TABLE IF NOT EXISTS main.rec_publications(
  vec_table    TEXT PRIMARY KEY,
  owner        TEXT NOT NULL,
  owner_type   TEXT NOT NULL CHECK (owner_type IN ('model', 'collection')),
  space        TEXT NOT NULL CHECK (space IN ('item', 'user')),
  metric       TEXT NOT NULL CHECK (metric IN ('dot', 'cosine', 'l2')),
  dim          INTEGER NOT NULL,
  version      TEXT NOT NULL,
  published_at TEXT NOT NULL
) STRICT;
