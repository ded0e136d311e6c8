-- Train a personalised model from any SELECT over your tables: (user, item[, weight[, time]])
SELECT rec_train('books', json_object('model', 'graph_filter',
  'source', 'SELECT user_id, item_id FROM ratings WHERE stars >= 4', 'components', 16)) AS trained;

-- Recommendations as a JSON array ...
SELECT recommend(7, 5, 'books') AS for_user_7;

-- ... or as rows that join your tables (books user 7 already rated are left out)
SELECT r.rank, i.title, i.genre, round(r.score, 3) AS score, r.source
FROM recommend(7, 5, 'books') r JOIN items i ON i.id = r.item_id ORDER BY r.rank;

-- Batch scoring is plain SQL
SELECT u.name, u.favourite_genres, recommend(u.id, 3, 'books') AS picks FROM users u WHERE u.id <= 3;

-- Measure: hold out 20% of each user's books, retrain in memory, full-ranking recall@10
SELECT rec_evaluate('books', json_object('split', 'random', 'k', 10)) ->> '$.metrics."recall@10"' AS recall_at_10;
