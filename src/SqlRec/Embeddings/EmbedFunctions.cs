using SqlRec.Data;
using SqlRec.Sqlite;
using SqlRec.Sql;
using SqlRec.Vectors;

namespace SqlRec.Embeddings;

/// <summary>
/// The SQL functions of text embedding: <c>rec_register_embedder</c>, <c>rec_drop_embedder</c>,
/// <c>rec_embed</c> and the table-valued <c>rec_embed_each</c>. They read arguments and hand the
/// work to <see cref="EmbedderRegistry"/> and the embedders; no numeric work happens here.
/// </summary>
internal static class EmbedFunctions
{
    /// <summary><c>rec_register_embedder(name, options)</c>.</summary>
    public static object? Register(SqlRecSession session, SqlArgs args)
    {
        const string function = "rec_register_embedder";
        var name = EmbedderRegistry.Name(function, "name", args.Value(0));
        var options = args.Value(1) switch
        {
            null => throw Errors.ArgumentNull(function, "options", "pass json_object('model', 'path/to/model.onnx') or json_object('kind', 'hash', 'dim', 512)"),
            string text => text,
            var other => throw Errors.ArgumentType(function, "options", "TEXT holding a JSON object", other),
        };
        return EmbedderRegistry.Register(session, function, name, options);
    }

    /// <summary><c>rec_drop_embedder(name)</c>.</summary>
    public static object? Drop(SqlRecSession session, SqlArgs args)
    {
        const string function = "rec_drop_embedder";
        return EmbedderRegistry.Drop(session, function, EmbedderRegistry.Name(function, "name", args.Value(0)));
    }

    /// <summary><c>rec_embed(embedder, text)</c>: one vector BLOB, or NULL for NULL text.</summary>
    public static object? Embed(SqlRecSession session, SqlArgs args)
    {
        const string function = "rec_embed";
        var name = EmbedderRegistry.Name(function, "embedder", args.Value(0));
        // The embedder is resolved even for NULL text, so a misspelt name fails on the first row, not never.
        var embedder = EmbedderRegistry.Resolve(session, function, name);
        var value = args.Value(1);
        if (value is null) return null;
        if (value is not string text) throw Errors.EmbedTextType(function, value);
        if (string.IsNullOrWhiteSpace(text)) throw Errors.EmbedTextEmpty(function);
        var vector = new float[embedder.Dimension];
        embedder.Embed(function, name, [text], vector);
        return VectorBlob.FromFloats(function, "the embedding", vector);
    }

    /// <summary>
    /// <c>rec_embed_each(embedder, query)</c>: <c>(id, embedding)</c> for every row of a
    /// <c>SELECT id, text</c>, embedded in batches and streamed, so a whole catalogue goes into a
    /// <c>vec0</c> table with one <c>INSERT ... SELECT</c> without being held in memory.
    /// </summary>
    internal sealed class EmbedEachTable : TableFunction
    {
        /// <summary>The function's name.</summary>
        public const string FunctionName = "rec_embed_each";

        /// <inheritdoc />
        public override string Name => FunctionName;

        /// <inheritdoc />
        public override IReadOnlyList<string> Columns { get; } = ["id", "embedding BLOB"];

        /// <inheritdoc />
        public override IReadOnlyList<string> Parameters { get; } = ["embedder", "query"];

        /// <inheritdoc />
        public override int RequiredParameters => 2;

        /// <inheritdoc />
        public override string Usage => "SELECT id, embedding FROM rec_embed_each(embedder, 'SELECT id, text FROM ...')";

        /// <inheritdoc />
        public override FunctionFlags Flags => FunctionFlags.DirectOnly;

        /// <inheritdoc />
        public override IReadOnlyList<object?[]> Run(SqlRecSession session, SqlArgs args)
        {
            var rows = new List<object?[]>();
            using var stream = Open(session, args);
            while (stream.MoveNext()) rows.Add(stream.Current);
            return rows;
        }

        private static readonly TextRowErrors RowErrors = new(
            message => Errors.QueryFailed(FunctionName, QueryRole.EmbedQuery, message),
            (row, got) => Errors.QueryBadId(FunctionName, QueryRole.EmbedQuery, "id", row, got),
            (row, id, got) => Errors.EmbedQueryBadText(FunctionName, row, id, got),
            (row, id, _) => Errors.EmbedQueryEmptyText(FunctionName, row, id),
            NullText: null);

        /// <inheritdoc />
        public override IEnumerator<object?[]> Open(SqlRecSession session, SqlArgs args)
        {
            const string function = FunctionName;
            var name = EmbedderRegistry.Name(function, "embedder", args.Value(0));
            var embedder = EmbedderRegistry.Resolve(session, function, name);
            var query = args.Value(1) switch
            {
                null => throw Errors.ArgumentNull(function, "query", "pass a SELECT returning (id, text), e.g. 'SELECT id, title FROM items'"),
                string text => text,
                var other => throw Errors.ArgumentType(function, "query", "TEXT holding a SELECT statement", other),
            };
            var statement = SourceReader.PrepareQuery(session.Db, query, function, QueryRole.EmbedQuery);
            if (statement.ColumnCount != 2)
            {
                var columns = statement.ColumnCount;
                statement.Dispose();
                throw Errors.QueryColumns(function, QueryRole.EmbedQuery, columns);
            }
            return new BulkEmbedding(session, function, name, embedder, statement, RowErrors);
        }
    }
}
