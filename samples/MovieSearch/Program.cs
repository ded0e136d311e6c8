// SqlRec movie search on MovieLens 100K: titles and genres embedded inside SQLite into a text
// collection, searched by text; "more like this" by text vectors and by a model trained on the
// ratings; a genre-filtered search that always returns k rows; and the same KNN in plain sqlite-vec SQL.
//
//   dotnet run --project samples/MovieSearch [path/to/ml-100k] [movie-search.db] [hash]
//
// The data folder defaults to ../shared/data/ml-100k next to the repository root; the database
// (default movie-search.db in the current folder) gets the tables movies, ratings and
// movies_text_items, the collection 'movies_text' and the model 'movies_cf', replaced on each run.
return MovieSearch.MovieSearchDemo.Run(args, Console.Out, Console.Error);
